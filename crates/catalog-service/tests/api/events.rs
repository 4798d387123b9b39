use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, event_body, ids};

#[sqlx::test(migrations = false)]
async fn customers_cannot_create_or_publish_events(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let (customer, _) = app.user("customer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let refused = app
        .post(
            "/v1/events",
            &event_body(venue, "Jazz", "concert", 10),
            &customer,
        )
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN).await;
    let event = app
        .on_sale(&organizer, venue, "Jazz", "concert", 10, 5)
        .await;
    let draft = app.draft(&organizer, venue, "Blues", "concert", 10).await;
    assert_problem(app.publish(&customer, draft).await, StatusCode::NOT_FOUND).await;
    let cancel = app
        .post(
            &format!("/v1/events/{event}/cancel"),
            &json!({"reason": "x"}),
            &customer,
        )
        .await;
    assert_problem(cancel, StatusCode::FORBIDDEN).await;
}

#[sqlx::test(migrations = false)]
async fn an_organizer_cannot_edit_another_organizers_event(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (alice, _) = app.user("organizer").await;
    let (bob, _) = app.user("organizer").await;
    let venue = app.venue(&alice, "Lisbon").await;
    let published = app.on_sale(&alice, venue, "Jazz", "concert", 10, 5).await;
    let path = format!("/v1/events/{published}");
    let refused = app
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&json!({"title": "Mine"})),
            Some(&bob),
        )
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN).await;
    let own = app
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&json!({"title": "Jazz at Dawn"})),
            Some(&alice),
        )
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    let price_after_publish = app
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&json!({"basePrice": "1.00"})),
            Some(&alice),
        )
        .await;
    assert_problem(price_after_publish, StatusCode::CONFLICT).await;
    // Bob cannot even see Alice's drafts.
    let draft = app.draft(&alice, venue, "Secret", "concert", 10).await;
    let hidden = app
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/events/{draft}"),
            Some(&json!({"title": "x"})),
            Some(&bob),
        )
        .await;
    assert_problem(hidden, StatusCode::NOT_FOUND).await;
}

