//! Customer messages while both marketplaces take `FAILED_AFTER_TAKING` of them and then
//! answer 500: none reaches a customer twice, and every one left 'uncertain' is alerted.

use std::collections::BTreeMap;

use vigie_testkit::Marketplaces;

use crate::common::count;

/// The share of customer messages each marketplace takes and then answers 500.
pub const FAILED_AFTER_TAKING: f64 = 0.3;

/// Checks both promises; returns (messages received, outbox rows left 'uncertain').
pub fn never_twice(conn: &rusqlite::Connection, markets: &Marketplaces) -> (usize, i64) {
    // (marketplace, order, subject): one per order and event.
    let mut copies: BTreeMap<(&str, String, String), usize> = BTreeMap::new();
    for m in markets.mirakl.messages() {
        *copies.entry(("lm", m.order_id, m.topic_value)).or_default() += 1;
    }
    for m in markets.fnac.messages() {
        let subject = m.description.lines().next().unwrap_or_default().to_owned();
        *copies.entry(("fnac", m.order_id, subject)).or_default() += 1;
    }
    let twice: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "customer messages received twice: {twice:?}"
    );
    let uncertain = count(
        conn,
        "SELECT COUNT(*) FROM outbox WHERE state = 'uncertain'",
    );
    let unalerted = count(
        conn,
        "SELECT COUNT(*) FROM outbox o WHERE o.state = 'uncertain' AND o.order_pk IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM alerts a
                           WHERE a.dedup_key = 'notification_uncertain:' || o.id)",
    );
    assert_eq!(unalerted, 0, "uncertain messages without an alert");
    assert!(
        uncertain > 0,
        "no message was taken then failed: the fault did not run"
    );
    (copies.values().sum(), uncertain)
}
