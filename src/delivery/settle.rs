//! How a job ends, the same for every kind: sent; retried later with a growing delay; failed
//! for good (a customer message or seller webhook then raises an alert); or uncertain, with
//! an alert and never re-sent, when it may have arrived: found 'sending' after a crash, or
//! answered in a way that does not say (see `outcome`).
//!
//! An on-call notice that fails or is uncertain never raises another alert (that could
//! loop): it is logged and counted in `vigie_alert_delivery_failures_total`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::outcome::SendError;
use super::retry::RetryPolicy;
use crate::config::{AlertFormat, Config};
use crate::domain::alerts::{Alert, AlertKind};
use crate::store::outbox::{self, Destination, Job, Lane, Settled, Work};
use crate::store::{self, Store, StoreError, alerts};

/// What becomes of a job after one send.
enum Next {
    /// With the marketplace thread a customer message went into.
    Sent(Option<String>),
    RetryIn {
        delay: Duration,
        error: String,
    },
    GiveUp(String),
    /// It may have arrived: never sent again.
    Uncertain(String),
}

/// The one retry rule: a transient failure waits a growing delay (at least what the receiver
/// asked for, up to `max_wait`) until the policy's last attempt; a permanent one is given up
/// at once.
fn next(
    attempts: u32,
    outcome: Result<Option<String>, SendError>,
    policy: RetryPolicy,
    max_wait: Duration,
) -> Next {
    match outcome {
        Ok(thread) => Next::Sent(thread),
        Err(SendError::Transient {
            message,
            retry_after,
        }) => match policy.delay_after(attempts) {
            Some(delay) => Next::RetryIn {
                delay: delay.max(retry_after.unwrap_or_default().min(max_wait)),
                error: message,
            },
            None => Next::GiveUp(format!("gave up after {attempts} attempts: {message}")),
        },
        Err(SendError::Permanent(message)) => Next::GiveUp(message),
        Err(SendError::Uncertain(message)) => Next::Uncertain(message),
    }
}

/// What one job's end writes: its row, and the alert that tells a human of it.
pub(super) struct Settlement {
    id: i64,
    row: Row,
    alert: Option<Alert>,
}

/// A job's row after its send, owned until it is written.
enum Row {
    Sent { at: String, thread: Option<String> },
    RetryAt { at: String, error: String },
    Failed(String),
    Uncertain(String),
}

impl Row {
    fn settled(&self) -> Settled<'_> {
        match self {
            Self::Sent { at, thread } => Settled::Sent {
                at,
                thread: thread.as_deref(),
            },
            Self::RetryAt { at, error } => Settled::RetryAt { at, error },
            Self::Failed(error) => Settled::Failed { error },
            Self::Uncertain(error) => Settled::Uncertain { error },
        }
    }
}

/// What the outcome of `job`'s send (a job of `lane`) at `now` makes of it; logged and
/// counted here, written by [`record`].
pub(super) fn judge(
    config: &Config,
    lane: &Lane,
    job: Job,
    outcome: Result<Option<String>, SendError>,
    now: Timestamp,
) -> Settlement {
    let policy = match job.work {
        Work::Order { .. } => RetryPolicy::messages(&config.notify),
        Work::Alert { .. } => RetryPolicy::alerts(),
    };
    if let (Err(e), Work::Alert { dedup_key, .. }) = (&outcome, &job.work) {
        alert_delivery_failed(config, &job.destination, dedup_key, e);
    }
    let is_message = matches!(job.work, Work::Order { .. });
    let route = lane.route();
    let (row, alert) = match next(job.attempts, outcome, policy, config.daemon.max_retry_wait) {
        Next::Sent(thread) => {
            if is_message {
                metrics::counter!("vigie_notifications_sent_total", "route" => route).increment(1);
            }
            tracing::info!(outbox = job.id, job = %describe(&job), "sent");
            let at = store::time_text(now);
            (Row::Sent { at, thread }, None)
        }
        Next::RetryIn { delay, error } => {
            tracing::warn!(
                outbox = job.id,
                job = %describe(&job),
                attempts = job.attempts,
                retry_in = %humantime::format_duration(delay),
                "send failed, will retry: {error}"
            );
            let at = now
                .checked_add(SignedDuration::try_from(delay).unwrap_or_default())
                .unwrap_or(now);
            let at = store::time_text(at);
            (Row::RetryAt { at, error }, None)
        }
        Next::GiveUp(error) => {
            tracing::error!(outbox = job.id, job = %describe(&job), "send failed for good: {error}");
            if is_message {
                metrics::counter!("vigie_notifications_failed_total", "route" => route)
                    .increment(1);
            }
            let alert = failed(&job, &error);
            (Row::Failed(error), alert)
        }
        Next::Uncertain(error) => {
            tracing::error!(outbox = job.id, job = %describe(&job),
                "send may have arrived, not sent again: {error}");
            let alert = is_message
                .then(|| uncertain(job.id, Ok(&job), &format!("got no clear answer ({error})")));
            (Row::Uncertain(error), alert)
        }
    };
    Settlement {
        id: job.id,
        row,
        alert,
    }
}

