//! Delivers alert notices to every `[[alerts.webhook]]`, each in its format. Failures are
//! retried with growing delays, logged and counted (`vigie_alert_delivery_failures_total`),
//! never fatal; a target that already has a notice is not sent it again on retry.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::params;
use secrecy::ExposeSecret;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::payload::{self, Notice};
use super::{AlertKind, Severity};
use crate::config::{AlertFormat, AlertWebhook, Config};
use crate::notify::{Clock, SendError, system_clock, webhook};
use crate::store::{self, Store, StoreError};

/// Attempts per notice before it is given up (logged, counted; a condition is reminded later).
const MAX_ATTEMPTS: u32 = 10;
const RETRY_MIN: Duration = Duration::from_secs(15);
const RETRY_MAX: Duration = Duration::from_secs(15 * 60);

pub struct AlertWorker {
    store: Store,
    config: Arc<Config>,
    dry_run: bool,
    http: reqwest::Client,
    clock: Clock,
    poll: Duration,
    wake: Arc<Notify>,
}

/// A notice owed, as read from the store.
struct Owed {
    id: i64,
    notice: Notice,
    attempts: u32,
    delivered: Vec<usize>,
}

impl AlertWorker {
    pub fn new(store: Store, config: Arc<Config>, dry_run: bool) -> Self {
        Self {
            store,
            config,
            dry_run,
            http: webhook::client(),
            clock: system_clock(),
            poll: Duration::from_secs(5),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Reads time from `clock` instead of the system's (tests drive it with paused time).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How often the store is checked when nobody wakes the worker.
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Notify it after raising an alert to deliver without waiting for the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Delivers until `stop`; a notice in flight is finished first.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            self.drain_once().await;
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Delivers every notice due now (for `vigie run --once`, and each tick of [`run`]).
    pub async fn drain_once(&self) {
        if let Err(e) = self.drain().await {
            tracing::error!("alert delivery: {e}");
        }
    }

    async fn drain(&self) -> store::Result<()> {
        let now = (self.clock)();
        let cutoff = now
            .checked_sub(
                jiff::SignedDuration::try_from(self.config.alerts.renotify_after)
                    .unwrap_or(jiff::SignedDuration::MAX),
            )
            .unwrap_or(jiff::Timestamp::MIN);
        let (now_text, cutoff_text) = (store::time_text(now), store::time_text(cutoff));
        let owed = self
            .store
            .call(move |conn| {
                // Conditions still open after the interval are owed a reminder.
                conn.execute(
                    "UPDATE alerts SET notice = 'trigger', attempts = 0, delivered = '[]',
                                       next_attempt_at = ?1
                     WHERE resolved_at IS NULL AND notice IS NULL
                       AND last_notified_at IS NOT NULL AND last_notified_at <= ?2",
                    params![now_text, cutoff_text],
                )?;
                read_owed(conn, &now_text)
            })
            .await?;
        if owed.is_empty() {
            return Ok(());
        }
        if self.dry_run {
            tracing::info!(owed = owed.len(), "dry run: alerts not sent");
            return Ok(());
        }
        for item in owed {
            self.deliver(item).await?;
        }
        Ok(())
    }

    async fn deliver(&self, mut item: Owed) -> store::Result<()> {
        let targets = &self.config.alerts.webhook;
        let mut failed = false;
        for (index, target) in targets.iter().enumerate() {
            if item.delivered.contains(&index) {
                continue;
            }
            match self.post(target, &item.notice).await {
                Ok(()) => item.delivered.push(index),
                Err(e) => {
                    metrics::counter!(
                        "vigie_alert_delivery_failures_total",
                        "format" => format_name(target.format)
                    )
                    .increment(1);
                    tracing::warn!(
                        kind = item.notice.kind.as_str(),
                        target = %webhook::host(&target.url),
                        "alert delivery failed: {e}"
                    );
                    match e {
                        // Sending the same body again cannot succeed: count it and move on.
                        SendError::Permanent(_) => item.delivered.push(index),
                        SendError::Transient { .. } => failed = true,
                    }
                }
            }
        }
        let now = (self.clock)();
        let attempts = item.attempts + 1;
        let resolved = item.notice.resolved;
        let id = item.id;
        if failed && attempts < MAX_ATTEMPTS {
            let delay = RETRY_MIN
                .saturating_mul(1 << (attempts - 1).min(16))
                .min(RETRY_MAX);
            let next = now
                .checked_add(jiff::SignedDuration::try_from(delay).unwrap_or_default())
                .unwrap_or(now);
            let next = store::time_text(next);
            let delivered = serde_json::to_string(&item.delivered)
                .map_err(|e| StoreError::Data(e.to_string()))?;
            return self
                .store
                .call(move |conn| {
                    conn.execute(
                        "UPDATE alerts SET attempts = ?2, next_attempt_at = ?3, delivered = ?4
                         WHERE id = ?1",
                        params![id, attempts, next, delivered],
                    )?;
                    Ok(())
                })
                .await;
        }
        if failed {
            tracing::error!(
                kind = item.notice.kind.as_str(),
                attempts,
                "alert delivery given up; an open condition will be reminded later"
            );
        }
        let now = store::time_text(now);
        self.store
            .call(move |conn| {
                let column = if resolved {
                    "resolve_notified_at"
                } else {
                    "last_notified_at"
                };
                conn.execute(
                    &format!(
                        "UPDATE alerts SET notice = NULL, attempts = 0, delivered = '[]',
                                           {column} = ?2
                         WHERE id = ?1"
                    ),
                    params![id, now],
                )?;
                Ok(())
            })
            .await
    }

    async fn post(&self, target: &AlertWebhook, notice: &Notice) -> Result<(), SendError> {
        let body = match target.format {
            AlertFormat::Generic => payload::generic(notice),
            AlertFormat::Slack => payload::slack(notice),
            AlertFormat::Pagerduty => {
                let key = target
                    .routing_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_owned())
                    .unwrap_or_default();
                payload::pagerduty(notice, &key)
            }
        };
        let body = serde_json::to_vec(&body).expect("JSON values serialize");
        let secret = match target.format {
            AlertFormat::Generic => target.secret.as_ref(),
            _ => None,
        };
        webhook::post_json(&self.http, &target.url, body, secret, None).await
    }
}

fn format_name(format: AlertFormat) -> &'static str {
    match format {
        AlertFormat::Generic => "generic",
        AlertFormat::Slack => "slack",
        AlertFormat::Pagerduty => "pagerduty",
    }
}

