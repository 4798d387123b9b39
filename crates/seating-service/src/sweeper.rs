//! The hold sweeper. Holds stop blocking at `expiresAt` by themselves (every claim compares
//! with the clock); the sweeper only writes `EXPIRED` down and frees the seat rows, so that reads
//! and `seat_holds_active` stay truthful. The kit runs it every `HOLD_SWEEP_INTERVAL_MS`,
//! supervised.

use sqlx::PgPool;

use crate::db::holds;
use crate::state::SeatingMetrics;

const BATCH: i64 = 500;

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
    if total > 0 {
        tracing::info!(expired = total, "holds expired");
    }
    Ok(total)
}
