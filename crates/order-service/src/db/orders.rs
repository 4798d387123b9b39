//! Orders and their items. Every change of step is one conditional statement on the order's
//! lease, so only whoever holds the lease moves the order, and a stale driver's writes miss.

use chrono::{DateTime, Utc};
use service_kit::money::Money;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::{Compensation, OrderStatus, Step, Totals};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub idempotency_key: String,
    pub event_id: Uuid,
    pub status: OrderStatus,
    pub step: Option<Step>,
    pub lease: Option<Uuid>,
    pub step_started_at: Option<DateTime<Utc>>,
    pub outcome: Option<OrderStatus>,
    pub compensation: Option<Compensation>,
    pub requested_seats: Vec<Uuid>,
    pub hold_id: Option<Uuid>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub currency: Option<String>,
    pub subtotal: Option<Money>,
    pub tax: Option<Money>,
    pub total: Option<Money>,
    pub payment_id: Option<Uuid>,
    pub payment_status: Option<String>,
    pub payment_failure: Option<String>,
    pub charge_token: Option<String>,
    pub buyer_email: String,
    pub buyer_name: String,
    pub event_title: String,
    pub event_starts_at: DateTime<Utc>,
    pub venue_name: String,
    pub venue_city: String,
    pub organizer_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub seat_id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

/// What an order is created with, before seating has held anything.
pub struct NewOrderRow<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub idempotency_key: &'a str,
    pub event_id: Uuid,
    pub requested_seats: &'a [Uuid],
    pub charge_token: Option<&'a str>,
    pub buyer_email: &'a str,
    pub buyer_name: &'a str,
    pub event_title: &'a str,
    pub event_starts_at: DateTime<Utc>,
    pub venue_name: &'a str,
    pub venue_city: &'a str,
    pub organizer_id: Uuid,
}

const COLUMNS: &str = "id, user_id, idempotency_key, event_id, status, step, lease, step_started_at,
    outcome, compensation, requested_seats, hold_id, hold_expires_at, currency, subtotal, tax,
    total, payment_id, payment_status, payment_failure, charge_token, buyer_email, buyer_name, event_title,
    event_starts_at, venue_name, venue_city, organizer_id, created_at, updated_at";

/// Writes the order down before its seats are held: RESERVING, step `reserve`, leased to the
/// caller. `None` when the buyer already has an order under this key.
pub async fn insert_reserving(
    db: impl PgExecutor<'_>,
    order: &NewOrderRow<'_>,
    lease: Uuid,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "INSERT INTO orders (id, user_id, idempotency_key, event_id, status, step, lease,
             step_started_at, requested_seats, charge_token, buyer_email, buyer_name, event_title,
             event_starts_at, venue_name, venue_city, organizer_id)
         VALUES ($1, $2, $3, $4, 'RESERVING', 'reserve', $5, now(), $6, $7, $8, $9, $10, $11,
             $12, $13, $14)
         ON CONFLICT ON CONSTRAINT orders_idempotency_key DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(order.id)
    .bind(order.user_id)
    .bind(order.idempotency_key)
    .bind(order.event_id)
    .bind(lease)
    .bind(order.requested_seats)
    .bind(order.charge_token)
    .bind(order.buyer_email)
    .bind(order.buyer_name)
    .bind(order.event_title)
    .bind(order.event_starts_at)
    .bind(order.venue_name)
    .bind(order.venue_city)
    .bind(order.organizer_id)
    .fetch_optional(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM orders WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn find_by_key(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    key: &str,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE user_id = $1 AND idempotency_key = $2"
    ))
    .bind(user_id)
    .bind(key)
    .fetch_optional(db)
    .await
}

pub async fn items_of(db: impl PgExecutor<'_>, order_id: Uuid) -> sqlx::Result<Vec<ItemRow>> {
    sqlx::query_as(
        "SELECT seat_id, section, row, number, price FROM order_items
         WHERE order_id = $1 ORDER BY position",
    )
    .bind(order_id)
    .fetch_all(db)
    .await
}

