//! The invariants of DESIGN section 2 about orders, decisions and stock, each checked by its
//! own function once the daemon stopped, against what vigie lists, what the marketplaces hold
//! and received, and the store. Each returns the figures the test prints. The invariants
//! about customer messages are in `messages.rs`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use vigie_testkit::Hit;

use crate::common::rig::Rig;
use crate::common::{Setup, vigie};
use crate::received::{fnac_decisions, mirakl_decisions};
use crate::{ORDERS, SAFETY_BUFFER, STOCK};

/// The Amazon channel's name (see `Rig::amazon_channel`).
pub const AMAZON: &str = "amazon-fr";

/// (channel, order, line).
type LineKey = (String, String, String);
/// A line as the marketplace holds it: sku, quantity, accepted there, its raw state.
type MarketLine = (String, u32, bool, String);

/// Everything the checks read, taken once the daemon stopped.
pub struct Outcome<'a> {
    pub rig: &'a Rig,
    /// `vigie orders --json`.
    pub listed: Vec<Value>,
    /// Every line of every order placed, as the marketplace holds it.
    pub market_lines: BTreeMap<LineKey, MarketLine>,
    pub mirakl_hits: Vec<Hit>,
    pub fnac_hits: Vec<Hit>,
    pub conn: rusqlite::Connection,
}

impl<'a> Outcome<'a> {
    pub async fn read(setup: &Setup, rig: &'a Rig) -> Self {
        let listed =
            serde_json::from_slice(&vigie(&setup.config, &["orders", "--json"]).await.stdout)
                .unwrap();
        let mut market_lines = BTreeMap::new();
        for o in rig.markets.mirakl.orders() {
            for l in &o.lines {
                let accepted = matches!(l.state.as_str(), "SHIPPING" | "SHIPPED");
                market_lines.insert(
                    ("lm".into(), o.id.clone(), l.id.clone()),
                    (l.sku.clone(), l.quantity, accepted, l.state.clone()),
                );
            }
        }
        for o in rig.markets.fnac.orders() {
            for l in &o.lines {
                let accepted = matches!(l.state.as_str(), "Accepted" | "ToShip" | "Shipped");
                market_lines.insert(
                    ("fnac".into(), o.id.clone(), l.id.clone()),
                    (l.sku.clone(), l.quantity, accepted, l.state.clone()),
                );
            }
        }
        // Amazon has no acceptance: an item is sold unless cancelled.
        for o in rig.markets.amazon.orders() {
            for i in &o.items {
                market_lines.insert(
                    (AMAZON.into(), o.id.clone(), i.id.clone()),
                    (i.sku.clone(), i.quantity, !i.cancelled, o.status.clone()),
                );
            }
        }
        Self {
            rig,
            listed,
            market_lines,
            mirakl_hits: rig.mirakl_proxy.hits(),
            fnac_hits: rig.fnac_proxy.hits(),
            conn: setup.database().unwrap(),
        }
    }
}

/// No order lost: every order placed is in `vigie orders --json`, decided or flagged (or
/// cancelled by its customer before any decision). Returns the orders by decision.
pub fn no_order_lost(o: &Outcome, cancelled: &BTreeSet<String>) -> BTreeMap<String, usize> {
    let listed: BTreeSet<(&str, &str)> = o
        .listed
        .iter()
        .map(|l| {
            (
                l["channel"].as_str().unwrap(),
                l["order_id"].as_str().unwrap(),
            )
        })
        .collect();
    let mirakl_orders = o.rig.markets.mirakl.orders();
    let fnac_orders = o.rig.markets.fnac.orders();
    let amazon_orders = o.rig.markets.amazon.orders();
    assert_eq!(
        mirakl_orders.len() + fnac_orders.len() + amazon_orders.len(),
        ORDERS
    );
    assert_eq!(o.listed.len(), ORDERS, "orders listed vs placed");
    for order in &mirakl_orders {
        assert!(
            listed.contains(&("lm", order.id.as_str())),
            "Mirakl order {} lost",
            order.id
        );
    }
    for order in &fnac_orders {
        assert!(
            listed.contains(&("fnac", order.id.as_str())),
            "Fnac order {} lost",
            order.id
        );
    }
    for order in &amazon_orders {
        assert!(
            listed.contains(&(AMAZON, order.id.as_str())),
            "Amazon order {} lost",
            order.id
        );
    }
    let mut decided = BTreeMap::<String, usize>::new();
    for l in &o.listed {
        let decision = l["decision"].as_str();
        let cancelled_first = l["channel"] == "fnac"
            && cancelled.contains(l["order_id"].as_str().unwrap())
            && decision.is_none();
        assert!(
            decision.is_some() || cancelled_first,
            "order neither decided nor flagged: {l:#}"
        );
        *decided
            .entry(decision.unwrap_or("none (cancelled)").to_owned())
            .or_default() += 1;
    }
    decided
}

