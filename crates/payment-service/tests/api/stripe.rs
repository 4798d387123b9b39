//! The Stripe adapter against a mock Stripe: the exact requests it sends, and how it reads
//! Stripe's answers. No database needed.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use payment_service::gateway::{
    ChargeCommand, ChargeLookup, GatewayOutcome, Lookup, RefundCommand, RefundLookup,
    RefundOutcome, StripeGateway,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use service_kit::money::{Currency, Money};
use uuid::Uuid;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk_test_x";

fn gateway(server: &MockServer, timeout: Duration) -> StripeGateway {
    StripeGateway::new(&server.uri(), SecretString::from(KEY), timeout)
}

fn charge(token: &str) -> ChargeCommand {
    ChargeCommand {
        payment_id: Uuid::now_v7(),
        order_id: Uuid::now_v7(),
        amount: Money::parse("262.50").unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        token: token.to_owned(),
        idempotency_key: "pay-0001".to_owned(),
    }
}

#[tokio::test]
async fn a_charge_confirms_a_payment_intent_with_our_key_and_idempotency_key() {
    let server = MockServer::start().await;
    let command = charge("tok_visa");
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(header("authorization", "Bearer sk_test_x"))
        .and(header("idempotency-key", "pay-0001"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("amount=26250"))
        .and(body_string_contains("currency=eur"))
        .and(body_string_contains("payment_method_data%5Btype%5D=card"))
        .and(body_string_contains(
            "payment_method_data%5Bcard%5D%5Btoken%5D=tok_visa",
        ))
        .and(body_string_contains("confirm=true"))
        .and(body_string_contains(
            "automatic_payment_methods%5Ballow_redirects%5D=never",
        ))
        .and(body_string_contains(format!(
            "metadata%5Bpayment_id%5D={}",
            command.payment_id
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "pi_123", "object": "payment_intent", "status": "succeeded"}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let outcome = gateway(&server, Duration::from_secs(5))
        .charge(&command)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        GatewayOutcome::Succeeded {
            reference: "pi_123".into()
        }
    );
}

#[tokio::test]
async fn a_card_error_is_a_decline_with_stripes_decline_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "payment_intent": {"id": "pi_456", "status": "requires_payment_method"},
            }
        })))
        .expect(1)
        .mount(&server)
        .await;

    let outcome = gateway(&server, Duration::from_secs(5))
        .charge(&charge("tok_chargeDeclinedInsufficientFunds"))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        GatewayOutcome::Declined {
            reason: "insufficient_funds".into(),
            reference: Some("pi_456".into()),
        }
    );
}

#[tokio::test]
async fn a_card_error_without_decline_code_uses_the_error_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({
            "error": {"type": "card_error", "code": "expired_card", "message": "Your card has expired."}
        })))
        .mount(&server)
        .await;

    let outcome = gateway(&server, Duration::from_secs(5))
        .charge(&charge("tok_chargeDeclinedExpiredCard"))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, GatewayOutcome::Declined { reason, reference: None } if reason == "expired_card"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_server_error_is_a_gateway_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let error = gateway(&server, Duration::from_secs(5))
        .charge(&charge("tok_visa"))
        .await
        .unwrap_err();
    assert!(error.message.contains("500"), "{error}");
}

#[tokio::test]
async fn a_refused_request_is_a_gateway_error_that_never_shows_our_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_x"}
        })))
        .mount(&server)
        .await;

    let error = gateway(&server, Duration::from_secs(5))
        .charge(&charge("tok_visa"))
        .await
        .unwrap_err();
    assert!(error.message.contains("401"), "{error}");
    assert!(!error.message.contains(KEY), "{error}");
}

#[tokio::test]
async fn a_slow_stripe_is_a_gateway_error_after_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "pi_late", "status": "succeeded"}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;

    let started = std::time::Instant::now();
    let error = gateway(&server, Duration::from_millis(200))
        .charge(&charge("tok_visa"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout did not apply"
    );
    assert!(error.message.contains("in time"), "{error}");
}

#[tokio::test]
async fn an_unreachable_stripe_is_a_gateway_error() {
    // A port nothing listens on: the listener is dropped before the call.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let stripe = StripeGateway::new(&address, SecretString::from(KEY), Duration::from_secs(2));
    assert!(stripe.charge(&charge("tok_visa")).await.is_err());
}

fn refund_command(key: &str) -> RefundCommand {
    RefundCommand {
        payment_id: Uuid::now_v7(),
        refund_id: Uuid::now_v7(),
        gateway_reference: "pi_123".into(),
        amount: Money::parse("30.00").unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        idempotency_key: key.into(),
    }
}

