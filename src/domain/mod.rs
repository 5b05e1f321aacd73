//! Pure logic, no I/O: the seller's rules (built-in, and their own over an order's facts)
//! and their reason codes, what a verdict means line by line, acceptance deadlines, alerts
//! and the conditions the pipeline raises them for.

pub mod alert_keys;
pub mod alerts;
pub mod cancellation;
pub mod custom_rules;
pub mod customer;
pub mod deadlines;
pub mod decision;
pub mod destination;
pub mod facts;
pub mod judgment;
pub mod replay;
pub mod rules;
#[cfg(test)]
pub(crate) mod test_orders;
