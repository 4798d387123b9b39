//! The fleet's load benchmarks. Each scenario drives running services over HTTP, as a client
//! would, and prints its figures; `docs/performance.md` records them with the command line that
//! produced them. Nothing here asserts a timing, and no service crate is linked: the benchmarks
//! that need a service's code (the raw-SQL baseline of holds, the token micro-benchmark) are
//! examples of that service's crate.

#![allow(clippy::print_stdout)] // a benchmark's output is its report

mod drive;
mod get;
mod payments;
mod purchase;
mod seating;
mod seatmap;
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
    /// user-service under a registration flood: C clients registering while one logs in.
    Flood {
        #[arg(long, default_value = "http://localhost:8080")]
        base_url: String,
        /// Concurrent registering clients.
        #[arg(long, short, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, short, default_value_t = 10)]
        duration: u64,
    },
    /// seating-service over HTTP: C buyers holding k random seats. Its raw-SQL baseline and the
    /// invariant check: `cargo run --release -p seating-service --example raw_holds`.
    Seating {
        #[arg(long, default_value = "http://localhost:4000")]
        seating_url: String,
        #[arg(long, default_value = "http://localhost:8080")]
        user_url: String,
        #[arg(long, short = 'n', default_value_t = 2_000)]
        seats: usize,
        #[arg(long, short, default_value_t = 32)]
        concurrency: usize,
        /// Seats per hold.
        #[arg(long, short, default_value_t = 2)]
        k: usize,
        #[arg(long, short, default_value_t = 10)]
        duration: u64,
        /// Sell this fraction first (0.99 measures the last 1 % of an almost sold-out event).
        #[arg(long, default_value_t = 0.0)]
        sold_fraction: f64,
        /// Sell every n-th hold instead of releasing it (0: never).
        #[arg(long, default_value_t = 50)]
        sell_every: u64,
    },
    /// The on-sale seat map (issue 14): status reads beside holds, sizes, and SSE subscribers
    /// receiving every change (`scripts/bench-seatmap.sh`).
    Seatmap(seatmap::Options),
    /// payment-service: charges with the simulated gateway, each with its own key and order.
    Payments {
        #[arg(long, default_value = "http://localhost:3004")]
        payment_url: String,
        #[arg(long, default_value = "http://localhost:8080")]
        user_url: String,
        #[arg(long, short, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, short, default_value_t = 10)]
        duration: u64,
    },
    /// The whole purchase through order-service: C buyers each ordering 2 seats of a large event
    /// with the payment in the call, then the fleet-wide invariant.
    Purchase {
        #[command(flatten)]
        fleet: FleetArgs,
        #[arg(long, short = 'n', default_value_t = 20_000)]
        seats: usize,
        #[arg(long, short, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, short, default_value_t = 10)]
        duration: u64,
        /// Send an order that got no decision (no answer, 502, 503, 504, or its key still in
        /// flight at a replica that died) again with the same Idempotency-Key, up to N times.
        #[arg(long, default_value_t = 0)]
        retry_unavailable: u32,
        /// Wait up to S seconds for orders left mid-saga to settle before the invariant fails.
        #[arg(long, default_value_t = 0)]
        settle_seconds: u64,
        /// Also check that every confirmed order's receipt is SENT (notification-service).
        #[arg(long)]
        check_emails: bool,
    },
    /// A hot on-sale: N buyers at once for a few seats, each retrying until it has one or none
    /// is left; then the invariant, no 5xx, and every seat sold once.
    Onsale {
        #[command(flatten)]
        fleet: FleetArgs,
        #[arg(long, default_value_t = 2_000)]
        buyers: usize,
        #[arg(long, short = 'n', default_value_t = 500)]
        seats: usize,
        /// Every n-th buyer's card is declined (0: none).
        #[arg(long, default_value_t = 10)]
        decline_every: usize,
    },
    /// A published event of N seats (rows of 50) by a new organizer the admin makes; prints its
    /// id alone (for a script: `event=$(loadtest event ...)`).
    Event {
        #[command(flatten)]
        fleet: FleetArgs,
        #[arg(long, short = 'n', default_value_t = 2_000)]
        seats: usize,
    },
    /// C buyers holding 2 random seats of an existing event and releasing them, for T seconds:
    /// an on-sale's load beside something else a script measures.
    Holds(seating::HoldsOptions),
    /// GET each URL with C clients for T seconds (e.g. a search beside /health).
    Get {
        urls: Vec<String>,
        #[arg(long, short, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, short, default_value_t = 10)]
        duration: u64,
    },
}

