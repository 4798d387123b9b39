//! The storefront in a real browser: Debian's chromium, driven through chromedriver, against the
//! fleet and the storefront that `scripts/browser-test.sh` starts (real services, real
//! databases; only the payment gateway is the simulated one of payment-service).
//!
//! Ignored by a plain `cargo nextest run` (nothing runs without that fleet);
//! `scripts/browser-test.sh` runs them with `--run-ignored only`, and CI runs that script.
//! Screenshots of every page go to `SCREENSHOT_DIR` (log/browser/).
#![allow(clippy::unwrap_used)] // tests

use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use uuid::Uuid;

const RUN: &str = "needs the fleet, the storefront and chromedriver: scripts/browser-test.sh";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set ({RUN})"))
}

fn storefront(path: &str) -> String {
    format!("{}{path}", var("STOREFRONT_URL"))
}

/// A fresh headless chromium.
async fn browser() -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1100", "--lang=en"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&var("WEBDRIVER_URL"))
        .await
        .expect("chromedriver answers")
}

async fn screenshot(client: &Client, name: &str) {
    let dir = std::env::var("SCREENSHOT_DIR").unwrap_or_else(|_| "log/browser".into());
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
}

async fn css(client: &Client, selector: &str) -> fantoccini::elements::Element {
    let found = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(selector))
        .await;
    match found {
        Ok(element) => element,
        Err(e) => {
            // What the browser showed instead, for the one reading the failure.
            let url = client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let page = client.source().await.unwrap_or_default();
            screenshot(client, "FAILED").await;
            panic!(
                "{selector} not found ({e}) on {url}; the page (also log/browser/FAILED.png):\n{page}"
            );
        }
    }
}

async fn text(client: &Client, selector: &str) -> String {
    css(client, selector).await.text().await.unwrap()
}

