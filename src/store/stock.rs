//! Units on hand per SKU, as the last inventory snapshot stated them, and what can still be
//! promised: available = on hand − units reserved (held or confirmed) − safety buffers.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::reservations::{self, LineUnits, ReservationState};
use super::state::read_list;
use super::{Result, StoreError};

/// One SKU as an inventory snapshot states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockItem {
    pub sku: String,
    pub quantity: u32,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Replaces the whole inventory with `items`, in one transaction, each written as it comes
/// (a big snapshot is never held as a list of items): SKUs absent from the snapshot have none
/// left. Returns the number of SKUs, or the first item's error with nothing changed.
///
/// Each SKU's units are written once: zeroing the whole stock first would change every
/// quantity twice, and each change moves the ledger's version (see `ledger_version`).
pub fn replace_all<E>(
    conn: &mut Connection,
    items: impl IntoIterator<Item = std::result::Result<StockItem, E>>,
    now: &str,
) -> Result<std::result::Result<usize, E>> {
    let tx = conn.transaction()?;
    let mut count = 0;
    for item in items {
        match item {
            Ok(item) => set(&tx, &item, now)?,
            // Dropping the transaction rolls back what was written.
            Err(e) => return Ok(Err(e)),
        }
        count += 1;
    }
    // Every SKU the snapshot lists was stamped `now` above.
    tx.execute(
        "UPDATE stock SET on_hand = 0, updated_at = ?1 WHERE updated_at != ?1 AND on_hand != 0",
        params![now],
    )?;
    tx.commit()?;
    Ok(Ok(count))
}

/// Sets one SKU's units on hand and tags.
pub fn set(conn: &Connection, item: &StockItem, now: &str) -> Result<()> {
    let tags = serde_json::to_string(&item.tags).map_err(|e| StoreError::Data(e.to_string()))?;
    // Cached: a snapshot sets a million SKUs with this one statement.
    conn.prepare_cached(
        "INSERT INTO stock (sku, on_hand, tags, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand, tags = excluded.tags,
            updated_at = excluded.updated_at",
    )?
    .execute(params![item.sku, item.quantity, tags, now])?;
    Ok(())
}

/// Whether any inventory was ever loaded; without one vigie decides nothing.
pub fn has_inventory(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM stock)", [], |r| r.get(0))?)
}

/// available = on hand − live reservations − the global and per-SKU buffers: the one
/// formula for deciding orders and for what channels are offered. `?1` is the global
/// buffer, `?2` and `?3` the live reservation states; `sku_filter` is a condition on `SKU`
/// that both the ledger and the reservations are read with. Columns: sku, available, on
/// hand, reserved.
///
/// The reservations are summed per SKU first, then joined: for a whole catalogue one pass
/// over the few live reservations, rather than an index probe per SKU.
fn available_sql(sku_filter: &str) -> String {
    let (ledger, reserved) = (
        sku_filter.replace("SKU", "s.sku"),
        sku_filter.replace("SKU", "sku"),
    );
    format!(
        "SELECT s.sku, s.on_hand - COALESCE(r.reserved, 0) - ?1 - COALESCE(s.safety_buffer, 0),
                s.on_hand, COALESCE(r.reserved, 0)
         FROM stock s
         LEFT JOIN (SELECT sku, SUM(quantity) AS reserved FROM reservations
                    WHERE state IN (?2, ?3) AND {reserved} GROUP BY sku) r ON r.sku = s.sku
         WHERE {ledger}"
    )
}

/// Units of `sku` that can still be promised (0 for a SKU the inventory does not list).
pub fn available(conn: &Connection, sku: &str, global_buffer: u32) -> Result<i64> {
    let [held, confirmed] = reservations::live_words();
    // Cached: deciding an order reads this once per line.
    let available = conn
        .prepare_cached(&available_sql("SKU = ?4"))?
        .query_row(params![global_buffer, held, confirmed, sku], |r| r.get(1))
        .optional()?;
    Ok(available.unwrap_or(0))
}

