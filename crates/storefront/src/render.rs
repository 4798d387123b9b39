//! Pages are minijinja templates embedded in the binary; every value is HTML-escaped (the
//! `.html` templates auto-escape), so a venue called `<script>` is shown, not run.

use std::sync::{Arc, LazyLock};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, UndefinedBehavior, Value, context};

use crate::gzip;
use crate::session::Visit;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("browse.html", include_str!("../templates/browse.html")),
    ("event.html", include_str!("../templates/event.html")),
    ("seatmap.html", include_str!("../templates/seatmap.html")),
    ("order.html", include_str!("../templates/order.html")),
    ("tickets.html", include_str!("../templates/tickets.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("register.html", include_str!("../templates/register.html")),
    (
        "organizer.html",
        include_str!("../templates/organizer.html"),
    ),
    (
        "venue_new.html",
        include_str!("../templates/venue_new.html"),
    ),
    (
        "event_new.html",
        include_str!("../templates/event_new.html"),
    ),
    (
        "event_cancel.html",
        include_str!("../templates/event_cancel.html"),
    ),
    ("door.html", include_str!("../templates/door.html")),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `form.name` on a page shown without a form is empty, not an error.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // The templates are part of the binary; the test below catches this before a release.
            tracing::error!(template = name, error = %e, "template does not compile");
        }
    }
    env.add_filter("when", when);
    env
});

/// A rendered page, or the failure to render one (a 500, whatever status the page meant).
#[must_use]
pub struct Page(Option<Body>);

enum Body {
    Whole(String),
    /// The visitor's own head and tail around a part every visitor's copy carries, joined
    /// compressed when `gzip` (the browser takes it).
    Around {
        head: String,
        shared: Arc<gzip::Shared>,
        tail: String,
        gzip: bool,
    },
}

impl Page {
    /// The page with another status than 200 (a refused form, a declined card).
    pub fn with_status(self, status: StatusCode) -> Response {
        let mut response = self.into_response();
        if response.status().is_success() {
            *response.status_mut() = status;
        }
        response
    }

    #[cfg(test)]
    fn html(&self) -> String {
        match &self.0 {
            Some(Body::Whole(html)) => html.clone(),
            Some(Body::Around {
                head, shared, tail, ..
            }) => format!("{head}{}{tail}", shared.raw()),
            None => String::new(),
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        match self.0 {
            Some(Body::Whole(html)) => Html(html).into_response(),
            Some(Body::Around {
                head,
                shared,
                tail,
                gzip,
            }) => {
                if gzip && let Some(body) = gzip::join(&head, &shared, &tail) {
                    return (
                        [
                            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
                            (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                            (header::VARY, HeaderValue::from_static("accept-encoding")),
                        ],
                        body,
                    )
                        .into_response();
                }
                Html(format!("{head}{}{tail}", shared.raw())).into_response()
            }
            None => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>This page could not be shown. Please try again."),
            )
                .into_response(),
        }
    }
}

/// Renders `template` with the visitor's account and form token beside `page`'s values.
pub fn page(template: &str, visit: Option<&Visit>, page: Value) -> Page {
    Page(render(template, visit, page).map(Body::Whole))
}

/// Where [`page_around`]'s shared part goes. Only this crate writes it unescaped: a title
/// typed as `<!--shared-->` reaches the page escaped and cannot be taken for it.
const SHARED_SLOT: &str = "<!--shared-->";

/// A page carrying `shared` where its template writes `seat_rows`: the part every visitor's
/// copy has (the event page's seat rows, drawn once per version). Only the rest is rendered
/// for this visitor; with `gzip`, it is compressed around the shared part's once-compressed
/// bytes ([`gzip`]) instead of compressing the whole page again.
pub fn page_around(
    template: &str,
    visit: Option<&Visit>,
    page: Value,
    shared: Arc<gzip::Shared>,
    gzip: bool,
) -> Page {
    let page = context! { seat_rows => Value::from_safe_string(SHARED_SLOT.to_owned()), ..page };
    let Some(mut head) = render(template, visit, page) else {
        return Page(None);
    };
    let Some(at) = head.find(SHARED_SLOT) else {
        tracing::error!(template, "page has no place for its shared part");
        return Page(None);
    };
    let tail = head.split_off(at + SHARED_SLOT.len());
    head.truncate(at);
    Page(Some(Body::Around {
        head,
        shared,
        tail,
        gzip,
    }))
}

/// A part of a page, rendered on its own (no account, no form token).
pub fn fragment(template: &str, values: Value) -> Option<String> {
    render(template, None, values)
}

fn render(template: &str, visit: Option<&Visit>, page: Value) -> Option<String> {
    let (account, csrf) = visit.map_or((None, String::new()), |v| (v.account(), v.csrf()));
    let ctx = context! { account => account, csrf => csrf, ..page };
    match ENV.get_template(template).and_then(|t| t.render(ctx)) {
        Ok(html) => Some(html),
        Err(e) => {
            tracing::error!(template, error = %e, "page did not render");
            None
        }
    }
}

/// An RFC 3339 instant as people read it: `Sat 12 Dec 2026, 20:00 UTC`.
fn when(raw: Option<String>) -> String {
    let raw = raw.unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(&raw).map_or_else(
        |_| raw.clone(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%a %-d %b %Y, %H:%M UTC")
                .to_string()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// Every page renders with nothing in it (the forms shown empty, no account): no value a
    /// template reads is required.
    #[test]
    fn every_page_renders_with_an_empty_context() {
        for (name, _) in TEMPLATES {
            assert!(page(name, None, context! {}).0.is_some(), "{name}");
        }
    }

    #[test]
    fn values_are_escaped() {
        let page = page(
            "error.html",
            None,
            context! { title => "<script>alert(1)</script>", message => "a & b", status => 400 },
        );
        let html = page.html();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;"));
        assert!(!html.contains("<script>alert"));
    }

    /// The event page as every visitor gets it: their own parts rendered around the shared seat
    /// rows, a title that looks like the slot escaped, and the gzip answer decoding to the page.
    #[tokio::test]
    async fn a_page_around_a_shared_part_is_the_whole_page() {
        use std::io::Read;

        let shared = Arc::new(gzip::Shared::new("<div id=rows>A-1 A-2</div>".into()));
        let values = || {
            context! {
                event => context! { id => "e1", title => "<!--shared--> & friends", status => "ON_SALE" },
                seats => context! { version => 7, available => 2, held => 0, sold => 0 },
                map => context! { prices => ["45.00"], prices_minor => [4500] },
            }
        };
        let page = page_around("event.html", None, values(), shared.clone(), true);
        let html = page.html();
        assert_eq!(html.matches("<div id=rows>").count(), 1, "{html}");
        assert!(html.contains("&lt;!--shared--&gt; &amp; friends"));
        assert!(html.find("name=\"layout\"") < html.find("<div id=rows>"));
        assert!(html.find("<div id=rows>") < html.find("id=\"buy\""));

        let response = page.into_response();
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let mut unzipped = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, html);

        // A browser without gzip gets the same page as it is.
        let plain = page_around("event.html", None, values(), shared, false).into_response();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let body = axum::body::to_bytes(plain.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(String::from_utf8(body.to_vec()).unwrap(), html);
    }

    #[test]
    fn instants_read_like_a_ticket() {
        assert_eq!(
            when(Some("2026-12-12T20:00:00Z".into())),
            "Sat 12 Dec 2026, 20:00 UTC"
        );
        assert_eq!(when(Some("soon".into())), "soon");
        assert_eq!(when(None), "");
    }
}
