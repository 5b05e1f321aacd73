//! The outbox worker: claims due rows (committed 'sending' before the send), sends, settles.
//!
//! Each route is a lane with its own rate limit, drained concurrently. A transient failure
//! goes back to 'pending' with a growing delay; a permanent one (or the last attempt) is
//! 'failed' with an alert. At start-up, rows a dead process left 'sending' become 'uncertain'
//! with an alert: whether the customer got them is unknown, so they are never re-sent blindly.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vigie_connector::{ConnectorError, CustomerMessage, Marketplace, Throttle};

use super::email::Mailer;
use super::facts::{Facts, context};
use super::outbox::{self, Row};
use super::templates::{Rendered, Templates};
use super::{SendError, webhook};
use crate::alert::{self, Alert, AlertKind};
use crate::config::Config;
use crate::store::{self, Store};

/// Where "now" comes from: the system clock in the daemon, tokio's in paused-time tests.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

/// Wall time that advances with tokio's clock from the moment it is made, so
/// `tokio::time::pause()` and `advance()` move it.
pub fn tokio_clock() -> Clock {
    let wall = Timestamp::now();
    let origin = tokio::time::Instant::now();
    Arc::new(move || {
        let elapsed = SignedDuration::try_from(origin.elapsed()).unwrap_or(SignedDuration::MAX);
        wall.checked_add(elapsed).unwrap_or(Timestamp::MAX)
    })
}

/// One route's rows, and its own rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    Marketplace,
    Email,
    Webhook,
    Events,
}

impl Lane {
    const ALL: [Lane; 4] = [Self::Marketplace, Self::Email, Self::Webhook, Self::Events];

    /// The outbox destinations this lane serves (SQLite GLOB).
    fn glob(self) -> &'static str {
        match self {
            Self::Marketplace => "marketplace",
            Self::Email => "email",
            Self::Webhook => "webhook",
            Self::Events => "events:*",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Marketplace => "marketplace",
            Self::Email => "email",
            Self::Webhook => "webhook",
            Self::Events => "events",
        }
    }
}

pub struct Worker {
    store: Store,
    config: Arc<Config>,
    marketplaces: HashMap<String, Arc<dyn Marketplace>>,
    dry_run: bool,
    templates: Templates,
    mailer: Option<Mailer>,
    http: reqwest::Client,
    throttles: HashMap<&'static str, Throttle>,
    clock: Clock,
    poll: Duration,
    wake: Arc<Notify>,
    recovered: AtomicBool,
}

