//! A fake Stripe for tests of the whole app: the few endpoints the adapter calls, with Stripe's
//! idempotency (the first answer to a key is saved and replayed to every retry, a 500 included)
//! and books of what really happened, so that a test can hold the money that moved against what
//! payment-service recorded.
//!
//! Faults are set per test: an operation the fake *made* but answered with a 500 (the answer is
//! lost: money moved), one it refused before acting (nothing moved, nothing saved, as when a proxy
//! answers), an answer that comes late (the request timed out after Stripe acted), and a search
//! index that lags (Stripe's search is eventually consistent; its lists are not).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use service_kit::money::Money;
use wiremock::http::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const STRIPE_KEY: &str = "sk_test_fake";

#[derive(Default)]
struct Books {
    intents: Vec<Value>,
    refunds: Vec<Value>,
    /// Idempotency key -> the saved answer (status, body).
    saved: HashMap<String, (u16, Value)>,
    charges_lost: u32,
    charges_refused: u32,
    refunds_lost: u32,
    refunds_refused: u32,
    refund_delay: Option<Duration>,
    search_lags: bool,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Books>>);

impl Shared {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.0.lock().unwrap()
    }
}

pub struct FakeStripe {
    server: MockServer,
    shared: Shared,
}

impl FakeStripe {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let shared = Shared::default();
        mount(
            &server,
            "POST",
            "/v1/payment_intents",
            CreateIntent(shared.clone()),
        )
        .await;
        mount(
            &server,
            "GET",
            "/v1/payment_intents",
            ListIntents(shared.clone()),
        )
        .await;
        mount(
            &server,
            "GET",
            "/v1/payment_intents/search",
            SearchIntents(shared.clone()),
        )
        .await;
        mount(&server, "POST", "/v1/refunds", CreateRefund(shared.clone())).await;
        mount(&server, "GET", "/v1/refunds", ListRefunds(shared.clone())).await;
        Self { server, shared }
    }

    /// The variables that point payment-service at this fake.
    pub fn vars(&self) -> Vec<(String, String)> {
        vec![
            ("PAYMENT_GATEWAY".into(), "stripe".into()),
            ("STRIPE_API_KEY".into(), STRIPE_KEY.into()),
            ("STRIPE_API_BASE".into(), self.server.uri()),
        ]
    }

    /// The next `n` new charges are made, and answered with a 500.
    pub fn lose_charge_answers(&self, n: u32) {
        self.shared.books().charges_lost = n;
    }

    /// The next `n` new charges are refused with a 500 before anything is made.
    pub fn refuse_charges(&self, n: u32) {
        self.shared.books().charges_refused = n;
    }

    /// The next `n` new refunds are made, and answered with a 500.
    pub fn lose_refund_answers(&self, n: u32) {
        self.shared.books().refunds_lost = n;
    }

    /// The next `n` new refunds are refused with a 500 before anything is made.
    pub fn refuse_refunds(&self, n: u32) {
        self.shared.books().refunds_refused = n;
    }

    /// New refunds are made at once and answered after `delay`.
    pub fn answer_refunds_after(&self, delay: Duration) {
        self.shared.books().refund_delay = Some(delay);
    }

    /// Search finds nothing yet (its index lags); lists still tell the truth.
    pub fn search_lags(&self) {
        self.shared.books().search_lags = true;
    }

    pub fn charges_made(&self) -> usize {
        self.shared.books().intents.len()
    }

    pub fn refunds_made(&self) -> usize {
        self.shared.books().refunds.len()
    }

    /// Everything refunded, in EUR.
    pub fn refunded(&self) -> Money {
        let cents: i64 = self
            .shared
            .books()
            .refunds
            .iter()
            .map(|r| r["amount"].as_i64().unwrap())
            .sum();
        Money::from_minor(cents)
    }

    /// How many searches and lists were asked of it.
    pub async fn lookups(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method == wiremock::http::Method::GET)
            .count()
    }
}

