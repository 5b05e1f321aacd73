//! What happened to an order, as notifications, alerts and the seller's webhooks consume it.
//! The type itself is a normalized domain type shared with the connectors, which name the
//! events their messaging carries by default.

pub use vigie_connector::OrderEvent;
