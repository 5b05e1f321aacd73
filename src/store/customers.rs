//! A customer's orders across channels, recognised by the `customer_key` the schema derives
//! from each order (migration V10 says how), for the facts the seller's rules read.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row};

use super::Result;
use super::state::read_time;
use crate::domain::customer::{self, CustomerFacts, Judging, PastOrder};

const PAST_ORDER: &str = "SELECT o.id, o.created_at, o.first_seen_at,
        (SELECT min(observed_at) FROM status_history h
         WHERE h.order_pk = o.id AND h.status = 'refused'),
        (SELECT min(observed_at) FROM status_history h
         WHERE h.order_pk = o.id AND h.status = 'cancelled'),
        o.customer_key
     FROM orders o";

/// The key of the order's customer, or `None` when the order names no one vigie can
/// recognise.
pub fn key_of(conn: &Connection, order_pk: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT customer_key FROM orders WHERE id = ?1",
            [order_pk],
            |row| row.get(0),
        )
        .optional()?
        .flatten())
}

/// Every stored order of the customer `key`.
pub fn orders_of(conn: &Connection, key: &str) -> Result<Vec<PastOrder>> {
    let mut stmt = conn.prepare_cached(&format!("{PAST_ORDER} WHERE o.customer_key = ?1"))?;
    let rows = stmt.query_map([key], |row| Ok(read(row)))?;
    rows.map(|row| row?).collect()
}

/// Every known customer's orders, by key: what a replay reads once for all its orders.
pub fn all(conn: &Connection) -> Result<HashMap<String, Vec<PastOrder>>> {
    let mut stmt = conn.prepare(&format!("{PAST_ORDER} WHERE o.customer_key IS NOT NULL"))?;
    let mut rows = stmt.query([])?;
    let mut customers: HashMap<String, Vec<PastOrder>> = HashMap::new();
    while let Some(row) = rows.next()? {
        let key: String = row.get(5)?;
        customers.entry(key).or_default().push(read(row)?);
    }
    Ok(customers)
}

fn read(row: &Row<'_>) -> Result<PastOrder> {
    let order_pk: i64 = row.get(0)?;
    let what = format!("order {order_pk}");
    let time = |i: usize| -> Result<_> { read_time(&row.get::<_, String>(i)?, &what) };
    let optional_time = |i: usize| -> Result<_> {
        row.get::<_, Option<String>>(i)?
            .map(|t| read_time(&t, &what))
            .transpose()
    };
    Ok(PastOrder {
        order_pk,
        created_at: time(1)?,
        first_seen_at: time(2)?,
        refused_at: optional_time(3)?,
        cancelled_at: optional_time(4)?,
    })
}

/// The customer facts of an order as the store stands now, and the key its customer was
/// recognised by.
pub fn facts(conn: &Connection, this: Judging) -> Result<(Option<String>, CustomerFacts)> {
    let key = key_of(conn, this.order_pk)?;
    let orders = key.as_deref().map(|k| orders_of(conn, k)).transpose()?;
    Ok((key, customer::history(this, orders.as_deref())))
}
