//! The hold sweeper. Holds stop blocking at `expiresAt` by themselves (every claim compares
//! with the clock); the sweeper only writes `EXPIRED` down and frees the seat rows, so that reads
//! and `seat_holds_active` stay truthful. It also purges idempotency keys past their 24 h.

use std::time::Duration;

use service_kit::idempotency::IdempotencyStore;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::db::holds;
use crate::state::SeatingMetrics;

const BATCH: i64 = 500;
const KEY_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Expires what is due, in batches; returns how many holds expired.
pub async fn sweep_once(pool: &PgPool, metrics: &SeatingMetrics) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let expired = holds::expire_due(&mut tx, BATCH).await?;
        tx.commit().await?;
        total += expired;
        if expired < BATCH.unsigned_abs() {
            break;
        }
    }
    metrics.expirations.inc_by(total);
    metrics.holds_active.set(holds::count_active(pool).await?);
    Ok(total)
}

pub async fn run(
    pool: PgPool,
    metrics: SeatingMetrics,
    idempotency: IdempotencyStore,
    every: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    let mut rounds: u64 = 0;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match sweep_once(&pool, &metrics).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "holds expired"),
            Err(e) => tracing::warn!(error = %e, "hold sweep failed"),
        }
        rounds += 1;
        if rounds % 3600 == 1 {
            if let Err(e) = idempotency.purge_older_than(KEY_RETENTION).await {
                tracing::warn!(error = %e, "idempotency purge failed");
            }
        }
    }
}
