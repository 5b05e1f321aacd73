//! Each channel's two loops: its cycle (poll, decide, act) every poll interval, and its stock
//! push whenever the ledger moves. Both run inside the channel's span, so everything they
//! log names the channel.

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vigie_connector::observe_waits;

use super::heartbeat::Heartbeats;
use crate::pipeline::{self, Channel, Context};

/// The span every task of channel `name` runs in.
pub(super) fn channel_span(name: &str) -> tracing::Span {
    tracing::info_span!("channel", channel = %name)
}

/// Runs a full cycle every poll interval; and whenever the
/// ledger moves (a snapshot landed), judges at once the orders that waited for an inventory.
pub(super) async fn channel_loop(
    channel: Channel,
    ctx: Context,
    heartbeats: Heartbeats,
    stop: CancellationToken,
) {
    // The connector's waits (budgets, backoffs, Retry-After) count the loop alive.
    let alive = heartbeats.observer(channel.name());
    let mut ticker = tokio::time::interval(channel.config.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut moved = ctx.stock_moved.subscribe();
    loop {
        heartbeats.beat(channel.name());
        // The work a branch starts is not raced against `stop`: an in-flight cycle finishes
        // (or is parked by the grace period) rather than being cut between a marketplace call
        // and its commit.
        let outcome = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = ticker.tick() => observe_waits(alive.clone(), pipeline::run(&channel, &ctx)).await,
            Ok(()) = moved.changed() => {
                observe_waits(alive.clone(), pipeline::decide_waiting(&channel, &ctx)).await
            }
        };
        match outcome {
            Ok(report) => tracing::debug!(?report, "cycle done"),
            Err(e) => tracing::warn!("cycle failed: {e}"),
        }
    }
}

/// Pushes the channel's quantities whenever the ledger moves (an order on any channel, a new
/// snapshot), and every poll interval to follow batches. Apart from the cycle, so waiting
/// for a stock-import budget never delays a decision.
pub(super) async fn push_loop(
    channel: Channel,
    ctx: Context,
    mut moved: watch::Receiver<u64>,
    stop: CancellationToken,
) {
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
        if let Err(e) = pipeline::push_stock(&channel, &ctx).await {
            tracing::warn!("stock push failed: {e}");
        }
    }
}