fn read_owed(conn: &rusqlite::Connection, now: &str) -> store::Result<Vec<Owed>> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, severity, channel, order_ref, message, dedup_key, opened_at,
                resolved_at, notice, attempts, delivered, last_notified_at
         FROM alerts WHERE notice IS NOT NULL AND next_attempt_at <= ?1
         ORDER BY id LIMIT 200",
    )?;
    let owed = stmt
        .query_map([now], |row| {
            let kind: String = row.get(1)?;
            let severity: String = row.get(2)?;
            let opened: String = row.get(7)?;
            let resolved_at: Option<String> = row.get(8)?;
            let resolved = row.get::<_, String>(9)? == "resolve";
            let delivered: String = row.get(11)?;
            let last_notified: Option<String> = row.get(12)?;
            Ok(Owed {
                id: row.get(0)?,
                notice: Notice {
                    kind: AlertKind::parse(&kind).unwrap_or(AlertKind::PayloadQuarantined),
                    severity: Severity::parse(&severity).unwrap_or(Severity::Warning),
                    channel: row.get(3)?,
                    order: row.get(4)?,
                    message: row.get(5)?,
                    dedup_key: row.get(6)?,
                    occurred_at: if resolved {
                        resolved_at.unwrap_or(opened)
                    } else {
                        opened
                    },
                    resolved,
                    reminder: !resolved && last_notified.is_some(),
                },
                attempts: row.get(10)?,
                delivered: serde_json::from_str(&delivered).unwrap_or_default(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(owed)
}
