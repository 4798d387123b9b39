#![allow(clippy::print_stdout)] // the CLI commands print their reports
use std::path::PathBuf;

use anyhow::Context;
use catalog_service::config::{Config, SERVICE};
use catalog_service::{import, seed, startup};
use service_kit::config::Env;
use service_kit::{server, telemetry};

const USAGE: &str = "usage:
  catalog-service                                   serve (the default)
  catalog-service import-etsr DIR                   import the original system's CSV files
  catalog-service seed-demo [--venues N] [--events N] [--seats N] [--seed N] [--draft] [--if-empty]
  catalog-service outbox requeue [MESSAGE_ID]       put dead messages back in the queue";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut env = Env::from_process();
    let config = Config::from_env(&mut env).context("configuration")?;
    telemetry::init(config.common.log_format);
    env.warn_about_defaults(SERVICE);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["serve"] => {
            let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.common.port))
                .await
                .with_context(|| format!("binding port {}", config.common.port))?;
            startup::run(config, listener, server::shutdown_signal()).await
        }
        ["import-etsr", dir] => {
            let pool = startup::connect(&config).await?;
            let (state, _) = startup::state(&config, pool);
            let started = std::time::Instant::now();
            let report = import::run(&state, &PathBuf::from(dir)).await?;
            print!("{report}");
            println!("import took {:.2} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        ["seed-demo", rest @ ..] => seed_demo(&config, rest).await,
        ["outbox", "requeue", rest @ ..] => {
            let id = match rest {
                [] => None,
                [id] => Some(id.parse().context("a message id is a UUID")?),
                _ => anyhow::bail!("{USAGE}"),
            };
            let pool = startup::connect(&config).await?;
            let requeued = service_kit::messages::outbox::requeue_dead(&pool, id).await?;
            println!("{requeued} dead deliveries re-queued");
            Ok(())
        }
        _ => anyhow::bail!("{USAGE}"),
    }
}

async fn seed_demo(config: &Config, args: &[&str]) -> anyhow::Result<()> {
    let mut options = seed::Options {
        venues: 15,
        events: 60,
        seats_per_event: 120,
        seed: 42,
        from: chrono::Utc::now(),
        publish: true,
    };
    let mut if_empty = false;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value =
            || -> anyhow::Result<usize> { rest.next().context(USAGE)?.parse().context("a number") };
        match *flag {
            "--venues" => options.venues = value()?,
            "--events" => options.events = value()?,
            "--seats" => options.seats_per_event = value()?,
            "--seed" => options.seed = value()? as u64,
            "--draft" => options.publish = false,
            "--if-empty" => if_empty = true,
            _ => anyhow::bail!("{USAGE}"),
        }
    }
    let pool = startup::connect(config).await?;
    if if_empty {
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await?;
        if events > 0 {
            println!("the catalogue has {events} events already; nothing generated");
            return Ok(());
        }
    }
    let (state, _) = startup::state(config, pool);
    let outcome = seed::run(&state, &options).await?;
    println!(
        "generated {} venues, {} events, {} seats in {:.2} s; {} events published to seating in {:.2} s",
        outcome.venues,
        outcome.events,
        outcome.seats,
        outcome.write_time.as_secs_f64(),
        outcome.published,
        outcome.publish_time.as_secs_f64()
    );
    Ok(())
}