/// Every SKU with its availability, in SKU order, for computing what each channel should
/// offer.
pub fn all_available(conn: &Connection, global_buffer: u32) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(&format!("{} ORDER BY s.sku", available_sql("1")))?;
    let [held, confirmed] = reservations::live_words();
    let rows = stmt.query_map(params![global_buffer, held, confirmed], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn tags(conn: &Connection, sku: &str) -> Result<Vec<String>> {
    Ok(listed(conn, sku)?.unwrap_or_default())
}

/// The SKU's tags if the ledger lists it (any snapshot or `stock set` ever named it), `None`
/// for a SKU it has never heard of.
pub fn listed(conn: &Connection, sku: &str) -> Result<Option<Vec<String>>> {
    let text: Option<String> = conn
        .query_row("SELECT tags FROM stock WHERE sku = ?1", params![sku], |r| {
            r.get(0)
        })
        .optional()?;
    text.map(|t| read_list(&t, format!("stock {sku}")))
        .transpose()
}

/// One SKU as `vigie stock show` prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StockView {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub pushed: BTreeMap<String, i64>,
}

/// Every SKU (or only `sku`) in SKU order, handed to `each` as it is read: two ordered
/// scans (the ledger, the pushed quantities) merged, not queries per SKU, and never the
/// whole inventory in memory.
pub fn show<E: From<StoreError>>(
    conn: &Connection,
    sku: Option<&str>,
    global_buffer: u32,
    mut each: impl FnMut(StockView) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let [held, confirmed] = reservations::live_words();
    let mut ledger = conn
        .prepare(&format!(
            "{} ORDER BY s.sku",
            available_sql("(?4 IS NULL OR SKU = ?4)")
        ))
        .map_err(StoreError::from)?;
    let views = ledger
        .query_map(params![global_buffer, held, confirmed, sku], |r| {
            Ok(StockView {
                sku: r.get(0)?,
                available: r.get::<_, i64>(1)?.max(0),
                on_hand: r.get(2)?,
                reserved: r.get(3)?,
                pushed: BTreeMap::new(),
            })
        })
        .map_err(StoreError::from)?;
    let mut pushed = conn
        .prepare(
            "SELECT sku, channel, quantity FROM stock_pushed WHERE ?1 IS NULL OR sku = ?1
             ORDER BY sku, channel",
        )
        .map_err(StoreError::from)?;
    let mut pushes = pushed
        .query_map(params![sku], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
        })
        .map_err(StoreError::from)?
        .peekable();
    for view in views {
        let mut view = view.map_err(StoreError::from)?;
        // Both scans are in SKU order (SQLite's binary collation is Rust's string order):
        // take the pushes up to this SKU, keep this SKU's.
        while let Some(push) =
            pushes.next_if(|p| p.as_ref().map_or(true, |(sku, _, _)| *sku <= view.sku))
        {
            let (sku, channel, quantity) = push.map_err(StoreError::from)?;
            if sku == view.sku {
                view.pushed.insert(channel, quantity);
            }
        }
        each(view)?;
    }
    Ok(())
}

/// Whether a line's units could be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    Held,
    /// Fewer units can be promised than the line needs; nothing was held.
    Short {
        available: i64,
    },
}

/// Holds the line's units if that many can still be promised. Each hold lowers what the next
/// line (same SKU or not) can take.
pub fn hold_if_available(
    conn: &Connection,
    line: LineUnits<'_>,
    global_buffer: u32,
    now: &str,
) -> Result<Hold> {
    let available = available(conn, line.sku, global_buffer)?;
    if i64::from(line.quantity) > available {
        return Ok(Hold::Short { available });
    }
    reservations::hold(conn, line, ReservationState::Held, now)?;
    Ok(Hold::Held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// A whole catalogue's availability sums the live reservations once and joins the sums,
    /// rather than probing the reservations' index once per SKU (100,000 probes a push).
    #[test]
    fn a_whole_catalogue_sums_the_reservations_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let plan: Vec<String> = store
            .with(|conn| {
                let sql = format!("EXPLAIN QUERY PLAN {} ORDER BY s.sku", available_sql("1"));
                let mut stmt = conn.prepare(&sql)?;
                let [held, confirmed] = reservations::live_words();
                let rows = stmt.query_map(params![0, held, confirmed], |r| r.get(3))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .unwrap();
        assert!(
            plan.iter().any(|step| step.starts_with("MATERIALIZE")),
            "{plan:#?}"
        );
    }
}
