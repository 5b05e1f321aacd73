//! Stock as marketplaces see it: quantities per seller SKU, pushed in asynchronous batches.

use serde::{Deserialize, Serialize};

/// The quantity a channel should offer for one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockUpdate {
    pub sku: String,
    pub quantity: u32,
}

/// The quantity a channel currently offers, as read back for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub sku: String,
    pub quantity: u32,
}

/// The marketplace's handle on a submitted stock batch (Mirakl import id, Fnac batch id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PushTicket(pub String);

/// Where a submitted stock batch stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushStatus {
    /// Queued or running on the marketplace's side: ask again later.
    Pending,
    /// Processed; the SKUs listed were rejected, every other one was applied.
    Completed { rejected: Vec<SkuRejection> },
    /// The whole batch failed; nothing was applied.
    Failed { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuRejection {
    pub sku: String,
    pub message: String,
}
