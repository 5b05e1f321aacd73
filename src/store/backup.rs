//! `vigie backup`: a consistent copy of the database, taken while the daemon goes on writing.
//!
//! SQLite's online backup copies every page inside one read transaction of the source, so the
//! copy is the database as of one commit; in WAL mode that read holds up no writer. The copy is
//! written beside the destination and renamed into place only once complete and checked, so a
//! failed backup never leaves a half file under the destination's name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};

use super::{Result, Store, StoreError, outbox};

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    /// Customer messages and seller webhooks not yet delivered when the copy was taken.
    pub undelivered: i64,
}

impl Store {
    /// Copies the database to `dest`; an existing `dest` is an error unless `replace`.
    pub fn backup_to(&self, dest: &Path, replace: bool) -> Result<Copied> {
        let failed = |message: String| StoreError::Open {
            path: dest.to_path_buf(),
            message,
        };
        if dest.exists() && !replace {
            return Err(failed(
                "already exists; give --force to replace it".to_owned(),
            ));
        }
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if self.is_live_file(&parent, dest) {
            return Err(failed(
                "is the live database (or its journal): give another file".to_owned(),
            ));
        }
        let partial = tempfile::Builder::new()
            .prefix(".vigie-backup-")
            .tempfile_in(&parent)
            .map_err(|e| failed(format!("cannot write in {}: {e}", parent.display())))?;
        let undelivered = {
            let mut copy = Connection::open(partial.path())?;
            copy_pages(
                &self.reader.lock().unwrap_or_else(|p| p.into_inner()),
                &mut copy,
            )?;
            let undelivered = outbox::hold_undelivered_for_restore(&copy)?;
            let check: String = copy.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(failed(format!("the copy does not check: {check}")));
            }
            // Back to a single file: a restore then copies one file, not three.
            copy.pragma_update(None, "journal_mode", "DELETE")?;
            undelivered
        };
        partial
            .as_file()
            .sync_all()
            .map_err(|e| failed(e.to_string()))?;
        let bytes = partial
            .as_file()
            .metadata()
            .map_err(|e| failed(e.to_string()))?
            .len();
        // Without --force, a file that appeared meanwhile is not overwritten either.
        let persisted = if replace {
            partial.persist(dest)
        } else {
            partial.persist_noclobber(dest)
        };
        persisted.map_err(|e| failed(e.error.to_string()))?;
        Ok(Copied { bytes, undelivered })
    }

    /// Whether `dest`, in directory `parent`, is the database file, its WAL or its index.
    fn is_live_file(&self, parent: &Path, dest: &Path) -> bool {
        let live_dir = self.path.parent().and_then(|d| d.canonicalize().ok());
        let live = self.path.file_name().and_then(|n| n.to_str());
        let name = dest.file_name().and_then(|n| n.to_str());
        let (Some(live), Some(name)) = (live, name) else {
            return false;
        };
        live_dir.is_some()
            && parent.canonicalize().ok() == live_dir
            && name
                .strip_prefix(live)
                .is_some_and(|rest| ["", "-wal", "-shm"].contains(&rest))
    }
}

/// Every page in one step, so the copy is one consistent state: stepping a few pages at a
/// time would restart from scratch each time the daemon commits.
fn copy_pages(source: &Connection, copy: &mut Connection) -> Result<()> {
    let backup = Backup::new(source, copy)?;
    let mut waits = 0;
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            // Busy or locked: a writer is switching the journal or checkpointing; it is over
            // in a moment.
            _ if waits < 200 => {
                waits += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {
                return Err(StoreError::Data(
                    "the database stayed locked for 10 s; try again".to_owned(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::domain::test_orders;
    use crate::events::OrderEvent;
    use crate::store::outbox::Destination;
    use crate::store::stock::{self, StockItem};
    use crate::store::{DATABASE_FILE, now_text, orders};

    fn states(conn: &Connection) -> Vec<(Option<i64>, String)> {
        let mut stmt = conn
            .prepare("SELECT order_pk, state FROM outbox ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_copy_taken_while_a_writer_commits_is_one_committed_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writing = AtomicBool::new(true);
        let dest = dir.path().join("copy.db");
        let copied = std::thread::scope(|scope| {
            // A writer commits batches of 100 SKUs for as long as the backup runs.
            scope.spawn(|| {
                let mut batch = 0;
                while writing.load(Ordering::Relaxed) || batch < 3 {
                    store
                        .with(|c| {
                            let tx = c.transaction()?;
                            for i in 0..100 {
                                let item = StockItem {
                                    sku: format!("S{batch}-{i}"),
                                    quantity: 1,
                                    tags: vec![],
                                };
                                stock::set(&tx, &item, &now_text())?;
                            }
                            tx.commit()?;
                            Ok(())
                        })
                        .unwrap();
                    batch += 1;
                }
            });
            let copied = store.backup_to(&dest, false);
            writing.store(false, Ordering::Relaxed);
            copied
        })
        .unwrap();
        assert_eq!(copied.bytes, std::fs::metadata(&dest).unwrap().len());
        let copy = Connection::open(&dest).unwrap();
        let skus: i64 = copy
            .query_row("SELECT COUNT(*) FROM stock", [], |r| r.get(0))
            .unwrap();
        assert_eq!(skus % 100, 0, "a batch half copied: {skus}");
        let mode: String = copy
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete", "one file to restore");
    }

    #[test]
    fn an_existing_file_is_replaced_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let dest = dir.path().join("copy.db");
        std::fs::write(&dest, "keep me").unwrap();
        let refused = store.backup_to(&dest, false).unwrap_err().to_string();
        assert!(
            refused.contains("already exists; give --force"),
            "{refused}"
        );
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "keep me");
        store.backup_to(&dest, true).unwrap();
        assert!(Connection::open(&dest).is_ok());
        for live in ["vigie.db", "vigie.db-wal"] {
            let refused = store.backup_to(&dir.path().join(live), true).unwrap_err();
            assert!(
                refused.to_string().contains("is the live database"),
                "{refused}"
            );
        }
    }

    #[test]
    fn restored_messages_not_yet_delivered_become_uncertain_never_sent_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = now_text();
        store
            .with(|c| {
                let tx = c.transaction()?;
                let order = test_orders::order(&[("A", 1)], 10, None);
                let (pk, _) = orders::ingest(&tx, "lm", &order, Default::default(), &now)?;
                for event in [OrderEvent::Received, OrderEvent::Accepted] {
                    outbox::insert_order_job(
                        &tx,
                        pk,
                        (event, &outbox::Subject::Order),
                        &Destination::Email,
                        "{}",
                        &now,
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .unwrap();

        let restored = tempfile::tempdir().unwrap();
        let copied = store
            .backup_to(&restored.path().join(DATABASE_FILE), false)
            .unwrap();
        assert_eq!(copied.undelivered, 2);

        let restored = Store::open(restored.path()).unwrap();
        let interrupted = restored
            .with(|c| {
                let tx = c.transaction()?;
                let jobs = outbox::mark_interrupted(&tx)?;
                tx.commit()?;
                Ok(jobs.len())
            })
            .unwrap();
        assert_eq!(interrupted, 2);
        let after = restored.with(|c| Ok(states(c))).unwrap();
        assert_eq!(
            after,
            [
                (Some(1), "uncertain".to_owned()),
                (Some(1), "uncertain".to_owned())
            ]
        );
        // the live database is untouched
        let live = store.with(|c| Ok(states(c))).unwrap();
        assert!(live.iter().all(|(_, state)| state == "pending"), "{live:?}");
    }
}
