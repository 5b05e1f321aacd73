//! What the seller does after acceptance, as a marketplace is told of it: a parcel sent with
//! its tracking, the carriers a marketplace knows, and the seller cancelling lines.

use serde::{Deserialize, Serialize};

/// One parcel of an order: the carrier, its tracking and the units inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parcel {
    pub order_id: String,
    pub carrier: ParcelCarrier,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    pub lines: Vec<ParcelLine>,
    /// This parcel carries the order's last units still to ship: the marketplace may close
    /// the order's shipment (Mirakl OR24).
    pub completes_order: bool,
}

/// Units of one order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelLine {
    pub line_id: String,
    pub quantity: u32,
}

/// The carrier as the marketplace knows it: by its own code, or only by name when the
/// marketplace does not list it (Mirakl then takes `carrier_name` + `carrier_url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelCarrier {
    /// The seller's name for the carrier (`Colissimo`).
    pub name: String,
    /// The marketplace's code (`SOCOLISSIMO`), when it lists this carrier.
    pub code: Option<String>,
}

/// A carrier the marketplace lists (Mirakl SH21, Fnac `carriers_query`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    pub code: String,
    pub name: String,
}

/// The seller cancels units of an accepted order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerCancel {
    pub order_id: String,
    /// The marketplace's reason code (Mirakl RE01 `CANCELATION`, Fnac `refund_reason`).
    pub reason: String,
    pub lines: Vec<CancelLine>,
    /// Every unit of the order is cancelled (Mirakl OR29 then, rather than OR30).
    pub whole_order: bool,
}

/// Units of one line to cancel, and what they cost the customer (Mirakl refunds it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelLine {
    pub line_id: String,
    pub quantity: u32,
    pub amount: crate::Money,
}
