//! What runs for one configuration: the channel loops, the inventory watcher, and the
//! message and alert senders; built whole before anything starts, so a reload either swaps
//! all of it or none.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use vigie_connector::ParcelTerms;
use vigie_connector::spec::Bounds;

use super::health;
use super::heartbeat::Heartbeats;
use super::loops::{self, channel_span};
use crate::config::Config;
use crate::pipeline::{self, Channel, Context};
use crate::store::Store;
use crate::{delivery, inventory};

/// Everything built from one configuration, before anything runs: building it validates
/// what the configuration file alone cannot (connectors, templates, SMTP).
pub(super) struct Plan {
    ctx: Context,
    channels: Vec<Channel>,
    delivery: delivery::Worker,
}

impl Plan {
    /// Per channel, what its marketplace takes in a parcel.
    pub fn parcel_terms(&self) -> std::collections::HashMap<String, ParcelTerms> {
        self.channels
            .iter()
            .map(|c| (c.name().to_owned(), c.marketplace.parcel_terms()))
            .collect()
    }

    pub fn new(
        config: Arc<Config>,
        store: &Store,
        dry_run_flag: bool,
        stock_moved: &watch::Sender<u64>,
    ) -> anyhow::Result<Self> {
        let dry_run = dry_run_flag || config.daemon.dry_run;
        let bounds = Bounds {
            max_wait: config.daemon.max_retry_wait,
        };
        let channels = config
            .channels
            .iter()
            .map(|c| {
                let marketplace = c
                    .settings
                    .build(&c.name, bounds)
                    .with_context(|| format!("channel {}", c.name))?;
                Ok(Channel {
                    config: c.clone(),
                    marketplace,
                    nothing_to_push: Arc::default(),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
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

    pub fn config(&self) -> &Arc<Config> {
        &self.ctx.config
    }
}

/// `run --once`: the inventory, one cycle of every channel, then every message and alert due.
pub(super) async fn run_once(plan: Plan, store: &Store) -> anyhow::Result<()> {
    if let Some(skus) = inventory::load_once(&plan.ctx.config.inventory, store).await? {
        tracing::info!(skus, "inventory loaded");
    }
    let mut cycles = JoinSet::new();
    for channel in plan.channels.clone() {
        let ctx = plan.ctx.clone();
        let span = channel_span(channel.name());
        cycles.spawn(
            async move {
                let report = pipeline::run(&channel, &ctx)
                    .await
                    .map_err(|e| format!("{}: {e}", channel.name()))?;
                tracing::info!(?report, "cycle done");
                Ok::<_, String>(())
            }
            .instrument(span),
        );
    }
    let mut failed = Vec::new();
    while let Some(joined) = cycles.join_next().await {
        if let Err(failure) = joined.context("a channel cycle panicked")? {
            failed.push(failure);
        }
    }
    // A channel that pushed before another one's orders moved the ledger catches up here.
    for channel in &plan.channels {
        let pushed = pipeline::push_stock(channel, &plan.ctx)
            .instrument(channel_span(channel.name()))
            .await;
        if let Err(e) = pushed {
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

pub(super) struct Services {
    names: Vec<String>,
    stop_loops: CancellationToken,
    loops: JoinSet<()>,
    stop_senders: CancellationToken,
    senders: JoinSet<()>,
}

impl Services {
    pub fn start(plan: Plan, heartbeats: &Heartbeats, stock_moved: &watch::Sender<u64>) -> Self {
        let stop_loops = CancellationToken::new();
        let mut loops = JoinSet::new();
        let names = plan.channels.iter().map(|c| c.name().to_owned()).collect();
        let parcel_terms = plan
            .channels
            .iter()
            .map(|c| (c.config.clone(), c.marketplace.parcel_terms()))
            .collect();
        for channel in plan.channels {
            heartbeats.register(channel.name(), channel.config.poll_interval);
            let span = channel_span(channel.name());
            if let Some(live) = channel.config.sku_map.clone() {
                let follow = super::sku_maps::spawn(
                    channel.name().to_owned(),
                    live,
                    plan.ctx.clone(),
                    stop_loops.clone(),
                );
                loops.spawn(async move {
                    let _ = follow.await;
                });
            }
            loops.spawn(
                loops::push_loop(
                    channel.clone(),
                    plan.ctx.clone(),
                    stock_moved.subscribe(),
                    stop_loops.clone(),
                )
                .instrument(span.clone()),
            );
            loops.spawn(
                health::watch(channel.clone(), plan.ctx.clone(), stop_loops.clone())
                    .instrument(span.clone()),
            );
            loops.spawn(
                loops::channel_loop(
                    channel,
                    plan.ctx.clone(),
                    heartbeats.clone(),
                    stop_loops.clone(),
                )
                .instrument(span),
            );
        }
        let config = &plan.ctx.config;
        if let Some(path) = config.shipments.path.clone() {
            let drop = inventory::shipments::ShipmentsDrop::new(
                path.clone(),
                plan.ctx.clone(),
                parcel_terms,
            );
            loops.spawn(inventory::file::run(path, drop, stop_loops.clone()));
        }
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

    pub fn describe(&self) -> String {
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
    pub async fn stop(mut self, grace: Duration) {
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