async fn mount(server: &MockServer, verb: &str, route: &str, responder: impl Respond + 'static) {
    Mock::given(method(verb))
        .and(path(route))
        .and(header(
            "authorization",
            format!("Bearer {STRIPE_KEY}").as_str(),
        ))
        .respond_with(responder)
        .mount(server)
        .await;
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A form body or a query string as pairs.
fn pairs(raw: &str) -> HashMap<String, String> {
    Url::parse(&format!("http://x/?{raw}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn form(request: &Request) -> HashMap<String, String> {
    pairs(std::str::from_utf8(&request.body).unwrap())
}

fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

fn key(request: &Request) -> String {
    request
        .headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn answer(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn server_error() -> Value {
    json!({"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}})
}

/// A page of a Stripe list, newest first, from `starting_after` on.
fn page(mut items: Vec<Value>, query: &HashMap<String, String>, object: &str) -> Value {
    items.sort_by(|a, b| {
        (b["created"].as_i64(), b["id"].as_str()).cmp(&(a["created"].as_i64(), a["id"].as_str()))
    });
    if let Some(after) = query.get("starting_after") {
        let at = items
            .iter()
            .position(|i| i["id"] == after.as_str())
            .unwrap();
        items.drain(..=at);
    }
    let limit: usize = query.get("limit").map_or(10, |l| l.parse().unwrap());
    let has_more = items.len() > limit;
    items.truncate(limit);
    json!({"object": object, "data": items, "has_more": has_more})
}

struct CreateIntent(Shared);

impl Respond for CreateIntent {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut books = self.0.books();
        let key = key(request);
        if let Some((status, body)) = books.saved.get(&key) {
            return answer(*status, body);
        }
        if books.charges_refused > 0 {
            books.charges_refused -= 1;
            return answer(500, &server_error());
        }
        let form = form(request);
        let intent = json!({
            "id": format!("pi_fake{}", books.intents.len() + 1),
            "object": "payment_intent",
            "amount": form["amount"].parse::<i64>().unwrap(),
            "currency": form["currency"],
            "status": "succeeded",
            "created": now(),
            "metadata": {
                "payment_id": form["metadata[payment_id]"],
                "order_id": form["metadata[order_id]"],
            },
        });
        books.intents.push(intent.clone());
        let (status, body) = if books.charges_lost > 0 {
            books.charges_lost -= 1;
            (500, server_error())
        } else {
            (200, intent)
        };
        books.saved.insert(key, (status, body.clone()));
        answer(status, &body)
    }
}

struct SearchIntents(Shared);

impl Respond for SearchIntents {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let books = self.0.books();
        let query = query(request);
        // metadata['payment_id']:'<id>'
        let wanted = query["query"]
            .strip_prefix("metadata['payment_id']:'")
            .and_then(|rest| rest.strip_suffix('\''))
            .unwrap()
            .to_owned();
        let found: Vec<Value> = if books.search_lags {
            Vec::new()
        } else {
            books
                .intents
                .iter()
                .filter(|i| i["metadata"]["payment_id"] == wanted.as_str())
                .cloned()
                .collect()
        };
        answer(
            200,
            &json!({"object": "search_result", "data": found, "has_more": false}),
        )
    }
}

struct ListIntents(Shared);

impl Respond for ListIntents {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let books = self.0.books();
        let query = query(request);
        let bound = |name: &str| query.get(name).map(|v| v.parse::<i64>().unwrap());
        let (from, to) = (bound("created[gte]"), bound("created[lte]"));
        let items = books
            .intents
            .iter()
            .filter(|i| {
                let created = i["created"].as_i64().unwrap();
                from.is_none_or(|f| created >= f) && to.is_none_or(|t| created <= t)
            })
            .cloned()
            .collect();
        answer(200, &page(items, &query, "list"))
    }
}

struct CreateRefund(Shared);

impl Respond for CreateRefund {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut books = self.0.books();
        let key = key(request);
        if let Some((status, body)) = books.saved.get(&key) {
            return answer(*status, body);
        }
        if books.refunds_refused > 0 {
            books.refunds_refused -= 1;
            return answer(500, &server_error());
        }
        let form = form(request);
        let mut metadata = serde_json::Map::new();
        for (name, value) in &form {
            if let Some(field) = name
                .strip_prefix("metadata[")
                .and_then(|n| n.strip_suffix(']'))
            {
                metadata.insert(field.to_owned(), json!(value));
            }
        }
        let refund = json!({
            "id": format!("re_fake{}", books.refunds.len() + 1),
            "object": "refund",
            "amount": form["amount"].parse::<i64>().unwrap(),
            "payment_intent": form["payment_intent"],
            "status": "succeeded",
            "created": now(),
            "metadata": metadata,
        });
        books.refunds.push(refund.clone());
        let (status, body) = if books.refunds_lost > 0 {
            books.refunds_lost -= 1;
            (500, server_error())
        } else {
            (200, refund)
        };
        books.saved.insert(key, (status, body.clone()));
        let response = answer(status, &body);
        match books.refund_delay {
            Some(delay) => response.set_delay(delay),
            None => response,
        }
    }
}

struct ListRefunds(Shared);

impl Respond for ListRefunds {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let books = self.0.books();
        let query = query(request);
        let items = books
            .refunds
            .iter()
            .filter(|r| {
                query
                    .get("payment_intent")
                    .is_none_or(|pi| r["payment_intent"] == pi.as_str())
            })
            .cloned()
            .collect();
        answer(200, &page(items, &query, "list"))
    }
}
