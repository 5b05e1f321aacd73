//! Each channel's two loops: its cycle (poll, decide, act) every poll interval, and its stock
//! push whenever the ledger moves. Both run inside the channel's span, so everything they
//! log names the channel.
//!
//! A stop ends them at once where they only wait: between two cycles, or inside one while
//! it waits for a call budget, a backoff or a `Retry-After`, or follows a stock import (its
//! id is stored, the next start follows it on). A marketplace call already sent finishes
//! first, within the grace period.

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vigie_connector::{WaitObserver, observe_waits, stop_at_waits};

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
        // The work a branch starts stops only at a wait, never between a marketplace call and
        // its commit: a call in flight finishes (or is parked by the grace period).
        let work = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = ticker.tick() => watched(&stop, &alive, pipeline::run(&channel, &ctx)).await,
            Ok(()) = moved.changed() => {
                watched(&stop, &alive, pipeline::decide_waiting(&channel, &ctx)).await
            },
        };
        let Some(outcome) = work else {
            tracing::info!("stopped while waiting; the next start resumes");
            return;
        };
        match outcome {
            Ok(report) => tracing::debug!(?report, "cycle done"),
            Err(e) => tracing::warn!("cycle failed: {e}"),
        }
    }
}

/// Runs `work` with its waits counting the loop alive; `None` if it was stopped at a wait.
async fn watched<F: Future>(
    stop: &CancellationToken,
    alive: &WaitObserver,
    work: F,
) -> Option<F::Output> {
    stop_at_waits(stop.clone(), observe_waits(alive.clone(), work)).await
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
        match stop_at_waits(stop.clone(), pipeline::push_stock(&channel, &ctx)).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::warn!("stock push failed: {e}"),
            None => {
                tracing::info!("stock push stopped while waiting; the next start resumes");
                return;
            }
        }
    }
}
