//! The supervisor: the channel loops, the message and alert senders and the inventory watcher
//! (together, [`Services`]), the status server, sd_notify and the watchdog, and the signals:
//! SIGTERM/SIGINT drain within the grace period, SIGHUP reloads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, Environment, SharedConfig};
use crate::cycle::{self, Channel, Context};
use crate::heartbeat::Heartbeats;
use crate::http::{self as status_server, StatusState};
use crate::logging::LogHandle;
use crate::store::Store;
use crate::{channels, delivery, inventory, systemd};

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// One full cycle of every channel, then exit.
    pub once: bool,
    /// Decide and log; never act on a marketplace, send a message or an alert.
    pub dry_run: bool,
}

pub async fn run(
    config: Config,
    path: PathBuf,
    options: RunOptions,
    logs: LogHandle,
) -> anyhow::Result<()> {
    let dry_run = options.dry_run || config.daemon.dry_run;
    if dry_run {
        tracing::warn!(
            "dry run: decisions are logged, nothing is sent to marketplaces or customers"
        );
    }
    let store = Store::open(&config.daemon.state_dir)?;
    let _lock = lock_state_dir(&config.daemon.state_dir)?;
    let config = Arc::new(config);
    let (stock_moved, _) = watch::channel(0u64);
    let plan = Plan::new(config.clone(), &store, options.dry_run, &stock_moved)?;
    if options.once {
        return run_once(plan, &store).await;
    }

    // Signals first, so a SIGTERM right after READY=1 is never lost.
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;

    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let heartbeats = Heartbeats::default();
    let shared: SharedConfig = Arc::new(RwLock::new(config.clone()));
    let background = CancellationToken::new();
    let listen = config.daemon.status_listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (daemon.status_listen)"))?;
    let listen = listener.local_addr()?;
    let state = StatusState {
        store: store.clone(),
        heartbeats: heartbeats.clone(),
        metrics,
        config: shared.clone(),
    };
    tokio::spawn(status_server::serve(listener, state, background.clone()));
    tokio::spawn(watchdog(heartbeats.clone(), background.clone()));

    let mut services = Services::start(plan, &heartbeats, &stock_moved);
    systemd::ready(&services.describe());
    tracing::info!("status server on http://{listen}; {}", services.describe());

    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => {
                systemd::reloading();
                services = reload(&path, &shared, services, &store, options.dry_run, &heartbeats, &stock_moved, &logs).await;
                systemd::ready(&services.describe());
            }
        }
    }
    systemd::stopping();
    let grace = current(&shared).daemon.shutdown_grace;
    tracing::info!(
        "stopping: in-flight work has {}s to finish",
        grace.as_secs()
    );
    services.stop(grace).await;
    background.cancel();
    tracing::info!("stopped");
    Ok(())
}

