//! Amazon's usage plans, per operation, as its models publish them (token buckets: a rate
//! per second and a burst), and the throttles that keep vigie inside them.

use std::num::NonZeroU32;
use std::sync::Mutex;
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

/// One operation's throttle, made again at the rate Amazon says it grants this seller
/// (`x-amzn-RateLimit-Limit`), which may differ from the published plan either way.
#[derive(Debug)]
pub struct Budget {
    burst: u32,
    /// The rate the throttle paces at, and the throttle.
    current: Mutex<(f64, Throttle)>,
}

impl Budget {
    fn new(rate: Rate, scale: f64) -> Self {
        Self {
            burst: rate.burst,
            current: Mutex::new((rate.per_second * scale, rate.throttle(scale))),
        }
    }

    /// The throttle to wait on now (clones share its budget).
    pub fn throttle(&self) -> Throttle {
        self.lock().1.clone()
    }

    /// Amazon named the operation's rate: pace at it from now on. A value that is no
    /// positive finite rate is ignored.
    pub fn heard(&self, per_second: f64) {
        if !(per_second.is_finite() && per_second > 0.0) {
            return;
        }
        let mut current = self.lock();
        if (current.0 - per_second).abs() <= current.0 * 1e-6 {
            return;
        }
        tracing::info!(
            from = current.0,
            to = per_second,
            "Amazon grants another rate: pacing at it"
        );
        let rate = Rate {
            per_second,
            burst: self.burst,
        };
        *current = (per_second, rate.throttle(1.0));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (f64, Throttle)> {
        // A panic while holding it leaves a valid pair behind: carry on with it.
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
/// A customer message is two messaging calls (the actions the order allows, then the
/// message): half the plan.
pub const MESSAGE: Rate = Rate::new(MESSAGING.per_second / 2.0, MESSAGING.burst / 2);

/// One budget per operation; each channel has its own.
#[derive(Debug)]
pub struct Throttles {
    pub search_orders: Budget,
    pub get_order: Budget,
    pub confirm_shipment: Budget,
    pub patch_listings_item: Budget,
    pub search_listings_items: Budget,
    pub create_feed_document: Budget,
    pub create_feed: Budget,
    pub get_feed: Budget,
    pub get_feed_document: Budget,
    pub messaging: Budget,
    /// The pace of whole messages, which the caller waits for before it sends one.
    pub messages: Throttle,
}

impl Throttles {
    pub fn new(limits: &Limits) -> Self {
        let s = limits.scale;
        Self {
            search_orders: Budget::new(SEARCH_ORDERS, s),
            get_order: Budget::new(GET_ORDER, s),
            confirm_shipment: Budget::new(CONFIRM_SHIPMENT, s),
            patch_listings_item: Budget::new(PATCH_LISTINGS_ITEM, s),
            search_listings_items: Budget::new(SEARCH_LISTINGS_ITEMS, s),
            create_feed_document: Budget::new(CREATE_FEED_DOCUMENT, s),
            create_feed: Budget::new(CREATE_FEED, s),
            get_feed: Budget::new(GET_FEED, s),
            get_feed_document: Budget::new(GET_FEED_DOCUMENT, s),
            messaging: Budget::new(MESSAGING, s),
            messages: MESSAGE.throttle(s),
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
        let search = throttles.search_orders.throttle();
        for _ in 0..20 {
            search.ready(Duration::MAX).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        search.ready(Duration::MAX).await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(178), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_takes_two_messaging_calls_so_messages_go_at_half_the_plan() {
        let messages = Throttles::new(&Limits::default()).messages;
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            messages.ready(Duration::MAX).await;
        }
        // A burst of two, then one every two seconds.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_amazon_names_replaces_the_published_one() {
        let throttles = Throttles::new(&Limits::default());
        throttles.search_orders.heard(1.0);
        throttles.search_orders.heard(f64::NAN);
        let search = throttles.search_orders.throttle();
        let start = tokio::time::Instant::now();
        for _ in 0..21 {
            search.ready(Duration::MAX).await;
        }
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(2),
            "one a second after the burst of 20: {waited:?}"
        );
    }
}
