//! Parcels the seller sent: committed before the marketplace hears of them, then settled
//! with its answer. A parcel is known by (order, carrier, tracking number), so the same
//! parcel given twice is stored once (one the marketplace rejected can be given again, fixed);
//! and the carriers each marketplace lists, cached.

use std::collections::HashMap;

use jiff::Timestamp;
use rusqlite::{Connection, params};
use serde::Serialize;
use vigie_connector::{Carrier, Parcel, ParcelCarrier, ParcelLine};

use super::Result;
use super::channels;
pub use super::requested::{Confirmation, Units};
use super::requested::{from_json, to_json};
use super::state::StoredState;

/// A parcel as recorded by `vigie ship`, the CSV drop or the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewParcel {
    /// The seller's name for the carrier.
    pub carrier: String,
    /// The marketplace's code for it, when it lists the carrier.
    pub carrier_code: Option<String>,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    pub lines: Vec<Units>,
    /// `cli`, `csv` or `api`.
    pub source: &'static str,
}

/// What [`record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// The same order, carrier and tracking number were already recorded (and not rejected):
    /// nothing changed.
    Already,
}

pub fn record(conn: &Connection, order_pk: i64, parcel: &NewParcel, now: &str) -> Result<Recorded> {
    let inserted = conn.execute(
        "INSERT INTO shipments (order_pk, carrier, carrier_code, tracking_number, tracking_url,
                                lines, source, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (order_pk, carrier, tracking_number) WHERE state <> 'rejected' DO NOTHING",
        params![
            order_pk,
            parcel.carrier,
            parcel.carrier_code,
            parcel.tracking_number,
            parcel.tracking_url,
            to_json(&parcel.lines)?,
            parcel.source,
            now
        ],
    )?;
    Ok(if inserted == 1 {
        Recorded::New
    } else {
        Recorded::Already
    })
}

/// A parcel as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredParcel {
    #[serde(skip)]
    pub id: i64,
    pub carrier: String,
    #[serde(skip)]
    pub carrier_code: Option<String>,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    pub lines: Vec<Units>,
    pub state: Confirmation,
    /// The marketplace's words when it rejected the parcel.
    #[serde(skip)]
    pub note: Option<String>,
}

const COLUMNS: &str =
    "s.id, s.carrier, s.carrier_code, s.tracking_number, s.tracking_url, s.lines, s.state, s.note";

fn read_parcel(r: &rusqlite::Row<'_>) -> Result<StoredParcel> {
    let id: i64 = r.get(0)?;
    let row = format!("shipment {id}");
    Ok(StoredParcel {
        carrier: r.get(1)?,
        carrier_code: r.get(2)?,
        tracking_number: r.get(3)?,
        tracking_url: r.get(4)?,
        lines: from_json(&r.get::<_, String>(5)?, &row)?,
        state: Confirmation::read(&r.get::<_, String>(6)?, &row)?,
        note: r.get(7)?,
        id,
    })
}

/// The order's parcels, in the order they were recorded.
pub fn of_order(conn: &Connection, order_pk: i64) -> Result<Vec<StoredParcel>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM shipments s WHERE s.order_pk = ?1 ORDER BY s.id"
    ))?;
    let mut rows = stmt.query(params![order_pk])?;
    let mut parcels = Vec::new();
    while let Some(r) = rows.next()? {
        parcels.push(read_parcel(r)?);
    }
    Ok(parcels)
}

/// Units per line the seller owes the customer: lines neither refused (by vigie or the
/// marketplace) nor cancelled whole, less the units cancelled or refunded since (by the
/// marketplace, or asked by the seller and not refused: the larger of the two, since the
/// marketplace reports the seller's own cancellation back).
pub fn units_to_ship(conn: &Connection, order_pk: i64) -> Result<HashMap<String, u32>> {
    let mut stmt = conn.prepare(
        "SELECT l.line_id, l.quantity,
                (SELECT COALESCE(SUM(c.quantity), 0) FROM cancellations c
                 WHERE c.order_pk = l.order_pk AND c.line_id = l.line_id)
         FROM order_lines l
         LEFT JOIN decisions d ON d.order_pk = l.order_pk AND d.line_id = l.line_id
         WHERE l.order_pk = ?1 AND l.status NOT IN ('refused', 'cancelled')
           AND (d.accept IS NULL OR d.accept = 1)",
    )?;
    let rows = stmt.query_map(params![order_pk], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, u32>(1)?,
            r.get::<_, u32>(2)?,
        ))
    })?;
    let mut asked: HashMap<String, u32> = HashMap::new();
    for units in super::seller_cancels::cancelled_units(conn, order_pk)? {
        *asked.entry(units.line_id).or_insert(0) += units.quantity;
    }
    let mut owed = HashMap::new();
    for row in rows {
        let (line, quantity, reported) = row?;
        let gone = reported.max(asked.get(&line).copied().unwrap_or(0));
        owed.insert(line, quantity.saturating_sub(gone));
    }
    Ok(owed)
}

/// Units per line the seller owes and has put in no parcel (not rejected) yet.
pub fn units_left(conn: &Connection, order_pk: i64) -> Result<HashMap<String, u32>> {
    let shipped = shipped_units(conn, order_pk)?;
    Ok(units_to_ship(conn, order_pk)?
        .into_iter()
        .map(|(line, owed)| {
            let left = owed.saturating_sub(shipped.get(&line).copied().unwrap_or(0));
            (line, left)
        })
        .collect())
}

