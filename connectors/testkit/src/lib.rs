//! Test doubles shared by vigie's end-to-end tests, `vigie demo` and `vigie bench`: both
//! sandbox marketplaces started together, seeded random orders, an SMTP sink, an on-call
//! webhook sink and a recording proxy. Everything listens on 127.0.0.1:0.
//!
//! The demo runs this code in the released binary, so nothing here panics on a failed bind
//! or a poisoned lock: starting returns `io::Result`, and tests unwrap it.

pub mod marketplaces;
pub mod orders;
pub mod recorder;
pub mod rng;
pub mod smtp;
pub mod stats;
pub mod webhook;

pub use marketplaces::Marketplaces;
pub use orders::{Marketplace, NewOrder, stock_csv};
pub use recorder::{Hit, Recorder};
pub use rng::Rng;
pub use smtp::{Received, SmtpSink};
pub use webhook::{AfterTaking, WebhookSink};

use std::sync::{Mutex, MutexGuard};

/// A lock that a panicking holder left poisoned is still sound here: each holder pushes or
/// reads whole values.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