/// Where the fleet is, and the admin that makes the organizer (user-service's `ADMIN_EMAIL` and
/// `ADMIN_PASSWORD`).
#[derive(clap::Args)]
struct FleetArgs {
    #[arg(long, default_value = "http://localhost:8080")]
    user_url: String,
    #[arg(long, default_value = "http://localhost:3002")]
    catalog_url: String,
    #[arg(long, default_value = "http://localhost:4000")]
    seating_url: String,
    #[arg(long, default_value = "http://localhost:3007")]
    order_url: String,
    #[arg(long, default_value = "http://localhost:3004")]
    payment_url: String,
    #[arg(long, default_value = "http://localhost:3005")]
    notification_url: String,
    /// Default: `ADMIN_EMAIL`.
    #[arg(long)]
    admin_email: Option<String>,
    /// Default: `ADMIN_PASSWORD`.
    #[arg(long)]
    admin_password: Option<String>,
}

impl FleetArgs {
    fn split(self) -> anyhow::Result<(purchase::Urls, purchase::Admin)> {
        let trim = |url: String| url.trim_end_matches('/').to_owned();
        let from_env = |value: Option<String>, var: &str| {
            value.or_else(|| std::env::var(var).ok()).ok_or_else(|| {
                anyhow::anyhow!(
                    "the admin's credentials: --{} or {var}",
                    var.to_lowercase().replace('_', "-")
                )
            })
        };
        let admin = purchase::Admin {
            email: from_env(self.admin_email, "ADMIN_EMAIL")?,
            password: from_env(self.admin_password, "ADMIN_PASSWORD")?,
        };
        Ok((
            purchase::Urls {
                user: trim(self.user_url),
                catalog: trim(self.catalog_url),
                seating: trim(self.seating_url),
                order: trim(self.order_url),
                payment: trim(self.payment_url),
                notification: trim(self.notification_url),
            },
            admin,
        ))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Users {
            base_url,
            concurrency,
            duration,
        } => users::run(&base_url, concurrency, Duration::from_secs(duration)).await,
        Scenario::Flood {
            base_url,
            concurrency,
            duration,
        } => users::flood(&base_url, concurrency, Duration::from_secs(duration)).await,
        Scenario::Seating {
            seating_url,
            user_url,
            seats,
            concurrency,
            k,
            duration,
            sold_fraction,
            sell_every,
        } => {
            seating::run(seating::Options {
                seating_url,
                user_url,
                seats,
                concurrency,
                per_hold: k,
                duration: Duration::from_secs(duration),
                sold_fraction,
                sell_every,
            })
            .await
        }
        Scenario::Seatmap(options) => seatmap::run(options).await,
        Scenario::Payments {
            payment_url,
            user_url,
            concurrency,
            duration,
        } => {
            payments::run(
                &payment_url,
                &user_url,
                concurrency,
                Duration::from_secs(duration),
            )
            .await
        }
        Scenario::Purchase {
            fleet,
            seats,
            concurrency,
            duration,
            retry_unavailable,
            settle_seconds,
            check_emails,
        } => {
            let (urls, admin) = fleet.split()?;
            let options = purchase::PurchaseOptions {
                seats,
                concurrency,
                duration: Duration::from_secs(duration),
                retry_unavailable,
                settle: Duration::from_secs(settle_seconds),
                check_emails,
            };
            purchase::purchase(urls, &admin, &options).await
        }
        Scenario::Onsale {
            fleet,
            buyers,
            seats,
            decline_every,
        } => {
            let (urls, admin) = fleet.split()?;
            let options = purchase::OnSaleOptions {
                buyers,
                seats,
                decline_every,
            };
            purchase::onsale(urls, &admin, &options).await
        }
        Scenario::Event { fleet, seats } => {
            let (urls, admin) = fleet.split()?;
            purchase::published_event(urls, &admin, seats).await
        }
        Scenario::Holds(options) => seating::holds_on(options).await,
        Scenario::Get {
            urls,
            concurrency,
            duration,
        } => get::run(&urls, concurrency, Duration::from_secs(duration)).await,
    }
}
