//! Plain GETs against any URLs, one after the other, each with C clients for T seconds: the
//! catalogue's search beside `/health` of the same process, say.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

use crate::drive::{Stats, drive, label};

pub async fn run(urls: &[String], concurrency: usize, duration: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    println!("{concurrency} clients, {}s per URL", duration.as_secs());
    let mut runs: Vec<Stats> = Vec::new();
    for url in urls {
        let (http, target) = (http.clone(), Arc::<str>::from(url.as_str()));
        let stats = drive(url, concurrency, duration, move |_, _| {
            let (http, target) = (http.clone(), target.clone());
            async move { label(http.get(&*target).send().await, StatusCode::OK) }
        })
        .await;
        stats.print();
        runs.push(stats);
    }
    if let [first, .., last] = runs.as_slice() {
        println!(
            "the first URL serves {:.1}x fewer requests per second than the last",
            last.per_second() / first.per_second()
        );
    }
    Ok(())
}
