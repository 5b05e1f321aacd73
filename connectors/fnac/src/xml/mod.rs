//! Fnac's XML dialect: writing requests, reading responses, and the wire shapes of orders.

pub mod order;
pub mod read;
pub mod write;

pub use read::{Child, Envelope, WireError};
pub use write::Element;
