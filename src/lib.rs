//! vigie: watches marketplace shops, decides orders by rules, keeps one stock across channels.
//! The binary (`main.rs` and `cli/`) parses the command line; everything else lives here.
#![forbid(unsafe_code)]

pub mod alert;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod demo;
pub mod engine;
pub mod events;
pub mod inventory;
pub mod logging;
pub mod notify;
pub mod registry;
pub mod store;
