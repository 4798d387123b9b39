//! catalog-service's commands besides `serve`: the import of the original system's data and the
//! demo catalogue generator. Each runs once against the catalog's database (and seating, to
//! publish) and prints a report.

#![allow(clippy::print_stdout)] // the commands print their reports

pub mod import_etsr;
pub mod seed_demo;

use std::path::PathBuf;

use anyhow::Context;
use service_kit::app::Kit;

use crate::startup::state;

/// The usage lines the kit prints beside its own.
pub const USAGE: &str =
    "  catalog-service import-etsr DIR              import the original system's CSV files
  catalog-service seed-demo [--venues N] [--events N] [--seats N] [--seed N] [--draft] [--if-empty]
";

/// Runs the command named by `args`.
pub async fn run(kit: &Kit<()>, args: &[String]) -> anyhow::Result<()> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["import-etsr", dir] => {
            let started = std::time::Instant::now();
            let report = import_etsr::run(&state(kit)?, &PathBuf::from(dir)).await?;
            print!("{report}");
            println!("import took {:.2} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        ["seed-demo", rest @ ..] => seed(kit, rest).await,
        _ => anyhow::bail!("unknown command `{}`", words.join(" ")),
    }
}

async fn seed(kit: &Kit<()>, args: &[&str]) -> anyhow::Result<()> {
    let mut options = seed_demo::Options {
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
        let mut value = || -> anyhow::Result<usize> {
            rest.next()
                .with_context(|| format!("{flag} takes a number"))?
                .parse()
                .context("a number")
        };
        match *flag {
            "--venues" => options.venues = value()?,
            "--events" => options.events = value()?,
            "--seats" => options.seats_per_event = value()?,
            "--seed" => options.seed = value()? as u64,
            "--draft" => options.publish = false,
            "--if-empty" => if_empty = true,
            other => anyhow::bail!("unknown option `{other}`"),
        }
    }
    if if_empty {
        let events = crate::db::events::count_all(&kit.pool).await?;
        if events > 0 {
            println!("the catalogue has {events} events already; nothing generated");
            return Ok(());
        }
    }
    let outcome = seed_demo::run(&state(kit)?, &options).await?;
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
