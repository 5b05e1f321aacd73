//! What makes an order safe to accept: the rules, the stock ledger, the deadlines.

pub mod act;
pub mod decide;
pub mod ingest;
pub mod push;
pub mod review;
pub mod rules;
pub mod sla;
pub mod watch;

use vigie_connector::ConnectorError;

use crate::store::StoreError;

/// A step of a channel's cycle failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Marketplace(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// Short label for metrics and `vigie status`.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Marketplace(e) => e.class(),
            Self::Store(_) => "store",
        }
    }
}
