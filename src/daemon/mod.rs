//! The supervisor: builds the services of one configuration (the channel loops, the message
//! and alert senders, the inventory watcher), runs the status server, talks to systemd
//! (readiness, watchdog), and answers signals: SIGTERM/SIGINT drain within the grace
//! period, SIGHUP reloads.

mod health;
mod heartbeat;
mod lock;
mod loops;
mod metric_help;
mod serve_http;
mod services;
mod signals;
mod sku_maps;
mod status_server;
mod systemd;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, Environment, SharedConfig};
use crate::logging::LogHandle;
use crate::store::Store;
use heartbeat::Heartbeats;
use services::{Plan, Services};
use signals::{Request, Signals};
use status_server::StatusState;

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
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    if options.dry_run || config.daemon.dry_run {
        tracing::warn!(
            "dry run: decisions are logged, nothing is sent to marketplaces or customers"
        );
    }
    let store = Store::open(&config.daemon.state_dir)?;
    let _lock = lock::state_dir(&config.daemon.state_dir)?;
    let config = Arc::new(config);
    let supervisor = Supervisor {
        path,
        store,
        shared: Arc::new(RwLock::new(config.clone())),
        dry_run_flag: options.dry_run,
        heartbeats: Heartbeats::default(),
        stock_moved: watch::channel(0u64).0,
        logs,
    };
    let plan = supervisor.plan(config.clone())?;
    if options.once {
        return services::run_once(plan, &supervisor.store).await;
    }

    // Signals first, so a SIGTERM right after READY=1 is never lost.
    let mut signals = Signals::watch()?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    metric_help::describe();
    let background = CancellationToken::new();
    let listen = config.daemon.status_listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (daemon.status_listen)"))?;
    let listen = listener.local_addr()?;
    let state = StatusState {
        store: supervisor.store.clone(),
        heartbeats: supervisor.heartbeats.clone(),
        metrics,
        config: supervisor.shared.clone(),
        parcel_terms: plan.parcel_terms(),
    };
    let limits = serve_http::Limits::for_this_process();
    tracing::info!(
        "status server: at most {} connections at once",
        limits.connections
    );
    tokio::spawn(status_server::serve(
        listener,
        state,
        limits,
        background.clone(),
    ));
    tokio::spawn(systemd::watchdog(
        supervisor.heartbeats.clone(),
        background.clone(),
    ));

    let mut services = supervisor.start(plan);
    systemd::ready(&services.describe());
    tracing::info!("status server on http://{listen}; {}", services.describe());
    while let Request::Reload = signals.next().await {
        systemd::reloading();
        services = supervisor.reload(services).await;
        systemd::ready(&services.describe());
    }
    systemd::stopping();
    let grace = supervisor.current().daemon.shutdown_grace;
    tracing::info!(
        "stopping: in-flight work has {}s to finish",
        grace.as_secs()
    );
    services.stop(grace).await;
    background.cancel();
    tracing::info!("stopped");
    Ok(())
}

/// What outlives a reload: the store, the configuration in force, the loops' heartbeats and
/// the signal that the ledger moved.
struct Supervisor {
    path: PathBuf,
    store: Store,
    shared: SharedConfig,
    /// `run --dry-run`, which a reloaded file cannot turn off.
    dry_run_flag: bool,
    heartbeats: Heartbeats,
    stock_moved: watch::Sender<u64>,
    logs: LogHandle,
}

impl Supervisor {
    fn current(&self) -> Arc<Config> {
        self.shared
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn plan(&self, config: Arc<Config>) -> anyhow::Result<Plan> {
        Plan::new(config, &self.store, self.dry_run_flag, &self.stock_moved)
    }

    fn start(&self, plan: Plan) -> Services {
        Services::start(plan, &self.heartbeats, &self.stock_moved)
    }

    /// Re-reads and validates the configuration and templates; swaps them in only if all of
    /// it is valid, otherwise the running services go on untouched.
    async fn reload(&self, services: Services) -> Services {
        let old = self.current();
        let plan = config::load(&self.path, &Environment::from_process())
            .map_err(anyhow::Error::from)
            .and_then(|new| self.plan(Arc::new(new)));
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => {
                tracing::error!(
                    "configuration not reloaded, the previous one stays in force: {e:#}"
                );
                return services;
            }
        };
        let new = plan.config().clone();
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
        self.logs.set_filter(&new.daemon.log);
        // State lives in the store, so the services can simply be restarted with the new
        // settings.
        services.stop(old.daemon.shutdown_grace).await;
        self.heartbeats.clear();
        *self.shared.write().unwrap_or_else(|p| p.into_inner()) = new;
        let services = self.start(plan);
        tracing::info!("configuration reloaded: {}", services.describe());
        services
    }
}
