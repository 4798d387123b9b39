//! The fleet's benchmarks. Each scenario drives real services (or, for micro benchmarks, the
//! real library code) and prints its figures; `docs/performance.md` records them with the command
//! line that produced them. Nothing here asserts a timing.

#![allow(clippy::print_stdout)] // a benchmark's output is its report

mod drive;
mod tokens;
mod users;

use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Benchmarks of the ticketing fleet")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// user-service over HTTP: register, login, /v1/users/me and /health throughput and latency.
    Users {
        #[arg(long, default_value = "http://localhost:8080")]
        base_url: String,
        /// Concurrent clients.
        #[arg(long, short, default_value_t = 8)]
        concurrency: usize,
        /// Seconds per phase.
        #[arg(long, short, default_value_t = 10)]
        duration: u64,
    },
    /// In-process cost of verifying one access token (EdDSA signature and claims).
    VerifyToken {
        #[arg(long, default_value_t = 20_000)]
        iterations: u32,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Users {
            base_url,
            concurrency,
            duration,
        } => users::run(&base_url, concurrency, Duration::from_secs(duration)).await,
        Scenario::VerifyToken { iterations } => tokens::run(iterations).await,
    }
}
