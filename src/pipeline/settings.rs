//! What one channel's batch is read and judged with: shared by ingest and the steps it calls
//! (cancellations, incidents), so none of them reaches back into another.

use super::decide::Policy;
use crate::config::{Config, Deadline};
use crate::skumap::SkuMap;

/// What a channel's batch is judged with.
pub struct Settings<'a> {
    pub channel: &'a str,
    pub config: &'a Config,
    pub policy: Policy<'a>,
    /// The channel's acceptance deadline, for orders whose marketplace announces none.
    pub deadline: Deadline,
    /// The channel's shipping deadline, for orders whose marketplace announces none.
    pub shipping_deadline: Option<Deadline>,
    /// The channel's SKUs -> the ledger's, applied to each order before it is stored.
    pub sku_map: &'a SkuMap,
    /// Judge and log, then roll the whole batch back: a later real run sees every order as
    /// new and misses no message, alert or decision.
    pub dry_run: bool,
}
