//! What a notification test needs, real: a user-service for the tokens (in schema `users` of
//! the test's database), notification-service over the test database's own schema with its
//! sender task running (fast back-off and polling), an SMTP server of the test's own
//! ([`crate::smtp::SmtpSink`]), and the received e-mails parsed as MIME.

use std::time::Duration;

use chrono::Utc;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use notification_service::Notifications;
use notification_service::db::MIGRATIONS;
use reqwest::Response;
pub use reqwest::StatusCode;
use serde_json::Value;
use service_kit::messages::payloads::{OrderNotice, TicketNotice, VenueNotice};
use service_kit::messages::{Envelope, Message};
use service_kit::metrics::Metrics;
use service_kit::money::Money;
use service_kit::tasks::Running;
use sqlx::PgPool;
pub use test_support::assert_problem;
use test_support::{Account, UserService, env, serve};
use uuid::Uuid;

use crate::smtp::Received;

/// How long a test waits for something asynchronous before it fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct Harness {
    pub pool: PgPool,
    pub users: UserService,
    pub http: reqwest::Client,
    /// order-service's service token: what delivers `order.*` messages.
    pub service: String,
}

/// One notification-service: its URL, its metrics, its running sender.
pub struct App {
    pub url: String,
    pub metrics: Metrics,
    running: Option<Running>,
}

impl App {
    /// Stops its background tasks (the sender), as a process going down would; the HTTP
    /// server answers on, but nothing is sent any more.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}

impl Harness {
    pub async fn new(pool: PgPool) -> Self {
        service_kit::db::migrate(&pool, &MIGRATIONS).await.unwrap();
        let users = UserService::start(&pool).await;
        let service = users.service_token("order-service").await;
        Self {
            pool,
            users,
            http: reqwest::Client::new(),
            service,
        }
    }

    /// notification-service over the test's database, sending to `smtp_url` (none: `.eml`
    /// files), with `vars` on top of the test defaults; its sender runs.
    pub async fn app(&self, smtp_url: Option<&str>, vars: &[(&str, &str)]) -> App {
        let mut all: Vec<(String, String)> = vec![
            ("USER_SERVICE_URL".into(), self.users.url.clone()),
            ("NOTIFICATION_FIRST_BACKOFF_MS".into(), "50".into()),
            ("NOTIFICATION_MAX_BACKOFF_SECONDS".into(), "1".into()),
            ("NOTIFICATION_IDLE_POLL_MS".into(), "20".into()),
            ("NOTIFICATION_SEND_TIMEOUT_SECONDS".into(), "5".into()),
            (
                "MAIL_FROM".into(),
                "Ticketing <tickets@ticketing.test>".into(),
            ),
        ];
        if let Some(url) = smtp_url {
            all.push(("SMTP_URL".into(), url.to_owned()));
        }
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let built = service_kit::app::build::<Notifications>(env(all), self.pool.clone())
            .await
            .unwrap();
        let running = built.start_tasks();
        App {
            url: serve(built.router).await,
            metrics: built.metrics,
            running: Some(running),
        }
    }

    /// `POST /v1/messages` with order-service's token; the status.
    pub async fn deliver(&self, app: &App, envelope: &Envelope) -> StatusCode {
        self.deliver_as(app, &self.service, envelope).await
    }

