use anyhow::Context;
use payment_service::config::{Config, SERVICE};
use service_kit::config::Env;
use service_kit::{server, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut env = Env::from_process();
    let config = Config::from_env(&mut env).context("configuration")?;
    telemetry::init(config.common.log_format);
    env.warn_about_defaults(SERVICE);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.common.port))
        .await
        .with_context(|| format!("binding port {}", config.common.port))?;
    payment_service::startup::run(config, listener, server::shutdown_signal()).await
}
