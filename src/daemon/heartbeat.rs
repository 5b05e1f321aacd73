//! Liveness of the channel loops, for the systemd watchdog and `GET /healthz`: a loop beats
//! each time it starts waiting for its next cycle; one that has not beaten for its poll
//! interval plus a generous cycle allowance is stuck.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

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
        if let Some(beat) = self.lock().get_mut(name) {
            beat.at = Instant::now();
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
            .filter(|(_, b)| now.duration_since(b.at) > b.max_age)
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
}
