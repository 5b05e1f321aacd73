//! The outbox: vigie's one durable delivery queue. A job is a customer message or a seller
//! webhook about an order (one per order, event and destination), or an on-call notice about
//! an alert (one per alert, notice and `[[alerts.webhook]]`).
//!
//! A job is committed 'sending' before its send starts, so a crash can never leave a message
//! that looks unsent but was sent: what a dead process left 'sending' becomes 'uncertain'.

use std::collections::BTreeMap;

use rusqlite::{Connection, Transaction, params};

use super::state::StoredState;
use super::{Result, StoreError};
use crate::domain::alerts::AlertNotice;
use crate::events::OrderEvent;

mod job;

pub use job::{DeliveryState, Destination, Job, Lane, Subject, Work};
use job::{JOB_COLUMNS, RawJob, job};

/// A job's id, and the job read back or why its row makes no sense (an error naming it).
pub type ReadJob = (i64, Result<Job>);

fn jobs(conn: &Connection, filter: &str, params: impl rusqlite::Params) -> Result<Vec<ReadJob>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {JOB_COLUMNS} WHERE {filter} ORDER BY j.id"
    ))?;
    let raw = stmt
        .query_map(params, |row| RawJob::try_from(row))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(raw.into_iter().map(|raw| (raw.0, job(raw))).collect())
}

/// Queues a message about an order, or about one `subject` of it (a parcel, a
/// cancellation: see [`Subject`]); `false` when the same (order, event, destination, subject)
/// exists.
pub fn insert_order_job(
    tx: &Transaction<'_>,
    order_pk: i64,
    (event, subject): (OrderEvent, &Subject),
    destination: &Destination,
    payload: &str,
    now: &str,
) -> Result<bool> {
    let inserted = tx.execute(
        "INSERT INTO outbox (order_pk, event, destination, next_attempt_at, payload, created_at,
                             subject)
         VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6)
         ON CONFLICT (order_pk, event, destination, subject) DO NOTHING",
        params![
            order_pk,
            event.as_str(),
            destination.to_text(),
            now,
            payload,
            subject.to_text()
        ],
    )?;
    Ok(inserted == 1)
}

/// Queues a notice about an alert in `state`: `pending`, or `sent` for a target a release
/// before this queue had already told. `false` when the same (alert, notice, destination)
/// exists.
pub fn insert_alert_job(
    conn: &Connection,
    alert_id: i64,
    notice: AlertNotice,
    destination: &Destination,
    state: DeliveryState,
    payload: &str,
    now: &str,
) -> Result<bool> {
    let inserted = conn.execute(
        "INSERT INTO outbox (alert_id, event, destination, state, next_attempt_at, payload,
                             created_at, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, CASE WHEN ?4 = 'sent' THEN ?5 END)
         ON CONFLICT (alert_id, event, destination) DO NOTHING",
        params![
            alert_id,
            notice.to_text(),
            destination.to_text(),
            state,
            now,
            payload
        ],
    )?;
    Ok(inserted == 1)
}

/// Start-up: jobs left 'sending' by a process that died mid-send become 'uncertain'. They are
/// returned so each can raise an alert in the same transaction (a crash in between would
/// leave an uncertain message nobody hears of); they are never sent again automatically.
pub fn mark_interrupted(tx: &Transaction<'_>) -> Result<Vec<ReadJob>> {
    let jobs = jobs(tx, "j.state = ?1", [DeliveryState::Sending])?;
    tx.execute(
        "UPDATE outbox SET state = ?1,
            last_error = 'interrupted while sending: it may or may not have reached ' ||
                         CASE WHEN order_pk IS NULL THEN 'the on-call target'
                              ELSE 'the customer' END,
            sent_at = NULL
         WHERE state = ?2",
        [DeliveryState::Uncertain, DeliveryState::Sending],
    )?;
    Ok(jobs)
}

/// In a backup copy: the customer messages and seller webhooks not yet delivered are set as
/// being sent, so the start that follows a restore takes them for interrupted sends (uncertain,
/// alerted, never sent again): the lost database may have sent them after the copy was taken,
/// and a customer must not get one twice. On-call notices stay due (a receiver drops a repeat
/// by its `X-Vigie-Delivery` id). Returns how many there are.
pub fn hold_undelivered_for_restore(copy: &Connection) -> Result<i64> {
    copy.execute(
        "UPDATE outbox SET state = ?1 WHERE state = ?2 AND order_pk IS NOT NULL",
        [DeliveryState::Sending, DeliveryState::Pending],
    )?;
    Ok(copy.query_row(
        "SELECT COUNT(*) FROM outbox WHERE state = ?1 AND order_pk IS NOT NULL",
        [DeliveryState::Sending],
        |r| r.get(0),
    )?)
}

