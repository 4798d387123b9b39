//! The Stripe adapter against a mock Stripe: the exact requests it sends, and how it reads
//! Stripe's answers. No database needed.

use std::time::Duration;

use payment_service::gateway::{
    ChargeCommand, GatewayOutcome, GatewayRefund, RefundCommand, StripeGateway,
};
use secrecy::SecretString;
use serde_json::json;
use service_kit::money::{Currency, Money};
use uuid::Uuid;
use wiremock::matchers::{body_string_contains, header, method, path};
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

#[tokio::test]
async fn a_refund_refunds_the_payment_intent_with_the_idempotency_key_forwarded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("authorization", "Bearer sk_test_x"))
        .and(header("idempotency-key", "re_abc"))
        .and(body_string_contains("payment_intent=pi_123"))
        .and(body_string_contains("amount=3000"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "re_789", "object": "refund", "status": "succeeded"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let refund = gateway(&server, Duration::from_secs(5))
        .refund(&RefundCommand {
            payment_id: Uuid::now_v7(),
            gateway_reference: "pi_123".into(),
            amount: Money::parse("30.00").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            idempotency_key: "re_abc".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        refund,
        GatewayRefund {
            reference: "re_789".into()
        }
    );
}

#[tokio::test]
async fn a_failed_refund_is_a_gateway_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "re_bad", "status": "failed"})),
        )
        .mount(&server)
        .await;

    let result = gateway(&server, Duration::from_secs(5))
        .refund(&RefundCommand {
            payment_id: Uuid::now_v7(),
            gateway_reference: "pi_123".into(),
            amount: Money::parse("30.00").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            idempotency_key: "re_def".into(),
        })
        .await;
    assert!(result.is_err());
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
