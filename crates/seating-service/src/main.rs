use anyhow::Context;
use seating_service::config::{Config, SERVICE};
use service_kit::config::Env;
use service_kit::{server, telemetry};

const USAGE: &str = "usage: seating-service                      serve (the default)
       seating-service outbox requeue [ID]  put dead messages (or one) back in the queue";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut env = Env::from_process();
    let config = Config::from_env(&mut env).context("configuration")?;
    telemetry::init(config.common.log_format);
    env.warn_about_defaults(SERVICE);
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => {
            let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.common.port))
                .await
                .with_context(|| format!("binding port {}", config.common.port))?;
            seating_service::startup::run(config, listener, server::shutdown_signal()).await
        }
        ["outbox", "requeue", rest @ ..] => {
            let id = match rest {
                [] => None,
                [id] => Some(id.parse().context("a message id is a UUID")?),
                _ => anyhow::bail!("{USAGE}"),
            };
            let pool = seating_service::startup::connect(&config).await?;
            let requeued = service_kit::messages::outbox::requeue_dead(&pool, id).await?;
            tracing::info!(requeued, "dead messages re-queued");
            Ok(())
        }
        _ => anyhow::bail!("{USAGE}"),
    }
}