/// Which orders a list shows.
pub struct ListFilter {
    pub user_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
}

/// A page of orders, newest first, and the total; RESERVING orders are not shown.
pub async fn list(
    db: &sqlx::PgPool,
    filter: &ListFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<OrderRow>, i64)> {
    let condition = "status <> 'RESERVING'
        AND ($1::uuid IS NULL OR user_id = $1) AND ($2::uuid IS NULL OR event_id = $2)";
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE {condition}
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(filter.user_id)
    .bind(filter.event_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar(&format!("SELECT count(*) FROM orders WHERE {condition}"))
        .bind(filter.user_id)
        .bind(filter.event_id)
        .fetch_one(db)
        .await?;
    Ok((rows, total))
}

/// Takes the order for `step` when it is in `from` with no step under way: the order with its
/// new lease, or `None` when someone else moves it (or its status changed). `charge_token` is kept for a
/// charge; `outcome` and `compensation` say where an undoing lands and why.
pub async fn claim(
    db: impl PgExecutor<'_>,
    id: Uuid,
    from: OrderStatus,
    step: Step,
    undo: Option<(OrderStatus, Compensation)>,
    charge_token: Option<&str>,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET step = $3, lease = $4, step_started_at = now(),
             outcome = COALESCE($5, outcome), compensation = COALESCE($6, compensation),
             charge_token = COALESCE($7, charge_token), updated_at = now()
         WHERE id = $1 AND status = $2 AND step IS NULL RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(from)
    .bind(step)
    .bind(Uuid::now_v7())
    .bind(undo.map(|u| u.0))
    .bind(undo.map(|u| u.1))
    .bind(charge_token)
    .fetch_optional(db)
    .await
}

/// Takes over a step whose lease is older than `stale_after` (its driver died or hung): the
/// order with its new lease.
pub async fn take_over(
    db: impl PgExecutor<'_>,
    id: Uuid,
    stale_after: std::time::Duration,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET lease = $2, step_started_at = now(), updated_at = now()
         WHERE id = $1 AND step IS NOT NULL AND step_started_at < now() - $3 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(Uuid::now_v7())
    .bind(stale_after)
    .fetch_optional(db)
    .await
}

/// Orders whose step has not moved for `stale_after`, oldest first.
pub async fn stalled(
    db: impl PgExecutor<'_>,
    stale_after: std::time::Duration,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM orders WHERE step IS NOT NULL AND step_started_at < now() - $1
         ORDER BY step_started_at LIMIT $2",
    )
    .bind(stale_after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Moves the leased order to its next step, noting the payment's status when given; the order
/// as it is now, or `None` when the lease was lost. Renews the lease's clock.
pub async fn advance(
    db: impl PgExecutor<'_>,
    id: Uuid,
    lease: Uuid,
    next: Step,
    payment_status: Option<&str>,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET step = $3, step_started_at = now(),
             payment_status = COALESCE($4, payment_status), updated_at = now()
         WHERE id = $1 AND lease = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(lease)
    .bind(next)
    .bind(payment_status)
    .fetch_optional(db)
    .await
}

/// The hold seating made: seats, prices and totals, in one statement (the order and its items
/// together); the order waits for its payment (or goes on to `next`, the charge of an order paid
/// in the same call).
pub async fn record_hold(
    db: impl PgExecutor<'_>,
    id: Uuid,
    lease: Uuid,
    hold: &RecordedHold<'_>,
    next: Option<Step>,
) -> sqlx::Result<Option<OrderRow>> {
    let seats: Vec<Uuid> = hold.items.iter().map(|i| i.seat_id).collect();
    let sections: Vec<&str> = hold.items.iter().map(|i| i.section.as_str()).collect();
    let rows: Vec<&str> = hold.items.iter().map(|i| i.row.as_str()).collect();
    let numbers: Vec<i32> = hold.items.iter().map(|i| i.number).collect();
    let prices: Vec<Money> = hold.items.iter().map(|i| i.price).collect();
    sqlx::query_as(&format!(
        "WITH held AS (
             UPDATE orders SET status = 'PENDING_PAYMENT', hold_id = $3, hold_expires_at = $4,
                 currency = $5, subtotal = $6, tax = $7, total = $8, step = $9,
                 lease = CASE WHEN $9::text IS NULL THEN NULL ELSE lease END,
                 step_started_at = CASE WHEN $9::text IS NULL THEN NULL ELSE now() END,
                 updated_at = now()
             WHERE id = $1 AND lease = $2 AND status = 'RESERVING' RETURNING *),
         items AS (
             INSERT INTO order_items (order_id, seat_id, section, row, number, price, position)
             SELECT held.id, seat, section, row, number, price, position::int - 1
             FROM held, unnest($10::uuid[], $11::text[], $12::text[], $13::int[], $14::numeric[])
                  WITH ORDINALITY AS item(seat, section, row, number, price, position))
         SELECT {COLUMNS} FROM held"
    ))
    .bind(id)
    .bind(lease)
    .bind(hold.hold_id)
    .bind(hold.expires_at)
    .bind(hold.currency)
    .bind(hold.totals.subtotal)
    .bind(hold.totals.tax)
    .bind(hold.totals.total)
    .bind(next)
    .bind(&seats)
    .bind(&sections)
    .bind(&rows)
    .bind(&numbers)
    .bind(&prices)
    .fetch_optional(db)
    .await
}

/// What [`record_hold`] writes.
pub struct RecordedHold<'a> {
    pub hold_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub currency: &'a str,
    pub totals: Totals,
    pub items: &'a [ItemRow],
}

