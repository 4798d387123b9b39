//! Crash recovery with real processes: order-service runs as its own process (the test build of
//! the binary, which honours `FAILPOINTS`), is made to exit at a step of the saga as a kill
//! would, and is started again; its recovery task must bring every order to a state that
//! matches seating and payment.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{Event, Fleet, StatusCode, new_key};

/// The exit code of a crash point (see `saga::crash_point`).
const CRASHED: i32 = 86;

struct OrderProcess {
    child: Child,
    url: String,
}

impl OrderProcess {
    /// Starts the order-service binary on a free port, over the test's database, with the rest
    /// of the fleet; `crash_at` arms one crash point.
    async fn start(fleet: &Fleet, crash_at: Option<&str>) -> Self {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let database: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_order-service"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env(
                "DATABASE_URL",
                test_support::database_url(&fleet.pool, &database),
            )
            .env("DB_MAX_CONNECTIONS", "5")
            .env("USER_SERVICE_URL", &fleet.users.url)
            .env("CATALOG_SERVICE_URL", &fleet.catalog)
            .env("SEATING_SERVICE_URL", &fleet.seating)
            .env("PAYMENT_SERVICE_URL", &fleet.payment)
            .env("NOTIFICATION_SERVICE_URL", &fleet.inbox.url)
            // A step untouched for a second is taken over; recovery looks every 100 ms.
            .env("ORDER_STEP_LEASE_SECONDS", "1")
            .env("ORDER_RECOVERY_INTERVAL_MS", "100")
            // A crashed request's Idempotency-Key is taken over after twice this.
            .env("REQUEST_TIMEOUT_SECONDS", "2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(point) = crash_at {
            command.env("FAILPOINTS", format!("{point}=return"));
        }
        let child = command.spawn().unwrap();
        let process = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        process.wait_ready(&fleet.http).await;
        process
    }

    async fn wait_ready(&self, http: &reqwest::Client) {
        for _ in 0..400 {
            if let Ok(response) = http.get(format!("{}/ready", self.url)).send().await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("order-service did not become ready");
    }

    /// Waits for the process to exit by itself: its exit code.
    async fn exited(mut self) -> i32 {
        for _ in 0..400 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the process did not exit at its crash point");
    }
}

