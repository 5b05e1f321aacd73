//! vigie: watches marketplace shops, decides orders by rules, keeps one stock across channels.
#![forbid(unsafe_code)]

pub mod config;
pub mod store;
