//! What happened to an order, as customer messages, alerts and the seller's webhooks tell it.

use serde::{Deserialize, Serialize};

use crate::OrderStatus;

/// One change in an order's life worth telling someone about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderEvent {
    /// First seen, awaiting the seller's decision.
    Received,
    /// Still undecided (or held for a human) after the configured delay.
    Delayed,
    Accepted,
    Shipped,
    Refused,
    Cancelled,
}

impl OrderEvent {
    pub const ALL: [OrderEvent; 6] = [
        Self::Received,
        Self::Delayed,
        Self::Accepted,
        Self::Shipped,
        Self::Refused,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Delayed => "delayed",
            Self::Accepted => "accepted",
            Self::Shipped => "shipped",
            Self::Refused => "refused",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }

    /// The event a marketplace status announces when an order reaches it.
    pub fn on_reaching(status: OrderStatus) -> Option<Self> {
        match status {
            OrderStatus::AwaitingAcceptance => Some(Self::Received),
            OrderStatus::Accepted => Some(Self::Accepted),
            OrderStatus::Shipped => Some(Self::Shipped),
            OrderStatus::Refused => Some(Self::Refused),
            OrderStatus::Cancelled => Some(Self::Cancelled),
            OrderStatus::Pending
            | OrderStatus::Received
            | OrderStatus::Closed
            | OrderStatus::Other => None,
        }
    }
}
