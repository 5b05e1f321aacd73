//! What makes an order safe to accept: the rules, the stock ledger, the deadlines.

pub mod rules;
