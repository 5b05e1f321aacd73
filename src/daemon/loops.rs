//! Each channel's two loops: its cycle (poll, decide, act) every poll interval, and its stock
//! push whenever the ledger moves. Both run inside the channel's span, so everything they
//! log names the channel.
//!
//! A stop ends them at once where they only wait: between two cycles, or inside one while
//! it waits for a call budget, a backoff or a `Retry-After`, or follows a stock import (its
//! id is stored, the next start follows it on). A marketplace call already sent finishes
//! first, within the grace period.

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::time::Instant;
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
/// snapshot), when a batch being applied is due for a look (what was gathered meanwhile
/// goes once it is settled), and every poll interval. Apart from the cycle, so waiting for a
/// stock-import budget never delays a decision.
pub(super) async fn push_loop(
    channel: Channel,
    ctx: Context,
    mut moved: watch::Receiver<u64>,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(channel.config.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_look: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
            Ok(()) = moved.changed() => {}
            () = until(next_look) => {}
        }
        // Every move up to now is in the quantities computed below.
        moved.borrow_and_update();
        match stop_at_waits(stop.clone(), pipeline::push_stock(&channel, &ctx)).await {
            Some(Ok(pushed)) => next_look = pushed.next_look.map(on_tokio_clock),
            Some(Err(e)) => {
                // The ticker tries again.
                next_look = None;
                tracing::warn!("stock push failed: {e}");
            }
            None => {
                tracing::info!("stock push stopped while waiting; the next start resumes");
                return;
            }
        }
    }
}

/// Waits until `at`, or forever when there is nothing to wait for.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The moment `at` on tokio's clock (now if it is past).
fn on_tokio_clock(at: Timestamp) -> Instant {
    let wait = std::time::Duration::try_from(at.duration_since(Timestamp::now()));
    Instant::now() + wait.unwrap_or_default()
}
