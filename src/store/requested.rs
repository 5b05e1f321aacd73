//! What parcels and the seller's cancellations share: units of a line, stored as JSON, and
//! where the request stands with the marketplace.

use serde::{Deserialize, Serialize};

use super::state::StoredState;
use super::{Result, StoreError};

/// Where a parcel (or a seller's cancellation) stands with the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// Committed; the daemon tells the marketplace at its next cycle.
    Pending,
    Confirmed,
    /// The marketplace refused it for good; a `shipment_rejected` alert says why.
    Rejected,
}

impl StoredState for Confirmation {
    const ALL: &'static [Self] = &[Self::Pending, Self::Confirmed, Self::Rejected];
    const WHAT: &'static str = "confirmation state";

    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
        }
    }
}

/// Units of one line, as a parcel or a cancellation stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Units {
    pub line_id: String,
    pub quantity: u32,
}

pub(super) fn to_json(units: &[Units]) -> Result<String> {
    serde_json::to_string(units).map_err(|e| StoreError::Data(e.to_string()))
}

pub(super) fn from_json(text: &str, row: &str) -> Result<Vec<Units>> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Data(format!("{row}: stored lines {text:?}: {e}")))
}
