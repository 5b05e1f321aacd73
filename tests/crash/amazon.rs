//! The invariants about the Amazon channel, where vigie has no acceptance to send: it
//! reserves an order's units the moment it sees the order, refuses through an acknowledgement
//! feed, and must never have Amazon offer units the ledger does not have.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;

use crate::checks::{AMAZON, Outcome};
use crate::{SAFETY_BUFFER, STOCK};

/// An Amazon line in the store: order, line, units reserved, reservation state, accepted.
type StoredLine = (String, String, Option<u32>, Option<String>, Option<bool>);

/// What the Amazon orders became.
pub struct AmazonOrders {
    pub orders: usize,
    pub refused: usize,
    /// Order-acknowledgement feeds Amazon received.
    pub feeds: usize,
}

/// Every accepted Amazon line holds exactly one reservation of its units (the key forbids a
/// second row, the quantity a double count), every refused one none that still counts; every
/// refused order was cancelled by exactly one acknowledgement feed, and no other order got
/// one.
pub fn reserved_once_refused_once(o: &Outcome) -> AmazonOrders {
    let mut stmt = o
        .conn
        .prepare(
            "SELECT o.order_id, l.line_id, r.quantity, r.state, d.accept FROM orders o
             JOIN order_lines l ON l.order_pk = o.id
             LEFT JOIN reservations r ON r.order_pk = l.order_pk AND r.line_id = l.line_id
             LEFT JOIN decisions d ON d.order_pk = l.order_pk AND d.line_id = l.line_id
             WHERE o.channel = ?1",
        )
        .unwrap();
    let lines: Vec<StoredLine> = stmt
        .query_map([AMAZON], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut refused_orders = BTreeMap::new();
    for (order, line, reserved, state, accept) in &lines {
        let key = (AMAZON.to_owned(), order.clone(), line.clone());
        let (_, quantity, _, _) = &o.market_lines[&key];
        let state = state.as_deref();
        match accept {
            Some(true) => assert!(
                reserved.as_ref() == Some(quantity)
                    && matches!(state, Some("confirmed" | "consumed")),
                "accepted Amazon line {key:?} of {quantity} units: reservation of {reserved:?}, {state:?}"
            ),
            // Refused for want of stock, a line never held any.
            Some(false) => assert!(
                matches!(state, None | Some("released")),
                "refused Amazon line {key:?}: reservation {state:?}"
            ),
            None => panic!("Amazon line {key:?} undecided"),
        }
        let refused = refused_orders.entry(order.clone()).or_insert(false);
        *refused |= *accept == Some(false);
    }
    let acknowledged = o.rig.markets.amazon.acknowledgements_per_order();
    for (order, refused) in &refused_orders {
        let feeds = acknowledged.get(order).copied().unwrap_or(0);
        assert_eq!(
            feeds,
            usize::from(*refused),
            "Amazon order {order} (refused: {refused}) named by {feeds} acknowledgement feeds"
        );
    }
    assert!(
        acknowledged.keys().all(|o| refused_orders.contains_key(o)),
        "acknowledgement feeds for orders vigie never stored: {acknowledged:?}"
    );
    AmazonOrders {
        orders: refused_orders.len(),
        refused: refused_orders.values().filter(|r| **r).count(),
        feeds: acknowledged.values().sum(),
    }
}

/// Per SKU, the quantity vigie last pushed to Amazon is at most what the ledger allows once
/// the daemon stopped: on hand, less the units reserved, less the safety buffer. Returns
/// (last pushed, allowed, Amazon's listing) per SKU. Amazon gives back the units of an order
/// vigie cancelled, so vigie forgets what it pushed of them and pushes again: a SKU with no
/// recorded push was refused last, and its listing may be higher until that next push.
pub fn pushes_within_ledger<'a>(o: &Outcome) -> BTreeMap<&'a str, (Option<i64>, i64, u32)> {
    let mut offers = BTreeMap::new();
    for (sku, _) in STOCK {
        let allowed: i64 = o
            .conn
            .query_row(
                "SELECT s.on_hand - ?2 - (SELECT COALESCE(SUM(quantity), 0) FROM reservations
                                         WHERE sku = s.sku AND state IN ('held', 'confirmed'))
                 FROM stock s WHERE s.sku = ?1",
                rusqlite::params![sku, SAFETY_BUFFER],
                |r| r.get(0),
            )
            .unwrap();
        let allowed = allowed.max(0);
        let pushed: Option<i64> = o
            .conn
            .query_row(
                "SELECT quantity FROM stock_pushed WHERE channel = ?1 AND sku = ?2",
                [AMAZON, sku],
                |r| r.get(0),
            )
            .optional()
            .unwrap();
        if let Some(pushed) = pushed {
            assert!(
                pushed <= allowed,
                "vigie last pushed {pushed} of {sku} to Amazon, the ledger allows {allowed}"
            );
        }
        let listed = o.rig.markets.amazon.quantity(sku).unwrap_or(0);
        offers.insert(sku, (pushed, allowed, listed));
    }
    offers
}
