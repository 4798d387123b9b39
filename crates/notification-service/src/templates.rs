//! The e-mails' words, kept as template files (`templates/`): a text and an HTML version of each
//! kind, embedded in the binary and rendered with minijinja.
//!
//! The HTML templates are auto-escaped (every `{{ value }}` of a `.html` template), so a buyer
//! named `<script>` or an event called `Fado <Night> & Friends` arrives as text, never as markup;
//! the text templates are not (a text part has no markup to break). No HTML is built by string
//! concatenation anywhere: values go in through [`EmailView`], formatted but never escaped by hand.

use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use service_kit::messages::payloads::OrderNotice;

use crate::domain::NotificationType;

/// The templates of every kind, parsed once at start-up.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

const FILES: [(&str, &str); 8] = [
    ("receipt.html", include_str!("../templates/receipt.html")),
    ("receipt.txt", include_str!("../templates/receipt.txt")),
    (
        "cancelled.html",
        include_str!("../templates/cancelled.html"),
    ),
    ("cancelled.txt", include_str!("../templates/cancelled.txt")),
    ("expired.html", include_str!("../templates/expired.html")),
    ("expired.txt", include_str!("../templates/expired.txt")),
    ("refunded.html", include_str!("../templates/refunded.html")),
    ("refunded.txt", include_str!("../templates/refunded.txt")),
];

/// An e-mail's two bodies.
#[derive(Debug, Clone)]
pub struct Bodies {
    pub text: String,
    pub html: String,
}

impl Templates {
    /// Parses every template; an error here is a broken template file, found at start-up.
    pub fn load() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if std::path::Path::new(name)
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("html"))
            {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        // A value the view lacks is a bug in this crate, not a blank in a buyer's e-mail.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in FILES {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    pub fn render(
        &self,
        kind: NotificationType,
        view: &EmailView,
    ) -> Result<Bodies, minijinja::Error> {
        let stem = kind.template();
        let text = self
            .env
            .get_template(&format!("{stem}.txt"))?
            .render(view)?;
        let html = self
            .env
            .get_template(&format!("{stem}.html"))?
            .render(view)?;
        Ok(Bodies { text, html })
    }
}

/// What the templates see: the order notice, with dates and amounts written out.
#[derive(Debug, Clone, Serialize)]
pub struct EmailView {
    pub name: String,
    pub order_id: String,
    pub event: EventView,
    pub subtotal: String,
    pub tax: String,
    pub total: String,
    pub tickets: Vec<TicketView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub title: String,
    /// In UTC: the notice carries the instant, not the venue's time zone.
    pub starts_at: String,
    pub venue: String,
    pub city: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    pub code: String,
    /// `Stalls, row A, seat 3`.
    pub seat: String,
    pub price: String,
    /// The `Content-ID` of its QR code's inline image (without the angle brackets).
    pub content_id: String,
}

impl EmailView {
    /// The view of `notice`; `content_id(i)` names the inline image of ticket `i`.
    pub fn new(notice: &OrderNotice, content_id: impl Fn(usize) -> String) -> Self {
        let amount = |m: &service_kit::money::Money| format!("{m} {}", notice.currency);
        Self {
            name: notice.name.clone(),
            order_id: notice.order_id.to_string(),
            event: EventView {
                title: notice.event_title.clone(),
                starts_at: notice
                    .starts_at
                    .format("%A %-d %B %Y, %H:%M UTC")
                    .to_string(),
                venue: notice.venue.name.clone(),
                city: notice.venue.city.clone(),
            },
            subtotal: amount(&notice.subtotal),
            tax: amount(&notice.tax),
            total: amount(&notice.total),
            tickets: notice
                .tickets
                .iter()
                .enumerate()
                .map(|(i, t)| TicketView {
                    code: t.code.clone(),
                    seat: format!("{}, row {}, seat {}", t.section, t.row, t.number),
                    price: amount(&t.price),
                    content_id: content_id(i),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use service_kit::messages::payloads::{TicketNotice, VenueNotice};
    use service_kit::money::Money;
    use uuid::Uuid;

    use super::*;

    pub(crate) fn notice(name: &str, title: &str) -> OrderNotice {
        OrderNotice {
            order_id: Uuid::nil(),
            user_id: Uuid::nil(),
            email: "ada@example.com".into(),
            name: name.into(),
            event_id: Uuid::nil(),
            event_title: title.into(),
            starts_at: Utc.with_ymd_and_hms(2030, 6, 1, 20, 0, 0).unwrap(),
            venue: VenueNotice {
                name: "Coliseu".into(),
                city: "Lisbon".into(),
            },
            currency: "EUR".into(),
            subtotal: Money::parse("70.00").unwrap(),
            tax: Money::parse("3.50").unwrap(),
            total: Money::parse("73.50").unwrap(),
            tickets: (1..=2)
                .map(|n| TicketNotice {
                    code: format!("code-{n}"),
                    section: "Stalls".into(),
                    row: "A".into(),
                    number: n,
                    price: Money::parse("35.00").unwrap(),
                    qr_payload: "x.y.z".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn every_template_renders() {
        let templates = Templates::load().unwrap();
        let view = EmailView::new(&notice("Ada", "Jazz Night"), |i| format!("qr{i}@test"));
        for kind in NotificationType::ALL {
            let bodies = templates.render(kind, &view).unwrap();
            assert!(bodies.text.contains("Jazz Night"), "{kind:?}");
            assert!(bodies.html.contains("Jazz Night"), "{kind:?}");
            assert!(bodies.text.contains("Saturday 1 June 2030, 20:00 UTC"));
        }
    }

    #[test]
    fn the_receipt_lists_seats_prices_totals_and_every_ticket() {
        let templates = Templates::load().unwrap();
        let view = EmailView::new(&notice("Ada", "Jazz Night"), |i| format!("qr{i}@test"));
        let bodies = templates
            .render(NotificationType::OrderConfirmed, &view)
            .unwrap();
        for part in [&bodies.text, &bodies.html] {
            for needle in [
                "Stalls, row A, seat 1",
                "Stalls, row A, seat 2",
                "35.00 EUR",
                "70.00 EUR",
                "3.50 EUR",
                "73.50 EUR",
                "code-1",
                "code-2",
                "Coliseu",
                "Lisbon",
            ] {
                assert!(part.contains(needle), "{needle} missing from\n{part}");
            }
        }
        assert!(bodies.html.contains(r#"src="cid:qr0@test""#));
        assert!(bodies.html.contains(r#"src="cid:qr1@test""#));
    }

    #[test]
    fn what_users_wrote_is_escaped_in_html_and_left_alone_in_text() {
        let templates = Templates::load().unwrap();
        let view = EmailView::new(
            &notice("<script>alert(1)</script>", "Fado <Night> & Friends"),
            |i| format!("qr{i}@test"),
        );
        for kind in NotificationType::ALL {
            let bodies = templates.render(kind, &view).unwrap();
            assert!(!bodies.html.contains("<script>"), "{kind:?}");
            assert!(
                bodies
                    .html
                    .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
            );
            assert!(bodies.html.contains("Fado &lt;Night&gt; &amp; Friends"));
            assert!(bodies.text.contains("<script>alert(1)</script>"));
        }
    }
}