/// Writes `settled` (the job just sent, if any) with its alert at `now`, and commits the
/// claimed job `next` 'sending' (see `outbox::start`), in one transaction: one write per job
/// sent, and never more than the job in flight 'sending'. Tells whether `next` may be sent.
pub(super) async fn record_then_start(
    store: &Store,
    settled: Option<Settlement>,
    next: Option<i64>,
    now: Timestamp,
) -> store::Result<bool> {
    if settled.is_none() && next.is_none() {
        return Ok(false);
    }
    let now = store::time_text(now);
    store
        .call(move |conn| {
            let tx = conn.transaction()?;
            if let Some(settlement) = &settled {
                outbox::settle(&tx, settlement.id, settlement.row.settled())?;
                if let Some(alert) = &settlement.alert {
                    alerts::raise(&tx, alert, &now)?;
                }
            }
            let started = match next {
                Some(id) => outbox::start(&tx, id)?,
                None => false,
            };
            tx.commit()?;
            Ok(started)
        })
        .await
}

/// A job whose row could not be read back, already failed by the claim: told like a message
/// given up (none for an on-call notice, which could loop).
pub(super) async fn set_aside(
    store: &Store,
    lane: &Lane,
    id: i64,
    why: StoreError,
    now: Timestamp,
) -> store::Result<()> {
    tracing::error!(outbox = id, "send failed for good: {why}");
    if matches!(lane, Lane::Alerts(_)) {
        return Ok(());
    }
    metrics::counter!("vigie_notifications_failed_total", "route" => lane.route()).increment(1);
    let alert = unread(id, &why);
    let now = store::time_text(now);
    store
        .call(move |conn| alerts::raise(conn, &alert, &now))
        .await
}

/// The alert for outbox row `id`, failed because it cannot be read back.
fn unread(id: i64, why: &StoreError) -> Alert {
    Alert::new(
        AlertKind::NotificationFailed,
        format!("notification_failed:{id}"),
        format!("outbox row {id} was not sent: {why}"),
    )
}

/// The alert a message given up raises; none for an on-call notice (that could loop).
fn failed(job: &Job, error: &str) -> Option<Alert> {
    let Work::Order {
        channel,
        order_id,
        event,
        ..
    } = &job.work
    else {
        return None;
    };
    let alert = Alert::new(
        AlertKind::NotificationFailed,
        format!("notification_failed:{}", job.id),
        format!(
            "the {} message to {} for {channel}:{order_id} was not sent: {error}",
            event.as_str(),
            job.destination.to_text()
        ),
    );
    Some(alert.order(channel, order_id))
}

/// Start-up: what a dead process left 'sending' becomes 'uncertain', and the marketplace
/// messages of a channel no longer among `channels` fail; each with an alert in the same
/// transaction (a crash in between would leave a job nobody hears of).
pub(super) async fn recover_interrupted(
    store: &Store,
    channels: Vec<String>,
    now: Timestamp,
) -> store::Result<()> {
    let now = store::time_text(now);
    let (interrupted, orphaned) = store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let interrupted = outbox::mark_interrupted(&tx)?;
            for (id, job) in &interrupted {
                let alert = uncertain(*id, job.as_ref(), "was being sent when vigie stopped");
                alerts::raise(&tx, &alert, &now)?;
            }
            let channels: Vec<&str> = channels.iter().map(String::as_str).collect();
            let orphaned = outbox::fail_unconfigured_channels(&tx, &channels)?;
            for (id, job) in &orphaned {
                let alert = match job {
                    Ok(job) => failed(job, UNCONFIGURED),
                    Err(why) => Some(unread(*id, why)),
                };
                if let Some(alert) = alert {
                    alerts::raise(&tx, &alert, &now)?;
                }
            }
            tx.commit()?;
            Ok((interrupted, orphaned))
        })
        .await?;
    for (what, jobs) in [
        ("interrupted send marked uncertain", interrupted),
        (UNCONFIGURED, orphaned),
    ] {
        for (id, job) in jobs {
            match job {
                Ok(job) => tracing::warn!(outbox = id, job = %describe(&job), "{what}"),
                Err(e) => tracing::warn!(outbox = id, "{what}: {e}"),
            }
        }
    }
    Ok(())
}

