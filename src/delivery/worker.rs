//! The queue's worker: queues the alert notices owed, then drains every lane at once, each at
//! its own pace: wait until a job may leave, claim as many due jobs as may leave now, send
//! them in order, each committed 'sending' before its send in the same transaction as the
//! previous one's outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use vigie_connector::Marketplace;

use super::pace::{self, Pace};
use super::send::Sender;
use super::{notices, settle};
use crate::config::Config;
use crate::store::outbox::{self, Job, Lane, Work};
use crate::store::{self, Store};

/// Where "now" comes from: the system clock, or a test's hand-moved one.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// How often the queue is checked when nobody wakes the worker.
const POLL: Duration = Duration::from_secs(5);

/// The most jobs one claim takes. Only the job in flight is ever 'sending' (each one's start
/// is written with the previous one's end), so a crash leaves one uncertain whatever the
/// size; a claim spares the database a read and a commit per job.
const CLAIM_AT_MOST: usize = 16;

pub struct Worker {
    store: Store,
    dry_run: bool,
    sender: Sender,
    lanes: Vec<(Lane, Pace)>,
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
        let lanes = pace::lanes(&config, &marketplaces);
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
        let lanes = self.lanes.iter().map(|(lane, pace)| {
            let (mut ticks, stop) = (ticks.clone(), &stop);
            async move {
                loop {
                    if let Err(e) = this.drain_lane(lane, pace, Some(stop)).await {
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
                .map(|(lane, pace)| self.drain_lane(lane, pace, None));
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
            .read(move |conn| outbox::due(conn, None, &now, usize::MAX))
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

    /// Marks what a previous process left 'sending' as 'uncertain', and fails the messages
    /// no lane drains any more, once per worker.
    async fn recover_once(&self) -> store::Result<()> {
        if self.recovered.load(Ordering::Acquire) {
            return Ok(());
        }
        let channels = self
            .lanes
            .iter()
            .filter_map(|(lane, _)| match lane {
                Lane::Marketplace(channel) => Some(channel.clone()),
                _ => None,
            })
            .collect();
        settle::recover_interrupted(&self.store, channels, (self.clock)()).await?;
        self.recovered.store(true, Ordering::Release);
        Ok(())
    }

    /// Sends `lane`'s due jobs until none is left (or `stop`), batch after batch: a batch is
    /// claimed only once its pace lets its first job leave, so a job waiting for its turn is
    /// never 'sending'; it holds as many as may leave right away.
    async fn drain_lane(
        &self,
        lane: &Lane,
        pace: &Pace,
        stop: Option<&CancellationToken>,
    ) -> store::Result<()> {
        let config = &self.sender.config;
        loop {
            let (of, now) = (lane.clone(), store::time_text((self.clock)()));
            let due = self
                .store
                .read(move |conn| outbox::due(conn, Some(&of), &now, CLAIM_AT_MOST))
                .await?;
            if due == 0 || stopped(stop) {
                return Ok(());
            }
            let ready = pace.ready(config.daemon.max_retry_wait);
            if let Some(stop) = stop {
                // Waiting for the budget is not a send in flight: a stop ends it.
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = ready => {}
                }
            } else {
                ready.await;
            }
            let places = 1 + pace.take_now(due - 1);
            let (of, now) = (lane.clone(), store::time_text((self.clock)()));
            let claimed = self
                .store
                .call(move |conn| outbox::claim(conn, &of, &now, places))
                .await?;
            let mut jobs = Vec::with_capacity(claimed.len());
            for (id, read) in claimed {
                match read {
                    Ok(job) => jobs.push(job),
                    Err(why) => {
                        settle::set_aside(&self.store, lane, id, why, (self.clock)()).await?;
                    }
                }
            }
            self.send_in_order(lane, jobs, stop).await?;
        }
    }

    /// Sends claimed `jobs` one after the other, the first already 'sending' (see
    /// `outbox::claim`), each one's end written with the next one's start. Once `stop` is
    /// asked, or after a send that did not go through (a receiver in trouble), the ones not
    /// yet sent stay pending for a later claim.
    async fn send_in_order(
        &self,
        lane: &Lane,
        jobs: Vec<Job>,
        stop: Option<&CancellationToken>,
    ) -> store::Result<()> {
        // The thread a message of this batch opened: the order's next message in the same
        // batch replies in it (it was claimed before the first was settled).
        let mut opened: HashMap<i64, String> = HashMap::new();
        let mut settled = None;
        let mut troubled = false;
        for (n, mut job) in jobs.into_iter().enumerate() {
            if n > 0 {
                if troubled || stopped(stop) {
                    break;
                }
                let now = (self.clock)();
                if !settle::record_then_start(&self.store, settled.take(), Some(job.id), now)
                    .await?
                {
                    continue;
                }
                job.attempts += 1;
            }
            let order_pk = match job.work {
                Work::Order { order_pk, .. } => Some(order_pk),
                Work::Alert { .. } => None,
            };
            if job.thread.is_none() {
                job.thread = order_pk.and_then(|pk| opened.get(&pk).cloned());
            }
            let outcome = self.sender.send(&job).await;
            troubled = outcome.is_err();
            if let (Some(pk), Ok(Some(thread))) = (order_pk, &outcome) {
                opened.entry(pk).or_insert_with(|| thread.clone());
            }
            let config = &self.sender.config;
            settled = Some(settle::judge(config, lane, job, outcome, (self.clock)()));
        }
        settle::record_then_start(&self.store, settled, None, (self.clock)()).await?;
        Ok(())
    }
}

fn stopped(stop: Option<&CancellationToken>) -> bool {
    stop.is_some_and(CancellationToken::is_cancelled)
}

/// Waits for the next wake-up; `false` once the worker stops.
async fn next(ticks: &mut watch::Receiver<()>, stop: &CancellationToken) -> bool {
    ticks.changed().await.is_ok() && !stop.is_cancelled()
}
