//! How a job ends, the same for every kind: sent; retried later with a growing delay; failed
//! for good (a customer message or seller webhook then raises an alert); or, found 'sending'
//! after a crash, uncertain with an alert and never re-sent.
//!
//! An on-call notice that fails never raises another alert (that could loop): its failures
//! are logged and counted in `vigie_alert_delivery_failures_total`.

use jiff::{SignedDuration, Timestamp};

use super::outcome::SendError;
use super::retry::RetryPolicy;
use crate::config::{AlertFormat, Config};
use crate::domain::alerts::{Alert, AlertKind};
use crate::store::outbox::{self, Destination, Job, Settled, Work};
use crate::store::{self, Store, StoreError, alerts};

/// Records the outcome of `job`'s send at `now`.
pub(super) async fn settle(
    store: &Store,
    config: &Config,
    job: Job,
    outcome: Result<(), SendError>,
    now: Timestamp,
) -> store::Result<()> {
    let policy = match job.work {
        Work::Order { .. } => RetryPolicy::messages(&config.notify),
        Work::Alert { .. } => RetryPolicy::alerts(),
    };
    if let (Err(e), Work::Alert { dedup_key, .. }) = (&outcome, &job.work) {
        alert_delivery_failed(config, &job.destination, dedup_key, e);
    }
    let error = match outcome {
        Ok(()) => {
            if let Work::Order { .. } = job.work {
                metrics::counter!("vigie_notifications_sent_total", "route" => route(&job.destination))
                    .increment(1);
            }
            tracing::info!(outbox = job.id, job = %describe(&job), "sent");
            let now = store::time_text(now);
            return store
                .call(move |conn| outbox::settle(conn, job.id, Settled::Sent { at: &now }))
                .await;
        }
        Err(error) => error,
    };
    let give_up = match error {
        SendError::Transient {
            message,
            retry_after,
        } => match policy.delay_after(job.attempts) {
            Some(delay) => {
                let delay = delay.max(retry_after.unwrap_or_default());
                let at = now
                    .checked_add(SignedDuration::try_from(delay).unwrap_or_default())
                    .unwrap_or(now);
                tracing::warn!(
                    outbox = job.id,
                    job = %describe(&job),
                    attempts = job.attempts,
                    retry_in = %humantime::format_duration(delay),
                    "send failed, will retry: {message}"
                );
                let at = store::time_text(at);
                return store
                    .call(move |conn| {
                        let retry = Settled::RetryAt {
                            at: &at,
                            error: &message,
                        };
                        outbox::settle(conn, job.id, retry)
                    })
                    .await;
            }
            None => format!("gave up after {} attempts: {message}", job.attempts),
        },
        SendError::Permanent(message) => message,
    };
    tracing::error!(outbox = job.id, job = %describe(&job), "send failed for good: {give_up}");
    let now = store::time_text(now);
    store
        .call(move |conn| {
            let tx = conn.transaction()?;
            outbox::settle(&tx, job.id, Settled::Failed { error: &give_up })?;
            if let Work::Order {
                channel,
                order_id,
                event,
                ..
            } = &job.work
            {
                metrics::counter!("vigie_notifications_failed_total", "route" => route(&job.destination))
                    .increment(1);
                let alert = Alert::new(
                    AlertKind::NotificationFailed,
                    format!("notification_failed:{}", job.id),
                    format!(
                        "the {} message to {} for {channel}:{order_id} was not sent: {give_up}",
                        event.as_str(),
                        job.destination.to_text()
                    ),
                )
                .order(channel, order_id);
                alerts::raise(&tx, &alert, &now)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
}

/// Start-up: what a dead process left 'sending' becomes 'uncertain', each with an alert in
/// the same transaction (a crash in between would leave an uncertain job nobody hears of).
pub(super) async fn recover_interrupted(store: &Store, now: Timestamp) -> store::Result<()> {
    let now = store::time_text(now);
    let jobs = store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let jobs = outbox::mark_interrupted(&tx)?;
            for (id, job) in &jobs {
                alerts::raise(&tx, &uncertain(*id, job.as_ref()), &now)?;
            }
            tx.commit()?;
            Ok(jobs)
        })
        .await?;
    for (id, job) in &jobs {
        match job {
            Ok(job) => {
                tracing::warn!(outbox = id, job = %describe(job), "interrupted send marked uncertain")
            }
            Err(e) => tracing::warn!(outbox = id, "interrupted send marked uncertain: {e}"),
        }
    }
    Ok(())
}

fn uncertain(id: i64, job: Result<&Job, &StoreError>) -> Alert {
    let key = format!("notification_uncertain:{id}");
    let job = match job {
        Ok(job) => job,
        Err(e) => {
            return Alert::new(
                AlertKind::NotificationUncertain,
                key,
                format!(
                    "outbox row {id} was being sent when vigie stopped; it may or may not have \
                     arrived and will not be re-sent; {e}"
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
                "the {} message to {destination} for {channel}:{order_id} was being sent when \
                 vigie stopped; it may or may not have arrived and will not be re-sent: check \
                 and resend by hand if needed (outbox row {})",
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
                "the {} notice of alert {dedup_key} to {destination} was being sent when vigie \
                 stopped; it may or may not have arrived and will not be re-sent (outbox row {})",
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

/// The `route` label of the message metrics.
fn route(destination: &Destination) -> &'static str {
    match destination {
        Destination::Marketplace => "marketplace",
        Destination::Email => "email",
        Destination::Webhook => "webhook",
        Destination::Events(_) => "events",
        Destination::Alerts(_) => "alerts",
    }
}

/// `the accepted message for fnac:1234 via marketplace`, for logs.
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
