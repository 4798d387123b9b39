//! The simulated gateway on its own: fixed outcomes per token, idempotency per key, and a memory
//! (its table) that outlives the object, as a real gateway's outlives our process.

use std::time::Duration;

use chrono::Utc;
use payment_service::db::MIGRATIONS;
use payment_service::gateway::{
    ChargeCommand, ChargeLookup, GatewayOutcome, Lookup, RefundCommand, RefundLookup,
    RefundOutcome, SimulatedGateway,
};
use service_kit::money::{Currency, Money};
use sqlx::PgPool;
use uuid::Uuid;

async fn gateway(pool: &PgPool) -> SimulatedGateway {
    service_kit::db::migrate(pool, &MIGRATIONS).await.unwrap();
    SimulatedGateway::new(pool.clone(), Duration::ZERO)
}

fn command(token: &str, key: &str) -> ChargeCommand {
    ChargeCommand {
        payment_id: Uuid::now_v7(),
        order_id: Uuid::now_v7(),
        amount: Money::parse("10.00").unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        token: token.to_owned(),
        idempotency_key: key.to_owned(),
    }
}

fn refund(key: &str) -> RefundCommand {
    RefundCommand {
        payment_id: Uuid::now_v7(),
        refund_id: Uuid::now_v7(),
        gateway_reference: "sim_ch_1".into(),
        amount: Money::parse("5.00").unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        idempotency_key: key.into(),
    }
}

fn charge_lookup(key: &str) -> ChargeLookup {
    ChargeLookup {
        payment_id: Uuid::now_v7(),
        idempotency_key: key.into(),
        first_attempt: Utc::now(),
        last_attempt: Utc::now(),
    }
}

fn refund_lookup(key: &str) -> RefundLookup {
    RefundLookup {
        payment_id: Uuid::now_v7(),
        refund_id: Uuid::now_v7(),
        charge_reference: "sim_ch_1".into(),
        idempotency_key: key.into(),
    }
}

#[sqlx::test(migrations = false)]
async fn test_tokens_have_fixed_outcomes(pool: PgPool) {
    let gateway = gateway(&pool).await;
    for token in ["tok_visa", "tok_mastercard"] {
        let outcome = gateway.charge(&command(token, token)).await.unwrap();
        assert!(
            matches!(outcome, GatewayOutcome::Succeeded { reference } if reference.starts_with("sim_ch_"))
        );
    }
    for (token, expected) in [
        ("tok_chargeDeclined", "card_declined"),
        ("tok_insufficientFunds", "insufficient_funds"),
        ("tok_whatever", "invalid_token"),
    ] {
        let outcome = gateway.charge(&command(token, token)).await.unwrap();
        assert!(
            matches!(&outcome, GatewayOutcome::Declined { reason, .. } if reason == expected),
            "{token}: {outcome:?}"
        );
    }
    assert!(
        gateway
            .charge(&command("tok_gatewayError", "e"))
            .await
            .is_err()
    );
    assert_eq!(gateway.charges_made(), 2);
}

#[sqlx::test(migrations = false)]
async fn a_repeated_key_gets_the_first_answer_without_a_second_charge(pool: PgPool) {
    let gateway = gateway(&pool).await;
    let first = gateway.charge(&command("tok_visa", "k")).await.unwrap();
    let again = gateway.charge(&command("tok_visa", "k")).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(gateway.charges_made(), 1);
}

#[sqlx::test(migrations = false)]
async fn the_failing_token_fails_every_time_and_the_flaky_one_once_per_key(pool: PgPool) {
    let gateway = gateway(&pool).await;
    for _ in 0..3 {
        assert!(
            gateway
                .charge(&command("tok_gatewayError", "a"))
                .await
                .is_err()
        );
    }
    assert!(
        gateway
            .charge(&command("tok_gatewayErrorOnce", "b"))
            .await
            .is_err()
    );
    assert!(
        gateway
            .charge(&command("tok_gatewayErrorOnce", "b"))
            .await
            .is_ok()
    );
    assert!(
        gateway
            .charge(&command("tok_gatewayErrorOnce", "c"))
            .await
            .is_err()
    );
    assert_eq!(gateway.charges_made(), 1);
}

#[sqlx::test(migrations = false)]
async fn a_refund_is_made_once_per_key(pool: PgPool) {
    let gateway = gateway(&pool).await;
    let refund = refund("r");
    let first = gateway.refund(&refund).await.unwrap();
    assert!(
        matches!(&first, RefundOutcome::Made { reference } if reference.starts_with("sim_re_"))
    );
    assert_eq!(gateway.refund(&refund).await.unwrap(), first);
    assert_eq!(gateway.refunds_made(), 1);
}

#[sqlx::test(migrations = false)]
async fn it_answers_what_happened_to_a_key_even_after_the_object_is_gone(pool: PgPool) {
    let before = gateway(&pool).await;
    before.lose_charge_answers(1);
    assert!(
        before.charge(&command("tok_visa", "lost")).await.is_err(),
        "the answer is lost"
    );
    let declined = before
        .charge(&command("tok_chargeDeclined", "no"))
        .await
        .unwrap();
    before.lose_refund_answers(1);
    assert!(before.refund(&refund("lost-refund")).await.is_err());
    assert!(
        before
            .charge(&command("tok_gatewayError", "never"))
            .await
            .is_err()
    );
    drop(before);

    // A new process: its memory is the table.
    let after = SimulatedGateway::new(pool.clone(), Duration::ZERO);
    assert!(matches!(
        after.charge_status(&charge_lookup("lost")).await.unwrap(),
        Lookup::Decided(GatewayOutcome::Succeeded { .. })
    ));
    assert_eq!(
        after.charge_status(&charge_lookup("no")).await.unwrap(),
        Lookup::Decided(declined)
    );
    assert_eq!(
        after.charge_status(&charge_lookup("never")).await.unwrap(),
        Lookup::NotFound
    );
    assert!(matches!(
        after
            .refund_status(&refund_lookup("lost-refund"))
            .await
            .unwrap(),
        Lookup::Decided(RefundOutcome::Made { .. })
    ));
    assert_eq!(
        after
            .refund_status(&refund_lookup("unknown"))
            .await
            .unwrap(),
        Lookup::NotFound
    );
    assert_eq!(after.lookups_made(), 5);
    // And a retry of the lost charge is answered, not charged again.
    assert!(matches!(
        after.charge(&command("tok_visa", "lost")).await.unwrap(),
        GatewayOutcome::Succeeded { .. }
    ));
    assert_eq!(after.charges_made(), 0);
}
