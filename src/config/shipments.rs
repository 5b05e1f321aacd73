//! `[shipments]`: the file the seller's systems drop parcels into.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentsConfig {
    /// The watched CSV drop (header `channel,order_id,carrier,tracking_number[,tracking_url,
    /// line_id,quantity]`); none by default.
    pub path: Option<PathBuf>,
}