/// What [`record_charge`] writes.
pub struct RecordedCharge<'a> {
    pub payment_id: Uuid,
    pub status: &'a str,
    pub failure: Option<&'a str>,
    pub next: Step,
    pub undo: Option<(OrderStatus, Compensation)>,
}

/// The charge's outcome: the payment, and the next step (allocate after a success, release
/// towards PAYMENT_FAILED after a decline). The card token is forgotten.
pub async fn record_charge(
    db: impl PgExecutor<'_>,
    id: Uuid,
    lease: Uuid,
    charge: &RecordedCharge<'_>,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET payment_id = $3, payment_status = $4, payment_failure = $5,
             charge_token = NULL, step = $6, step_started_at = now(),
             outcome = COALESCE($7, outcome), compensation = COALESCE($8, compensation),
             updated_at = now()
         WHERE id = $1 AND lease = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(lease)
    .bind(charge.payment_id)
    .bind(charge.status)
    .bind(charge.failure)
    .bind(charge.next)
    .bind(charge.undo.map(|u| u.0))
    .bind(charge.undo.map(|u| u.1))
    .fetch_optional(db)
    .await
}

/// The charge did not happen and will not (the card token was refused as a request): the order
/// waits for a payment again.
pub async fn abandon_charge(db: impl PgExecutor<'_>, id: Uuid, lease: Uuid) -> sqlx::Result<bool> {
    let moved = sqlx::query(
        "UPDATE orders SET step = NULL, lease = NULL, step_started_at = NULL, charge_token = NULL,
             updated_at = now()
         WHERE id = $1 AND lease = $2",
    )
    .bind(id)
    .bind(lease)
    .execute(db)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// Starts undoing a leased order: the next step, where it lands, and why.
pub async fn redirect(
    db: impl PgExecutor<'_>,
    id: Uuid,
    lease: Uuid,
    next: Step,
    outcome: OrderStatus,
    why: Compensation,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET step = $3, step_started_at = now(), outcome = $4, compensation = $5,
             updated_at = now()
         WHERE id = $1 AND lease = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(lease)
    .bind(next)
    .bind(outcome)
    .bind(why)
    .fetch_optional(db)
    .await
}

/// Ends the saga in `status` (noting the payment's status when given): no step, no lease. The
/// order as it is now, or `None` when the lease was lost.
pub async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    lease: Uuid,
    status: OrderStatus,
    payment_status: Option<&str>,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET status = $3, step = NULL, lease = NULL, step_started_at = NULL,
             charge_token = NULL, payment_status = COALESCE($4, payment_status),
             updated_at = now()
         WHERE id = $1 AND lease = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(lease)
    .bind(status)
    .bind(payment_status)
    .fetch_optional(conn)
    .await
}

