//! Pages are minijinja templates embedded in the binary; every value is HTML-escaped (the
//! `.html` templates auto-escape), so a venue called `<script>` is shown, not run.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, UndefinedBehavior, Value, context};

use crate::session::Visit;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("browse.html", include_str!("../templates/browse.html")),
    ("event.html", include_str!("../templates/event.html")),
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
pub struct Page(Option<String>);

impl Page {
    /// The page with another status than 200 (a refused form, a declined card).
    pub fn with_status(self, status: StatusCode) -> Response {
        match self.0 {
            Some(html) => (status, Html(html)).into_response(),
            None => self.into_response(),
        }
    }

    #[cfg(test)]
    fn html(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        match self.0 {
            Some(html) => Html(html).into_response(),
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
    let (account, csrf) = visit.map_or((None, String::new()), |v| (v.account(), v.csrf()));
    let ctx = context! { account => account, csrf => csrf, ..page };
    match ENV.get_template(template).and_then(|t| t.render(ctx)) {
        Ok(html) => Page(Some(html)),
        Err(e) => {
            tracing::error!(template, error = %e, "page did not render");
            Page(None)
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
