//! The conditions the pipeline raises alerts for, as dedup keys: one open alert per key, and
//! resolving a key lets its condition alert again later.

/// Fractions of the acceptance window at which on-call hears of an undecided order, with the
/// percent each key names.
pub const DEADLINE_STEPS: [(f64, u32); 2] = [(0.5, 50), (0.8, 80)];

pub fn order_flagged(channel: &str, order_id: &str) -> String {
    format!("order_flagged:{channel}:{order_id}")
}

pub fn decision_rejected(channel: &str, order_id: &str) -> String {
    format!("decision_rejected:{channel}:{order_id}")
}

pub fn deadline_at_risk(percent: u32, channel: &str, order_id: &str) -> String {
    format!("deadline_at_risk:{percent}:{channel}:{order_id}")
}

pub fn deadline_missed(channel: &str, order_id: &str) -> String {
    format!("deadline_missed:{channel}:{order_id}")
}

pub fn incident_opened(channel: &str, order_id: &str) -> String {
    format!("incident_opened:{channel}:{order_id}")
}

pub fn order_refused_no_stock(channel: &str, order_id: &str) -> String {
    format!("order_refused_no_stock:{channel}:{order_id}")
}

/// One per seller's rule as written: fixing the rule lets it alert again.
pub fn rule_error(code: &str, when: &str) -> String {
    format!("rule_error:{code}:{when}")
}

/// One per SKU and channel, however many orders name it: the fix (the inventory, or that
/// channel's `sku_map`) is the same for all of them.
pub fn unknown_sku(channel: &str, sku: &str) -> String {
    format!("unknown_sku:{channel}:{sku}")
}

/// The SKU an [`unknown_sku`] key of `channel` names.
pub fn sku_of_unknown<'a>(key: &'a str, channel: &str) -> Option<&'a str> {
    key.strip_prefix("unknown_sku:")?
        .strip_prefix(channel)?
        .strip_prefix(':')
}

/// The channel's map file is named in the message; the key stays the same across versions,
/// so a second bad version does not alert again before a good one resolves it.
pub fn sku_map_invalid(channel: &str) -> String {
    format!("sku_map_invalid:{channel}")
}

/// `quarantine_id` makes each unreadable payload its own occurrence.
pub fn payload_quarantined(channel: &str, order: &str, quarantine_id: i64) -> String {
    format!("payload_quarantined:{channel}:{order}:{quarantine_id}")
}

/// One digest per cycle that saw SKUs cross their threshold.
pub fn stock_low(now: &str) -> String {
    format!("stock_low:{now}")
}

pub fn channel_auth_failed(channel: &str) -> String {
    format!("channel_auth_failed:{channel}")
}

pub fn shop_suspended(channel: &str) -> String {
    format!("shop_suspended:{channel}")
}

/// One for the whole daemon: every channel shares the state directory.
pub const STATE_DIR_FULL: &str = "state_dir_full";

pub fn channel_unreachable(channel: &str) -> String {
    format!("channel_unreachable:{channel}")
}

pub fn channel_rate_limited(channel: &str) -> String {
    format!("channel_rate_limited:{channel}")
}

/// The keys an order stops deserving once it is decided or leaves the acceptance queue.
pub fn of_settled_order(channel: &str, order_id: &str) -> Vec<String> {
    let mut keys = vec![
        order_flagged(channel, order_id),
        decision_rejected(channel, order_id),
        deadline_missed(channel, order_id),
    ];
    keys.extend(
        DEADLINE_STEPS
            .iter()
            .map(|(_, percent)| deadline_at_risk(*percent, channel, order_id)),
    );
    keys
}

/// One per parcel: the tracking number tells it from the order's other parcels.
pub fn shipment_rejected(channel: &str, order_id: &str, tracking_number: &str) -> String {
    format!("shipment_rejected:{channel}:{order_id}:{tracking_number}")
}

/// Fractions of the shipping window at which on-call hears of units still to ship: those of
/// the acceptance window, then the deadline itself.
pub const SHIPPING_STEPS: [(f64, u32); 3] = [DEADLINE_STEPS[0], DEADLINE_STEPS[1], (1.0, 100)];

/// Like [`deadline_at_risk`], for the shipping window.
pub fn shipment_late(percent: u32, channel: &str, order_id: &str) -> String {
    format!("shipment_late:{percent}:{channel}:{order_id}")
}

/// One per version of the file (its content digest), so a fixed and re-broken file alerts again.
pub fn shipments_file_invalid(digest: &str) -> String {
    format!("shipments_file_invalid:{digest}")
}

/// One per cancellation recorded (`cancel_id`).
pub fn seller_cancel_rejected(channel: &str, order_id: &str, cancel_id: i64) -> String {
    format!("seller_cancel_rejected:{channel}:{order_id}:{cancel_id}")
}