/// Claims up to `at_most` due jobs of `lane`, the longest due first, in one transaction, and
/// returns them in that order: the first readable one is committed 'sending' (its attempt
/// counted in the returned job), the others stay 'pending' until their turn ([`start`]), so a
/// crash mid-batch leaves only the job in flight 'sending'. A row that cannot be read back
/// is set aside ('failed', with why) in the same transaction and returned as the error naming
/// it, so it never blocks the jobs behind it.
pub fn claim(
    conn: &mut Connection,
    lane: &Lane,
    now: &str,
    at_most: usize,
) -> Result<Vec<ReadJob>> {
    let tx = conn.transaction()?;
    let ids = {
        let mut stmt = tx.prepare(&format!(
            "SELECT id FROM outbox WHERE {DUE_IN_LANE} ORDER BY next_attempt_at, id LIMIT ?4"
        ))?;
        let limit = i64::try_from(at_most).unwrap_or(i64::MAX);
        stmt.query_map(
            params![DeliveryState::Pending, now, lane.key(), limit],
            |row| row.get::<_, i64>(0),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut claimed = Vec::with_capacity(ids.len());
    let mut started = false;
    for id in ids {
        let (_, mut read) = jobs(&tx, "j.id = ?1", [id])?.pop().unwrap_or_else(|| {
            let unread = StoreError::Data(format!("outbox row {id}: cannot be read back"));
            (id, Err(unread))
        });
        match &mut read {
            Ok(job) if !started => {
                started = start(&tx, id)?;
                job.attempts += 1;
            }
            Ok(_) => {}
            Err(e) => {
                tx.execute(
                    "UPDATE outbox SET state = ?2, last_error = ?3 WHERE id = ?1",
                    params![id, DeliveryState::Failed, e.to_string()],
                )?;
            }
        }
        claimed.push((id, read));
    }
    tx.commit()?;
    Ok(claimed)
}

/// Commits claimed job `id` 'sending', an attempt more, right before its send; `false` when
/// it is no longer pending (a command settled it meanwhile): it must not be sent.
pub fn start(conn: &Connection, id: i64) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE outbox SET state = ?2, attempts = attempts + 1 WHERE id = ?1 AND state = ?3",
        params![id, DeliveryState::Sending, DeliveryState::Pending],
    )?;
    Ok(changed == 1)
}

/// Pending, due at `?2`.
const DUE: &str = "state = ?1 AND next_attempt_at <= ?2";

/// Pending, due at `?2`, in lane `?3` (see [`Lane::key`]): read through the lane's index, so
/// the other lanes' backlog costs nothing.
const DUE_IN_LANE: &str = "state = ?1 AND next_attempt_at <= ?2 AND lane = ?3";

/// How many jobs of `lane` (of any lane when `None`) are due now, counted up to `at_most`.
pub fn due(conn: &Connection, lane: Option<&Lane>, now: &str, at_most: usize) -> Result<usize> {
    let limit = i64::try_from(at_most).unwrap_or(i64::MAX);
    let pending = DeliveryState::Pending;
    let count = |filter: &str, params: &[&dyn rusqlite::ToSql]| {
        conn.query_row(
            &format!("SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE {filter})"),
            params,
            |row| row.get::<_, i64>(0),
        )
    };
    let due = match lane {
        Some(lane) => count(
            &format!("{DUE_IN_LANE} LIMIT ?4"),
            params![pending, now, lane.key(), limit],
        )?,
        None => count(&format!("{DUE} LIMIT ?3"), params![pending, now, limit])?,
    };
    Ok(usize::try_from(due).unwrap_or(usize::MAX))
}

/// Start-up: customer messages waiting for the messaging of a channel that is no longer
/// configured (not in `channels`) fail: no lane drains them any more, and a job must never
/// wait forever. They are returned so each can raise its alert in the same transaction.
pub fn fail_unconfigured_channels(tx: &Transaction<'_>, channels: &[&str]) -> Result<Vec<ReadJob>> {
    let configured = serde_json::to_string(channels)
        .map_err(|e| StoreError::Data(format!("channel names: {e}")))?;
    let gone = "SELECT id FROM orders WHERE channel NOT IN (SELECT value FROM json_each(?2))";
    let filter = format!("j.state = ?1 AND j.destination = ?3 AND j.order_pk IN ({gone})");
    let marketplace = Destination::Marketplace.to_text();
    let failed = jobs(
        tx,
        &filter,
        params![DeliveryState::Pending, configured, marketplace],
    )?;
    tx.execute(
        &format!(
            "UPDATE outbox SET state = ?4,
                last_error = 'its channel is no longer configured'
             WHERE state = ?1 AND destination = ?3 AND order_pk IN ({gone})"
        ),
        params![
            DeliveryState::Pending,
            configured,
            marketplace,
            DeliveryState::Failed
        ],
    )?;
    Ok(failed)
}

/// How a claimed job's send ended.
#[derive(Debug, Clone, Copy)]
pub enum Settled<'a> {
    Sent {
        at: &'a str,
        /// The marketplace thread a customer message went into: the order's next messages
        /// reply in it.
        thread: Option<&'a str>,
    },
    /// Back to 'pending', due again at `at`.
    RetryAt {
        at: &'a str,
        error: &'a str,
    },
    Failed {
        error: &'a str,
    },
    /// It may have arrived (an unclear answer): never sent again.
    Uncertain {
        error: &'a str,
    },
}

