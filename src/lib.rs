//! vigie: watches marketplace shops, decides orders by rules, keeps one stock across channels.
//! The binary (`main.rs`) parses the command line; everything else lives here.
#![forbid(unsafe_code)]

pub mod channels;
pub mod commands;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod events;
pub mod heartbeat;
pub mod http;
pub mod inventory;
pub mod logging;
pub mod store;
pub mod systemd;
