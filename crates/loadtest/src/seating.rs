//! seating-service under an on-sale crowd: C buyers each hold k random seats and let them go (or
//! buy them), over HTTP. The same load as raw SQL (the database limit, to compare with) and the
//! invariant check are seating-service's example `raw_holds`, run against the service's database
//! afterwards (`scripts/bench-seating.sh` runs both and prints the ratio).

use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::drive::{Stats, drive};

/// The most seats one inventory request may carry: seating-service's limit
/// (`MAX_INVENTORY_SEATS` in crates/seating-service/src/api.rs; a larger request is refused).
const MAX_INVENTORY_SEATS: usize = 5_000;

pub struct Options {
    pub seating_url: String,
    pub user_url: String,
    pub seats: usize,
    pub concurrency: usize,
    pub per_hold: usize,
    pub duration: Duration,
    /// Sell this fraction of the seats before measuring (0.99: the last 1 % of a hot event).
    pub sold_fraction: f64,
    /// Every n-th hold a buyer gets is sold (allocated to an order) instead of released, so the
    /// closing invariant check also covers sales racing holds. 0: never.
    pub sell_every: u64,
}

#[derive(Clone)]
pub struct Seating {
    pub http: reqwest::Client,
    pub base: Arc<str>,
    token: Arc<str>,
    inventory_token: Arc<str>,
}

impl Seating {
    pub async fn send(&self, path: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&*self.token)
            .json(body)
            .send()
            .await
    }
}

/// A client of seating-service with order-service's token (holds for anyone, sales) and
/// catalog-service's (inventories: only catalog may send them). `connections`: how many it
/// keeps open.
pub async fn service_token(
    seating_url: &str,
    user_url: &str,
    connections: usize,
) -> anyhow::Result<Seating> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let token = |client: &'static str| {
        let http = http.clone();
        async move {
            let answer: Value = http
                .post(format!(
                    "{}/v1/auth/service-token",
                    user_url.trim_end_matches('/')
                ))
                .json(&json!({"clientId": client, "clientSecret": client_secret(client)}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            anyhow::Ok(Arc::<str>::from(
                answer["accessToken"].as_str().unwrap_or_default(),
            ))
        }
    };
    Ok(Seating {
        token: token("order-service").await?,
        inventory_token: token("catalog-service").await?,
        http,
        base: Arc::from(seating_url.trim_end_matches('/')),
    })
}

