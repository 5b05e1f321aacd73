//! States stored as words (`held`, `confirmed`, `awaiting_acceptance`...): an enum in Rust,
//! today's text in SQLite, so a typo is a compile error. A stray word, time or list read back
//! is an error naming its row, never a silent default.

use std::fmt::Display;

use vigie_connector::{CancellationKind, OrderStatus};

use crate::domain::cancellation::CancelledBy;

use super::{Result, StoreError};

/// A closed set of words one column holds. Bind a value with [`as_str`](Self::as_str); read
/// one back with [`read`](Self::read).
pub trait StoredState: Copy + PartialEq + 'static {
    /// Every value, in the order the schema lists them.
    const ALL: &'static [Self];
    /// What the column holds, for error messages (`reservation state`).
    const WHAT: &'static str;

    fn as_str(self) -> &'static str;

    /// The value `text` names; `row` says which row it came from when it names none.
    fn read(text: &str, row: impl Display) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == text)
            .ok_or_else(|| StoreError::Data(format!("{row}: unknown {} {text:?}", Self::WHAT)))
    }
}

/// The normalized status of orders and their lines.
impl StoredState for OrderStatus {
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::AwaitingAcceptance,
        Self::Accepted,
        Self::Shipped,
        Self::Received,
        Self::Closed,
        Self::Refused,
        Self::Cancelled,
        Self::Refunded,
        Self::Incident,
        Self::Other,
    ];
    const WHAT: &'static str = "order status";

    fn as_str(self) -> &'static str {
        OrderStatus::as_str(self)
    }
}

impl StoredState for CancellationKind {
    const ALL: &'static [Self] = &[Self::Cancelled, Self::Refunded];
    const WHAT: &'static str = "cancellation kind";

    fn as_str(self) -> &'static str {
        CancellationKind::as_str(self)
    }
}

impl StoredState for CancelledBy {
    const ALL: &'static [Self] = &CancelledBy::ALL;
    const WHAT: &'static str = "cancellation author";

    fn as_str(self) -> &'static str {
        CancelledBy::as_str(self)
    }
}

/// Reads a stored time (RFC 3339 UTC text); `row` says which row it came from when it is not one.
pub fn read_time(text: &str, row: impl Display) -> Result<jiff::Timestamp> {
    text.parse()
        .map_err(|e| StoreError::Data(format!("{row}: stored time {text:?}: {e}")))
}

/// Reads a stored JSON list of words (rule reasons, SKU tags); `row` says which row it came
/// from when it is not one.
pub fn read_list(text: &str, row: impl Display) -> Result<Vec<String>> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Data(format!("{row}: stored list {text:?}: {e}")))
}