#[tokio::test]
async fn a_refund_refunds_the_payment_intent_with_the_idempotency_key_forwarded() {
    let server = MockServer::start().await;
    let command = refund_command("re_abc");
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("authorization", "Bearer sk_test_x"))
        .and(header("idempotency-key", "re_abc"))
        .and(body_string_contains("payment_intent=pi_123"))
        .and(body_string_contains("amount=3000"))
        // How the reconciler would find it.
        .and(body_string_contains(format!(
            "metadata%5Brefund_id%5D={}",
            command.refund_id
        )))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "re_789", "object": "refund", "status": "succeeded"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let refund = gateway(&server, Duration::from_secs(5))
        .refund(&command)
        .await
        .unwrap();
    assert_eq!(
        refund,
        RefundOutcome::Made {
            reference: "re_789".into()
        }
    );
}

#[tokio::test]
async fn a_failed_refund_is_refused_with_stripes_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "re_bad", "status": "failed", "failure_reason": "expired_or_canceled_card"}),
        ))
        .mount(&server)
        .await;

    let refund = gateway(&server, Duration::from_secs(5))
        .refund(&refund_command("re_def"))
        .await
        .unwrap();
    assert_eq!(
        refund,
        RefundOutcome::Refused {
            reason: "expired_or_canceled_card".into()
        }
    );
}

#[tokio::test]
async fn a_refund_stripe_failed_to_answer_is_a_gateway_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"error": {"type": "api_error", "message": "Something went wrong"}}),
        ))
        .mount(&server)
        .await;
    let error = gateway(&server, Duration::from_secs(5))
        .refund(&refund_command("re_ghi"))
        .await
        .unwrap_err();
    assert!(error.message.contains("500"), "{error}");
}

fn charge_lookup() -> ChargeLookup {
    let payment_id = Uuid::now_v7();
    ChargeLookup {
        payment_id,
        idempotency_key: payment_id.to_string(),
        first_attempt: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        last_attempt: Utc.timestamp_opt(1_800_000_060, 0).unwrap(),
    }
}

fn intent(id: &str, payment_id: Uuid, status: &str) -> Value {
    json!({"id": id, "object": "payment_intent", "status": status,
           "metadata": {"payment_id": payment_id.to_string()}})
}

#[tokio::test]
async fn a_charge_is_looked_up_by_its_payment_id_in_stripes_search() {
    let server = MockServer::start().await;
    let lookup = charge_lookup();
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .and(header("authorization", "Bearer sk_test_x"))
        .and(query_param(
            "query",
            format!("metadata['payment_id']:'{}'", lookup.payment_id),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "search_result", "has_more": false,
            "data": [intent("pi_found", lookup.payment_id, "succeeded")],
        })))
        .expect(1)
        .mount(&server)
        .await;

    let found = gateway(&server, Duration::from_secs(5))
        .charge_status(&lookup)
        .await
        .unwrap();
    assert_eq!(
        found,
        Lookup::Decided(GatewayOutcome::Succeeded {
            reference: "pi_found".into()
        })
    );
}

#[tokio::test]
async fn a_charge_search_has_not_indexed_is_found_in_the_list_around_its_attempts() {
    let server = MockServer::start().await;
    let lookup = charge_lookup();
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "search_result", "has_more": false, "data": []})),
        )
        .mount(&server)
        .await;
    // Page one: others' intents, and more to come.
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .and(query_param("created[gte]", "1799999700"))
        .and(query_param("created[lte]", "1800000360"))
        .and(query_param("limit", "100"))
        .and(|request: &wiremock::Request| {
            !request
                .url
                .query_pairs()
                .any(|(k, _)| k == "starting_after")
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": true,
            "data": [intent("pi_a", Uuid::now_v7(), "succeeded"),
                     intent("pi_b", Uuid::now_v7(), "succeeded")],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .and(query_param("starting_after", "pi_b"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false,
            "data": [intent("pi_ours", lookup.payment_id, "requires_payment_method")],
        })))
        .expect(1)
        .mount(&server)
        .await;

    let found = gateway(&server, Duration::from_secs(5))
        .charge_status(&lookup)
        .await
        .unwrap();
    assert_eq!(
        found,
        Lookup::Decided(GatewayOutcome::Declined {
            reason: "card_declined".into(),
            reference: Some("pi_ours".into()),
        })
    );
}