/// A service's client secret: `FLEET_CLIENT_SECRET_<SERVICE>` when set (scripts/lib/fleet.sh
/// gives each run its own and exports them), otherwise the development default
/// `dev-secret-<service>`.
pub fn client_secret(client: &str) -> String {
    let var = format!(
        "FLEET_CLIENT_SECRET_{}",
        client.to_uppercase().replace('-', "_")
    );
    std::env::var(var).unwrap_or_else(|_| format!("dev-secret-{client}"))
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let seating =
        service_token(&options.seating_url, &options.user_url, options.concurrency).await?;
    println!(
        "seating over HTTP: {} seats, {} buyers holding {} seats each, {}s, {:.0}% sold beforehand",
        options.seats,
        options.concurrency,
        options.per_hold,
        options.duration.as_secs(),
        options.sold_fraction * 100.0
    );

    let (event, free) = prepare_event(&seating, options.seats, options.sold_fraction).await?;
    let over_http = http_run(&seating, event, &free, &options).await;
    over_http.print();

    println!(
        "HTTP holds/s {:.0}, conflict rate {:.1}%",
        holds_per_second(&over_http),
        conflict_rate(&over_http) * 100.0,
    );
    Ok(())
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn holds_per_second(stats: &Stats) -> f64 {
    stats.outcomes.get("held").copied().unwrap_or(0) as f64 / stats.elapsed.as_secs_f64()
}

#[allow(clippy::cast_precision_loss)]
fn conflict_rate(stats: &Stats) -> f64 {
    let conflicts = stats.outcomes.get("conflict").copied().unwrap_or(0) as f64;
    conflicts / stats.requests().max(1) as f64
}

/// `loadtest holds`: buyers holding 2 random seats of an existing event and releasing them at
/// once (the on-sale load beside what a script measures, e.g. the storefront's event page in
/// scripts/bench-storefront.sh). Prints the run and `holds/s N`. Client secrets:
/// `FLEET_CLIENT_SECRET_ORDER_SERVICE` and `..._CATALOG_SERVICE` (default `dev-secret-*`).
#[derive(clap::Args)]
pub struct HoldsOptions {
    #[arg(long, default_value = "http://localhost:4000")]
    seating_url: String,
    #[arg(long, default_value = "http://localhost:8080")]
    user_url: String,
    #[arg(long)]
    event: Uuid,
    /// Buyers.
    #[arg(long, short, default_value_t = 32)]
    concurrency: usize,
    #[arg(long, short, default_value_t = 10)]
    duration: u64,
}

pub async fn holds_on(options: HoldsOptions) -> anyhow::Result<()> {
    let HoldsOptions {
        seating_url,
        user_url,
        event,
        concurrency: buyers,
        duration,
    } = options;
    let duration = Duration::from_secs(duration);
    let seating = service_token(&seating_url, &user_url, buyers).await?;
    let map: Value = seating
        .http
        .get(format!("{}/v1/events/{event}/seatmap", seating.base))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let seats: Arc<[Uuid]> = map["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|section| section["rows"].as_array().into_iter().flatten())
        .flat_map(|row| row["seats"].as_array().into_iter().flatten())
        .filter_map(|seat| seat["seatId"].as_str()?.parse().ok())
        .collect();
    anyhow::ensure!(seats.len() >= 2, "event {event} has {} seats", seats.len());
    let stats = hold_and_release(&seating, event, &seats, buyers, duration).await;
    stats.print();
    println!("holds/s {:.0}", holds_per_second(&stats));
    Ok(())
}

/// A fresh event with `seats` seats, `sold_fraction` of them sold through the API; the ids of
/// the seats left.
pub async fn prepare_event(
    seating: &Seating,
    seats: usize,
    sold_fraction: f64,
) -> anyhow::Result<(Uuid, Arc<[Uuid]>)> {
    let event = Uuid::now_v7();
    let ids: Vec<Uuid> = (0..seats).map(|_| Uuid::now_v7()).collect();
    for (chunk_no, chunk) in ids.chunks(MAX_INVENTORY_SEATS).enumerate() {
        let section = format!("S{chunk_no}");
        let body: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| json!({"seatId": id, "section": section, "row": format!("R{}", i / 50), "number": i % 50 + 1, "price": "75.00"}))
            .collect();
        seating
            .http
            .put(format!("{}/v1/events/{event}/inventory", seating.base))
            .bearer_auth(&*seating.inventory_token)
            .json(&json!({"currency": "EUR", "seats": body}))
            .send()
            .await?
            .error_for_status()?;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let to_sell = ((seats as f64) * sold_fraction) as usize;
    for batch in ids[..to_sell].chunks(10) {
        let hold: Value = seating
            .send(
                "/v1/seats/reserve",
                &json!({"eventId": event, "seatIds": batch, "holderId": Uuid::now_v7()}),
            )
            .await?
            .error_for_status()?
            .json()
            .await?;
        seating
            .send(
                "/v1/seats/allocate",
                &json!({"holdId": hold["holdId"], "orderId": Uuid::now_v7()}),
            )
            .await?
            .error_for_status()?;
    }
    Ok((event, ids[to_sell..].to_vec().into()))
}

fn pick(free: &[Uuid], k: usize) -> Vec<Uuid> {
    free.choose_multiple(&mut rand::thread_rng(), k)
        .copied()
        .collect()
}

/// Whether a buyer's `iteration`-th hold is sold rather than released.
fn sells(sell_every: u64, iteration: u64) -> bool {
    sell_every > 0 && iteration % sell_every == sell_every - 1
}

/// `buyers` buyers holding 2 of `free` and releasing them at once, never selling.
pub async fn hold_and_release(
    seating: &Seating,
    event: Uuid,
    free: &Arc<[Uuid]>,
    buyers: usize,
    duration: Duration,
) -> Stats {
    let options = Options {
        seating_url: String::new(),
        user_url: String::new(),
        seats: free.len(),
        concurrency: buyers,
        per_hold: 2,
        duration,
        sold_fraction: 0.0,
        sell_every: 0,
    };
    http_run(seating, event, free, &options).await
}

/// Buyers over HTTP: reserve k random seats; on success release them at once (the seats go back
/// into play, so the run measures steady contention rather than a sell-out), or, every n-th time,
/// allocate them to an order.
async fn http_run(seating: &Seating, event: Uuid, free: &Arc<[Uuid]>, options: &Options) -> Stats {
    let (seating, free, k, sell_every) = (
        seating.clone(),
        free.clone(),
        options.per_hold,
        options.sell_every,
    );
    drive(
        "HTTP reserve (+release)",
        options.concurrency,
        options.duration,
        move |_, i| {
            let (seating, wanted) = (seating.clone(), pick(&free, k));
            let sell = sells(sell_every, i);
            async move {
                let body = json!({"eventId": event, "seatIds": wanted, "holderId": Uuid::now_v7()});
                let Ok(response) = seating.send("/v1/seats/reserve", &body).await else {
                    return "transport-error".into();
                };
                match response.status() {
                    StatusCode::CREATED => {
                        let hold: Value = response.json().await.unwrap_or_default();
                        let (path, body) = if sell {
                            (
                                "/v1/seats/allocate",
                                json!({"holdId": hold["holdId"], "orderId": Uuid::now_v7()}),
                            )
                        } else {
                            ("/v1/seats/release", json!({"holdId": hold["holdId"]}))
                        };
                        match seating.send(path, &body).await {
                            Ok(r) if r.status().is_success() => "held".into(),
                            _ => "release-failed".into(),
                        }
                    }
                    StatusCode::CONFLICT => "conflict".into(),
                    other => other.as_u16().to_string(),
                }
            }
        },
    )
    .await
}
