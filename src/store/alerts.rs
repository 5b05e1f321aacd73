//! The alerts table: at most one open alert per condition, and the notice the on-call
//! webhooks are owed until the delivery queue takes it (`notice`, then one outbox job per
//! `[[alerts.webhook]]`).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError, outbox};
use crate::domain::alerts::{Alert, AlertKind, AlertNotice, Severity};

/// Records `alert` unless its condition is already open (or, for an occurrence, was ever
/// raised), owing its webhooks a trigger. Meant for the caller's transaction, next to the
/// change that raised it. Every new alert is also logged.
pub fn raise(conn: &Connection, alert: &Alert, now: &str) -> Result<()> {
    let open_only = if alert.kind.is_condition() {
        "AND resolved_at IS NULL"
    } else {
        ""
    };
    let existing: Option<i64> = conn
        .query_row(
            &format!("SELECT id FROM alerts WHERE dedup_key = ?1 {open_only} LIMIT 1"),
            [&alert.dedup_key],
            |row| row.get(0),
        )
        .optional()?;
    if existing.is_some() {
        return Ok(());
    }
    // An occurrence is closed the moment it is recorded: nothing will "resolve" it, and the
    // unique index on open keys must not block the next one.
    let resolved_at = (!alert.kind.is_condition()).then_some(now);
    conn.execute(
        "INSERT INTO alerts (dedup_key, kind, severity, channel, order_ref, message, opened_at,
                             resolved_at, notice)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            alert.dedup_key,
            alert.kind.as_str(),
            alert.severity.as_str(),
            alert.channel,
            alert.order,
            alert.message,
            now,
            resolved_at,
            AlertNotice::Trigger.to_text(),
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

/// Clears the open condition `dedup_key`, if any. Its notices not sent yet are cancelled; the
/// webhooks that may have heard of it are owed a resolve. Returns whether an alert was open.
pub fn resolve(conn: &Connection, dedup_key: &str, now: &str) -> Result<bool> {
    // Told: a trigger was queued, or a release before the queue told some target.
    let open: Option<(i64, bool)> = conn
        .query_row(
            "SELECT id, last_notified_at IS NOT NULL OR delivered <> '[]'
             FROM alerts WHERE dedup_key = ?1 AND resolved_at IS NULL",
            [dedup_key],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((id, told)) = open else {
        return Ok(false);
    };
    outbox::cancel_alert_jobs(conn, id)?;
    let notice = told.then(|| AlertNotice::Resolve.to_text());
    conn.execute(
        "UPDATE alerts SET resolved_at = ?2, notice = ?3, delivered = '[]' WHERE id = ?1",
        params![id, now, notice],
    )?;
    tracing::info!(dedup_key, "alert resolved");
    Ok(true)
}

/// Open conditions, for `vigie status` and tests: `(dedup_key, kind, message)`.
pub fn open(conn: &Connection) -> Result<Vec<(String, String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT dedup_key, kind, message FROM alerts WHERE resolved_at IS NULL ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// An open alert as the alerts page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenAlert {
    pub id: i64,
    pub kind: String,
    pub severity: String,
    pub order: Option<String>,
    pub message: String,
    pub opened_at: String,
    /// Who acknowledged it and when; reminders stop, the alert stays open until resolved.
    pub acknowledged: Option<(String, String)>,
}

/// Open alerts, critical first, then oldest first.
pub fn open_for_people(conn: &Connection) -> Result<Vec<OpenAlert>> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, severity, order_ref, message, opened_at, acknowledged_by, acknowledged_at
         FROM alerts WHERE resolved_at IS NULL
         ORDER BY severity = 'critical' DESC, id",
    )?;
    let rows = stmt
        .query_map([], |row| {
            let by: Option<String> = row.get(6)?;
            let at: Option<String> = row.get(7)?;
            Ok(OpenAlert {
                id: row.get(0)?,
                kind: row.get(1)?,
                severity: row.get(2)?,
                order: row.get(3)?,
                message: row.get(4)?,
                opened_at: row.get(5)?,
                acknowledged: by.zip(at),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// `who` has seen open alert `id`: its reminders stop. False when no such open alert.
pub fn acknowledge(conn: &Connection, id: i64, who: &str, now: &str) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE alerts SET acknowledged_at = ?3, acknowledged_by = ?2
         WHERE id = ?1 AND resolved_at IS NULL AND acknowledged_at IS NULL",
        params![id, who, now],
    )?;
    Ok(changed == 1)
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    pub id: i64,
    pub alert: Alert,
    pub opened_at: String,
    pub resolved_at: Option<String>,
}

/// A notice the alerts table owes and the queue does not hold yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    pub alert: StoredAlert,
    pub notice: AlertNotice,
    /// Targets (by position) a release before the queue had already told.
    pub told: Vec<usize>,
}

const ALERT_COLUMNS: &str =
    "id, kind, severity, channel, order_ref, message, dedup_key, opened_at, resolved_at";

type RawAlert = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
);

fn stored(raw: RawAlert) -> Result<StoredAlert> {
    let (id, kind, severity, channel, order, message, dedup_key, opened_at, resolved_at) = raw;
    let bad = |what: String| StoreError::Data(format!("alert {id}: {what}"));
    Ok(StoredAlert {
        id,
        alert: Alert {
            kind: AlertKind::parse(&kind).ok_or_else(|| bad(format!("unknown kind {kind:?}")))?,
            severity: Severity::parse(&severity)
                .ok_or_else(|| bad(format!("unknown severity {severity:?}")))?,
            channel,
            order,
            message,
            dedup_key,
        },
        opened_at,
        resolved_at,
    })
}

/// Notices owed to the webhooks and not queued yet, oldest first. Each row is read on its own:
/// one that makes no sense is an error naming it, and never holds up the others.
pub fn owed(conn: &Connection) -> Result<Vec<Result<Owed>>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ALERT_COLUMNS}, notice, delivered, last_notified_at IS NOT NULL FROM alerts
         WHERE notice IS NOT NULL ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                RawAlert::try_from(row)?,
                row.get(9)?,
                row.get(10)?,
                row.get(11)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<(RawAlert, String, String, bool)>>>()?;
    Ok(rows
        .into_iter()
        .map(|(raw, notice, told, told_before)| {
            let id = raw.0;
            let bad = |what: String| StoreError::Data(format!("alert {id}: {what}"));
            let notice = match AlertNotice::parse(&notice) {
                // A release before the queue owed a reminder as a trigger of an alert it had
                // already told.
                Some(AlertNotice::Trigger) if told_before => {
                    AlertNotice::Reminder(outbox::reminders_queued(conn, id)? + 1)
                }
                Some(notice) => notice,
                None => return Err(bad(format!("unknown notice {notice:?}"))),
            };
            Ok(Owed {
                alert: stored(raw)?,
                notice,
                told: serde_json::from_str(&told)
                    .map_err(|e| bad(format!("unreadable delivered list {told:?}: {e}")))?,
            })
        })
        .collect())
}

