//! Units held for order lines. A reservation is `held` from the moment an order awaiting
//! acceptance is seen, `confirmed` once the marketplace has the acceptance, `released` when
//! the line is refused or cancelled, and `consumed` when the order ships: the units then
//! leave `on_hand` too. Some units of a line cancelled before shipping leave its reservation.

use rusqlite::{Connection, params};
use vigie_connector::OrderLine;

use super::Result;
use super::state::{StoredState, read_time};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationState {
    Held,
    Confirmed,
    Released,
    Consumed,
}

impl ReservationState {
    /// The states that still take units from what can be sold.
    pub const LIVE: [Self; 2] = [Self::Held, Self::Confirmed];
}

impl StoredState for ReservationState {
    const ALL: &'static [Self] = &[Self::Held, Self::Confirmed, Self::Released, Self::Consumed];
    const WHAT: &'static str = "reservation state";

    fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::Released => "released",
            Self::Consumed => "consumed",
        }
    }
}

/// One line's reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub line_id: String,
    pub sku: String,
    pub quantity: u32,
    pub state: ReservationState,
    pub updated_at: jiff::Timestamp,
}

/// The order's reservations, in the order they were taken.
pub fn of_order(conn: &Connection, order_pk: i64) -> Result<Vec<Reservation>> {
    let mut stmt = conn.prepare(
        "SELECT line_id, sku, quantity, state, updated_at FROM reservations
         WHERE order_pk = ?1 ORDER BY rowid",
    )?;
    let mut rows = stmt.query(params![order_pk])?;
    let mut reservations = Vec::new();
    while let Some(r) = rows.next()? {
        let line_id: String = r.get(0)?;
        let row = format!("reservation of order {order_pk} line {line_id}");
        reservations.push(Reservation {
            sku: r.get(1)?,
            quantity: r.get(2)?,
            state: ReservationState::read(&r.get::<_, String>(3)?, &row)?,
            updated_at: read_time(&r.get::<_, String>(4)?, &row)?,
            line_id,
        });
    }
    Ok(reservations)
}

/// The live states as stored, to bind in SQL.
pub(super) fn live_words() -> [&'static str; 2] {
    ReservationState::LIVE.map(ReservationState::as_str)
}

/// Units of `sku` held or confirmed for order lines.
pub fn reserved(conn: &Connection, sku: &str) -> Result<i64> {
    let [held, confirmed] = live_words();
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(quantity), 0) FROM reservations
         WHERE sku = ?1 AND state IN (?2, ?3)",
        params![sku, held, confirmed],
        |r| r.get(0),
    )?)
}

/// One order line whose units are to be held.
#[derive(Debug, Clone, Copy)]
pub struct LineUnits<'a> {
    pub order_pk: i64,
    pub line_id: &'a str,
    pub sku: &'a str,
    pub quantity: u32,
}

impl<'a> LineUnits<'a> {
    /// The units `line` of the order `order_pk` takes.
    pub fn of(order_pk: i64, line: &'a OrderLine) -> Self {
        Self {
            order_pk,
            line_id: &line.id,
            sku: &line.sku,
            quantity: line.quantity,
        }
    }
}

/// Holds units for one order line in `state` (`Held`, or `Confirmed` for an order the
/// marketplace accepted on its own).
pub fn hold(
    conn: &Connection,
    line: LineUnits<'_>,
    state: ReservationState,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO reservations (order_pk, line_id, sku, quantity, state, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            line.order_pk,
            line.line_id,
            line.sku,
            line.quantity,
            state.as_str(),
            now
        ],
    )?;
    Ok(())
}

/// Makes sure an accepted line holds its units as `confirmed`: reserves it if it had no
/// reservation, takes a released one back (the marketplace accepted what vigie refused).
/// Returns whether availability changed.
pub fn hold_confirmed(conn: &Connection, line: LineUnits<'_>, now: &str) -> Result<bool> {
    let state = of_order(conn, line.order_pk)?
        .into_iter()
        .find(|r| r.line_id == line.line_id)
        .map(|r| r.state);
    let moved = match state {
        None => {
            hold(conn, line, ReservationState::Confirmed, now)?;
            return Ok(true);
        }
        Some(ReservationState::Released) => true,
        Some(ReservationState::Held) => false,
        Some(ReservationState::Confirmed | ReservationState::Consumed) => return Ok(false),
    };
    set_state(
        conn,
        line.order_pk,
        line.line_id,
        ReservationState::Confirmed,
        now,
    )?;
    Ok(moved)
}

