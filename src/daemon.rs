//! The supervisor: one loop per channel on its own interval, the status server, sd_notify and
//! the watchdog, and the signals: SIGTERM/SIGINT drain within the grace period, SIGHUP reloads.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::channels;
use crate::config::{self, Config, Environment};
use crate::cycle::{self, Channel, Context};
use crate::heartbeat::Heartbeats;
use crate::http::{self as status_server, StatusState};
use crate::logging::LogHandle;
use crate::store::Store;
use crate::systemd;

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// One full cycle of every channel, then exit.
    pub once: bool,
    /// Decide and log; never act on a marketplace, send a message or an alert.
    pub dry_run: bool,
}

/// Configuration as it stands now; SIGHUP swaps it.
pub type SharedConfig = Arc<RwLock<Arc<Config>>>;

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
    let channels = channels::build(&config)?;
    let config = Arc::new(config);
    let ctx = Context {
        store: store.clone(),
        config: config.clone(),
        dry_run,
    };
    if options.once {
        return run_once(&channels, &ctx).await;
    }

    // Signals first, so a SIGTERM right after READY=1 is never lost.
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;

    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let heartbeats = Heartbeats::default();
    let shared: SharedConfig = Arc::new(RwLock::new(config));
    let background = CancellationToken::new();
    let listen = current(&shared).daemon.status_listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (daemon.status_listen)"))?;
    let state = StatusState {
        store: store.clone(),
        heartbeats: heartbeats.clone(),
        metrics,
        config: shared.clone(),
    };
    tokio::spawn(status_server::serve(listener, state, background.clone()));
    tokio::spawn(watchdog(heartbeats.clone(), background.clone()));

    let (stock_moved, _) = watch::channel(0u64);
    let mut loops = Loops::start(channels, &ctx, &heartbeats, &stock_moved);
    systemd::ready(&loops.describe());
    tracing::info!(status = %listen, "{}", loops.describe());

    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => {
                systemd::reloading();
                loops = reload(&path, &shared, loops, &ctx, &heartbeats, &stock_moved, &logs).await;
                systemd::ready(&loops.describe());
            }
        }
    }
    systemd::stopping();
    let grace = current(&shared).daemon.shutdown_grace;
    tracing::info!(
        "stopping: in-flight work has {}s to finish",
        grace.as_secs()
    );
    loops.stop(grace).await;
    background.cancel();
    tracing::info!("stopped");
    Ok(())
}

fn current(shared: &SharedConfig) -> Arc<Config> {
    shared.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Re-reads and validates the configuration; swaps it in only if it is entirely valid.
async fn reload(
    path: &std::path::Path,
    shared: &SharedConfig,
    loops: Loops,
    ctx: &Context,
    heartbeats: &Heartbeats,
    stock_moved: &watch::Sender<u64>,
    logs: &LogHandle,
) -> Loops {
    let old = current(shared);
    let new = match config::load(path, &Environment::from_process()) {
        Ok(new) => new,
        Err(e) => {
            tracing::error!("configuration not reloaded, the previous one stays in force: {e}");
            return loops;
        }
    };
    let channels = match channels::build(&new) {
        Ok(channels) => channels,
        Err(e) => {
            tracing::error!("configuration not reloaded, the previous one stays in force: {e}");
            return loops;
        }
    };
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
    // State lives in the store, so the loops can simply be restarted with the new settings.
    loops.stop(old.daemon.shutdown_grace).await;
    heartbeats.clear();
    let new = Arc::new(new);
    *shared.write().unwrap_or_else(|p| p.into_inner()) = new.clone();
    let ctx = Context {
        config: new,
        ..ctx.clone()
    };
    let loops = Loops::start(channels, &ctx, heartbeats, stock_moved);
    tracing::info!("configuration reloaded: {}", loops.describe());
    loops
}

async fn run_once(channels: &[Channel], ctx: &Context) -> anyhow::Result<()> {
    let mut cycles = JoinSet::new();
    for channel in channels {
        let (channel, ctx) = (channel.clone(), ctx.clone());
        cycles.spawn(async move { (channel.name().to_owned(), cycle::run(&channel, &ctx).await) });
    }
    let mut failed = Vec::new();
    while let Some(joined) = cycles.join_next().await {
        match joined.context("a channel cycle panicked")? {
            (name, Ok(report)) => tracing::info!(channel = %name, ?report, "cycle done"),
            (name, Err(e)) => failed.push(format!("{name}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("cycle failed for {}", failed.join("; "))
    }
}

/// The running channel loops.
struct Loops {
    names: Vec<String>,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Loops {
    fn start(
        channels: Vec<Channel>,
        ctx: &Context,
        heartbeats: &Heartbeats,
        stock_moved: &watch::Sender<u64>,
    ) -> Self {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let names = channels.iter().map(|c| c.name().to_owned()).collect();
        for channel in channels {
            heartbeats.register(channel.name(), channel.config.poll_interval);
            tasks.spawn(channel_loop(
                channel,
                ctx.clone(),
                heartbeats.clone(),
                stock_moved.clone(),
                stop.clone(),
            ));
        }
        Self { names, stop, tasks }
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

    /// Lets in-flight cycles finish within `grace`, then parks the rest: everything they
    /// committed is kept, and what they had not committed is redone at the next start.
    async fn stop(mut self, grace: Duration) {
        self.stop.cancel();
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                parked = self.tasks.len(),
                "grace period over: parking unfinished cycles for the next start"
            );
            self.tasks.shutdown().await;
        }
    }
}

/// Runs a full cycle every poll interval, and pushes quantities as soon as another channel
/// (or the inventory) moved the ledger.
async fn channel_loop(
    channel: Channel,
    ctx: Context,
    heartbeats: Heartbeats,
    stock_moved: watch::Sender<u64>,
    stop: CancellationToken,
) {
    let name = channel.name().to_owned();
    let mut ticker = tokio::time::interval(channel.config.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut moved = stock_moved.subscribe();
    loop {
        heartbeats.beat(&name);
        let full = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = ticker.tick() => true,
            Ok(()) = moved.changed() => false,
        };
        // Not raced against `stop`: an in-flight cycle finishes (or is parked by the grace
        // period) rather than being cut between a marketplace call and its commit.
        if full {
            match cycle::run(&channel, &ctx).await {
                Ok(report) => {
                    if report.stock_moved {
                        stock_moved.send_modify(|n| *n += 1);
                        moved.mark_unchanged();
                    }
                    tracing::debug!(channel = %name, ?report, "cycle done");
                }
                Err(e) => tracing::warn!(channel = %name, "cycle failed: {e}"),
            }
        } else if let Err(e) = cycle::push_stock(&channel, &ctx).await {
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
