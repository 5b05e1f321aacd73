//! The queue's worker: queues the alert notices owed, then drains every lane at once, each at
//! its own rate: claim a due job (committed 'sending' before the send), send it, settle it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use vigie_connector::{Marketplace, Throttle};

use super::send::Sender;
use super::{notices, settle};
use crate::config::Config;
use crate::store::outbox::{self, Lane};
use crate::store::{self, Store};

/// Where "now" comes from: the system clock, or a test's hand-moved one.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// How often the queue is checked when nobody wakes the worker.
const POLL: Duration = Duration::from_secs(5);

pub struct Worker {
    store: Store,
    dry_run: bool,
    sender: Sender,
    /// Each lane's rate limit. On-call targets have none; marketplace messages none unless the
    /// seller sets one: each connector paces its marketplace's own limit.
    lanes: HashMap<Lane, Option<Throttle>>,
    clock: Clock,
    wake: Arc<Notify>,
    recovered: AtomicBool,
}

impl Worker {
    /// Loads the templates and the transports; fails on a template or SMTP setting that
    /// `check-config` would also reject.
    pub fn new(
        store: Store,
        config: Arc<Config>,
        marketplaces: HashMap<String, Arc<dyn Marketplace>>,
        dry_run: bool,
    ) -> anyhow::Result<Self> {
        let limits = config.notify.limits;
        let limited = [
            (Lane::Marketplace, limits.marketplace_per_minute),
            (Lane::Email, Some(limits.email_per_minute)),
            (Lane::Webhook, Some(limits.webhook_per_minute)),
            (Lane::Events, Some(limits.webhook_per_minute)),
        ]
        .map(|(lane, limit)| (lane, limit.map(Throttle::per_minute)));
        // On-call targets take what vigie raises; one lane each, so a slow one holds no other.
        let on_call = (0..config.alerts.webhook.len()).map(|i| (Lane::Alerts(i), None));
        let lanes = limited.into_iter().chain(on_call).collect();
        Ok(Self {
            store,
            dry_run,
            sender: Sender::new(config, marketplaces)?,
            lanes,
            clock: Arc::new(Timestamp::now),
            wake: Arc::new(Notify::new()),
            recovered: AtomicBool::new(false),
        })
    }

    /// Reads time from `clock` instead of the system's (tests move it by hand).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Notify it after queuing messages or raising alerts, to send them without waiting for
    /// the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Sends until `stop`: every lane drains on its own, so a long backlog of messages never
    /// delays an on-call notice. A send in flight is finished (and recorded) before returning.
    pub async fn run(self, stop: CancellationToken) {
        // Before any claim: a job this process claims must never be taken for one that a dead
        // process left 'sending'.
        while let Err(e) = self.recover_once().await {
            tracing::error!("delivery: cannot recover interrupted sends: {e}");
            if !self.wait(&stop, std::future::pending()).await {
                return;
            }
        }
        if self.dry_run {
            loop {
                self.report_dry_run().await;
                if !self.wait(&stop, self.wake.notified()).await {
                    return;
                }
            }
        }
        // Every wake-up (or poll) reaches every loop; none is lost while a lane is busy.
        let (tick, ticks) = watch::channel(());
        let wakes = async {
            while self.wait(&stop, self.wake.notified()).await {
                tick.send_replace(());
            }
            tick.send_replace(()); // the stop, too
        };
        let notices = async {
            let mut ticks = ticks.clone();
            loop {
                if self.queue_notices().await > 0 {
                    tick.send_replace(()); // the alert lanes have work
                }
                if !next(&mut ticks, &stop).await {
                    return;
                }
            }
        };
        let this = &self;
        let lanes = self.lanes.iter().map(|(lane, throttle)| {
            let (mut ticks, stop) = (ticks.clone(), &stop);
            async move {
                loop {
                    if let Err(e) = this.drain_lane(*lane, throttle, Some(stop)).await {
                        tracing::error!("delivery: {e}");
                    }
                    if !next(&mut ticks, stop).await {
                        return;
                    }
                }
            }
        });
        tokio::join!(wakes, notices, futures_util::future::join_all(lanes));
    }

