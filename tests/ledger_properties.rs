//! The ledger's promises under random interleavings of orders from three channels over shared
//! SKUs, duplicate polls, cancellations and restarts (a fresh connection to the same file):
//! never more units accepted than the snapshot minus the buffer, never a line decided twice.

use proptest::prelude::*;
use rust_decimal::Decimal;
use vigie::config::{InsufficientStock, RulesConfig};
use vigie::pipeline::decide::{self, Policy};
use vigie::store::{self, Store, orders, reservations, stock};
use vigie_connector::{
    Customer, MarketplaceState, Money, Order, OrderLine, OrderStatus, Timestamp,
};

const CHANNELS: [&str; 3] = ["lm", "fnac", "decathlon"];
const SKUS: [&str; 3] = ["A", "B", "C"];
const BUFFER: u32 = 1;

#[derive(Debug, Clone)]
enum Step {
    /// A new order awaiting acceptance on a channel, with (sku, quantity) lines.
    Order {
        channel: usize,
        lines: Vec<(usize, u32)>,
    },
    /// The marketplace shows an earlier order again (overlapping poll windows).
    Repoll(usize),
    /// The customer or the marketplace cancels an earlier order.
    Cancel(usize),
    /// The daemon restarts.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..CHANNELS.len(), prop::collection::vec((0..SKUS.len(), 1..4u32), 1..3))
            .prop_map(|(channel, lines)| Step::Order { channel, lines }),
        2 => any::<usize>().prop_map(Step::Repoll),
        1 => any::<usize>().prop_map(Step::Cancel),
        1 => Just(Step::Restart),
    ]
}

fn order(id: usize, lines: &[(usize, u32)], status: OrderStatus) -> Order {
    let state = MarketplaceState::new(status.as_str().to_uppercase(), status);
    Order {
        id: format!("o{id}"),
        reference: format!("o{id}"),
        state: state.clone(),
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
        acceptance_deadline: None,
        shipping_deadline: None,
        customer: Customer::default(),
        destination_hints: Default::default(),
        shipping_address: None,
        lines: lines
            .iter()
            .enumerate()
            .map(|(n, (sku, quantity))| OrderLine {
                id: format!("l{n}"),
                sku: SKUS[*sku].to_owned(),
                title: None,
                quantity: *quantity,
                price: Money::new(Decimal::TEN, "EUR"),
                state: state.clone(),
                cancellations: Vec::new(),
            })
            .collect(),
        total: Money::new(Decimal::TEN, "EUR"),
        shipment: None,
        incident: None,
    }
}

/// Units accepted and not cancelled, per SKU.
fn accepted_units(store: &Store, sku: &str) -> i64 {
    store
        .with(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(SUM(l.quantity), 0) FROM decisions d
                 JOIN order_lines l ON l.order_pk = d.order_pk AND l.line_id = d.line_id
                 JOIN orders o ON o.id = d.order_pk
                 WHERE d.accept = 1 AND l.sku = ?1 AND o.status != 'cancelled'",
                [sku],
                |r| r.get(0),
            )?)
        })
        .unwrap()
}

fn apply(store: &Store, channel: &str, order: &Order, partial: bool) {
    let rules = RulesConfig {
        on_insufficient_stock: InsufficientStock::Refuse,
        ..RulesConfig::default()
    };
    let policy = Policy {
        channel,
        timezone: &jiff::tz::TimeZone::UTC,
        rules: &rules,
        safety_buffer: BUFFER,
        partial_acceptance: partial,
    };
    store
        .with(|conn| {
            let now = store::now_text();
            let tx = conn.transaction()?;
            let (pk, _) = orders::ingest(&tx, channel, order, Default::default(), &now)?;
            // a second decision for a line would fail here on the primary key
            decide::apply(&tx, &policy, pk, order, &now)?;
            tx.commit()?;
            Ok(())
        })
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn never_oversells_and_never_decides_twice(
        snapshot in prop::collection::vec(0..8u32, SKUS.len()),
        steps in prop::collection::vec(step(), 1..40),
        partial in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.with(|c| {
            for (sku, quantity) in SKUS.iter().zip(&snapshot) {
                let item = stock::StockItem { sku: (*sku).to_owned(), quantity: *quantity, tags: vec![] };
                stock::set(c, &item, &store::now_text())?;
            }
            Ok(())
        }).unwrap();

        let mut placed: Vec<(usize, Vec<(usize, u32)>)> = Vec::new();
        for step in steps {
            match step {
                Step::Order { channel, lines } => {
                    let id = placed.len();
                    apply(&store, CHANNELS[channel], &order(id, &lines, OrderStatus::AwaitingAcceptance), partial);
                    placed.push((channel, lines));
                }
                Step::Repoll(n) if !placed.is_empty() => {
                    let id = n % placed.len();
                    let (channel, lines) = &placed[id];
                    apply(&store, CHANNELS[*channel], &order(id, lines, OrderStatus::AwaitingAcceptance), partial);
                }
                Step::Cancel(n) if !placed.is_empty() => {
                    let id = n % placed.len();
                    let (channel, lines) = &placed[id];
                    apply(&store, CHANNELS[*channel], &order(id, lines, OrderStatus::Cancelled), partial);
                }
                Step::Restart => {
                    drop(store);
                    store = Store::open(dir.path()).unwrap();
                }
                Step::Repoll(_) | Step::Cancel(_) => {}
            }
            for (sku, on_hand) in SKUS.iter().zip(&snapshot) {
                let limit = i64::from(*on_hand) - i64::from(BUFFER);
                let accepted = accepted_units(&store, sku);
                prop_assert!(accepted <= limit.max(0), "{sku}: {accepted} accepted, snapshot {on_hand}, buffer {BUFFER}");
                let reserved = store.with(|c| reservations::reserved(c, sku)).unwrap();
                prop_assert!(reserved <= limit.max(0), "{sku}: {reserved} reserved, snapshot {on_hand}");
            }
        }
    }
}

/// An order the marketplace accepted without vigie (the back office, after vigie flagged or
/// refused it) holds every unit it takes, and vigie's contrary decision is marked superseded.
#[test]
fn an_order_accepted_elsewhere_holds_all_its_units() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|c| {
            for (sku, quantity) in [("A", 5), ("B", 0)] {
                let item = stock::StockItem {
                    sku: sku.into(),
                    quantity,
                    tags: vec![],
                };
                stock::set(c, &item, &store::now_text())?;
            }
            Ok(())
        })
        .unwrap();
    // refused by the rules: B is out of stock
    apply(
        &store,
        "lm",
        &order(0, &[(0, 2), (1, 1)], OrderStatus::AwaitingAcceptance),
        false,
    );
    assert_eq!(store.with(|c| reservations::reserved(c, "A")).unwrap(), 0);
    // ...yet accepted in the back office, before vigie's refusal went out
    let mut accepted = order(0, &[(0, 2), (1, 1)], OrderStatus::Accepted);
    accepted.updated_at = Timestamp::now();
    apply(&store, "lm", &accepted, false);
    assert_eq!(store.with(|c| reservations::reserved(c, "A")).unwrap(), 2);
    assert_eq!(store.with(|c| reservations::reserved(c, "B")).unwrap(), 1);
    let outcomes: Vec<String> = store
        .with(|c| {
            let mut stmt = c.prepare("SELECT outcome FROM decisions ORDER BY line_id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .unwrap();
    assert_eq!(outcomes, ["superseded", "superseded"]);
}