impl Drop for OrderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Places an order paid in the same call, against the process; its answer (a connection error
/// when the process dies on the way).
async fn order_paid(
    fleet: &Fleet,
    url: &str,
    token: &str,
    event: &Event,
    key: &str,
) -> Option<u16> {
    fleet
        .http
        .post(format!("{url}/v1/orders"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({
            "eventId": event.id,
            "seatIds": &event.seats[..2],
            "payment": {"method": "card", "token": "tok_visa"},
        }))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// The buyer's only order, once it rests in `status` (recovery may take a few seconds).
async fn order_ends(fleet: &Fleet, buyer: Uuid, status: &str) -> Value {
    for _ in 0..400 {
        let rows: Vec<(Uuid, String, Option<String>)> =
            sqlx::query_as("SELECT id, status, step FROM orders WHERE user_id = $1")
                .bind(buyer)
                .fetch_all(&fleet.pool)
                .await
                .unwrap();
        if let [(id, now, None)] = rows.as_slice() {
            if now == status {
                return fleet
                    .order_json(&fleet.admin, &json!({ "id": id.to_string() }))
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the order did not end {status}");
}

/// CONFIRMED ⇔ one successful charge of its total, its seats sold to it, one valid ticket each.
async fn assert_confirmed_consistently(fleet: &Fleet, order: &Value) {
    assert_eq!(order["status"], "CONFIRMED");
    let payments = fleet.payments_of(order).await;
    assert_eq!(
        payments,
        [(
            "SUCCESS".to_owned(),
            order["total"].as_str().unwrap().to_owned(),
            "0.00".to_owned()
        )]
    );
    assert_eq!(
        fleet.gateway().charges_made(),
        1,
        "the card was charged once"
    );
    let sold_to: Vec<Option<Uuid>> = sqlx::query_scalar(
        "SELECT sold_order_id FROM seating.seats WHERE id = ANY($1) ORDER BY id",
    )
    .bind(
        order["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["seatId"].as_str().unwrap().parse::<Uuid>().unwrap())
            .collect::<Vec<_>>(),
    )
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    let id: Uuid = order["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(sold_to, [Some(id), Some(id)]);
    let tickets = order["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    assert!(tickets.iter().all(|t| t["status"] == "VALID"));
    let confirmed_messages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE type = 'order.confirmed'")
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    assert_eq!(confirmed_messages, 1);
}

/// Crashes a purchase at `point`, restarts, and checks the order ends CONFIRMED consistently;
/// the buyer's retry with the same key then answers it.
async fn purchase_survives_a_crash_at(pool: PgPool, point: &str) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "25.00").await;
    let buyer = fleet.buyer().await;
    let doomed = OrderProcess::start(&fleet, Some(point)).await;
    let key = new_key();
    let answer = order_paid(&fleet, &doomed.url, &buyer.token, &event, &key).await;
    assert_eq!(answer, None, "the process died before answering");
    assert_eq!(doomed.exited().await, CRASHED);

    let restarted = OrderProcess::start(&fleet, None).await;
    let order = order_ends(&fleet, buyer.id, "CONFIRMED").await;
    assert_confirmed_consistently(&fleet, &order).await;
    // The crashed request's key is "in flight" (409) until its claim is abandoned; then the
    // retry resumes the order and answers it.
    let mut retried = None;
    for _ in 0..100 {
        retried = order_paid(&fleet, &restarted.url, &buyer.token, &event, &key).await;
        if retried != Some(409) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(retried, Some(201), "the retry answers the recovered order");
    assert_eq!(fleet.gateway().charges_made(), 1);
}

#[sqlx::test(migrations = false)]
async fn a_crash_between_the_hold_and_its_record_is_recovered(pool: PgPool) {
    purchase_survives_a_crash_at(pool, "order.after_reserve").await;
}

#[sqlx::test(migrations = false)]
async fn a_crash_between_the_charge_and_its_record_is_recovered(pool: PgPool) {
    purchase_survives_a_crash_at(pool, "order.after_charge").await;
}

#[sqlx::test(migrations = false)]
async fn a_crash_between_the_allocation_and_the_tickets_is_recovered(pool: PgPool) {
    purchase_survives_a_crash_at(pool, "order.after_allocate").await;
}

#[sqlx::test(migrations = false)]
async fn a_crash_before_the_outbox_write_is_recovered(pool: PgPool) {
    purchase_survives_a_crash_at(pool, "order.before_outbox").await;
}

#[sqlx::test(migrations = false)]
async fn a_crash_between_a_refund_and_its_record_is_recovered(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "25.00").await;
    let buyer = fleet.buyer().await;
    let order = fleet.confirmed(&buyer, event.id, &event.seats[..2]).await;
    let doomed = OrderProcess::start(&fleet, Some("order.after_refund")).await;
    let cancel = fleet
        .http
        .post(format!(
            "{}/v1/orders/{}/cancel",
            doomed.url,
            order["id"].as_str().unwrap()
        ))
        .bearer_auth(&buyer.token)
        .send()
        .await;
    assert!(cancel.is_err(), "the process died before answering");
    assert_eq!(doomed.exited().await, CRASHED);

    let _restarted = OrderProcess::start(&fleet, None).await;
    let refunded = order_ends(&fleet, buyer.id, "REFUNDED").await;
    assert_eq!(
        fleet.payments_of(&refunded).await,
        [("REFUNDED".into(), "52.50".into(), "52.50".into())]
    );
    assert_eq!(fleet.gateway().refunds_made(), 1, "refunded once");
    assert_eq!(
        fleet.seat_statuses(event.id, &event.seats[..2]).await,
        ["AVAILABLE", "AVAILABLE"]
    );
    assert!(
        refunded["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "VOID")
    );
}

#[sqlx::test(migrations = false)]
async fn two_replicas_recovering_one_crashed_order_complete_it_once(pool: PgPool) {
    // The process dies after the charge; two replicas start at once and both run recovery.
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "25.00").await;
    let buyer = fleet.buyer().await;
    let doomed = OrderProcess::start(&fleet, Some("order.after_charge")).await;
    let answer = order_paid(&fleet, &doomed.url, &buyer.token, &event, &new_key()).await;
    assert_eq!(answer, None, "the process died before answering");
    assert_eq!(doomed.exited().await, CRASHED);

    let (_one, _two) = tokio::join!(
        OrderProcess::start(&fleet, None),
        OrderProcess::start(&fleet, None)
    );
    let order = order_ends(&fleet, buyer.id, "CONFIRMED").await;
    // One charge, the seats sold to it, two tickets, one order.confirmed.
    assert_confirmed_consistently(&fleet, &order).await;
}
