//! When a job that failed for now is tried again: growing delays, then it is given up.

use std::time::Duration;

use crate::config::NotifyConfig;

/// Attempts at each on-call notice before it is given up (counted, logged; an open condition
/// is reminded later). Alerts have no settings of their own: these are vigie's.
const ALERT_ATTEMPTS: u32 = 10;
const ALERT_RETRY_MIN: Duration = Duration::from_secs(15);
const ALERT_RETRY_MAX: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Customer messages and seller webhooks: `[notify]` `max_attempts`, `retry_min`,
    /// `retry_max`.
    pub fn messages(notify: &NotifyConfig) -> Self {
        Self {
            attempts: notify.max_attempts,
            first_delay: notify.retry_min,
            max_delay: notify.retry_max,
        }
    }

    pub fn alerts() -> Self {
        Self {
            attempts: ALERT_ATTEMPTS,
            first_delay: ALERT_RETRY_MIN,
            max_delay: ALERT_RETRY_MAX,
        }
    }

    /// How long to wait after failed attempt number `attempts` (from 1), or `None` when that
    /// was the last one: the first delay, doubled each attempt, at most the maximum.
    pub fn delay_after(&self, attempts: u32) -> Option<Duration> {
        (attempts < self.attempts).then(|| {
            self.first_delay
                .saturating_mul(1 << attempts.saturating_sub(1).min(20))
                .min(self.max_delay)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_then_give_up() {
        let policy = RetryPolicy {
            attempts: 5,
            first_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(60),
        };
        let delays: Vec<_> = (1..=5).map(|n| policy.delay_after(n)).collect();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(delays, [secs(10), secs(20), secs(40), secs(60), None]);
    }
}
