//! Client-side rate limiting on tokio's clock, so paused-time tests drive it.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};

pub use governor::Quota;

/// governor's clock reads `std::time::Instant`, which `tokio::time::pause()` cannot stop;
/// this one measures the tokio clock from a fixed origin instead.
#[derive(Debug, Clone)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }
}

type Limiter = governor::RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Paces one kind of call; clones share the same budget.
#[derive(Clone)]
pub struct Throttle {
    limiter: Option<Arc<Limiter>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("limited", &self.limiter.is_some())
            .finish()
    }
}

impl Throttle {
    pub fn new(quota: Quota) -> Self {
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        Self {
            limiter: Some(Arc::new(governor::RateLimiter::direct_with_clock(
                quota, clock,
            ))),
        }
    }

    /// One call every `period`, no burst.
    pub fn every(period: Duration) -> Self {
        Self::new(Quota::with_period(period).expect("a positive period"))
    }

    /// `count` calls per minute, as marketplaces publish their limits.
    pub fn per_minute(count: NonZeroU32) -> Self {
        Self::new(Quota::per_minute(count))
    }

    pub fn unlimited() -> Self {
        Self { limiter: None }
    }

    /// Takes one more call's place if the budget has it now; never waits.
    pub fn try_take(&self) -> bool {
        self.limiter
            .as_ref()
            .is_none_or(|limiter| limiter.check().is_ok())
    }

    /// Waits until one more call is allowed, then takes its place; but never waits longer
    /// than `max_wait` in all: past it the call goes ahead, and the marketplace's own
    /// answer (a 429) paces it.
    pub async fn ready(&self, max_wait: Duration) {
        let Some(limiter) = &self.limiter else { return };
        let mut left = max_wait;
        while let Err(not_until) = limiter.check() {
            if left.is_zero() {
                tracing::warn!("a call budget asks for more than {max_wait:?}: calling anyway");
                return;
            }
            let wait = not_until.wait_time_from(limiter.clock().now()).min(left);
            left -= wait;
            crate::wait::wait(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_calls_by_the_period() {
        let throttle = Throttle::every(Duration::from_secs(15));
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            throttle.ready(Duration::MAX).await;
        }
        // first call immediately, then one every 15 s
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn never_waits_longer_than_the_cap() {
        let throttle = Throttle::every(Duration::from_secs(24 * 3600));
        let start = tokio::time::Instant::now();
        throttle.ready(Duration::from_secs(600)).await;
        throttle.ready(Duration::from_secs(600)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(600));
    }

    #[tokio::test(start_paused = true)]
    async fn try_take_takes_what_the_budget_has_now_and_never_waits() {
        let throttle = Throttle::per_minute(NonZeroU32::new(3).unwrap());
        let taken = (0..5).filter(|_| throttle.try_take()).count();
        assert_eq!(taken, 3);
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(throttle.try_take(), "one place back every 20 s");
        assert!(!throttle.try_take());
        assert!(Throttle::unlimited().try_take());
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let throttle = Throttle::unlimited();
        let start = tokio::time::Instant::now();
        for _ in 0..100 {
            throttle.ready(Duration::ZERO).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
