//! vigie's connector for Mirakl-based marketplaces (Leroy Merlin, Decathlon, Conforama...):
//! the MMP seller API (A01, OR11, OR21, OR23, OR24, OR29, OR30, SH21, STO01-03, OF21, OR43, M12) behind the [`Marketplace`] trait,
//! and, with the `sandbox` feature, a stateful Mirakl server for tests, the demo and benchmarks.
//!
//! [`Marketplace`]: vigie_connector::Marketplace
#![forbid(unsafe_code)]

mod cancel;
mod client;
mod decide;
mod errors;
mod lenient;
mod messages;
mod mirakl;
mod orders;
mod pages;
mod poll;
mod settings;
mod ship;
mod stock;
mod window;

#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use mirakl::Mirakl;
pub use settings::{
    MessageTopic, MiraklChannel, MiraklLimits, MiraklSettings, PartialAcceptanceFallback,
};

/// Wire-level helpers, public so the sandbox and the contract tests share one reading of them.
pub mod wire {
    pub use crate::cancel::{CancelBody, CancelationBody, cancel_body};
    pub use crate::decide::{AcceptBody, LineBody, accept_body};
    pub use crate::errors::{ErrorBody, ORDER_INVALID_STATE, ORDER_PARTIAL_ACCEPTANCE_DISABLED};
    pub use crate::lenient::{parse_date, parse_decimal};
    pub use crate::messages::{message_input, thread_input};
    pub use crate::orders::{parse_order, status_of};
    pub use crate::ship::{TrackingBody, tracking_body};
    pub use crate::stock::{parse_error_report, split_record, stock_csv};
}
