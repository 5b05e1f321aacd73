//! What every vigie connector shares: the [`Marketplace`] trait the engine talks to, the
//! normalized order and stock types it speaks, the error classes that drive retries, the
//! HTTP client (rate limit, retries) each connector sends its requests through, and the
//! [`spec`] traits through which a connector reads its own `[[channel]]` settings.
//!
//! Connectors know nothing of the engine or the store; this crate is the wall between them.
#![forbid(unsafe_code)]

mod duration;
mod error;
mod event;
mod http;
mod marketplace;
mod order;
mod parcel;
pub mod spec;
mod stock;
#[cfg(feature = "test-support")]
pub mod testing;
mod throttle;
mod wait;

pub use duration::{Deadline, HumanDuration};
pub use error::ConnectorError;
pub use event::OrderEvent;
pub use http::{
    BodyError, BodyLimit, ChannelClient, HttpSettings, Repeat, Reply, read_capped, snippet,
};
pub use marketplace::{
    Capabilities, CustomerMessage, LineDecision, Malformed, Marketplace, OrderBatch, OrderDecision,
    ParcelTerms, ShopState, one_by_one,
};
pub use order::{
    Address, Cancellation, CancellationKind, Country, Customer, DestinationHints, Incident,
    MarketplaceState, Money, Order, OrderLine, OrderStatus, Shipment,
};
pub use parcel::{CancelLine, Carrier, Parcel, ParcelCarrier, ParcelLine, SellerCancel};
pub use stock::{PushStatus, PushTicket, SkuRejection, StockLevel, StockUpdate};
pub use throttle::{Quota, Throttle};
pub use wait::{WaitObserver, observe_waits, stop_at_waits};

/// Re-exported so connectors and the engine agree on one decimal and one time type.
pub use jiff::Timestamp;
pub use rust_decimal::Decimal;