#[tokio::test]
async fn a_charge_in_neither_search_nor_list_was_never_made() {
    let server = MockServer::start().await;
    for route in ["/v1/payment_intents/search", "/v1/payment_intents"] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"object": "list", "has_more": false, "data": []})),
            )
            .mount(&server)
            .await;
    }
    let found = gateway(&server, Duration::from_secs(5))
        .charge_status(&charge_lookup())
        .await
        .unwrap();
    assert_eq!(found, Lookup::NotFound);
}

#[tokio::test]
async fn a_processing_charge_is_undecided() {
    let server = MockServer::start().await;
    let lookup = charge_lookup();
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "search_result", "has_more": false,
            "data": [intent("pi_slow", lookup.payment_id, "processing")],
        })))
        .mount(&server)
        .await;
    let found = gateway(&server, Duration::from_secs(5))
        .charge_status(&lookup)
        .await
        .unwrap();
    assert_eq!(found, Lookup::Undecided);
}

#[tokio::test]
async fn a_charge_lookup_that_cannot_list_is_a_gateway_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"type": "invalid_request_error", "message": "Search is not available"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let error = gateway(&server, Duration::from_secs(5))
        .charge_status(&charge_lookup())
        .await
        .unwrap_err();
    assert!(error.message.contains("503"), "{error}");
}

#[tokio::test]
async fn a_charge_lookup_gives_up_for_now_past_its_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "search_result", "has_more": false, "data": []})),
        )
        .mount(&server)
        .await;
    // A shop so busy that every page has more.
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": true,
            "data": [intent("pi_other", Uuid::now_v7(), "succeeded")],
        })))
        .expect(10)
        .mount(&server)
        .await;
    let error = gateway(&server, Duration::from_secs(5))
        .charge_status(&charge_lookup())
        .await
        .unwrap_err();
    assert!(error.message.contains("cannot tell yet"), "{error}");
}

fn refund_lookup() -> RefundLookup {
    let refund_id = Uuid::now_v7();
    RefundLookup {
        payment_id: Uuid::now_v7(),
        refund_id,
        charge_reference: "pi_123".into(),
        idempotency_key: refund_id.to_string(),
    }
}

async fn refunds_of_the_intent(server: &MockServer, data: Value) {
    Mock::given(method("GET"))
        .and(path("/v1/refunds"))
        .and(header("authorization", "Bearer sk_test_x"))
        .and(query_param("payment_intent", "pi_123"))
        .and(query_param("limit", "100"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "list", "has_more": false, "data": data})),
        )
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_refund_is_looked_up_among_the_intents_refunds_by_its_id() {
    let server = MockServer::start().await;
    let lookup = refund_lookup();
    refunds_of_the_intent(
        &server,
        json!([
            {"id": "re_other", "status": "succeeded", "metadata": {"refund_id": Uuid::now_v7()}},
            {"id": "re_ours", "status": "pending", "metadata": {"refund_id": lookup.refund_id}},
        ]),
    )
    .await;
    let found = gateway(&server, Duration::from_secs(5))
        .refund_status(&lookup)
        .await
        .unwrap();
    assert_eq!(
        found,
        Lookup::Decided(RefundOutcome::Made {
            reference: "re_ours".into()
        })
    );
}

#[tokio::test]
async fn a_refund_stripe_failed_is_found_refused_and_one_it_never_saw_is_not_found() {
    let server = MockServer::start().await;
    let lookup = refund_lookup();
    refunds_of_the_intent(
        &server,
        json!([{"id": "re_ours", "status": "canceled", "metadata": {"refund_id": lookup.refund_id}}]),
    )
    .await;
    let stripe = gateway(&server, Duration::from_secs(5));
    assert_eq!(
        stripe.refund_status(&lookup).await.unwrap(),
        Lookup::Decided(RefundOutcome::Refused {
            reason: "canceled".into()
        })
    );
    server.reset().await;
    refunds_of_the_intent(&server, json!([])).await;
    assert_eq!(
        stripe.refund_status(&lookup).await.unwrap(),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn a_zero_decimal_currency_is_charged_in_whole_units() {
    let server = MockServer::start().await;
    let command = ChargeCommand {
        amount: Money::parse("1500.00").unwrap(),
        currency: Currency::parse("JPY").unwrap(),
        ..charge("tok_visa")
    };
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(body_string_contains("amount=1500&"))
        .and(body_string_contains("currency=jpy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "pi_jpy", "object": "payment_intent", "status": "succeeded"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = gateway(&server, Duration::from_secs(5))
        .charge(&command)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        GatewayOutcome::Succeeded {
            reference: "pi_jpy".into()
        }
    );
}
