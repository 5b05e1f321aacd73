//! vigie: watches marketplace shops, decides orders by rules, keeps one stock across channels.
//! The binary (`main.rs` and `cli/`) parses the command line; everything else lives here.
#![forbid(unsafe_code)]

pub mod config;
pub mod csv_rows;
pub mod daemon;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod events;
pub mod inventory;
pub mod logging;
pub mod pipeline;
pub mod registry;
pub mod skumap;
pub mod store;
pub mod web;
