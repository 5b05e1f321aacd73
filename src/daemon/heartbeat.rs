//! Liveness of the channel loops, for the systemd watchdog and `GET /healthz`: a loop beats
//! each time it starts waiting for its next cycle, and a wait its connector announces (a
//! call budget, a backoff, a `Retry-After`, each at most `max_retry_wait`) keeps it alive
//! until that wait ends; one that has not beaten for its poll interval plus a generous cycle
//! allowance is stuck.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use vigie_connector::WaitObserver;

/// How long one cycle may take (rate-limit waits, retries) before its loop counts as stuck.
const CYCLE_ALLOWANCE: Duration = Duration::from_secs(600);

#[derive(Clone, Default)]
pub(super) struct Heartbeats {
    loops: Arc<Mutex<BTreeMap<String, Beat>>>,
}

#[derive(Clone, Copy)]
struct Beat {
    at: Instant,
    max_age: Duration,
}

impl Heartbeats {
    pub fn register(&self, name: &str, interval: Duration) {
        let beat = Beat {
            at: Instant::now(),
            max_age: interval + CYCLE_ALLOWANCE,
        };
        self.lock().insert(name.to_owned(), beat);
    }

    pub fn beat(&self, name: &str) {
        self.alive_until(name, Instant::now());
    }

    /// What loop `name` runs its cycles under: each wait its connector starts counts the
    /// loop alive until the wait ends.
    pub fn observer(&self, name: &str) -> WaitObserver {
        let (beats, name) = (self.clone(), name.to_owned());
        Arc::new(move |wait| {
            let now = Instant::now();
            beats.alive_until(&name, now.checked_add(wait).unwrap_or(now));
        })
    }

    fn alive_until(&self, name: &str, at: Instant) {
        if let Some(beat) = self.lock().get_mut(name) {
            beat.at = at;
        }
    }

    /// Forgets every loop (before a reload starts a new set).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The loops that have not beaten in time.
    pub fn stale(&self) -> Vec<String> {
        let now = Instant::now();
        self.lock()
            .iter()
            .filter(|(_, b)| now.saturating_duration_since(b.at) > b.max_age)
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Beat>> {
        self.loops.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_loop_is_stale_only_after_its_interval_and_allowance() {
        let beats = Heartbeats::default();
        beats.register("shop", Duration::from_secs(300));
        tokio::time::advance(Duration::from_secs(300) + CYCLE_ALLOWANCE).await;
        assert!(beats.stale().is_empty());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(beats.stale(), ["shop"]);
        beats.beat("shop");
        assert!(beats.stale().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_waiting_on_a_budget_is_alive_and_a_stuck_one_is_not() {
        let beats = Heartbeats::default();
        let interval = Duration::from_secs(60);
        beats.register("shop", interval);
        // A cycle paying three 20-minute budgets in a row: an hour of waiting.
        let budget = vigie_connector::Throttle::every(Duration::from_secs(20 * 60));
        let cycle = tokio::spawn(vigie_connector::observe_waits(
            beats.observer("shop"),
            async move {
                for _ in 0..4 {
                    budget.ready(Duration::from_secs(20 * 60)).await;
                }
            },
        ));
        for minute in 1..=60 {
            tokio::time::sleep(Duration::from_secs(60)).await;
            assert!(beats.stale().is_empty(), "stale at minute {minute}");
        }
        cycle.await.unwrap();
        // Then nothing: the loop is stuck once its interval and allowance are over.
        tokio::time::sleep(interval + CYCLE_ALLOWANCE + Duration::from_secs(1)).await;
        assert_eq!(beats.stale(), ["shop"]);
    }
}