/// Whether the marketplace confirmed vigie's acceptance of at least one line: the order is
/// accepted even before the next poll shows it so.
pub fn accepted_by_vigie(conn: &Connection, order_pk: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM decisions
                        WHERE order_pk = ?1 AND accept = 1 AND outcome = 'confirmed')",
        params![order_pk],
        |r| r.get(0),
    )?)
}

/// Whether the seller gave vigie a parcel of the order that the marketplace did not reject.
pub fn any_parcel(conn: &Connection, order_pk: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM shipments WHERE order_pk = ?1 AND state <> 'rejected')",
        params![order_pk],
        |r| r.get(0),
    )?)
}

/// Units per line already in a parcel the marketplace has not rejected.
pub fn shipped_units(conn: &Connection, order_pk: i64) -> Result<HashMap<String, u32>> {
    let mut units = HashMap::new();
    for parcel in of_order(conn, order_pk)? {
        if parcel.state != Confirmation::Rejected {
            for line in parcel.lines {
                *units.entry(line.line_id).or_insert(0) += line.quantity;
            }
        }
    }
    Ok(units)
}

/// A parcel waiting for the marketplace, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingParcel {
    pub id: i64,
    pub order_pk: i64,
    pub parcel: Parcel,
}

/// Parcels of `channel` the marketplace has not confirmed, oldest first, each knowing whether
/// it carries its order's last units.
pub fn pending(conn: &Connection, channel: &str) -> Result<Vec<PendingParcel>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS}, o.id, o.order_id FROM shipments s JOIN orders o ON o.id = s.order_pk
         WHERE o.channel = ?1 AND s.state = 'pending' ORDER BY s.id"
    ))?;
    let mut rows = stmt.query(params![channel])?;
    let mut pending = Vec::new();
    while let Some(r) = rows.next()? {
        let stored = read_parcel(r)?;
        let (order_pk, order_id): (i64, String) = (r.get(8)?, r.get(9)?);
        let completes_order =
            completes(conn, order_pk, stored.id, &units_to_ship(conn, order_pk)?)?;
        pending.push(PendingParcel {
            id: stored.id,
            order_pk,
            parcel: Parcel {
                order_id,
                carrier: ParcelCarrier {
                    name: stored.carrier,
                    code: stored.carrier_code,
                },
                tracking_number: stored.tracking_number,
                tracking_url: stored.tracking_url,
                lines: stored
                    .lines
                    .into_iter()
                    .map(|u| ParcelLine {
                        line_id: u.line_id,
                        quantity: u.quantity,
                    })
                    .collect(),
                completes_order,
            },
        });
    }
    Ok(pending)
}

/// Whether parcel `id`, with every parcel recorded before it and not rejected, carries all
/// the units `to_ship` lists.
fn completes(
    conn: &Connection,
    order_pk: i64,
    id: i64,
    to_ship: &HashMap<String, u32>,
) -> Result<bool> {
    let mut sent: HashMap<String, u32> = HashMap::new();
    for parcel in of_order(conn, order_pk)? {
        if parcel.id <= id && parcel.state != Confirmation::Rejected {
            for line in parcel.lines {
                *sent.entry(line.line_id).or_insert(0) += line.quantity;
            }
        }
    }
    Ok(to_ship
        .iter()
        .all(|(line, quantity)| sent.get(line).copied().unwrap_or(0) >= *quantity))
}

/// Settles parcel `id` with the marketplace's answer.
pub fn settle(
    conn: &Connection,
    id: i64,
    state: Confirmation,
    note: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE shipments SET state = ?2, note = ?3, settled_at = ?4 WHERE id = ?1",
        params![id, state.as_str(), note, now],
    )?;
    Ok(())
}

/// The carriers `channel`'s marketplace listed when last read.
pub fn carriers(conn: &Connection, channel: &str) -> Result<Vec<Carrier>> {
    let mut stmt =
        conn.prepare("SELECT code, name FROM carriers WHERE channel = ?1 ORDER BY code")?;
    let listed = stmt
        .query_map(params![channel], |r| {
            Ok(Carrier {
                code: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(listed)
}

/// When `channel`'s carriers were last read; `None` before the first read.
pub fn carriers_read_at(conn: &Connection, channel: &str) -> Result<Option<Timestamp>> {
    channels::cursor(conn, channel, CARRIERS_CURSOR)
}

/// Replaces the cached list of `channel`'s carriers, read at `at`.
pub fn cache_carriers(
    conn: &mut Connection,
    channel: &str,
    listed: &[Carrier],
    at: Timestamp,
) -> Result<()> {
    let now = super::time_text(at);
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM carriers WHERE channel = ?1", params![channel])?;
    for carrier in listed {
        tx.execute(
            "INSERT OR REPLACE INTO carriers (channel, code, name) VALUES (?1, ?2, ?3)",
            params![channel, carrier.code, carrier.name],
        )?;
    }
    channels::set_cursor(&tx, channel, CARRIERS_CURSOR, at, &now)?;
    tx.commit()?;
    Ok(())
}

const CARRIERS_CURSOR: &str = "carriers_read_at";