/// Confirms the leased order with its tickets, in one statement: CONFIRMED, no step, and one
/// VALID ticket per seat. `None` when the lease was lost.
pub async fn confirm(
    conn: &mut PgConnection,
    id: Uuid,
    lease: Uuid,
    issued: &[crate::db::tickets::TicketRow],
) -> sqlx::Result<Option<OrderRow>> {
    let strings =
        |f: fn(&crate::db::tickets::TicketRow) -> &str| issued.iter().map(f).collect::<Vec<&str>>();
    let seats: Vec<Uuid> = issued.iter().map(|t| t.seat_id).collect();
    let numbers: Vec<i32> = issued.iter().map(|t| t.number).collect();
    let prices: Vec<Money> = issued.iter().map(|t| t.price_paid).collect();
    sqlx::query_as(&format!(
        "WITH confirmed AS (
             UPDATE orders SET status = 'CONFIRMED', step = NULL, lease = NULL,
                 step_started_at = NULL, charge_token = NULL, updated_at = now()
             WHERE id = $1 AND lease = $2 RETURNING *),
         issued AS (
             INSERT INTO tickets (code, order_id, event_id, seat_id, section, row, number,
                 price_paid, status, qr_payload)
             SELECT code, confirmed.id, confirmed.event_id, seat, section, row, number, price,
                 'VALID', payload
             FROM confirmed, unnest($3::text[], $4::uuid[], $5::text[], $6::text[], $7::int[],
                                    $8::numeric[], $9::text[])
                  AS t(code, seat, section, row, number, price, payload))
         SELECT {COLUMNS} FROM confirmed"
    ))
    .bind(id)
    .bind(lease)
    .bind(strings(|t| t.code.as_str()))
    .bind(&seats)
    .bind(strings(|t| t.section.as_str()))
    .bind(strings(|t| t.row.as_str()))
    .bind(&numbers)
    .bind(&prices)
    .bind(strings(|t| t.qr_payload.as_str()))
    .fetch_optional(conn)
    .await
}

/// Forgets an order whose seats could not be held: the buyer was told 409/422, and for them it
/// never existed.
pub async fn delete_unreserved(
    db: impl PgExecutor<'_>,
    id: Uuid,
    lease: Uuid,
) -> sqlx::Result<bool> {
    let deleted =
        sqlx::query("DELETE FROM orders WHERE id = $1 AND lease = $2 AND status = 'RESERVING'")
            .bind(id)
            .bind(lease)
            .execute(db)
            .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Expires unpaid orders whose hold ran out, in one statement per batch: EXPIRED and no step.
/// Seating lets the hold go by itself at the same instant; nothing else needs undoing.
pub async fn expire_due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<OrderRow>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET status = 'EXPIRED', updated_at = now()
         WHERE id IN (SELECT id FROM orders
                      WHERE status = 'PENDING_PAYMENT' AND step IS NULL AND hold_expires_at <= now()
                      ORDER BY hold_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Orders of `event_id` that a cancellation of the event must still undo (idle ones only;
/// those mid-step are taken when their step ends).
pub async fn of_event_to_undo(
    db: impl PgExecutor<'_>,
    event_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<(Uuid, OrderStatus)>> {
    sqlx::query_as(
        "SELECT id, status FROM orders
         WHERE event_id = $1 AND status IN ('PENDING_PAYMENT', 'CONFIRMED') AND step IS NULL
         ORDER BY created_at LIMIT $2",
    )
    .bind(event_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Orders of `event_id` that are not settled yet (idle but undoable, or mid-step).
pub async fn of_event_unsettled(db: impl PgExecutor<'_>, event_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM orders
         WHERE event_id = $1
           AND (step IS NOT NULL OR status IN ('RESERVING', 'PENDING_PAYMENT', 'CONFIRMED'))",
    )
    .bind(event_id)
    .fetch_one(db)
    .await
}