/// One `vigie run` per state directory: a second one would take the first one's sends in
/// flight for interrupted ones. The kernel releases the lock when the process ends, however.
fn lock_state_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("vigie.lock");
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!(
                "another vigie run is using {} (it holds {})",
                dir.display(),
                path.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

fn current(shared: &SharedConfig) -> Arc<Config> {
    shared.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Everything built from one configuration, before anything runs: building it validates
/// what the configuration file alone cannot (connectors, templates, SMTP).
struct Plan {
    ctx: Context,
    channels: Vec<Channel>,
    delivery: delivery::Worker,
}

impl Plan {
    fn new(
        config: Arc<Config>,
        store: &Store,
        dry_run_flag: bool,
        stock_moved: &watch::Sender<u64>,
    ) -> anyhow::Result<Self> {
        let dry_run = dry_run_flag || config.daemon.dry_run;
        let channels = channels::build(&config)?;
        let marketplaces = channels
            .iter()
            .map(|c| (c.name().to_owned(), c.marketplace.clone()))
            .collect();
        let delivery = delivery::Worker::new(store.clone(), config.clone(), marketplaces, dry_run)?;
        let ctx = Context {
            store: store.clone(),
            config,
            dry_run,
            delivery: delivery.waker(),
            stock_moved: stock_moved.clone(),
        };
        Ok(Self {
            ctx,
            channels,
            delivery,
        })
    }
}

/// Re-reads and validates the configuration and templates; swaps them in only if all of it
/// is valid, otherwise the running services go on untouched.
#[allow(clippy::too_many_arguments)]
async fn reload(
    path: &Path,
    shared: &SharedConfig,
    services: Services,
    store: &Store,
    dry_run_flag: bool,
    heartbeats: &Heartbeats,
    stock_moved: &watch::Sender<u64>,
    logs: &LogHandle,
) -> Services {
    let old = current(shared);
    let plan = config::load(path, &Environment::from_process())
        .map_err(anyhow::Error::from)
        .and_then(|new| Plan::new(Arc::new(new), store, dry_run_flag, stock_moved));
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            tracing::error!("configuration not reloaded, the previous one stays in force: {e:#}");
            return services;
        }
    };
    let new = plan.ctx.config.clone();
    for (changed, key) in [
        (
            new.daemon.state_dir != old.daemon.state_dir,
            "daemon.state_dir",
        ),
        (
            new.daemon.status_listen != old.daemon.status_listen,
            "daemon.status_listen",
        ),
    ] {
        if changed {
            tracing::warn!("{key} changed: it takes effect at the next restart");
        }
    }
    logs.set_filter(&new.daemon.log);
    // State lives in the store, so the services can simply be restarted with the new settings.
    services.stop(old.daemon.shutdown_grace).await;
    heartbeats.clear();
    *shared.write().unwrap_or_else(|p| p.into_inner()) = new;
    let services = Services::start(plan, heartbeats, stock_moved);
    tracing::info!("configuration reloaded: {}", services.describe());
    services
}

/// `run --once`: the inventory, one cycle of every channel, then every message and alert due.
async fn run_once(plan: Plan, store: &Store) -> anyhow::Result<()> {
    if let Some(skus) = inventory::load_once(&plan.ctx.config.inventory, store).await? {
        tracing::info!(skus, "inventory loaded");
    }
    let mut cycles = JoinSet::new();
    for channel in plan.channels.clone() {
        let ctx = plan.ctx.clone();
        cycles.spawn(async move { (channel.name().to_owned(), cycle::run(&channel, &ctx).await) });
    }
    let mut failed = Vec::new();
    while let Some(joined) = cycles.join_next().await {
        match joined.context("a channel cycle panicked")? {
            (name, Ok(report)) => tracing::info!(channel = %name, ?report, "cycle done"),
            (name, Err(e)) => failed.push(format!("{name}: {e}")),
        }
    }
    // A channel that pushed before another one's orders moved the ledger catches up here.
    for channel in &plan.channels {
        if let Err(e) = cycle::push_stock(channel, &plan.ctx).await {
            failed.push(format!("{}: stock push: {e}", channel.name()));
        }
    }
    plan.delivery.drain_once().await;
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("cycle failed for {}", failed.join("; "))
    }
}

/// What runs for one configuration: the channel loops, the inventory watcher, and the
/// message and alert senders.
struct Services {
    names: Vec<String>,
    stop_loops: CancellationToken,
    loops: JoinSet<()>,
    stop_senders: CancellationToken,
    senders: JoinSet<()>,
}

