//! Pure logic, no I/O: the seller's rules and their reason codes, what a verdict means line
//! by line, acceptance deadlines, alerts and the conditions the pipeline raises them for.

pub mod alert_keys;
pub mod alerts;
pub mod cancellation;
pub mod deadlines;
pub mod decision;
pub mod destination;
pub mod rules;
#[cfg(test)]
pub(crate) mod test_orders;
