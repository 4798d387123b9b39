//! Tickets: written with the order's confirmation, checked in once, voided by a refund.

use chrono::{DateTime, Utc};
use service_kit::money::Money;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::TicketStatus;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub code: String,
    pub order_id: Uuid,
    pub event_id: Uuid,
    pub seat_id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price_paid: Money,
    pub status: TicketStatus,
    pub qr_payload: String,
    pub used_at: Option<DateTime<Utc>>,
}

/// A ticket with what its door check needs: the organizer and the buyer of its order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketAccess {
    #[sqlx(flatten)]
    pub ticket: TicketRow,
    pub buyer_id: Uuid,
    pub organizer_id: Uuid,
}

const COLUMNS: &str = "t.code, t.order_id, t.event_id, t.seat_id, t.section, t.row, t.number,
    t.price_paid, t.status, t.qr_payload, t.used_at";

pub async fn of_order(db: impl PgExecutor<'_>, order_id: Uuid) -> sqlx::Result<Vec<TicketRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tickets t WHERE t.order_id = $1 ORDER BY t.section, t.row, t.number"
    ))
    .bind(order_id)
    .fetch_all(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, code: &str) -> sqlx::Result<Option<TicketAccess>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, o.user_id AS buyer_id, o.organizer_id
         FROM tickets t JOIN orders o ON o.id = t.order_id WHERE t.code = $1"
    ))
    .bind(code)
    .fetch_optional(db)
    .await
}

/// Marks a valid ticket used, in one conditional statement: of any number of concurrent
/// check-ins, exactly one finds it VALID. `None` when it was not valid (or does not exist).
pub async fn check_in(db: impl PgExecutor<'_>, code: &str) -> sqlx::Result<Option<TicketRow>> {
    sqlx::query_as(&format!(
        "UPDATE tickets t SET status = 'USED', used_at = now()
         WHERE t.code = $1 AND t.status = 'VALID' RETURNING {COLUMNS}"
    ))
    .bind(code)
    .fetch_optional(db)
    .await
}

/// Locks the order's tickets (against check-ins) and reports whether one was used.
pub async fn lock_any_used(conn: &mut PgConnection, order_id: Uuid) -> sqlx::Result<bool> {
    let statuses: Vec<TicketStatus> =
        sqlx::query_scalar("SELECT status FROM tickets WHERE order_id = $1 FOR UPDATE")
            .bind(order_id)
            .fetch_all(conn)
            .await?;
    Ok(statuses.contains(&TicketStatus::Used))
}

/// Voids every ticket of the order that is not void yet (valid or used).
pub async fn void_all(conn: &mut PgConnection, order_id: Uuid) -> sqlx::Result<u64> {
    let done =
        sqlx::query("UPDATE tickets SET status = 'VOID' WHERE order_id = $1 AND status <> 'VOID'")
            .bind(order_id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected())
}