async fn fill(client: &Client, selector: &str, value: &str) {
    let input = css(client, selector).await;
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

/// Clicks what sends a form (or follows a link) and waits for the next page to be there.
async fn click_through(client: &Client, selector: &str) {
    js(client, "window.previousPage = true; return true").await;
    css(client, selector).await.click().await.unwrap();
    until(
        client,
        "return window.previousPage !== true && document.readyState !== 'loading'",
        Duration::from_secs(15),
    )
    .await;
}

/// Polls `script` until it returns `true`; how long it took.
async fn until(client: &Client, script: &str, within: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < within {
        if js(client, script).await == json!(true) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("`{script}` did not become true within {within:?}");
}

/// The fleet's own APIs, for what a test prepares outside the pages.
struct Api {
    http: reqwest::Client,
}

impl Api {
    fn new() -> Self {
        Self {
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut request = self.http.request(method, &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        if url.contains("/v1/orders") {
            request = request.header("idempotency-key", Uuid::now_v7().to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{url}: {status} {body}");
        body
    }

    async fn login(&self, email: &str, password: &str) -> String {
        let url = format!("{}/v1/auth/login", var("USER_SERVICE_URL"));
        let body = json!({ "email": email, "password": password });
        self.call(reqwest::Method::POST, url, None, Some(body))
            .await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A new account with `role`; its e-mail and password.
    async fn account(&self, role: &str) -> (String, String) {
        let email = format!("{role}-{}@browser.test", Uuid::now_v7().simple());
        let password = "correct-horse-battery".to_owned();
        let users = var("USER_SERVICE_URL");
        let user = self
            .call(reqwest::Method::POST, format!("{users}/v1/users"), None,
                Some(json!({ "name": format!("{role} {}", &email[..12]), "email": email, "password": password })))
            .await;
        if role != "customer" {
            let admin = self
                .login(&var("FLEET_ADMIN_EMAIL"), &var("FLEET_ADMIN_PASSWORD"))
                .await;
            let url = format!("{users}/v1/users/{}/role", user["id"].as_str().unwrap());
            self.call(
                reqwest::Method::PATCH,
                url,
                Some(&admin),
                Some(json!({ "role": role })),
            )
            .await;
        }
        (email, password)
    }

    /// A new organizer, logged in: e-mail, password, access token.
    async fn organizer(&self) -> (String, String, String) {
        let (email, password) = self.account("organizer").await;
        let token = self.login(&email, &password).await;
        (email, password, token)
    }

    /// An event on sale, organised by `organizer`: its id and title.
    async fn event_on_sale(&self, organizer: &str, rows: u32, per_row: u32) -> (String, String) {
        let catalog = var("CATALOG_SERVICE_URL");
        let title = format!(
            "Browser Night {}",
            &Uuid::now_v7().simple().to_string()[20..]
        );
        let venue = self
            .call(
                reqwest::Method::POST,
                format!("{catalog}/v1/venues"),
                Some(organizer),
                Some(json!({ "name": "Lyric Hall", "city": "Lisbon", "capacity": rows * per_row })),
            )
            .await;
        let event = self
            .call(
                reqwest::Method::POST,
                format!("{catalog}/v1/events"),
                Some(organizer),
                Some(
                    json!({ "title": title, "eventType": "concert", "venueId": venue["id"],
                    "startsAt": "2027-06-12T20:00:00Z", "currency": "EUR", "basePrice": "45.00" }),
                ),
            )
            .await;
        let id = event["id"].as_str().unwrap().to_owned();
        self.call(reqwest::Method::PUT, format!("{catalog}/v1/events/{id}/seats"), Some(organizer),
            Some(json!({ "layout": [{ "section": "Stalls", "rows": rows, "seatsPerRow": per_row }] })))
            .await;
        self.call(
            reqwest::Method::POST,
            format!("{catalog}/v1/events/{id}/publish"),
            Some(organizer),
            None,
        )
        .await;
        (id, title)
    }
}

async fn register(client: &Client, name: &str) {
    client.goto(&storefront("/register")).await.unwrap();
    fill(client, "#name", name).await;
    fill(
        client,
        "#email",
        &format!("buyer-{}@browser.test", Uuid::now_v7().simple()),
    )
    .await;
    fill(client, "#password", "correct-horse-battery").await;
    screenshot(client, "register").await;
    click_through(client, "#register button[type=submit]").await;
    css(client, "#logout").await;
}

async fn log_in(client: &Client, email: &str, password: &str) {
    client.goto(&storefront("/login")).await.unwrap();
    fill(client, "#email", email).await;
    fill(client, "#password", password).await;
    click_through(client, "#login button[type=submit]").await;
    css(client, "#logout").await;
}

/// Chooses seats by clicking them, as a buyer does (the checkbox is hidden; its label is the seat).
async fn choose(client: &Client, positions: &[usize]) {
    for p in positions {
        css(client, &format!("label[for=s{p}]"))
            .await
            .click()
            .await
            .unwrap();
    }
}

/// The door page's answer to `input` (a code or a QR payload): its outcome and its headline.
async fn scan(client: &Client, input: &str) -> (String, String) {
    fill(client, "#ticket", input).await;
    click_through(client, "#door button").await;
    let verdict = css(client, "#verdict").await;
    let outcome = verdict
        .attr("data-outcome")
        .await
        .unwrap()
        .unwrap_or_default();
    (outcome, text(client, "#verdict .headline").await)
}

/// From seat `position`: the right arrow moves along the row, space takes the seat.
async fn take_the_next_seat_by_keyboard(client: &Client, position: usize) {
    js(
        client,
        &format!("document.getElementById('s{position}').focus(); return true"),
    )
    .await;
    let right = char::from(fantoccini::key::Key::Right).to_string();
    client
        .active_element()
        .await
        .unwrap()
        .send_keys(&right)
        .await
        .unwrap();
    let next = format!("s{}", position + 1);
    assert_eq!(
        js(client, "return document.activeElement.id").await,
        json!(next)
    );
    client
        .active_element()
        .await
        .unwrap()
        .send_keys(" ")
        .await
        .unwrap();
}

/// On a phone the map scrolls sideways inside its box; the page does not.
async fn fits_a_phone(client: &Client) {
    client.set_window_size(390, 844).await.unwrap();
    screenshot(client, "event-phone").await;
    let fits = js(
        client,
        "return document.documentElement.scrollWidth <= window.innerWidth",
    )
    .await;
    assert_eq!(fits, json!(true), "the page is wider than a phone");
    client.set_window_size(1280, 1100).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the fleet, the storefront and chromedriver: scripts/browser-test.sh"]
async fn a_buyer_registers_finds_the_event_is_declined_then_pays_and_sees_two_tickets() {
    let api = Api::new();
    let (_, _, organizer) = api.organizer().await;
    let (event, title) = api.event_on_sale(&organizer, 8, 12).await;

    let client = browser().await;
    register(&client, "Bea Buyer").await;

    // Find it by title on the browse page.
    client.goto(&storefront("/")).await.unwrap();
    fill(&client, "input[name=q]", &title).await;
    click_through(&client, "form.filters button").await;
    let card = css(&client, &format!("a[href='/events/{event}']")).await;
    assert_eq!(card.text().await.unwrap(), title);
    assert!(
        text(&client, ".card .price")
            .await
            .contains("96 seats left")
    );
    screenshot(&client, "browse").await;
    click_through(&client, &format!("a[href='/events/{event}']")).await;

    // Two seats, their total with tax.
    css(&client, "#seatmap").await;
    until(
        &client,
        "return !document.getElementById('live').hidden",
        Duration::from_secs(5),
    )
    .await;
    // One seat by pointer, the next by keyboard.
    choose(&client, &[14]).await;
    take_the_next_seat_by_keyboard(&client, 14).await;
    assert_eq!(
        text(&client, "#summary").await,
        "2 seats: 90.00 + tax 4.50 = 94.50 EUR"
    );
    screenshot(&client, "event").await;
    fits_a_phone(&client).await;
    click_through(&client, "#buy").await;

    // Checkout: a declined card first.
    css(&client, "#pay").await;
    assert!(text(&client, "#total").await.contains("94.50 EUR"));
    assert!(text(&client, "#remaining").await.contains("left"));
    screenshot(&client, "checkout").await;
    css(&client, "input[value=tok_chargeDeclined]")
        .await
        .click()
        .await
        .unwrap();
    click_through(&client, "#pay-button").await;
    let problem = text(&client, "#problem").await;
    assert!(problem.contains("declined"), "{problem}");
    assert!(problem.contains("released"), "{problem}");
    screenshot(&client, "declined").await;

    // The same seats again (released on the decline), and a good card.
    client
        .goto(&storefront(&format!("/events/{event}")))
        .await
        .unwrap();
    let free = "return !document.getElementById('s14').disabled && !document.getElementById('s15').disabled";
    until(&client, free, Duration::from_secs(5)).await;
    choose(&client, &[14, 15]).await;
    click_through(&client, "#buy").await;
    css(&client, "input[value=tok_visa]")
        .await
        .click()
        .await
        .unwrap();
    click_through(&client, "#pay-button").await;
    css(&client, "#confirmed").await;
    let tickets = client.find_all(Locator::Css(".ticket img")).await.unwrap();
    assert_eq!(tickets.len(), 2);
    // Each QR code loaded (an SVG from order-service, relayed with the buyer's token).
    until(
        &client,
        "return Array.from(document.querySelectorAll('.ticket img')).every(i => i.complete && i.naturalWidth > 0)",
        Duration::from_secs(5),
    )
    .await;
    screenshot(&client, "confirmation").await;

    client.goto(&storefront("/tickets")).await.unwrap();
    assert_eq!(
        text(&client, ".order-row[data-status=CONFIRMED] .status").await,
        "confirmed"
    );
    assert_eq!(
        text(&client, ".order-row[data-status=PAYMENT_FAILED] .status").await,
        "payment failed"
    );
    screenshot(&client, "my-tickets").await;
    client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the fleet, the storefront and chromedriver: scripts/browser-test.sh"]
async fn a_seat_bought_in_one_browser_greys_out_in_the_other_without_a_reload() {
    let api = Api::new();
    let (_, _, organizer) = api.organizer().await;
    let (event, _) = api.event_on_sale(&organizer, 40, 50).await;
    let page = storefront(&format!("/events/{event}"));

    let watcher = browser().await;
    watcher.goto(&page).await.unwrap();
    until(
        &watcher,
        "return !document.getElementById('live').hidden",
        Duration::from_secs(5),
    )
    .await;
    // The watcher wants seat 1207 too; a marker tells a reload from a live change.
    choose(&watcher, &[1207]).await;
    js(&watcher, "window.sameDocument = true; return true").await;

    let (buyer_email, buyer_password) = api.account("customer").await;
    let buyer = browser().await;
    log_in(&buyer, &buyer_email, &buyer_password).await;
    buyer.goto(&page).await.unwrap();
    choose(&buyer, &[1207, 1208]).await;
    click_through(&buyer, "#buy").await;
    css(&buyer, "#pay").await;
    // Held now: the watcher sees both seats taken, its own choice withdrawn and said.
    let waited = until(
        &watcher,
        "return document.getElementById('s1207').disabled && document.getElementById('s1208').disabled",
        Duration::from_secs(10),
    )
    .await;
    eprintln!("the hold reached the other browser {waited:?} after the order page showed");
    assert_eq!(
        js(&watcher, "return window.sameDocument === true").await,
        json!(true)
    );
    assert_eq!(
        js(&watcher, "return document.getElementById('s1207').checked").await,
        json!(false)
    );
    assert!(
        text(&watcher, "#announce")
            .await
            .contains("was just taken by someone else")
    );
    assert_eq!(text(&watcher, "#available").await, "1998");
    screenshot(&watcher, "live-seat-taken").await;

    // And bought: still taken; the buyer cancels (pending), and the seats come back live.
    css(&buyer, "input[value=tok_visa]")
        .await
        .click()
        .await
        .unwrap();
    click_through(&buyer, "#pay-button").await;
    css(&buyer, "#confirmed").await;
    assert_eq!(
        js(&watcher, "return document.getElementById('s1207').disabled").await,
        json!(true)
    );
    // A confirmed order is cancelled (refunded) from "My tickets".
    buyer.goto(&storefront("/tickets")).await.unwrap();
    click_through(
        &buyer,
        ".order-row[data-status=CONFIRMED] form.cancel button",
    )
    .await;
    css(&buyer, "#state").await;
    until(
        &watcher,
        "return !document.getElementById('s1207').disabled && !document.getElementById('s1208').disabled",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        js(&watcher, "return window.sameDocument === true").await,
        json!(true)
    );
    watcher.close().await.unwrap();
    buyer.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the fleet, the storefront and chromedriver: scripts/browser-test.sh"]
async fn an_organizer_creates_and_publishes_an_event_through_the_pages() {
    let api = Api::new();
    let (email, password) = api.account("organizer").await;
    let client = browser().await;
    log_in(&client, &email, &password).await;

    client
        .goto(&storefront("/organizer/venues/new"))
        .await
        .unwrap();
    fill(&client, "#name", "Teatro <Novo>").await;
    fill(&client, "#city", "Porto").await;
    fill(&client, "#capacity", "300").await;
    click_through(&client, "#venue button").await;

    // On to the event form, with the new venue chosen.
    let title = format!(
        "Opening Night {}",
        &Uuid::now_v7().simple().to_string()[20..]
    );
    fill(&client, "#title", &title).await;
    client
        .execute(
            "document.getElementById('starts_at').value = '2027-05-01T19:30'; return true",
            vec![],
        )
        .await
        .unwrap();
    fill(&client, "#base_price", "25.00").await;
    fill(
        &client,
        "#layout",
        "Stalls, 5, 10, 25.00\nBalcony, 2, 8, 18.50",
    )
    .await;
    assert!(
        text(&client, "#venue option:checked")
            .await
            .contains("Teatro <Novo>, Porto")
    );
    screenshot(&client, "organizer-new-event").await;
    click_through(&client, "#new-event button[type=submit]").await;

    // A draft with 66 seats; publishing puts it on sale.
    let row = format!("//tr[td/a[text()='{title}']]");
    let draft = client
        .wait()
        .for_element(Locator::XPath(&row))
        .await
        .unwrap();
    assert!(draft.text().await.unwrap().contains("draft"));
    assert!(draft.text().await.unwrap().contains("66"));
    js(&client, "window.previousPage = true; return true").await;
    draft
        .find(Locator::Css("button.publish"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &client,
        "return window.previousPage !== true",
        Duration::from_secs(15),
    )
    .await;
    let published = client
        .wait()
        .for_element(Locator::XPath(&row))
        .await
        .unwrap();
    assert!(published.text().await.unwrap().contains("on sale"));
    screenshot(&client, "organizer").await;

    // Buyers find it.
    client.goto(&storefront("/?city=Porto")).await.unwrap();
    client
        .wait()
        .for_element(Locator::XPath(&format!("//a[text()='{title}']")))
        .await
        .unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the fleet, the storefront and chromedriver: scripts/browser-test.sh"]
async fn the_door_admits_a_ticket_once_and_refuses_a_void_one() {
    let api = Api::new();
    let (email, password, organizer) = api.organizer().await;
    let (event, _) = api.event_on_sale(&organizer, 2, 5).await;
    // A buyer's order, paid in the same call (the API, not the pages: this test is the door's).
    let (buyer_email, buyer_password) = api.account("customer").await;
    let buyer = api.login(&buyer_email, &buyer_password).await;
    let seats = api
        .call(
            reqwest::Method::GET,
            format!("{}/v1/events/{event}/seats", var("CATALOG_SERVICE_URL")),
            None,
            None,
        )
        .await;
    let two = [
        seats["items"][0]["seatId"].clone(),
        seats["items"][1]["seatId"].clone(),
    ];
    let order = api
        .call(reqwest::Method::POST, format!("{}/v1/orders", var("ORDER_SERVICE_URL")), Some(&buyer),
            Some(json!({ "eventId": event, "seatIds": two, "payment": { "method": "card", "token": "tok_visa" } })))
        .await;
    let ticket = &order["tickets"][0];

    let client = browser().await;
    log_in(&client, &email, &password).await;
    client.goto(&storefront("/door")).await.unwrap();
    let (outcome, headline) = scan(&client, ticket["code"].as_str().unwrap()).await;
    assert_eq!(outcome, "valid");
    assert!(headline.contains("VALID"));
    screenshot(&client, "door-valid").await;

    // The same ticket scanned (its QR payload) is refused.
    let (outcome, headline) = scan(&client, ticket["qrPayload"].as_str().unwrap()).await;
    assert_eq!(outcome, "used");
    assert!(headline.contains("ALREADY USED"));
    screenshot(&client, "door-used").await;

    // The order refunded (by an admin: one of its tickets is used), its other ticket is void.
    let admin = api
        .login(&var("FLEET_ADMIN_EMAIL"), &var("FLEET_ADMIN_PASSWORD"))
        .await;
    let order_id = order["id"].as_str().unwrap();
    let url = format!("{}/v1/orders/{order_id}/cancel", var("ORDER_SERVICE_URL"));
    api.call(reqwest::Method::POST, url, Some(&admin), None)
        .await;
    let (outcome, headline) = scan(&client, order["tickets"][1]["code"].as_str().unwrap()).await;
    assert_eq!(outcome, "void");
    assert!(headline.contains("VOID"));
    screenshot(&client, "door-void").await;
    client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the fleet, the storefront and chromedriver: scripts/browser-test.sh"]
async fn a_form_without_its_csrf_token_is_refused() {
    let client = browser().await;
    client.goto(&storefront("/login")).await.unwrap();
    fill(&client, "#email", "someone@browser.test").await;
    fill(&client, "#password", "whatever-password").await;
    // What a forged form looks like: the same fields, no token.
    js(
        &client,
        "document.querySelector('#login input[name=csrf]').remove(); return true",
    )
    .await;
    click_through(&client, "#login button[type=submit]").await;
    assert_eq!(text(&client, "#error h1").await, "This form has expired");
    screenshot(&client, "csrf-refused").await;
    client.close().await.unwrap();

    // And from another site's page (no session cookie, a token guessed): refused too.
    let response = reqwest::Client::new()
        .post(storefront("/logout"))
        .form(&[("csrf", "guessed")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FORBIDDEN);
}
