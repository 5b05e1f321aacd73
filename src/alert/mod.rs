//! On-call alerts: conditions a human must act on, recorded in the store (at most one open
//! alert per condition) and delivered to every `[[alerts.webhook]]` by [`AlertWorker`].
//!
//! Two families: *conditions* (a channel down, a stock running low, an order waiting for
//! review) stay open until [`resolve`] clears them and are re-sent every
//! `alerts.renotify_after` meanwhile; *occurrences* (a message that may not have gone out, a
//! payload quarantined) are told once and never re-sent.

mod deliver;
mod payload;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::store::{self, StoreError};

pub use deliver::AlertWorker;
pub use payload::{Notice, generic, pagerduty, slack};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    OrderFlagged,
    /// The marketplace rejected vigie's decision for good: a human must decide there.
    DecisionRejected,
    /// 50 % or 80 % of the acceptance window gone (the dedup key says which).
    DeadlineAtRisk,
    ChannelAuthFailed,
    /// After `alerts.channel_unreachable_after` consecutive failed polls.
    ChannelUnreachable,
    StockLow,
    OrderRefusedNoStock,
    /// A customer message interrupted by a crash: it may or may not have been sent.
    NotificationUncertain,
    /// A customer message or seller webhook that will not be sent (permanent refusal, or
    /// retries exhausted).
    NotificationFailed,
    PayloadQuarantined,
}

impl AlertKind {
    pub const ALL: [AlertKind; 10] = [
        Self::OrderFlagged,
        Self::DecisionRejected,
        Self::DeadlineAtRisk,
        Self::ChannelAuthFailed,
        Self::ChannelUnreachable,
        Self::StockLow,
        Self::OrderRefusedNoStock,
        Self::NotificationUncertain,
        Self::NotificationFailed,
        Self::PayloadQuarantined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderFlagged => "order_flagged",
            Self::DecisionRejected => "decision_rejected",
            Self::DeadlineAtRisk => "deadline_at_risk",
            Self::ChannelAuthFailed => "channel_auth_failed",
            Self::ChannelUnreachable => "channel_unreachable",
            Self::StockLow => "stock_low",
            Self::OrderRefusedNoStock => "order_refused_no_stock",
            Self::NotificationUncertain => "notification_uncertain",
            Self::NotificationFailed => "notification_failed",
            Self::PayloadQuarantined => "payload_quarantined",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Conditions stay open until resolved; occurrences are told once.
    pub fn is_condition(self) -> bool {
        matches!(
            self,
            Self::OrderFlagged
                | Self::DecisionRejected
                | Self::DeadlineAtRisk
                | Self::ChannelAuthFailed
                | Self::ChannelUnreachable
                | Self::StockLow
        )
    }

    /// The severity an alert of this kind usually deserves.
    pub fn default_severity(self) -> Severity {
        match self {
            Self::ChannelAuthFailed
            | Self::ChannelUnreachable
            | Self::DeadlineAtRisk
            | Self::DecisionRejected => Severity::Critical,
            Self::OrderFlagged
            | Self::StockLow
            | Self::OrderRefusedNoStock
            | Self::NotificationUncertain
            | Self::NotificationFailed
            | Self::PayloadQuarantined => Severity::Warning,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Info, Self::Warning, Self::Critical]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One situation a human must look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    pub severity: Severity,
    pub channel: Option<String>,
    /// `CHANNEL:ORDER_ID`.
    pub order: Option<String>,
    pub message: String,
    /// Names the condition: `channel_unreachable:fnac`, `deadline_at_risk:80:fnac:123`.
    pub dedup_key: String,
}

impl Alert {
    /// An alert with the kind's usual severity.
    pub fn new(kind: AlertKind, dedup_key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            severity: kind.default_severity(),
            channel: None,
            order: None,
            message: message.into(),
            dedup_key: dedup_key.into(),
        }
    }

    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    pub fn order(mut self, channel: &str, order_id: &str) -> Self {
        self.channel = Some(channel.to_owned());
        self.order = Some(format!("{channel}:{order_id}"));
        self
    }
}

/// Records `alert` unless its condition is already open (or, for an occurrence, was ever
/// raised); the [`AlertWorker`] delivers it. Every new alert is also logged.
pub fn raise(conn: &Connection, alert: &Alert, now: &str) -> store::Result<()> {
    let existing: Option<i64> = if alert.kind.is_condition() {
        conn.query_row(
            "SELECT id FROM alerts WHERE dedup_key = ?1 AND resolved_at IS NULL",
            [&alert.dedup_key],
            |row| row.get(0),
        )
        .optional()?
    } else {
        conn.query_row(
            "SELECT id FROM alerts WHERE dedup_key = ?1 LIMIT 1",
            [&alert.dedup_key],
            |row| row.get(0),
        )
        .optional()?
    };
    if existing.is_some() {
        return Ok(());
    }
    // An occurrence is closed the moment it is recorded: nothing will "resolve" it, and the
    // unique index on open keys must not block the next one.
    let resolved_at = (!alert.kind.is_condition()).then_some(now);
    conn.execute(
        "INSERT INTO alerts (dedup_key, kind, severity, channel, order_ref, message, opened_at,
                             resolved_at, notice, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'trigger', ?7)",
        params![
            alert.dedup_key,
            alert.kind.as_str(),
            alert.severity.as_str(),
            alert.channel,
            alert.order,
            alert.message,
            now,
            resolved_at,
        ],
    )
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            StoreError::Data(format!("alert {} raised twice at once", alert.dedup_key))
        }
        _ => e.into(),
    })?;
    tracing::warn!(
        kind = alert.kind.as_str(),
        severity = alert.severity.as_str(),
        channel = alert.channel.as_deref().unwrap_or(""),
        order = alert.order.as_deref().unwrap_or(""),
        "alert: {}",
        alert.message
    );
    metrics::counter!("vigie_alerts_raised_total", "kind" => alert.kind.as_str()).increment(1);
    Ok(())
}

/// Clears the open condition `dedup_key`, if any: the webhooks that were told of it are told
/// it is resolved. Returns whether an alert was open.
pub fn resolve(conn: &Connection, dedup_key: &str, now: &str) -> store::Result<bool> {
    let open: Option<(i64, Option<String>)> = conn
        .query_row(
            "SELECT id, last_notified_at FROM alerts WHERE dedup_key = ?1 AND resolved_at IS NULL",
            [dedup_key],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((id, notified)) = open else {
        return Ok(false);
    };
    // Never told: nothing to take back.
    let notice = notified.map(|_| "resolve");
    conn.execute(
        "UPDATE alerts SET resolved_at = ?2, notice = ?3, attempts = 0, delivered = '[]',
                           next_attempt_at = ?2
         WHERE id = ?1",
        params![id, now, notice],
    )?;
    tracing::info!(dedup_key, "alert resolved");
    Ok(true)
}

/// Open conditions, for `vigie status` and tests: `(dedup_key, kind, message)`.
pub fn open(conn: &Connection) -> store::Result<Vec<(String, String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT dedup_key, kind, message FROM alerts WHERE resolved_at IS NULL ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
