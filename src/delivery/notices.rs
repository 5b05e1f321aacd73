//! On-call alerts into the queue. The engine records an alert (and, when it resolves, that a
//! resolve is owed) in its own transaction without knowing the targets; here each owed notice
//! becomes one job per `[[alerts.webhook]]`, and open conditions get a reminder every
//! `alerts.renotify_after`.

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;

use super::render::Notice;
use crate::config::AlertsConfig;
use crate::domain::alerts::AlertNotice;
use crate::store::alerts::{self, Owed, StoredAlert};
use crate::store::outbox::{self, DeliveryState, Destination};
use crate::store::{self, StoreError};

/// Queues what the alerts table owes and the reminders due at `now`, in one transaction.
/// Returns how many jobs are now waiting to be sent.
pub(super) fn queue_due(
    conn: &mut Connection,
    config: &AlertsConfig,
    now: Timestamp,
) -> store::Result<usize> {
    let targets = config.webhook.len();
    let cutoff = now
        .checked_sub(SignedDuration::try_from(config.renotify_after).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MIN);
    let (now, cutoff) = (store::time_text(now), store::time_text(cutoff));
    let tx = conn.transaction()?;
    let mut queued = 0;
    for owed in alerts::owed(&tx)? {
        let with_targets = owed.and_then(|owed| Ok((targets_of(&tx, &owed, targets)?, owed)));
        let Some((to, owed)) = readable(with_targets) else {
            continue;
        };
        queued += queue(&tx, &owed.alert, owed.notice, &to, &owed.told, &now)?;
    }
    for alert in alerts::due_reminders(&tx, &cutoff)? {
        let Some(alert) = readable(alert) else {
            continue;
        };
        let notice = AlertNotice::Reminder(outbox::reminders_queued(&tx, alert.id)? + 1);
        queued += queue(
            &tx,
            &alert,
            notice,
            &(0..targets).collect::<Vec<_>>(),
            &[],
            &now,
        )?;
    }
    tx.commit()?;
    Ok(queued)
}

/// Who hears `owed`: every target, or for a resolve only those that may have heard of the
/// alert (all of them when it was told before this queue existed).
fn targets_of(conn: &Connection, owed: &Owed, targets: usize) -> store::Result<Vec<usize>> {
    if owed.notice != AlertNotice::Resolve {
        return Ok((0..targets).collect());
    }
    let Some(tried) = outbox::alert_targets_tried(conn, owed.alert.id)? else {
        return Ok((0..targets).collect());
    };
    Ok(tried
        .iter()
        .filter_map(|d| match d {
            Destination::Alerts(index) if *index < targets => Some(*index),
            _ => None,
        })
        .collect())
}

/// An alert row that makes no sense is told in the log (the error names it) and skipped, so
/// it never holds up the others.
fn readable<T>(row: store::Result<T>) -> Option<T> {
    row.map_err(|e| tracing::error!("delivery: alert notice not queued: {e}"))
        .ok()
}

/// One job per target in `to`; a target in `told` (by a release before this queue) is
/// recorded as sent instead.
fn queue(
    conn: &Connection,
    alert: &StoredAlert,
    notice: AlertNotice,
    to: &[usize],
    told: &[usize],
    now: &str,
) -> store::Result<usize> {
    let payload = serde_json::to_string(&body(alert, notice)?)
        .map_err(|e| StoreError::Data(format!("alert {}: cannot encode: {e}", alert.id)))?;
    let mut queued = 0;
    for &target in to {
        let state = if told.contains(&target) {
            DeliveryState::Sent
        } else {
            DeliveryState::Pending
        };
        let destination = Destination::Alerts(target);
        let inserted =
            outbox::insert_alert_job(conn, alert.id, notice, &destination, state, &payload, now)?;
        queued += usize::from(inserted && state == DeliveryState::Pending);
    }
    alerts::queued(conn, alert.id, notice, now)?;
    Ok(queued)
}

/// The notice as the webhooks will be told it.
fn body(stored: &StoredAlert, notice: AlertNotice) -> store::Result<Notice> {
    let occurred_at = match notice {
        AlertNotice::Resolve => stored.resolved_at.clone().ok_or_else(|| {
            StoreError::Data(format!(
                "alert {}: a resolve owed but no resolution time",
                stored.id
            ))
        })?,
        AlertNotice::Trigger | AlertNotice::Reminder(_) => stored.opened_at.clone(),
    };
    Ok(Notice {
        alert: stored.alert.clone(),
        occurred_at,
        resolved: notice == AlertNotice::Resolve,
        reminder: matches!(notice, AlertNotice::Reminder(_)),
    })
}
