//! One durable queue for everything vigie tells the outside world: customer messages, the
//! seller's order webhooks and on-call alert notices, each a job of the store's outbox.
//!
//! - The pipeline calls [`enqueue`] in the transaction that records a status change: one job
//!   per destination, holding the *facts* of that moment. The message is rendered from them
//!   when it is sent, so a template fixed while messages wait applies to them, while the data
//!   stays what was true at the event.
//! - The pipeline raises and resolves alerts in its own transactions (`store::alerts`); the
//!   [`Worker`] turns each notice owed into one job per `[[alerts.webhook]]`, and reminds open
//!   conditions every `alerts.renotify_after`.
//! - Every job then follows the same rules: claimed 'sending' before the send; 'uncertain' with
//!   an alert, never re-sent, when it may have arrived (a crash cut the send, or the answer
//!   does not say: see [`outcome`]); retried with growing delays only when nothing was taken;
//!   one lane per destination (per channel for marketplace messages), each claiming only
//!   what its pace lets leave now. Transports (SMTP, signed webhooks, marketplace messaging) are shared.

mod enqueue;
mod notices;
pub mod outcome;
mod pace;
pub mod probe;
pub mod render;
mod retry;
mod send;
mod settle;
pub mod transport;
mod worker;

pub use enqueue::{enqueue, enqueue_about};
pub use outcome::SendError;
pub use render::{
    Facts, Rendered, TemplateError, Templates, check, context, preview, sample_facts,
};
pub use worker::{Clock, Worker};