    /// `POST /v1/messages` with `token`; the status.
    pub async fn deliver_as(&self, app: &App, token: &str, envelope: &Envelope) -> StatusCode {
        self.http
            .post(format!("{}/v1/messages", app.url))
            .bearer_auth(token)
            .json(envelope)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub async fn get(&self, app: &App, path: &str, token: Option<&str>) -> Response {
        let mut request = self.http.get(format!("{}{path}", app.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A buyer's account.
    pub async fn buyer(&self) -> Account {
        self.users.account("customer").await
    }

    /// The notifications of an order as the database holds them: (id, status, attempts,
    /// last error).
    pub async fn rows_of(&self, order_id: Uuid) -> Vec<(Uuid, String, i32, Option<String>)> {
        sqlx::query_as(
            "SELECT id, status, attempts, last_error FROM notifications WHERE order_id = $1
             ORDER BY created_at",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// Waits until the order's one notification satisfies `done`; that row.
    pub async fn wait_for_row(
        &self,
        order_id: Uuid,
        done: impl Fn(&(Uuid, String, i32, Option<String>)) -> bool,
    ) -> (Uuid, String, i32, Option<String>) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let rows = self.rows_of(order_id).await;
            if let [row] = rows.as_slice() {
                if done(row) {
                    return row.clone();
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the notification never got there: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An order notice for `buyer`, with `tickets` e-tickets.
pub fn notice(buyer: &Account, name: &str, title: &str, tickets: i32) -> OrderNotice {
    let price = Money::parse("35.00").unwrap();
    let subtotal = Money::from_minor(price.minor() * i64::from(tickets));
    let tax = subtotal.percent_half_up(5);
    let total = subtotal.checked_add(tax).unwrap();
    OrderNotice {
        order_id: Uuid::now_v7(),
        user_id: buyer.id,
        email: buyer.email.clone(),
        name: name.to_owned(),
        event_id: Uuid::now_v7(),
        event_title: title.to_owned(),
        starts_at: Utc::now() + chrono::Duration::days(30),
        venue: VenueNotice {
            name: "Coliseu".into(),
            city: "Lisbon".into(),
        },
        currency: "EUR".into(),
        subtotal,
        tax,
        total,
        tickets: (1..=tickets)
            .map(|n| TicketNotice {
                code: format!("TCK{n}-{}", &Uuid::now_v7().simple().to_string()[..12]),
                section: "Stalls".into(),
                row: "A".into(),
                number: n,
                price,
                qr_payload: qr_payload(n),
            })
            .collect(),
    }
}

/// A payload shaped like order-service's (a compact JWS, about 300 characters), different per
/// ticket.
fn qr_payload(n: i32) -> String {
    let noise = |len: usize| {
        std::iter::repeat_with(|| Uuid::new_v4().simple().to_string())
            .flat_map(|s| s.chars().collect::<Vec<_>>())
            .take(len)
            .collect::<String>()
    };
    format!(
        "eyJhbGciOiJFZERTQSIsImtpZCI6Im{n}In0.{}.{}",
        noise(170),
        noise(86)
    )
}

/// The envelope order-service's relay would send.
pub fn envelope<M: Message>(message: &M) -> Envelope {
    Envelope {
        id: Uuid::now_v7(),
        message_type: M::TYPE.to_owned(),
        occurred_at: Utc::now(),
        source: "order-service".into(),
        data: serde_json::to_value(message).unwrap(),
    }
}

/// A received e-mail, parsed as MIME.
#[derive(Debug)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    /// The `text/plain` parts, and the `text/html` parts, decoded.
    pub text: Vec<String>,
    pub html: Vec<String>,
    /// Inline `image/png` parts: (Content-ID without brackets, bytes).
    pub images: Vec<(String, Vec<u8>)>,
    pub content_types: Vec<String>,
}

pub fn parse(received: &Received) -> Email {
    let message = MessageParser::default().parse(&received.data).unwrap();
    let mut email = Email {
        to: message
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
        subject: message.subject().unwrap_or_default().to_owned(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
        text: Vec::new(),
        html: Vec::new(),
        images: Vec::new(),
        content_types: Vec::new(),
    };
    for part in &message.parts {
        let ctype = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
            .unwrap_or_default();
        email.content_types.push(ctype.clone());
        match &part.body {
            PartType::Text(text) => email.text.push(text.to_string()),
            PartType::Html(html) => email.html.push(html.to_string()),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) if ctype == "image/png" => {
                let id = part
                    .content_id()
                    .unwrap_or_default()
                    .trim_matches(['<', '>'])
                    .to_owned();
                email.images.push((id, bytes.to_vec()));
            }
            _ => {}
        }
    }
    email
}

/// The text a QR code in a PNG says.
pub fn read_qr(png_bytes: &[u8]) -> String {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let (width, height) = (frame.width as usize, frame.height as usize);
    let stride = frame.line_size;
    let channels = stride / width;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        pixels[y * stride + x * channels]
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

/// The value of one series of `/metrics`, e.g. `notifications_sent_total{status="sent",type="order.confirmed"}`.
pub fn metric(metrics: &Metrics, series: &str) -> Option<f64> {
    metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// A JSON body.
pub async fn json(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
}
