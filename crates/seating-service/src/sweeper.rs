//! The hold sweeper. Holds stop blocking at `expiresAt` by themselves (every claim compares
//! with the clock); the sweeper only writes `EXPIRED` down and frees the seat rows, so that reads
//! and `seat_holds_active` stay truthful. The kit runs it every `HOLD_SWEEP_INTERVAL_MS`,
//! supervised.

use service_kit::messages::outbox;
use service_kit::messages::payloads::{SeatingAvailable, SeatingSoldOut};
use sqlx::PgPool;

use crate::config::SERVICE;
use crate::db::{events, holds};
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

/// Flips `sold_out` where the seats say so and announces each flip (`seating.sold_out`,
/// `seating.available`) in the same transaction; returns how many events flipped. Run by the
/// sweeper every round, so catalog learns of a sell-out within `HOLD_SWEEP_INTERVAL_MS`.
pub async fn announce_sold_out(pool: &PgPool) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let flipped = events::flip_sold_out(&mut tx).await?;
    for (event_id, sold_out) in &flipped {
        let event_id = *event_id;
        if *sold_out {
            outbox::enqueue(&mut tx, SERVICE, &SeatingSoldOut { event_id }).await?;
            tracing::info!(%event_id, "event sold out");
        } else {
            outbox::enqueue(&mut tx, SERVICE, &SeatingAvailable { event_id }).await?;
            tracing::info!(%event_id, "seats available again");
        }
    }
    tx.commit().await?;
    Ok(flipped.len())
}
