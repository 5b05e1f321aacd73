//! vigie's connector for Amazon (Selling Partner API, seller side, EU endpoint, orders the
//! merchant fulfils): LWA login, Orders v2026-01-01 reads, cancellations through the order
//! acknowledgement feed, stock through Listings Items and `JSON_LISTINGS_FEED`, and Amazon's
//! templated buyer messages, behind the [`Marketplace`] trait; with the `sandbox` feature, a
//! stateful SP-API server for tests, the demo and benchmarks.
//!
//! Amazon has no acceptance step: an order holds the seller's units from `PENDING` on. The
//! connector shows such orders as awaiting acceptance so the engine reserves and judges them
//! the moment it sees them; accepting then needs no call, refusing cancels the order.
//!
//! [`Marketplace`]: vigie_connector::Marketplace
#![forbid(unsafe_code)]

mod amazon;
mod auth;
mod client;
mod decide;
mod feeds;
mod limits;
mod messages;
mod orders;
mod settings;
mod ship;
mod stock;

#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use amazon::{Amazon, VISIBILITY_LAG};
pub use limits::Limits;
pub use settings::{AmazonChannel, AmazonSettings, FRANCE};

/// Wire-level shapes, public so the sandbox and the contract tests share one reading of them.
pub mod wire {
    pub use crate::decide::{CANCEL_FEED, acknowledgement_xml};
    pub use crate::feeds::LISTINGS_FEED;
    pub use crate::orders::{INCLUDED_DATA, WireOrder, parse_order, status_of};
    pub use crate::ship::{OTHER_CARRIER, confirmation};
    pub use crate::stock::{availability_patch, listings_feed};
}
