//! How jobs leave: shared by customer messages, seller webhooks and on-call notices.

pub mod marketplace;
pub mod smtp;
pub mod webhook;
