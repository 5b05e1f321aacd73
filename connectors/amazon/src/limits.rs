//! Amazon's usage plans, per operation, as its models publish them (token buckets: a rate
//! per second and a burst), and the throttles that keep vigie inside them.

use std::num::NonZeroU32;
use std::time::Duration;

use vigie_connector::{Quota, Throttle};

/// One operation's usage plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    const fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }

    fn throttle(self, scale: f64) -> Throttle {
        let per_second = self.per_second * scale;
        // Checked in settings: scale is positive and finite, so the period is too.
        let period = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_micros(1));
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        match Quota::with_period(period) {
            Some(quota) => Throttle::new(quota.allow_burst(burst)),
            None => Throttle::unlimited(),
        }
    }
}

/// The usage plans vigie's calls are paced by, and a factor applied to every rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Multiplies every rate: Amazon raises some sellers' plans; sandboxes go faster.
    pub scale: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { scale: 1.0 }
    }
}

/// The operations vigie calls, with their default plans [orders_2026-01-01.json,
/// listingsItems_2021-08-01.json, feeds_2021-06-30.json, messaging.json].
pub const SEARCH_ORDERS: Rate = Rate::new(0.0056, 20);
pub const GET_ORDER: Rate = Rate::new(0.5, 30);
/// [ordersV0.json]
pub const CONFIRM_SHIPMENT: Rate = Rate::new(2.0, 10);
pub const PATCH_LISTINGS_ITEM: Rate = Rate::new(5.0, 5);
pub const SEARCH_LISTINGS_ITEMS: Rate = Rate::new(5.0, 5);
pub const CREATE_FEED_DOCUMENT: Rate = Rate::new(0.5, 15);
pub const CREATE_FEED: Rate = Rate::new(0.0083, 15);
pub const GET_FEED: Rate = Rate::new(2.0, 15);
pub const GET_FEED_DOCUMENT: Rate = Rate::new(0.0222, 10);
pub const MESSAGING: Rate = Rate::new(1.0, 5);

/// One throttle per operation; clones share nothing, so each channel has its own.
#[derive(Debug)]
pub struct Throttles {
    pub search_orders: Throttle,
    pub get_order: Throttle,
    pub confirm_shipment: Throttle,
    pub patch_listings_item: Throttle,
    pub search_listings_items: Throttle,
    pub create_feed_document: Throttle,
    pub create_feed: Throttle,
    pub get_feed: Throttle,
    pub get_feed_document: Throttle,
    pub messaging: Throttle,
}

impl Throttles {
    pub fn new(limits: &Limits) -> Self {
        let s = limits.scale;
        Self {
            search_orders: SEARCH_ORDERS.throttle(s),
            get_order: GET_ORDER.throttle(s),
            confirm_shipment: CONFIRM_SHIPMENT.throttle(s),
            patch_listings_item: PATCH_LISTINGS_ITEM.throttle(s),
            search_listings_items: SEARCH_LISTINGS_ITEMS.throttle(s),
            create_feed_document: CREATE_FEED_DOCUMENT.throttle(s),
            create_feed: CREATE_FEED.throttle(s),
            get_feed: GET_FEED.throttle(s),
            get_feed_document: GET_FEED_DOCUMENT.throttle(s),
            messaging: MESSAGING.throttle(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn search_orders_bursts_twenty_then_one_every_three_minutes() {
        let throttles = Throttles::new(&Limits::default());
        let start = tokio::time::Instant::now();
        for _ in 0..20 {
            throttles.search_orders.ready(Duration::MAX).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        throttles.search_orders.ready(Duration::MAX).await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(178), "{waited:?}");
    }
}
