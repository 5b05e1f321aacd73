//! The database file itself. A new one is built aside and linked into place whole, so a
//! `vigie.db` that exists always holds a database; an existing one is checked before anything
//! is written to it, so an emptied or damaged file stops vigie instead of being taken for a
//! new database or written on.

use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a statement waits for another process's lock (the daemon and a command).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the seller can do about a file that is not a usable database.
const REMEDY: &str = "restore it from a backup or move it away to start afresh";

/// Creates the database at `path` if no file is there. Two processes starting at once both
/// build one; the first link wins and the other simply opens it.
pub(super) fn create_if_absent(path: &Path, dir: &Path) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    let aside = tempfile::Builder::new()
        .prefix(".vigie-new-")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a new database in {}: {e}", dir.display()))?;
    {
        let conn = Connection::open(aside.path()).map_err(|e| e.to_string())?;
        // Writes the header: from here on the file is a database in WAL mode.
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "user_version", 0))
            .map_err(|e| e.to_string())?;
    } // closing folds the WAL back in
    match std::fs::hard_link(aside.path(), path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot put the new database in place: {e}")),
    }
}

/// Opens the existing database at `path` without creating one, and checks it; nothing is
/// written before the check passed.
pub(super) fn open_checked(path: &Path) -> Result<Connection, String> {
    let empty = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .map_err(|e| e.to_string())?;
    if empty {
        return Err(format!(
            "is empty (0 bytes), not a vigie database; {REMEDY}"
        ));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| super::describe(&e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| super::describe(&e))?;
    let verdict: Vec<String> = conn
        .prepare("PRAGMA quick_check(3)")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .map_err(|e| super::describe(&e))?;
    if verdict != ["ok"] {
        // SQLite's report spans lines; the error is one.
        let report = verdict
            .join("\n")
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(format!("is damaged ({report}); {REMEDY}"));
    }
    Ok(conn)
}

/// A connection to the database at `path` that can only read: the daemon's second one, or a
/// read-only command's only one. In WAL mode it reads the last commit while a writer's
/// transaction is open.
pub(super) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}
