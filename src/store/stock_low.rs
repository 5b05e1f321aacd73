//! Which SKUs are at or below their low-stock threshold and already told, so that on-call hears
//! of a SKU once when it crosses, not again while it stays low.

use rusqlite::{Connection, params};

use super::Result;

/// Records `sku` as low; whether it was not already (it crossed its threshold just now).
pub fn crossed(conn: &Connection, sku: &str, now: &str) -> Result<bool> {
    let inserted = conn.execute(
        "INSERT INTO stock_low (sku, since) VALUES (?1, ?2) ON CONFLICT (sku) DO NOTHING",
        params![sku, now],
    )?;
    Ok(inserted == 1)
}

/// `sku` is above its threshold again: the next fall is told.
pub fn recovered(conn: &Connection, sku: &str) -> Result<()> {
    // Cached: the watch calls this for every SKU above its threshold, each cycle.
    conn.prepare_cached("DELETE FROM stock_low WHERE sku = ?1")?
        .execute([sku])?;
    Ok(())
}