impl Services {
    fn start(plan: Plan, heartbeats: &Heartbeats, stock_moved: &watch::Sender<u64>) -> Self {
        let stop_loops = CancellationToken::new();
        let mut loops = JoinSet::new();
        let names = plan.channels.iter().map(|c| c.name().to_owned()).collect();
        for channel in plan.channels {
            heartbeats.register(channel.name(), channel.config.poll_interval);
            loops.spawn(push_loop(
                channel.clone(),
                plan.ctx.clone(),
                stock_moved.subscribe(),
                stop_loops.clone(),
            ));
            loops.spawn(channel_loop(
                channel,
                plan.ctx.clone(),
                heartbeats.clone(),
                stop_loops.clone(),
            ));
        }
        let config = &plan.ctx.config;
        let watcher = inventory::spawn(
            config.inventory.clone(),
            plan.ctx.store.clone(),
            stock_moved.clone(),
            stop_loops.clone(),
        );
        loops.spawn(async move {
            let _ = watcher.await;
        });
        let stop_senders = CancellationToken::new();
        let mut senders = JoinSet::new();
        senders.spawn(plan.delivery.run(stop_senders.clone()));
        Self {
            names,
            stop_loops,
            loops,
            stop_senders,
            senders,
        }
    }

    fn describe(&self) -> String {
        match self.names.len() {
            0 => "watching no channel (add [[channel]] blocks to the configuration)".to_owned(),
            n => format!(
                "watching {n} channel{}: {}",
                if n > 1 { "s" } else { "" },
                self.names.join(", ")
            ),
        }
    }

    /// Lets in-flight cycles, then in-flight sends, finish within `grace` each, and parks
    /// the rest: whatever they committed is kept, what they had not is redone at the next
    /// start, and a send cut short is marked uncertain then.
    async fn stop(mut self, grace: Duration) {
        self.stop_loops.cancel();
        drain(&mut self.loops, grace, "cycles").await;
        self.stop_senders.cancel();
        drain(&mut self.senders, grace, "sends").await;
    }
}

async fn drain(tasks: &mut JoinSet<()>, grace: Duration, what: &str) {
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            parked = tasks.len(),
            "grace period over: parking unfinished {what} for the next start"
        );
        tasks.shutdown().await;
    }
}

/// Runs a full cycle (poll, decide, act) every poll interval.
async fn channel_loop(
    channel: Channel,
    ctx: Context,
    heartbeats: Heartbeats,
    stop: CancellationToken,
) {
    let name = channel.name().to_owned();
    let mut ticker = tokio::time::interval(channel.config.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        heartbeats.beat(&name);
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        // Not raced against `stop`: an in-flight cycle finishes (or is parked by the grace
        // period) rather than being cut between a marketplace call and its commit.
        match cycle::run(&channel, &ctx).await {
            Ok(report) => tracing::debug!(channel = %name, ?report, "cycle done"),
            Err(e) => tracing::warn!(channel = %name, "cycle failed: {e}"),
        }
    }
}

/// Pushes the channel's quantities whenever the ledger moves (an order on any channel, a new
/// snapshot), and every poll interval to follow batches. Apart from the cycle, so waiting
/// for a stock-import budget never delays a decision.
async fn push_loop(
    channel: Channel,
    ctx: Context,
    mut moved: watch::Receiver<u64>,
    stop: CancellationToken,
) {
    let name = channel.name().to_owned();
    let mut ticker = tokio::time::interval(channel.config.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
            Ok(()) = moved.changed() => {}
        }
        // Every move up to now is in the quantities computed below.
        moved.borrow_and_update();
        if let Err(e) = cycle::push_stock(&channel, &ctx).await {
            tracing::warn!(channel = %name, "stock push failed: {e}");
        }
    }
}

/// Pings systemd's watchdog at half its period, but only while every loop is alive: a stuck
/// loop lets systemd restart the daemon.
async fn watchdog(heartbeats: Heartbeats, stop: CancellationToken) {
    let Some(period) = systemd::watchdog_period() else {
        return;
    };
    let mut ticker = tokio::time::interval(period / 2);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let stale = heartbeats.stale();
        if stale.is_empty() {
            systemd::watchdog();
        } else {
            tracing::error!(
                "channel loops stuck, withholding the watchdog ping: {}",
                stale.join(", ")
            );
        }
    }
}