/// Moves the order's live reservations (optionally only `lines`) to `to`: only `held` ones
/// when confirming. Consumed units leave `on_hand` too. Returns the number of units moved.
pub fn settle(
    conn: &Connection,
    order_pk: i64,
    lines: Option<&[String]>,
    to: ReservationState,
    now: &str,
) -> Result<i64> {
    let from: &[ReservationState] = match to {
        ReservationState::Confirmed => &[ReservationState::Held],
        _ => &ReservationState::LIVE,
    };
    let mut moved = 0;
    for r in of_order(conn, order_pk)? {
        if !from.contains(&r.state) || lines.is_some_and(|only| !only.contains(&r.line_id)) {
            continue;
        }
        set_state(conn, order_pk, &r.line_id, to, now)?;
        if to == ReservationState::Consumed {
            take_out_of_stock(conn, &r.sku, r.quantity, now)?;
        }
        moved += i64::from(r.quantity);
    }
    Ok(moved)
}

/// Gives back up to `quantity` units of the line's live reservation (cancelled or refunded
/// before shipping): the reservation shrinks, or is released once none is left. Returns the
/// units given back; none for a line whose units shipped or were already released.
pub fn release_units(
    conn: &Connection,
    order_pk: i64,
    line_id: &str,
    quantity: u32,
    now: &str,
) -> Result<u32> {
    take_units(
        conn,
        (order_pk, line_id),
        quantity,
        ReservationState::Released,
        now,
    )
}

/// Takes up to `quantity` units of the line's live reservation out of stock (refunded after
/// they left the warehouse, while vigie had not seen the line ship): they leave `on_hand`,
/// and the reservation shrinks, or is consumed once none is left. Returns the units taken.
pub fn consume_units(
    conn: &Connection,
    order_pk: i64,
    line_id: &str,
    quantity: u32,
    now: &str,
) -> Result<u32> {
    take_units(
        conn,
        (order_pk, line_id),
        quantity,
        ReservationState::Consumed,
        now,
    )
}

/// Moves up to `quantity` units of the line's live reservation `to` released or consumed.
fn take_units(
    conn: &Connection,
    (order_pk, line_id): (i64, &str),
    quantity: u32,
    to: ReservationState,
    now: &str,
) -> Result<u32> {
    let Some(live) = of_order(conn, order_pk)?
        .into_iter()
        .find(|r| r.line_id == line_id && ReservationState::LIVE.contains(&r.state))
    else {
        return Ok(0);
    };
    let taken = quantity.min(live.quantity);
    if to == ReservationState::Consumed {
        take_out_of_stock(conn, &live.sku, taken, now)?;
    }
    if taken == live.quantity {
        set_state(conn, order_pk, line_id, to, now)?;
    } else {
        conn.execute(
            "UPDATE reservations SET quantity = quantity - ?3, updated_at = ?4
             WHERE order_pk = ?1 AND line_id = ?2",
            params![order_pk, line_id, taken, now],
        )?;
    }
    Ok(taken)
}

fn set_state(
    conn: &Connection,
    order_pk: i64,
    line_id: &str,
    state: ReservationState,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE reservations SET state = ?3, updated_at = ?4 WHERE order_pk = ?1 AND line_id = ?2",
        params![order_pk, line_id, state.as_str(), now],
    )?;
    Ok(())
}

/// Units that left the warehouse with a shipped order: the snapshot no longer counts them.
/// (Here rather than in `stock`: they leave on hand in the same step as their reservation.)
fn take_out_of_stock(conn: &Connection, sku: &str, quantity: u32, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE stock SET on_hand = MAX(on_hand - ?2, 0), updated_at = ?3 WHERE sku = ?1",
        params![sku, quantity, now],
    )?;
    Ok(())
}
