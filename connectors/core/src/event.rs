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
    /// Lines cancelled by the marketplace, the customer or the operator, with their reasons.
    Cancelled,
    /// Lines paid back to the customer. Customers hear of it only when configured.
    Refunded,
    /// The customer opened a claim: for the seller's own systems, never the customer.
    IncidentOpened,
}

impl OrderEvent {
    pub const ALL: [OrderEvent; 8] = [
        Self::Received,
        Self::Delayed,
        Self::Accepted,
        Self::Shipped,
        Self::Refused,
        Self::Cancelled,
        Self::Refunded,
        Self::IncidentOpened,
    ];

    /// What a customer can be told of: every event but the seller's own.
    pub const FOR_CUSTOMERS: [OrderEvent; 7] = [
        Self::Received,
        Self::Delayed,
        Self::Accepted,
        Self::Shipped,
        Self::Refused,
        Self::Cancelled,
        Self::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Delayed => "delayed",
            Self::Accepted => "accepted",
            Self::Shipped => "shipped",
            Self::Refused => "refused",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::IncidentOpened => "incident_opened",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }

    /// The event a marketplace status announces when an order reaches it. Cancelled and
    /// refunded lines tell their own events, line by line, whatever the order's status.
    pub fn on_reaching(status: OrderStatus) -> Option<Self> {
        match status {
            OrderStatus::AwaitingAcceptance => Some(Self::Received),
            OrderStatus::Accepted => Some(Self::Accepted),
            OrderStatus::Shipped => Some(Self::Shipped),
            OrderStatus::Refused => Some(Self::Refused),
            OrderStatus::Pending
            | OrderStatus::Received
            | OrderStatus::Closed
            | OrderStatus::Cancelled
            | OrderStatus::Refunded
            | OrderStatus::Incident
            | OrderStatus::Other => None,
        }
    }
}
