//! The inventory CSV followed by [`super::file`]: each settled version is a snapshot of the
//! ledger, applied whole or not at all.

use tokio::sync::watch;

use super::file::{Outcome, Rejected, Target};
use crate::store::Store;

/// The inventory: each version is a snapshot of the ledger; `changed` is bumped after each.
pub struct Snapshot {
    store: Store,
    changed: Option<watch::Sender<u64>>,
}

impl Snapshot {
    pub fn new(store: Store, changed: Option<watch::Sender<u64>>) -> Self {
        Self { store, changed }
    }
}

impl Target for Snapshot {
    fn what(&self) -> &'static str {
        "inventory file"
    }

    async fn apply(&mut self, text: String) -> Result<usize, Rejected> {
        let applied = self
            .store
            .call(move |conn| super::replace_with_csv(conn, &text))
            .await
            .map_err(|e| Rejected::Retry(e.to_string()))?;
        applied.map_err(|e| Rejected::Content(e.to_string()))
    }

    async fn settled(&mut self, outcome: &Outcome) {
        if let (Outcome::Applied(_), Some(changed)) = (outcome, &self.changed) {
            changed.send_modify(|n| *n += 1);
        }
    }
}