impl Worker {
    /// Loads the templates and the SMTP transport; fails on a template or SMTP setting that
    /// `check-config` would also reject.
    pub fn new(
        store: Store,
        config: Arc<Config>,
        marketplaces: HashMap<String, Arc<dyn Marketplace>>,
        dry_run: bool,
    ) -> anyhow::Result<Self> {
        let templates = Templates::load(&config.notify)?;
        let mailer = config
            .smtp
            .as_ref()
            .map(Mailer::new)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let limits = config.notify.limits;
        let throttles = HashMap::from([
            (
                Lane::Marketplace.name(),
                Throttle::per_minute(limits.marketplace_per_minute),
            ),
            (
                Lane::Email.name(),
                Throttle::per_minute(limits.email_per_minute),
            ),
            (
                Lane::Webhook.name(),
                Throttle::per_minute(limits.webhook_per_minute),
            ),
            (
                Lane::Events.name(),
                Throttle::per_minute(limits.webhook_per_minute),
            ),
        ]);
        Ok(Self {
            store,
            config,
            marketplaces,
            dry_run,
            templates,
            mailer,
            http: webhook::client(),
            throttles,
            clock: system_clock(),
            poll: Duration::from_secs(5),
            wake: Arc::new(Notify::new()),
            recovered: AtomicBool::new(false),
        })
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How often the outbox is checked when nobody wakes the worker.
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Notify it after committing outbox rows to send them without waiting for the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Sends until `stop`. A send in flight is finished (and recorded) before returning.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            self.drain(Some(&stop)).await;
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Sends every row due now, then returns (for `vigie run --once`). Rows waiting for a
    /// retry later stay pending.
    pub async fn drain_once(&self) {
        self.drain(None).await;
    }

    async fn drain(&self, stop: Option<&CancellationToken>) {
        if let Err(e) = self.recover_once().await {
            tracing::error!("outbox: cannot recover interrupted sends: {e}");
            return;
        }
        if self.dry_run {
            let now = store::time_text((self.clock)());
            let due = self
                .store
                .call(move |conn| {
                    let mut stmt = conn.prepare(
                        "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?1",
                    )?;
                    Ok(stmt.query_row([now], |row| row.get::<_, i64>(0))?)
                })
                .await
                .unwrap_or(0);
            if due > 0 {
                tracing::info!(
                    due,
                    "dry run: customer messages and seller webhooks not sent"
                );
            }
            return;
        }
        let lanes = Lane::ALL.map(|lane| self.drain_lane(lane, stop));
        let [a, b, c, d] = lanes;
        let results = tokio::join!(a, b, c, d);
        for result in [results.0, results.1, results.2, results.3] {
            if let Err(e) = result {
                tracing::error!("outbox: {e}");
            }
        }
    }

    /// Marks what a previous process left 'sending' as 'uncertain', once per worker.
    async fn recover_once(&self) -> store::Result<()> {
        if self.recovered.load(Ordering::Acquire) {
            return Ok(());
        }
        let now = store::time_text((self.clock)());
        let rows = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                let rows = outbox::mark_interrupted(&tx)?;
                for row in &rows {
                    let alert = Alert::new(
                        AlertKind::NotificationUncertain,
                        format!("notification_uncertain:{}", row.id),
                        format!(
                            "the {} message to {} for {}:{} was being sent when vigie stopped; \
                             it may or may not have arrived and will not be re-sent: check and \
                             resend by hand if needed (outbox row {})",
                            row.event, row.destination, row.channel, row.order_id, row.id
                        ),
                    )
                    .order(&row.channel, &row.order_id);
                    alert::raise(&tx, &alert, &now)?;
                }
                tx.commit()?;
                Ok(rows)
            })
            .await?;
        for row in &rows {
            tracing::warn!(
                outbox = row.id,
                order = %format!("{}:{}", row.channel, row.order_id),
                "interrupted send marked uncertain"
            );
        }
        self.recovered.store(true, Ordering::Release);
        Ok(())
    }

    async fn drain_lane(&self, lane: Lane, stop: Option<&CancellationToken>) -> store::Result<()> {
        let throttle = &self.throttles[lane.name()];
        loop {
            if stop.is_some_and(CancellationToken::is_cancelled) {
                return Ok(());
            }
            let now = store::time_text((self.clock)());
            let due = self
                .store
                .call(move |conn| outbox::has_due(conn, lane.glob(), &now))
                .await?;
            if !due {
                return Ok(());
            }
            // Wait for the budget before claiming: a row is never 'sending' while it waits.
            throttle.ready().await;
            let now = store::time_text((self.clock)());
            let claimed = self
                .store
                .call(move |conn| outbox::claim_next(conn, lane.glob(), &now))
                .await?;
            let Some(row) = claimed else { return Ok(()) };
            let outcome = self.send(lane, &row).await;
            self.settle(lane, row, outcome).await?;
        }
    }

    async fn send(&self, lane: Lane, row: &Row) -> Result<(), SendError> {
        let facts: Facts = serde_json::from_str(&row.payload)
            .map_err(|e| SendError::Permanent(format!("unreadable outbox payload: {e}")))?;
        match lane {
            Lane::Marketplace => {
                let message = self.render(&facts)?;
                let marketplace = self.marketplaces.get(&row.channel).ok_or_else(|| {
                    SendError::Permanent(format!("channel {} is not configured", row.channel))
                })?;
                let message = CustomerMessage {
                    subject: message.subject,
                    body: message.text,
                };
                match marketplace.message_customer(&row.order_id, &message).await {
                    Ok(()) | Err(ConnectorError::AlreadyDone(_)) => Ok(()),
                    Err(ConnectorError::RateLimited { retry_after }) => Err(SendError::Transient {
                        message: "the marketplace asked to slow down".to_owned(),
                        retry_after,
                    }),
                    // Credentials can be fixed without losing the message.
                    Err(e @ (ConnectorError::Transient(_) | ConnectorError::Auth(_))) => {
                        Err(SendError::Transient {
                            message: e.to_string(),
                            retry_after: None,
                        })
                    }
                    Err(e @ ConnectorError::Permanent { .. }) => {
                        Err(SendError::Permanent(e.to_string()))
                    }
                }
            }
            Lane::Email => {
                let mailer = self.mailer.as_ref().ok_or_else(|| {
                    SendError::Permanent("e-mail needs an [smtp] section".to_owned())
                })?;
                let to = facts
                    .order
                    .customer
                    .email
                    .as_deref()
                    .filter(|e| !e.trim().is_empty())
                    .ok_or_else(|| {
                        SendError::Permanent(
                            "the marketplace gave no e-mail address for this order".to_owned(),
                        )
                    })?;
                let message = self.render(&facts)?;
                mailer.send(to, &message, row.id).await
            }
            Lane::Webhook => {
                let target = self.config.notify.webhook.as_ref().ok_or_else(|| {
                    SendError::Permanent("no [notify.webhook] is configured".to_owned())
                })?;
                let message = self.render(&facts)?;
                let body = json!({
                    "delivery_id": row.id,
                    "event": facts.event,
                    "channel": facts.channel,
                    "order_id": facts.order.id,
                    "order_reference": facts.order.reference,
                    "locale": facts.locale,
                    "to": facts.order.customer.email,
                    "subject": message.subject,
                    "text": message.text,
                    "html": message.html,
                    "order": facts.order,
                });
                let body = serde_json::to_vec(&body).expect("JSON values serialize");
                let id = row.id.to_string();
                webhook::post_json(
                    &self.http,
                    &target.url,
                    body,
                    target.secret.as_ref(),
                    Some(&id),
                )
                .await
            }
            Lane::Events => {
                let name = row.destination.trim_start_matches("events:");
                let target = self
                    .config
                    .events
                    .webhook
                    .iter()
                    .find(|w| w.name == name)
                    .ok_or_else(|| {
                        SendError::Permanent(format!("no [[events.webhook]] named {name:?}"))
                    })?;
                let body = json!({
                    "delivery_id": row.id,
                    "event": facts.event,
                    "channel": facts.channel,
                    "order_id": facts.order.id,
                    "occurred_at": facts.occurred_at,
                    "order": facts.order,
                });
                let body = serde_json::to_vec(&body).expect("JSON values serialize");
                let id = row.id.to_string();
                webhook::post_json(
                    &self.http,
                    &target.url,
                    body,
                    target.secret.as_ref(),
                    Some(&id),
                )
                .await
            }
        }
    }

    /// Renders in the locale chosen at the event, or the configured one if its templates are
    /// gone since.
    fn render(&self, facts: &Facts) -> Result<Rendered, SendError> {
        let locale = if self.templates.has_locale(&facts.locale) {
            facts.locale.as_str()
        } else {
            self.config.notify.locale.as_str()
        };
        let context = context(&self.config, facts, locale);
        self.templates
            .render(locale, facts.event, &context)
            .map_err(|e| SendError::Permanent(format!("template {e}")))
    }

    async fn settle(
        &self,
        lane: Lane,
        row: Row,
        outcome: Result<(), SendError>,
    ) -> store::Result<()> {
        let now = (self.clock)();
        let order = format!("{}:{}", row.channel, row.order_id);
        let give_up = match outcome {
            Ok(()) => {
                metrics::counter!("vigie_notifications_sent_total", "route" => lane.name())
                    .increment(1);
                tracing::info!(
                    outbox = row.id,
                    order,
                    event = row.event,
                    destination = row.destination,
                    "sent"
                );
                let now = store::time_text(now);
                return self
                    .store
                    .call(move |conn| outbox::mark_sent(conn, row.id, &now))
                    .await;
            }
            Err(SendError::Transient {
                message,
                retry_after,
            }) if row.attempts < self.config.notify.max_attempts => {
                let delay = self
                    .backoff(row.attempts)
                    .max(retry_after.unwrap_or_default());
                let next = now
                    .checked_add(SignedDuration::try_from(delay).unwrap_or_default())
                    .unwrap_or(now);
                let next = store::time_text(next);
                tracing::warn!(
                    outbox = row.id,
                    order,
                    attempts = row.attempts,
                    retry_in = %humantime::format_duration(delay),
                    "send failed, will retry: {message}"
                );
                return self
                    .store
                    .call(move |conn| outbox::retry_later(conn, row.id, &next, &message))
                    .await;
            }
            Err(SendError::Transient { message, .. }) => {
                format!("gave up after {} attempts: {message}", row.attempts)
            }
            Err(SendError::Permanent(message)) => message,
        };
        metrics::counter!("vigie_notifications_failed_total", "route" => lane.name()).increment(1);
        tracing::error!(outbox = row.id, order, "send failed for good: {give_up}");
        let now = store::time_text(now);
        self.store
            .call(move |conn| {
                let tx = conn.transaction()?;
                outbox::mark_failed(&tx, row.id, &give_up)?;
                let alert = Alert::new(
                    AlertKind::NotificationFailed,
                    format!("notification_failed:{}", row.id),
                    format!(
                        "the {} message to {} for {}:{} was not sent: {give_up}",
                        row.event, row.destination, row.channel, row.order_id
                    ),
                )
                .order(&row.channel, &row.order_id);
                alert::raise(&tx, &alert, &now)?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    /// retry_min, doubled each attempt, at most retry_max.
    fn backoff(&self, attempts: u32) -> Duration {
        let notify = &self.config.notify;
        notify
            .retry_min
            .saturating_mul(1 << attempts.saturating_sub(1).min(20))
            .min(notify.retry_max)
    }
}