/// Why a marketplace message of a channel removed from the configuration failed.
const UNCONFIGURED: &str = "its channel is no longer configured";

/// The alert for a job that may or may not have arrived; `what` tells what happened to the
/// send (`was being sent when vigie stopped`).
fn uncertain(id: i64, job: Result<&Job, &StoreError>, what: &str) -> Alert {
    let key = format!("notification_uncertain:{id}");
    let job = match job {
        Ok(job) => job,
        Err(e) => {
            return Alert::new(
                AlertKind::NotificationUncertain,
                key,
                format!(
                    "outbox row {id} {what}; it may or may not have arrived and will not be \
                     re-sent; {e}"
                ),
            );
        }
    };
    let destination = job.destination.to_text();
    match &job.work {
        Work::Order {
            channel,
            order_id,
            event,
            ..
        } => Alert::new(
            AlertKind::NotificationUncertain,
            key,
            format!(
                "the {} message to {destination} for {channel}:{order_id} {what}; it may or \
                 may not have arrived and will not be re-sent: check and resend by hand if \
                 needed (outbox row {})",
                event.as_str(),
                job.id
            ),
        )
        .order(channel, order_id),
        Work::Alert {
            dedup_key, notice, ..
        } => Alert::new(
            AlertKind::NotificationUncertain,
            key,
            format!(
                "the {} notice of alert {dedup_key} to {destination} {what}; it may or may not \
                 have arrived and will not be re-sent (outbox row {})",
                notice.to_text(),
                job.id
            ),
        ),
    }
}

/// Counted and logged, never alerted: an alert about failing alerts could loop.
fn alert_delivery_failed(config: &Config, to: &Destination, dedup_key: &str, e: &SendError) {
    let target = match to {
        Destination::Alerts(index) => config.alerts.webhook.get(*index),
        _ => None,
    };
    let Some(target) = target else {
        tracing::warn!(alert = dedup_key, "alert delivery failed: {e}");
        return;
    };
    let format = match target.format {
        AlertFormat::Generic => "generic",
        AlertFormat::Slack => "slack",
        AlertFormat::Pagerduty => "pagerduty",
    };
    metrics::counter!("vigie_alert_delivery_failures_total", "format" => format).increment(1);
    tracing::warn!(
        alert = dedup_key,
        target = %super::transport::webhook::host(&target.url),
        "alert delivery failed: {e}"
    );
}

/// `the accepted message for shop:1234 via marketplace`, for logs.
fn describe(job: &Job) -> String {
    let to = job.destination.to_text();
    match &job.work {
        Work::Order {
            channel,
            order_id,
            event,
            ..
        } => format!(
            "the {} message for {channel}:{order_id} via {to}",
            event.as_str()
        ),
        Work::Alert {
            dedup_key, notice, ..
        } => format!("the {} notice of {dedup_key} via {to}", notice.to_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_wait_then_give_up_and_permanent_ones_give_up_at_once() {
        let policy = RetryPolicy::alerts();
        let cap = Duration::from_secs(600);
        let transient = |retry_after| {
            Err(SendError::Transient {
                message: "503".to_owned(),
                retry_after,
            })
        };
        let delay = |next| match next {
            Next::RetryIn { delay, .. } => Some(delay),
            _ => None,
        };
        assert_eq!(
            delay(next(1, transient(None), policy, cap)),
            Some(policy.first_delay)
        );
        // The receiver's Retry-After wins when it asks for longer, up to the cap.
        let asked = Duration::from_secs(300);
        assert_eq!(
            delay(next(1, transient(Some(asked)), policy, cap)),
            Some(asked)
        );
        let a_day = Duration::from_secs(86_400);
        assert_eq!(
            delay(next(1, transient(Some(a_day)), policy, cap)),
            Some(cap)
        );
        assert!(matches!(
            next(policy.attempts, transient(None), policy, cap),
            Next::GiveUp(e) if e.starts_with("gave up after 10 attempts")
        ));
        let refused = Err(SendError::Permanent("404".to_owned()));
        assert!(matches!(next(1, refused, policy, cap), Next::GiveUp(e) if e == "404"));
        assert!(matches!(next(1, Ok(None), policy, cap), Next::Sent(None)));
    }
}