/// Records the outcome of a send. Only a job this process claimed ('sending') moves: one that
/// another start already marked 'uncertain' stays for a human, never back to 'pending'.
pub fn settle(conn: &Connection, id: i64, outcome: Settled<'_>) -> Result<()> {
    let (state, retry_at, error, sent_at, thread) = match outcome {
        Settled::Sent { at, thread } => (DeliveryState::Sent, None, None, Some(at), thread),
        Settled::RetryAt { at, error } => {
            (DeliveryState::Pending, Some(at), Some(error), None, None)
        }
        Settled::Failed { error } => (DeliveryState::Failed, None, Some(error), None, None),
        Settled::Uncertain { error } => (DeliveryState::Uncertain, None, Some(error), None, None),
    };
    conn.execute(
        "UPDATE outbox SET state = ?2, next_attempt_at = COALESCE(?3, next_attempt_at),
                           last_error = ?4, sent_at = ?5, thread_id = ?7
         WHERE id = ?1 AND state = ?6",
        params![
            id,
            state,
            retry_at,
            error,
            sent_at,
            DeliveryState::Sending,
            thread
        ],
    )?;
    if retry_at.is_some() {
        // The alert resolved while this notice was being sent (resolving cancels only what
        // is pending): sent later, after the resolve, it would reopen the incident.
        conn.execute(
            &format!("{CANCEL} AND id = ?3 AND event <> 'resolve' AND alert_id IN ({RESOLVED_CONDITIONS})"),
            params![DeliveryState::Cancelled, DeliveryState::Pending, id],
        )?;
    }
    Ok(())
}

/// Cancels pending notices of an alert that resolved before they left; `?1` cancelled,
/// `?2` pending; the caller narrows it down.
const CANCEL: &str = "UPDATE outbox SET state = ?1,
        last_error = 'the alert was resolved before this notice was sent'
     WHERE state = ?2";

/// Conditions that resolved (an occurrence is resolved the moment it is opened, and its
/// notice must still go).
const RESOLVED_CONDITIONS: &str =
    "SELECT id FROM alerts WHERE resolved_at IS NOT NULL AND resolved_at <> opened_at";

/// An alert resolved: its notices not yet sent will never be (a late trigger after the
/// resolve would reopen the incident).
pub fn cancel_alert_jobs(conn: &Connection, alert_id: i64) -> Result<()> {
    conn.execute(
        &format!("{CANCEL} AND alert_id = ?3"),
        params![DeliveryState::Cancelled, DeliveryState::Pending, alert_id],
    )?;
    Ok(())
}

/// Fails the pending notices of `[[alerts.webhook]]` positions at or beyond `targets`: a reload
/// took those targets away, no lane drains them any more, and a job must never wait forever.
pub fn fail_removed_alert_targets(conn: &Connection, targets: usize) -> Result<usize> {
    Ok(conn.execute(
        // Through the lanes' index: the on-call lanes only, never the messages' backlog (it
        // runs at every wake-up of the queue).
        "UPDATE outbox INDEXED BY outbox_lane_due SET state = ?2,
            last_error = 'its [[alerts.webhook]] was removed from the configuration'
         WHERE alert_id IS NOT NULL AND state = ?3 AND lane GLOB 'alerts:*'
           AND CAST(substr(destination, 8) AS INTEGER) >= ?1",
        params![
            targets as i64,
            DeliveryState::Failed,
            DeliveryState::Pending
        ],
    )?)
}

/// The targets an alert's notices were tried on (they may have heard of it), or `None` when
/// it has no job at all (told by a release before this queue, or to no target).
pub fn alert_targets_tried(conn: &Connection, alert_id: i64) -> Result<Option<Vec<Destination>>> {
    let mut stmt = conn.prepare(
        "SELECT id, destination, attempts, state FROM outbox WHERE alert_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([alert_id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, u32>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut tried = Vec::new();
    for (id, text, attempts, state) in rows {
        let destination = Destination::parse(&text).ok_or_else(|| {
            StoreError::Data(format!("outbox row {id}: unknown destination {text:?}"))
        })?;
        let state = DeliveryState::read(&state, format!("outbox row {id}"))?;
        if (attempts > 0 || state == DeliveryState::Sent) && !tried.contains(&destination) {
            tried.push(destination);
        }
    }
    Ok(Some(tried))
}

/// How many reminders of an alert were queued so far.
pub fn reminders_queued(conn: &Connection, alert_id: i64) -> Result<u32> {
    Ok(conn.query_row(
        "SELECT COUNT(DISTINCT event) FROM outbox WHERE alert_id = ?1 AND event GLOB 'reminder:*'",
        [alert_id],
        |row| row.get(0),
    )?)
}

/// Customer messages and seller webhooks per state (`vigie status`, `/metrics`); on-call
/// notices are not messages.
pub fn message_counts(conn: &Connection) -> Result<BTreeMap<String, i64>> {
    let mut stmt = conn
        .prepare("SELECT state, COUNT(*) FROM outbox WHERE order_pk IS NOT NULL GROUP BY state")?;
    let counts = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(counts)
}

#[cfg(test)]
mod tests;
