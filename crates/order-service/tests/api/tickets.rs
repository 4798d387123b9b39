//! Tickets: read by their buyer and organizer, drawn as a QR code, verified offline with the
//! published keys, and checked in once.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{Fleet, StatusCode, assert_problem};

#[sqlx::test(migrations = false)]
async fn a_tickets_qr_payload_verifies_offline_with_the_published_keys(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let order = fleet.confirmed(&buyer, event.id, &event.seats[..1]).await;
    let ticket = &order["tickets"][0];
    let code = ticket["code"].as_str().unwrap();

    let keys: Value = fleet
        .get("/v1/tickets/keys", None)
        .await
        .json()
        .await
        .unwrap();
    let jwk = &keys["keys"][0];
    assert_eq!(jwk["kty"], "OKP");
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims =
        jsonwebtoken::decode::<Value>(ticket["qrPayload"].as_str().unwrap(), &key, &validation)
            .unwrap()
            .claims;
    assert_eq!(claims["sub"], code);
    assert_eq!(claims["eventId"], event.id.to_string());
    assert_eq!(claims["seatId"], ticket["seatId"]);

    let svg = fleet
        .get(&format!("/v1/tickets/{code}/qr.svg"), Some(&buyer.token))
        .await;
    assert_eq!(svg.status(), StatusCode::OK);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));

    let read = fleet
        .get(&format!("/v1/tickets/{code}"), Some(&fleet.organizer))
        .await;
    assert_eq!(read.status(), StatusCode::OK);
    let stranger = fleet.buyer().await;
    assert_problem(
        fleet
            .get(&format!("/v1/tickets/{code}"), Some(&stranger.token))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        fleet
            .get(&format!("/v1/tickets/{code}/qr.svg"), Some(&stranger.token))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn twenty_concurrent_check_ins_of_one_ticket_admit_exactly_one(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let order = fleet.confirmed(&buyer, event.id, &event.seats[..1]).await;
    let code = order["tickets"][0]["code"].as_str().unwrap().to_owned();
    let url = format!("{}/v1/tickets/{code}/check-in", fleet.orders);
    let attempts = (0..20).map(|_| {
        fleet.call(
            Method::POST,
            url.clone(),
            Some(&fleet.organizer),
            None,
            None,
        )
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1);
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        19
    );
    let ticket: Value = fleet
        .get(&format!("/v1/tickets/{code}"), Some(&buyer.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ticket["status"], "USED");
}

#[sqlx::test(migrations = false)]
async fn only_the_events_organizer_or_an_admin_checks_in_and_a_void_ticket_is_refused(
    pool: PgPool,
) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let order = fleet.confirmed(&buyer, event.id, &event.seats[..2]).await;
    let code = order["tickets"][0]["code"].as_str().unwrap();
    let url = format!("{}/v1/tickets/{code}/check-in", fleet.orders);
    let by_buyer = fleet
        .call(Method::POST, url.clone(), Some(&buyer.token), None, None)
        .await;
    assert_problem(by_buyer, StatusCode::FORBIDDEN).await;
    let other_organizer = fleet.users.account("organizer").await.token;
    let by_other = fleet
        .call(
            Method::POST,
            url.clone(),
            Some(&other_organizer),
            None,
            None,
        )
        .await;
    assert_problem(by_other, StatusCode::NOT_FOUND).await;
    assert_eq!(
        fleet.cancel(&buyer.token, &order).await.status(),
        StatusCode::OK
    );
    let void = fleet
        .call(Method::POST, url, Some(&fleet.admin), None, None)
        .await;
    let problem = assert_problem(void, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("VOID"));
    let unknown = fleet
        .call(
            Method::POST,
            format!(
                "{}/v1/tickets/not-a-real-code-at-all/check-in",
                fleet.orders
            ),
            Some(&fleet.admin),
            None,
            None,
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND).await;
}

#[sqlx::test(migrations = false)]
async fn the_openapi_document_passes_the_kits_audit(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    test_support::assert_openapi_truthful(&fleet.orders).await;
}