/// How the decisions reached the marketplaces.
pub struct DecisionCalls {
    pub or21_calls: usize,
    pub or21_orders: usize,
    /// OR21 calls answered 400 (the order was no longer waiting for acceptance).
    pub or21_invalid_state: usize,
    pub fnac_update_calls: usize,
}

/// One decision per line, on the marketplace too: no line received both an acceptance and a
/// refusal, no order was both accepted and refused, and the store's decision per line is
/// what the marketplace holds.
pub fn one_decision_per_line(o: &Outcome) -> DecisionCalls {
    let mut sent: BTreeMap<LineKey, BTreeSet<bool>> = BTreeMap::new();
    let mirakl_sent = mirakl_decisions(&o.mirakl_hits);
    let fnac_sent = fnac_decisions(&o.fnac_hits);
    for (key, accepted) in mirakl_sent.iter().chain(&fnac_sent) {
        sent.entry(key.clone()).or_default().insert(*accepted);
    }
    let contradicted: Vec<_> = sent.iter().filter(|(_, d)| d.len() > 1).collect();
    assert!(
        contradicted.is_empty(),
        "lines that received both an acceptance and a refusal: {contradicted:?}"
    );
    let mut per_order: BTreeMap<(String, String), BTreeSet<bool>> = BTreeMap::new();
    for ((channel, order, _), decisions) in &sent {
        per_order
            .entry((channel.clone(), order.clone()))
            .or_default()
            .extend(decisions);
    }
    let both: Vec<_> = per_order.iter().filter(|(_, d)| d.len() > 1).collect();
    assert!(
        both.is_empty(),
        "orders both accepted and refused (partial acceptance is off): {both:?}"
    );
    for l in &o.listed {
        let channel = l["channel"].as_str().unwrap();
        let order = l["order_id"].as_str().unwrap();
        for line in l["lines"].as_array().unwrap() {
            let key = (
                channel.to_owned(),
                order.to_owned(),
                line["line_id"].as_str().unwrap().to_owned(),
            );
            let (sku, _, accepted_there, state) = o
                .market_lines
                .get(&key)
                .unwrap_or_else(|| panic!("line {key:?} unknown to the marketplace"));
            assert_eq!(line["sku"].as_str(), Some(sku.as_str()));
            match line["accepted"].as_bool() {
                Some(accepted) => {
                    assert_eq!(
                        accepted, *accepted_there,
                        "{key:?}: the store says accepted={accepted}, the marketplace has {state}"
                    );
                    if let Some(decisions) = sent.get(&key) {
                        assert!(decisions.contains(&accepted), "{key:?}: sent {decisions:?}");
                    }
                }
                None => assert!(
                    !accepted_there,
                    "{key:?} accepted on the marketplace ({state}) but undecided in the store"
                ),
            }
        }
    }
    let or21 = |h: &&Hit| h.endpoint() == "OR21";
    DecisionCalls {
        or21_calls: o.mirakl_hits.iter().filter(or21).count(),
        or21_orders: mirakl_sent
            .iter()
            .map(|((_, order, _), _)| order)
            .collect::<BTreeSet<_>>()
            .len(),
        or21_invalid_state: o
            .mirakl_hits
            .iter()
            .filter(or21)
            .filter(|h| h.status == Some(400))
            .count(),
        fnac_update_calls: o
            .fnac_hits
            .iter()
            .filter(|h| h.endpoint() == "orders_update")
            .count(),
    }
}

/// No oversell: per SKU, the units of lines accepted on the marketplaces, and in the store,
/// stay within the snapshot less the safety buffer. Returns the units sold per SKU.
pub fn no_oversell<'a>(o: &'a Outcome) -> BTreeMap<&'a str, u32> {
    let mut sold: BTreeMap<&str, u32> = BTreeMap::new();
    for (sku, qty, accepted, _) in o.market_lines.values() {
        if *accepted {
            *sold.entry(sku.as_str()).or_default() += qty;
        }
    }
    for (sku, snapshot) in STOCK {
        let sold = sold.get(sku).copied().unwrap_or(0);
        assert!(
            sold <= snapshot - SAFETY_BUFFER,
            "{sku} oversold: {sold} units accepted on the marketplaces, snapshot {snapshot}, buffer {SAFETY_BUFFER}"
        );
    }
    let store_sold: BTreeMap<String, i64> = {
        let mut stmt = o
            .conn
            .prepare(
                "SELECT l.sku, SUM(l.quantity) FROM decisions d
                 JOIN order_lines l ON l.order_pk = d.order_pk AND l.line_id = d.line_id
                 WHERE d.accept = 1 GROUP BY l.sku",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for (sku, snapshot) in STOCK {
        let sold = store_sold.get(sku).copied().unwrap_or(0);
        assert!(
            sold <= i64::from(snapshot - SAFETY_BUFFER),
            "{sku}: the store accepted {sold} units, snapshot {snapshot}, buffer {SAFETY_BUFFER}"
        );
    }
    sold
}