    /// Waits for `event` or the next poll; `false` once `stop` is cancelled.
    async fn wait(&self, stop: &CancellationToken, event: impl Future<Output = ()>) -> bool {
        tokio::select! {
            () = stop.cancelled() => false,
            () = event => true,
            () = tokio::time::sleep(POLL) => true,
        }
    }

    /// Sends every job due now, then returns (for `vigie run --once`). Jobs waiting for a
    /// retry later stay pending.
    pub async fn drain_once(&self) {
        if let Err(e) = self.recover_once().await {
            tracing::error!("delivery: cannot recover interrupted sends: {e}");
            return;
        }
        if self.dry_run {
            self.report_dry_run().await;
            return;
        }
        self.queue_notices().await;
        loop {
            let lanes = self
                .lanes
                .iter()
                .map(|(lane, throttle)| self.drain_lane(*lane, throttle, None));
            for result in futures_util::future::join_all(lanes).await {
                if let Err(e) = result {
                    tracing::error!("delivery: {e}");
                }
            }
            // Notices raised meanwhile (a message given up) leave in the same drain.
            if self.queue_notices().await == 0 {
                return;
            }
        }
    }

    async fn report_dry_run(&self) {
        let now = store::time_text((self.clock)());
        match self
            .store
            .call(move |conn| outbox::due_count(conn, &now))
            .await
        {
            Ok(0) => {}
            Ok(due) => tracing::info!(due, "dry run: messages and alerts not sent"),
            Err(e) => tracing::error!("delivery: {e}"),
        }
    }

    /// Queues the alert notices owed and the reminders due; returns how many jobs that made
    /// (0 when it failed, after logging why).
    async fn queue_notices(&self) -> usize {
        let (config, now) = (self.sender.config.clone(), (self.clock)());
        let queued = self
            .store
            .call(move |conn| notices::queue_due(conn, &config.alerts, now))
            .await;
        queued.unwrap_or_else(|e| {
            tracing::error!("delivery: cannot queue alert notices: {e}");
            0
        })
    }

    /// Marks what a previous process left 'sending' as 'uncertain', once per worker.
    async fn recover_once(&self) -> store::Result<()> {
        if self.recovered.load(Ordering::Acquire) {
            return Ok(());
        }
        settle::recover_interrupted(&self.store, (self.clock)()).await?;
        self.recovered.store(true, Ordering::Release);
        Ok(())
    }

    async fn drain_lane(
        &self,
        lane: Lane,
        throttle: &Option<Throttle>,
        stop: Option<&CancellationToken>,
    ) -> store::Result<()> {
        loop {
            if stop.is_some_and(CancellationToken::is_cancelled) {
                return Ok(());
            }
            if let Some(throttle) = throttle {
                // Wait for the budget before claiming: a job is never 'sending' while it waits.
                let now = store::time_text((self.clock)());
                let due = self
                    .store
                    .call(move |conn| outbox::has_due(conn, lane, &now))
                    .await?;
                if !due {
                    return Ok(());
                }
                throttle
                    .ready(self.sender.config.daemon.max_retry_wait)
                    .await;
            }
            let now = store::time_text((self.clock)());
            let claimed = self
                .store
                .call(move |conn| outbox::claim_next(conn, lane, &now))
                .await?;
            let job = match claimed {
                None => return Ok(()),
                Some((_, Ok(job))) => job,
                Some((id, Err(why))) => {
                    settle::set_aside(&self.store, lane, id, why, (self.clock)()).await?;
                    continue;
                }
            };
            let outcome = self.sender.send(&job).await;
            let config = &self.sender.config;
            settle::settle(&self.store, config, job, outcome, (self.clock)()).await?;
        }
    }
}

/// Waits for the next wake-up; `false` once the worker stops.
async fn next(ticks: &mut watch::Receiver<()>, stop: &CancellationToken) -> bool {
    ticks.changed().await.is_ok() && !stop.is_cancelled()
}
