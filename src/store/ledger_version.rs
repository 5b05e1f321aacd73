//! A number that moves whenever something a stock push computes from changes (units on hand,
//! buffers, reservations, what each channel was told). The database's own triggers raise it
//! (see the migration `V13_LEDGER_VERSION`), in the same transaction as the change, so no
//! writer, in the daemon or in a command, can forget it.

use rusqlite::Connection;

use super::Result;

/// The ledger's version now; equal to a version read before, nothing a push reads moved in
/// between.
pub fn current(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT version FROM ledger_version")?
        .query_row([], |r| r.get(0))?)
}
