//! Templates compiled into the binary, filters that show times in the seller's zone, and the
//! one stylesheet.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use minijinja::Environment;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("review.html", include_str!("templates/review.html")),
    ("order.html", include_str!("templates/order.html")),
    ("stock.html", include_str!("templates/stock.html")),
    ("alerts.html", include_str!("templates/alerts.html")),
    ("alert_list.html", include_str!("templates/alert_list.html")),
    ("lines.html", include_str!("templates/lines.html")),
    ("login.html", include_str!("templates/login.html")),
    ("failure.html", include_str!("templates/failure.html")),
];

const STYLESHEET: &str = include_str!("templates/style.css");

pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub fn new(timezone: TimeZone) -> Self {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            // Compiled in and covered by the tests: a template that does not parse is a bug
            // of this release, shown on its page rather than stopping the daemon.
            if let Err(e) = env.add_template(name, text) {
                tracing::error!("page template {name}: {e}");
            }
        }
        env.add_filter("local", move |text: String| local_time(&text, &timezone));
        env.add_filter("order_path", |order: String| order_path(&order));
        Self { env }
    }

    pub fn render(&self, name: &str, context: minijinja::Value) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(context)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => failure(&format!("page {name}: {e}")),
        }
    }
}

/// A value for a template's context.
pub fn v<T: serde::Serialize>(value: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

/// A stored UTC time as the seller reads it: `2026-11-30 21:05` in their zone.
fn local_time(text: &str, timezone: &TimeZone) -> String {
    match text.parse::<Timestamp>() {
        Ok(t) => t
            .to_zoned(timezone.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => text.to_owned(),
    }
}

/// `CHANNEL:ORDER_ID` -> `/orders/CHANNEL/ORDER_ID`, each part encoded: a marketplace's
/// order id may hold any character.
pub fn order_path(order: &str) -> String {
    let (channel, id) = order.split_once(':').unwrap_or((order, ""));
    format!("/orders/{}/{}", path_part(channel), path_part(id))
}

/// A path segment as a URL carries it.
fn path_part(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// How long until `deadline` (or how long past it), to the minute: `3 h 05 min`.
pub fn countdown(deadline: Timestamp, now: Timestamp) -> (String, bool) {
    let left = deadline.duration_since(now);
    let overdue = left.is_negative();
    let minutes = left.abs().as_secs() / 60;
    let text = match (minutes / (24 * 60), minutes / 60 % 24, minutes % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m:02} min"),
        (d, h, _) => format!("{d} d {h} h"),
    };
    (text, overdue)
}

/// A page telling what went wrong; details go to the log, not to the visitor.
pub fn failure(detail: &str) -> Response {
    tracing::error!("web: {detail}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html(include_str!("templates/failure.html")),
    )
        .into_response()
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    #[test]
    fn countdowns_read_like_a_person_says_them() {
        let now = Timestamp::UNIX_EPOCH;
        let at = |s: i64| now + SignedDuration::from_secs(s);
        assert_eq!(countdown(at(125 * 60), now), ("2 h 05 min".into(), false));
        assert_eq!(countdown(at(59), now), ("0 min".into(), false));
        assert_eq!(countdown(at(-12 * 60), now), ("12 min".into(), true));
        assert_eq!(countdown(at(50 * 3600), now), ("2 d 2 h".into(), false));
    }

    #[test]
    fn every_template_compiles() {
        let pages = Pages::new(TimeZone::UTC);
        for (name, _) in TEMPLATES {
            assert!(pages.env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn order_ids_are_encoded_in_paths() {
        assert_eq!(order_path("lm:12/3 A?#"), "/orders/lm/12%2F3%20A%3F%23");
    }

    #[test]
    fn times_are_shown_in_the_sellers_zone() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            local_time("2026-11-30T20:05:00Z", &paris),
            "2026-11-30 21:05"
        );
        assert_eq!(local_time("not a time", &paris), "not a time");
    }
}
