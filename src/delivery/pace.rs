//! The queue's lanes and the pace of each: one lane per marketplace channel's messages (each
//! marketplace paces its own, so one waiting for its budget holds no other back), one per
//! other route, one per on-call target.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use vigie_connector::{Marketplace, Throttle};

use crate::config::Config;
use crate::store::outbox::Lane;

/// What a lane waits for before a job leaves: every throttle in it.
#[derive(Debug, Default)]
pub(super) struct Pace {
    throttles: Vec<Throttle>,
}

impl Pace {
    /// Waits until one more job may leave, and takes its place.
    pub(super) async fn ready(&self, max_wait: Duration) {
        for throttle in &self.throttles {
            throttle.ready(max_wait).await;
        }
    }

    /// Takes the places of up to `more` jobs that may leave right now, without waiting;
    /// returns how many. A refusal by one throttle may cost the place another had just given:
    /// the lane then runs a little under its pace, never over it.
    pub(super) fn take_now(&self, more: usize) -> usize {
        (0..more)
            .take_while(|_| self.throttles.iter().all(Throttle::try_take))
            .count()
    }
}

/// Every lane with its pace. A channel's messages go at its marketplace's own pace, and
/// under `notify.limits.marketplace_per_minute` when the seller sets it (one budget shared
/// by every channel); on-call targets take what vigie raises, unpaced.
pub(super) fn lanes(
    config: &Config,
    marketplaces: &HashMap<String, Arc<dyn Marketplace>>,
) -> Vec<(Lane, Pace)> {
    let limits = config.notify.limits;
    let all_marketplaces = limits.marketplace_per_minute.map(Throttle::per_minute);
    let channels = marketplaces.iter().map(|(channel, marketplace)| {
        let throttles = all_marketplaces
            .iter()
            .cloned()
            .chain([marketplace.message_pace()])
            .collect();
        (Lane::Marketplace(channel.clone()), Pace { throttles })
    });
    let routes = [
        (Lane::Email, limits.email_per_minute),
        (Lane::Webhook, limits.webhook_per_minute),
        (Lane::Events, limits.webhook_per_minute),
    ]
    .map(|(lane, limit)| {
        let throttles = vec![Throttle::per_minute(limit)];
        (lane, Pace { throttles })
    });
    let on_call = (0..config.alerts.webhook.len()).map(|i| (Lane::Alerts(i), Pace::default()));
    channels.chain(routes).chain(on_call).collect()
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lane_takes_at_once_only_what_every_throttle_has_now() {
        let three = Throttle::per_minute(NonZeroU32::new(3).unwrap());
        let pace = Pace {
            throttles: vec![Throttle::unlimited(), three],
        };
        pace.ready(Duration::MAX).await;
        assert_eq!(pace.take_now(10), 2, "three a minute, one taken already");
        assert_eq!(pace.take_now(10), 0);
        assert_eq!(Pace::default().take_now(10), 10);
    }
}
