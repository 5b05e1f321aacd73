//! The body each on-call webhook format expects for one alert notice.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::domain::alerts::{Alert, Severity};

/// One thing to tell the webhooks: an alert opening (again), or its resolution. The outbox job
/// carries it as it was when the notice was queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    #[serde(flatten)]
    pub alert: Alert,
    /// When the alert opened, or when it was resolved.
    pub occurred_at: String,
    pub resolved: bool,
    /// Sent again because the condition is still open after `renotify_after`.
    pub reminder: bool,
}

/// `{kind, severity, channel, order, message, occurred_at, resolved, dedup_key}`, and `url`
/// (the order's page) when `[web] public_url` is set.
pub fn generic(n: &Notice, link: Option<&Url>) -> Value {
    let mut body = json!({
        "kind": n.alert.kind.as_str(),
        "severity": n.alert.severity.as_str(),
        "channel": n.alert.channel,
        "order": n.alert.order,
        "message": n.alert.message,
        "occurred_at": n.occurred_at,
        "resolved": n.resolved,
        "dedup_key": n.alert.dedup_key,
    });
    if let Some(link) = link {
        body["url"] = json!(link.as_str());
    }
    body
}

/// A Slack incoming-webhook message: one line of text, with the fields as mrkdwn.
pub fn slack(n: &Notice, link: Option<&Url>) -> Value {
    let icon = match (n.resolved, n.alert.severity) {
        (true, _) => ":white_check_mark:",
        (false, Severity::Critical) => ":rotating_light:",
        (false, Severity::Warning) => ":warning:",
        (false, Severity::Info) => ":information_source:",
    };
    let state = if n.resolved {
        "resolved"
    } else if n.reminder {
        "still open"
    } else {
        n.alert.severity.as_str()
    };
    let mut text = format!("{icon} *{}* ({state})", n.alert.kind.as_str());
    if let Some(order) = &n.alert.order {
        text.push_str(&format!(" `{order}`"));
    } else if let Some(channel) = &n.alert.channel {
        text.push_str(&format!(" `{channel}`"));
    }
    text.push_str(&format!(": {}", escape_slack(&n.alert.message)));
    if let Some(link) = link {
        text.push_str(&format!(
            " <{}|open the order>",
            escape_slack(link.as_str())
        ));
    }
    json!({ "text": text })
}

/// Slack treats `&`, `<` and `>` as control characters in text.
fn escape_slack(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// PagerDuty Events API v2: `trigger` (again on reminders; PagerDuty folds it into the same
/// incident by `dedup_key`) or `resolve`.
pub fn pagerduty(n: &Notice, routing_key: &str, link: Option<&Url>) -> Value {
    let dedup_key: String = format!("vigie:{}", n.alert.dedup_key)
        .chars()
        .take(255)
        .collect();
    if n.resolved {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        });
    }
    let severity = match n.alert.severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    let summary: String = match &n.alert.order {
        Some(order) => format!("{} {order}: {}", n.alert.kind.as_str(), n.alert.message),
        None => format!("{}: {}", n.alert.kind.as_str(), n.alert.message),
    }
    .chars()
    .take(1024)
    .collect();
    let links: Vec<Value> = link
        .map(|l| json!({"href": l.as_str(), "text": "The order in vigie"}))
        .into_iter()
        .collect();
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "links": links,
        "dedup_key": dedup_key,
        "payload": {
            "summary": summary,
            "source": "vigie",
            "severity": severity,
            "timestamp": n.occurred_at,
            "component": n.alert.channel,
            "group": n.alert.channel,
            "class": n.alert.kind.as_str(),
            "custom_details": {
                "kind": n.alert.kind.as_str(),
                "channel": n.alert.channel,
                "order": n.alert.order,
                "message": n.alert.message,
            },
        },
    })
}