/// Open conditions nobody acknowledged, last told at or before `cutoff`, with nothing owed or
/// on its way; each read on its own, like [`owed`].
pub fn due_reminders(conn: &Connection, cutoff: &str) -> Result<Vec<Result<StoredAlert>>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts a
         WHERE resolved_at IS NULL AND notice IS NULL AND acknowledged_at IS NULL
           AND last_notified_at IS NOT NULL AND last_notified_at <= ?1
           AND NOT EXISTS (SELECT 1 FROM outbox j
                           WHERE j.alert_id = a.id AND j.state IN (?2, ?3))
         ORDER BY id"
    ))?;
    let rows = stmt
        .query_map(
            params![
                cutoff,
                outbox::DeliveryState::Pending,
                outbox::DeliveryState::Sending
            ],
            |row| RawAlert::try_from(row),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().map(stored).collect())
}

/// `notice` is in the queue now; a trigger or reminder starts the wait for the next reminder.
pub fn queued(conn: &Connection, alert_id: i64, notice: AlertNotice, now: &str) -> Result<()> {
    let reminds_from = (notice != AlertNotice::Resolve).then_some(now);
    conn.execute(
        "UPDATE alerts SET notice = NULL, delivered = '[]',
                           last_notified_at = COALESCE(?2, last_notified_at)
         WHERE id = ?1",
        params![alert_id, reminds_from],
    )?;
    Ok(())
}