#[sqlx::test(migrations = false)]
async fn drafts_are_hidden_from_the_public(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let (other, _) = app.user("organizer").await;
    let (admin, _) = app.user("admin").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let draft = app
        .draft(&organizer, venue, "Secret Gig", "concert", 10)
        .await;
    let public = app
        .on_sale(&organizer, venue, "Open Gig", "concert", 11, 3)
        .await;

    assert_problem(
        app.get(&format!("/v1/events/{draft}"), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/events/{draft}/seats"), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/events/{draft}"), Some(&other)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        app.get(&format!("/v1/events/{draft}"), Some(&organizer))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/v1/events/{draft}"), Some(&admin))
            .await
            .status(),
        StatusCode::OK
    );

    let anonymous: Value = app.get("/v1/events", None).await.json().await.unwrap();
    assert_eq!(ids(&anonymous), [public.to_string()]);
    let own: Value = app
        .get("/v1/events", Some(&organizer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["total"], 2);
    let others: Value = app
        .get("/v1/events", Some(&other))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(others["total"], 1);
}

#[sqlx::test(migrations = false)]
async fn every_filter_narrows_the_list(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let lisbon = app.venue(&organizer, "Lisbon").await;
    let porto = app.venue(&organizer, "Porto").await;
    let jazz = app
        .on_sale(&organizer, lisbon, "Late Night JAZZ Trio", "concert", 5, 2)
        .await;
    let hamlet = app
        .on_sale(&organizer, porto, "Hamlet", "theatre", 20, 2)
        .await;
    let rust = app
        .on_sale(&organizer, lisbon, "RustConf Europe", "conference", 40, 2)
        .await;
    app.post(
        &format!("/v1/events/{rust}/cancel"),
        &json!({"reason": "venue flooded"}),
        &organizer,
    )
    .await;

    let list = |query: String| {
        let app = &app;
        async move {
            let page: Value = app
                .get(&format!("/v1/events?{query}"), None)
                .await
                .json()
                .await
                .unwrap();
            ids(&page)
        }
    };
    assert_eq!(
        list("city=LISBON".into()).await,
        [jazz.to_string(), rust.to_string()]
    );
    assert_eq!(list("type=theatre".into()).await, [hamlet.to_string()]);
    assert_eq!(list("status=CANCELLED".into()).await, [rust.to_string()]);
    assert_eq!(list(format!("venueId={porto}")).await, [hamlet.to_string()]);
    assert_eq!(list("q=jazz".into()).await, [jazz.to_string()]);
    assert_eq!(list("q=night%20trio".into()).await, [jazz.to_string()]);
    assert!(list("q=jaz".into()).await.is_empty(), "whole words only");
    let from = (chrono::Utc::now() + chrono::Duration::days(10))
        .to_rfc3339()
        .replace('+', "%2B");
    let to = (chrono::Utc::now() + chrono::Duration::days(30))
        .to_rfc3339()
        .replace('+', "%2B");
    assert_eq!(
        list(format!("from={from}&to={to}")).await,
        [hamlet.to_string()]
    );
    assert_eq!(
        list("city=lisbon&type=concert".into()).await,
        [jazz.to_string()]
    );
    // The city filter follows a venue that changes city.
    let moved = app
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/venues/{porto}"),
            Some(&json!({"city": "Braga"})),
            Some(&organizer),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(list("city=braga".into()).await, [hamlet.to_string()]);
    assert!(list("city=porto".into()).await.is_empty());
}

#[sqlx::test(migrations = false)]
async fn paging_edges_are_handled(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    for day in 1..=3 {
        app.on_sale(&organizer, venue, &format!("Show {day}"), "concert", day, 1)
            .await;
    }
    let page: Value = app
        .get("/v1/events?limit=2&page=2", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            page["total"].as_i64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(3), 1)
    );
    let beyond: Value = app
        .get("/v1/events?limit=2&page=9", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            beyond["total"].as_i64(),
            beyond["items"].as_array().unwrap().len()
        ),
        (Some(3), 0)
    );
    for bad in [
        "limit=0",
        "limit=101",
        "page=0",
        "type=opera",
        "status=SCHEDULED",
    ] {
        let response = app.get(&format!("/v1/events?{bad}"), None).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_problem(
        app.get("/v1/events?limit=ten", None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn public_reads_answer_if_none_match_with_304(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app
        .on_sale(&organizer, venue, "Jazz", "concert", 3, 2)
        .await;
    for path in [
        format!("/v1/events/{event}"),
        "/v1/events".to_owned(),
        format!("/v1/events/{event}/seats"),
        "/v1/venues".into(),
    ] {
        let first = app.get(&path, None).await;
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = app
            .http
            .get(app.url(&path))
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.text().await.unwrap().is_empty());
    }
    // A change makes a new tag.
    let first = app.get(&format!("/v1/events/{event}"), None).await;
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    app.send(
        reqwest::Method::PATCH,
        &format!("/v1/events/{event}"),
        Some(&json!({"title": "Jazz II"})),
        Some(&organizer),
    )
    .await;
    let changed = app
        .http
        .get(app.url(&format!("/v1/events/{event}")))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn bad_event_input_gets_clear_problems(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let malformed = app
        .http
        .post(app.url("/v1/events"))
        .bearer_auth(&organizer)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, StatusCode::BAD_REQUEST).await;
    let unknown_venue = app
        .post(
            "/v1/events",
            &event_body(Uuid::now_v7(), "X", "concert", 3),
            &organizer,
        )
        .await;
    let body = assert_problem(unknown_venue, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"][0]["field"], "venueId");
    let past = app
        .post(
            "/v1/events",
            &event_body(venue, "X", "concert", -1),
            &organizer,
        )
        .await;
    let body = assert_problem(past, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"][0]["field"], "startsAt");
    let mut negative = event_body(venue, "X", "concert", 3);
    negative["basePrice"] = json!("-5.00");
    let body = assert_problem(
        app.post("/v1/events", &negative, &organizer).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "basePrice");
    let mut bad_type = event_body(venue, "X", "opera", 3);
    bad_type["currency"] = json!("EURO");
    let body = assert_problem(
        app.post("/v1/events", &bad_type, &organizer).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
}

#[sqlx::test(migrations = false)]
async fn seats_are_defined_while_draft_from_a_list_or_a_layout(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app.draft(&organizer, venue, "Jazz", "concert", 3).await;
    let path = format!("/v1/events/{event}/seats");
    let list = json!({"seats": [
        {"section": "A", "row": "1", "number": 1},
        {"section": "A", "row": "1", "number": 2, "price": "55.50"},
    ]});
    let response = app
        .send(reqwest::Method::PUT, &path, Some(&list), Some(&organizer))
        .await;
    let count: Value = response.json().await.unwrap();
    assert_eq!(count["seatCount"], 2);
    let seats: Value = app.get(&path, Some(&organizer)).await.json().await.unwrap();
    assert_eq!(
        seats["items"][0]["price"], "40.00",
        "the base price by default"
    );
    assert_eq!(seats["items"][1]["price"], "55.50");

    let layout = json!({"layout": [{"section": "Stalls", "rows": 3, "seatsPerRow": 4, "price": "30.00"}, {"section": "VIP", "rows": 1, "seatsPerRow": 2}]});
    let count: Value = app
        .send(reqwest::Method::PUT, &path, Some(&layout), Some(&organizer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count["seatCount"], 14, "a new definition replaces the old");
    let event_view = app.event(event, Some(&organizer)).await;
    assert_eq!(event_view["seatCount"], 14);
    // Redefining keeps the ids of the places that stay (seating may have them already).
    let before: Value = app.get(&path, Some(&organizer)).await.json().await.unwrap();
    app.send(reqwest::Method::PUT, &path, Some(&layout), Some(&organizer))
        .await;
    let after: Value = app.get(&path, Some(&organizer)).await.json().await.unwrap();
    assert_eq!(before, after);

    let duplicates = json!({"seats": [{"section": "A", "row": "1", "number": 1}, {"section": "A ", "row": "1", "number": 1}]});
    let response = app
        .send(
            reqwest::Method::PUT,
            &path,
            Some(&duplicates),
            Some(&organizer),
        )
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let both = json!({"seats": [], "layout": []});
    assert_problem(
        app.send(reqwest::Method::PUT, &path, Some(&both), Some(&organizer))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    assert_eq!(
        app.publish(&organizer, event).await.status(),
        StatusCode::OK
    );
    let late = app
        .send(reqwest::Method::PUT, &path, Some(&layout), Some(&organizer))
        .await;
    assert_problem(late, StatusCode::CONFLICT).await;
}

/// Drafts are seen by their organizer, admins, and order-service (`catalog:read`, the only
/// service that reads events for a purpose); other services' tokens see the public catalogue.
#[sqlx::test(migrations = false)]
async fn of_the_services_only_order_service_sees_a_draft(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lyon").await;
    let draft = app
        .draft(&organizer, venue, "Rehearsal", "concert", 10)
        .await;
    for (client, token) in app.users.service_tokens().await {
        let status = app
            .get(&format!("/v1/events/{draft}"), Some(&token))
            .await
            .status();
        test_support::assert_scoped(
            client,
            "GET a draft",
            status,
            client == "order-service",
            StatusCode::OK,
            StatusCode::NOT_FOUND,
        );
    }
}
