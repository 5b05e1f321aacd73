//! After acceptance, through the real ingest on a real SQLite file: cancellations and refunds
//! move the ledger once and say who and why, a refund after shipping keeps the units out,
//! and a claim raises `incident_opened` until the marketplace closes it. Each cancellation is
//! told once; the shipping deadline is watched like the acceptance one.

use std::path::Path;

use rust_decimal::Decimal;
use vigie::config::{self, Config, Deadline, Environment};
use vigie::pipeline::decide::Policy;
use vigie::pipeline::ingest::{self, Settings};
use vigie::pipeline::shipping_late;
use vigie::skumap::SkuMap;
use vigie::store::{self, Store, alerts, decisions, orders, reservations, stock};
use vigie_connector::{
    Cancellation, CancellationKind, Customer, Incident, MarketplaceState, Money, Order, OrderBatch,
    OrderLine, OrderStatus, Timestamp,
};

const CONFIG: &str = r#"
    [[channel]]
    name = "lm"
    kind = "mirakl"
    base_url = "https://mirakl.example"
    api_key = "k"
    poll_interval = "2s"

    [notify.channel.lm]
    events = ["cancelled", "delayed"]
    routes = ["marketplace"]

    [[events.webhook]]
    name = "erp"
    url = "http://127.0.0.1:9/erp"
"#;

struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    config: Config,
}

impl Rig {
    fn new(on_hand: u32) -> Self {
        Self::with_config(on_hand, CONFIG)
    }

    fn with_config(on_hand: u32, text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = config::parse(
            text,
            Path::new("/etc/vigie/vigie.toml"),
            &Environment::default(),
        )
        .unwrap();
        store
            .with(|c| {
                let item = stock::StockItem {
                    sku: "A".into(),
                    quantity: on_hand,
                    tags: vec![],
                };
                stock::set(c, &item, &store::now_text())
            })
            .unwrap();
        Self {
            _dir: dir,
            store,
            config,
        }
    }

    fn poll(&self, order: &Order) {
        let config = &self.config;
        let batch = OrderBatch {
            orders: vec![order.clone()],
            ..OrderBatch::default()
        };
        self.store
            .with(move |conn| {
                let map = SkuMap::new(vec![]);
                let settings = Settings {
                    channel: "lm",
                    config,
                    policy: Policy {
                        channel: "lm",
                        timezone: &jiff::tz::TimeZone::UTC,
                        rules: &config.rules,
                        safety_buffer: 0,
                        partial_acceptance: true,
                    },
                    deadline: Deadline::Calendar(std::time::Duration::from_secs(5 * 86_400)),
                    shipping_deadline: config.channels[0].shipping_deadline,
                    sku_map: &map,
                    dry_run: false,
                };
                ingest::commit(conn, &settings, &batch, &[])
            })
            .unwrap();
    }

    /// (on hand, reserved) of SKU A.
    fn ledger(&self) -> (i64, i64) {
        self.store
            .with(|c| {
                let on_hand =
                    c.query_row("SELECT on_hand FROM stock WHERE sku = 'A'", [], |r| {
                        r.get(0)
                    })?;
                Ok((on_hand, reservations::reserved(c, "A")?))
            })
            .unwrap()
    }

    /// The outbox jobs of the order: (event, destination).
    fn jobs(&self) -> Vec<(String, String)> {
        self.store
            .with(|c| {
                let mut stmt = c.prepare("SELECT event, destination FROM outbox ORDER BY id")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .unwrap()
    }

    fn view(&self) -> serde_json::Value {
        let list = self
            .store
            .with(|c| orders::list(c, &Default::default()))
            .unwrap();
        serde_json::to_value(&list[0]).unwrap()
    }

    fn open_alerts(&self) -> Vec<String> {
        self.store
            .with(|c| {
                Ok(alerts::open(c)?
                    .into_iter()
                    .map(|(key, _, _)| key)
                    .collect())
            })
            .unwrap()
    }
}

fn order(status: OrderStatus, quantity: u32, created: Timestamp) -> Order {
    let state = MarketplaceState::new(status.as_str().to_uppercase(), status);
    Order {
        id: "O-1".into(),
        reference: "O-1".into(),
        state: state.clone(),
        created_at: created,
        updated_at: created,
        acceptance_deadline: None,
        shipping_deadline: None,
        customer: Customer::default(),
        destination_hints: Default::default(),
        shipping_address: None,
        lines: vec![OrderLine {
            id: "O-1-1".into(),
            sku: "A".into(),
            title: None,
            quantity,
            price: Money::new(Decimal::TEN, "EUR"),
            state,
            cancellations: vec![],
        }],
        total: Money::new(Decimal::TEN, "EUR"),
        shipment: None,
        incident: None,
    }
}

/// The same order, later, in `status`, its line taken back as `kind`.
fn taken_back(
    mut o: Order,
    status: OrderStatus,
    kind: CancellationKind,
    quantity: u32,
    after_shipping: bool,
) -> Order {
    let state = MarketplaceState::new(status.as_str().to_uppercase(), status);
    o.updated_at = o
        .updated_at
        .checked_add(jiff::SignedDuration::from_secs(60))
        .unwrap();
    o.state = state.clone();
    o.lines[0].state = state;
    o.lines[0].cancellations.push(Cancellation {
        id: None,
        kind,
        quantity,
        reason: Some("CUSTOMER_REQUEST".into()),
        after_shipping,
    });
    o
}

fn moved(mut o: Order, status: OrderStatus) -> Order {
    let state = MarketplaceState::new(status.as_str().to_uppercase(), status);
    o.updated_at = o
        .updated_at
        .checked_add(jiff::SignedDuration::from_secs(60))
        .unwrap();
    o.state = state.clone();
    o.lines[0].state = state;
    o
}

#[test]
fn a_customer_cancellation_releases_the_units_and_says_why_once() {
    let rig = Rig::new(5);
    let seen = order(OrderStatus::AwaitingAcceptance, 2, Timestamp::now());
    rig.poll(&seen);
    assert_eq!(rig.ledger(), (5, 2));
    let cancelled = taken_back(
        seen,
        OrderStatus::Cancelled,
        CancellationKind::Cancelled,
        2,
        false,
    );
    rig.poll(&cancelled);
    rig.poll(&cancelled); // the same picture again changes nothing
    assert_eq!(rig.ledger(), (5, 0));
    let view = rig.view();
    assert_eq!(view["status"], "cancelled");
    assert_eq!(
        view["cancellations"],
        serde_json::json!([{"line_id": "O-1-1", "quantity": 2, "by": "customer",
                            "reason": "CUSTOMER_REQUEST", "kind": "cancelled"}])
    );
    let cancelled_jobs: Vec<_> = rig
        .jobs()
        .into_iter()
        .filter(|(e, _)| e == "cancelled")
        .collect();
    assert_eq!(cancelled_jobs.len(), 2, "{cancelled_jobs:?}"); // the customer and the ERP, once each
}

#[test]
fn an_unanswered_order_past_its_deadline_is_cancelled_by_the_marketplace() {
    let rig = Rig::new(5);
    let old = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * 6))
        .unwrap();
    let seen = order(OrderStatus::AwaitingAcceptance, 1, old);
    // Seen while an inventory was loaded: it is reserved and judged; keep it undecided by
    // showing it cancelled straight after, as a marketplace does at its deadline.
    rig.poll(&seen);
    let mut expired = taken_back(
        seen,
        OrderStatus::Cancelled,
        CancellationKind::Cancelled,
        1,
        false,
    );
    expired.updated_at = Timestamp::now();
    rig.poll(&expired);
    assert_eq!(rig.view()["cancellations"][0]["by"], "marketplace");
}

#[test]
fn a_refund_before_shipping_releases_and_a_partial_cancellation_shrinks_the_reservation() {
    let rig = Rig::new(5);
    let accepted = order(OrderStatus::Accepted, 3, Timestamp::now());
    rig.poll(&accepted);
    assert_eq!(rig.ledger(), (5, 3));
    // One unit of three cancelled by the operator; the line goes on.
    let partial = taken_back(
        accepted,
        OrderStatus::Accepted,
        CancellationKind::Cancelled,
        1,
        false,
    );
    rig.poll(&partial);
    assert_eq!(rig.ledger(), (5, 2));
    assert_eq!(rig.view()["cancellations"][0]["by"], "operator");
    let refunded = taken_back(
        partial,
        OrderStatus::Refunded,
        CancellationKind::Refunded,
        2,
        false,
    );
    rig.poll(&refunded);
    assert_eq!(rig.ledger(), (5, 0));
    assert_eq!(rig.view()["status"], "refunded");
    let events: Vec<_> = rig
        .jobs()
        .into_iter()
        .map(|(e, d)| format!("{e}->{d}"))
        .collect();
    // `refunded` reaches the seller's webhook only: customers hear of it when configured.
    assert!(
        events.iter().any(|e| e.starts_with("refunded->events:erp")),
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| e.starts_with("refunded")).count(),
        1,
        "{events:?}"
    );
}

#[test]
fn a_refund_after_shipping_keeps_the_units_out_of_stock() {
    let rig = Rig::new(5);
    let accepted = order(OrderStatus::Accepted, 2, Timestamp::now());
    rig.poll(&accepted);
    let shipped = moved(accepted, OrderStatus::Shipped);
    rig.poll(&shipped);
    assert_eq!(rig.ledger(), (3, 0));
    rig.poll(&taken_back(
        shipped,
        OrderStatus::Refunded,
        CancellationKind::Refunded,
        2,
        true,
    ));
    assert_eq!(rig.ledger(), (3, 0), "a return waits for the next snapshot");
}

#[test]
fn a_refund_of_units_never_seen_shipping_takes_them_out_once() {
    let rig = Rig::new(5);
    let accepted = order(OrderStatus::Accepted, 2, Timestamp::now());
    rig.poll(&accepted);
    let refunded = taken_back(
        accepted,
        OrderStatus::Refunded,
        CancellationKind::Refunded,
        2,
        true,
    );
    rig.poll(&refunded);
    rig.poll(&refunded);
    assert_eq!(rig.ledger(), (3, 0));
}

#[test]
fn a_claim_raises_incident_opened_until_the_marketplace_closes_it() {
    let rig = Rig::new(5);
    let shipped = order(OrderStatus::Shipped, 1, Timestamp::now());
    rig.poll(&shipped);
    let mut claimed = moved(shipped, OrderStatus::Shipped);
    claimed.incident = Some(Incident {
        reason: Some("item not received".into()),
    });
    rig.poll(&claimed);
    rig.poll(&claimed);
    assert_eq!(rig.open_alerts(), ["incident_opened:lm:O-1"]);
    assert_eq!(rig.view()["status"], "incident");
    let filter = orders::OrderFilter {
        status: Some("incident".into()),
        ..Default::default()
    };
    assert_eq!(
        rig.store.with(|c| orders::list(c, &filter)).unwrap().len(),
        1
    );
    let incident_jobs: Vec<_> = rig
        .jobs()
        .into_iter()
        .filter(|(e, _)| e == "incident_opened")
        .collect();
    assert_eq!(
        incident_jobs,
        [("incident_opened".to_owned(), "events:erp".to_owned())]
    );
    let mut closed = moved(claimed, OrderStatus::Shipped);
    closed.incident = None;
    rig.poll(&closed);
    assert!(rig.open_alerts().is_empty());
    assert_eq!(rig.view()["status"], "shipped");
}

#[test]
fn a_refund_after_shipping_of_part_of_a_line_takes_only_its_units() {
    let rig = Rig::new(5);
    let accepted = order(OrderStatus::Accepted, 3, Timestamp::now());
    rig.poll(&accepted);
    assert_eq!(rig.ledger(), (5, 3));
    // One unit left and came back refunded; the order has not shipped its other two yet.
    rig.poll(&taken_back(
        accepted,
        OrderStatus::Accepted,
        CancellationKind::Refunded,
        1,
        true,
    ));
    assert_eq!(rig.ledger(), (4, 2), "the two units still owed stay held");
}

/// The order, later, with one more cancellation of its line (the marketplace's id `id`).
fn cancelled_again(mut o: Order, id: &str, quantity: u32) -> Order {
    o.updated_at = o
        .updated_at
        .checked_add(jiff::SignedDuration::from_secs(60))
        .unwrap();
    o.lines[0].cancellations.push(Cancellation {
        id: Some(id.into()),
        kind: CancellationKind::Cancelled,
        quantity,
        reason: Some(format!("REASON_{id}")),
        after_shipping: false,
    });
    o
}

#[test]
fn each_cancellation_is_told_once_with_its_own_units() {
    let rig = Rig::new(5);
    let accepted = order(OrderStatus::Accepted, 3, Timestamp::now());
    rig.poll(&accepted);
    let first = cancelled_again(accepted, "c1", 1);
    rig.poll(&first);
    let second = cancelled_again(first, "c2", 1);
    rig.poll(&second);
    rig.poll(&second); // the same picture again: nothing more
    let told: Vec<String> = rig
        .store
        .with(|c| {
            let mut stmt = c.prepare(
                "SELECT payload FROM outbox WHERE event = 'cancelled' AND destination = 'marketplace'
                 ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .unwrap();
    assert_eq!(told.len(), 2, "one message per cancellation: {told:?}");
    for (payload, id) in told.iter().zip(["c1", "c2"]) {
        let facts: serde_json::Value = serde_json::from_str(payload).unwrap();
        let cancellations = &facts["order"]["lines"][0]["cancellations"];
        assert_eq!(cancellations.as_array().unwrap().len(), 1, "{facts:#}");
        assert_eq!(cancellations[0]["id"], id, "its own units: {facts:#}");
    }
    let cancelled = rig.jobs().into_iter().filter(|(e, _)| e == "cancelled");
    assert_eq!(cancelled.count(), 4, "the customer and the ERP, twice");
    assert_eq!(rig.ledger(), (5, 1));
}

#[test]
fn the_shipping_deadline_alerts_like_the_acceptance_one_and_resolves_once_shipped() {
    let rig = Rig::new(5);
    let created = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(100))
        .unwrap();
    let mut accepted = order(OrderStatus::Accepted, 2, created);
    let deadline = created
        .checked_add(jiff::SignedDuration::from_hours(100))
        .unwrap();
    accepted.shipping_deadline = Some(deadline);
    rig.poll(&accepted);
    let at = |hours: i64| {
        created
            .checked_add(jiff::SignedDuration::from_hours(hours))
            .unwrap()
    };
    let watch = |hours: i64| {
        rig.store
            .with(|c| {
                let tx = c.transaction()?;
                let late = shipping_late::watch(&tx, &rig.config, "lm", at(hours))?;
                tx.commit()?;
                Ok(late)
            })
            .unwrap()
    };
    assert_eq!(watch(49), 0);
    assert!(rig.open_alerts().is_empty());
    watch(50);
    assert_eq!(rig.open_alerts(), ["shipment_late:50:lm:O-1"]);
    watch(80);
    assert_eq!(watch(100), 1, "late: counted once");
    assert_eq!(watch(101), 0);
    assert_eq!(
        rig.open_alerts(),
        [
            "shipment_late:50:lm:O-1",
            "shipment_late:80:lm:O-1",
            "shipment_late:100:lm:O-1"
        ]
    );
    let delayed: Vec<_> = rig
        .jobs()
        .into_iter()
        .filter(|(e, _)| e == "delayed")
        .collect();
    assert_eq!(
        delayed.len(),
        2,
        "the customer and the ERP, once: {delayed:?}"
    );

    // The marketplace reads the order shipped: every alert resolves.
    rig.poll(&moved(accepted, OrderStatus::Shipped));
    watch(102);
    assert!(rig.open_alerts().is_empty(), "{:?}", rig.open_alerts());
}

#[test]
fn a_channel_whose_marketplace_announces_no_shipping_deadline_uses_its_own() {
    let text = CONFIG.replace(
        "poll_interval = \"2s\"",
        "poll_interval = \"2s\"\n    shipping_deadline = \"4d\"",
    );
    let rig = Rig::with_config(5, &text);
    let created = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(60))
        .unwrap();
    let accepted = order(OrderStatus::Accepted, 1, created);
    assert_eq!(accepted.shipping_deadline, None);
    rig.poll(&accepted);
    let watch_at = |hours: i64| {
        let at = created
            .checked_add(jiff::SignedDuration::from_hours(hours))
            .unwrap();
        rig.store
            .with(|c| {
                let tx = c.transaction()?;
                let late = shipping_late::watch(&tx, &rig.config, "lm", at)?;
                tx.commit()?;
                Ok(late)
            })
            .unwrap()
    };
    watch_at(47);
    assert!(rig.open_alerts().is_empty(), "{:?}", rig.open_alerts());
    watch_at(48);
    assert_eq!(rig.open_alerts(), ["shipment_late:50:lm:O-1"]);
    assert_eq!(watch_at(96), 1, "four days after its creation, late");
}

/// Amazon has no acceptance step: its orders read "awaiting" (`UNSHIPPED`) until they ship,
/// so the watch follows those vigie accepted.
#[test]
fn an_order_accepted_by_vigie_that_still_reads_awaiting_is_watched_for_shipping() {
    let rig = Rig::new(5);
    let created = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(10))
        .unwrap();
    let mut unshipped = order(OrderStatus::AwaitingAcceptance, 1, created);
    unshipped.shipping_deadline = Some(
        created
            .checked_add(jiff::SignedDuration::from_hours(10))
            .unwrap(),
    );
    rig.poll(&unshipped);
    let watch = || {
        rig.store
            .with(|c| {
                let tx = c.transaction()?;
                let late = shipping_late::watch(&tx, &rig.config, "lm", Timestamp::now())?;
                tx.commit()?;
                Ok(late)
            })
            .unwrap()
    };
    assert_eq!(
        watch(),
        0,
        "not accepted by vigie yet: the acceptance watch's"
    );
    assert!(
        rig.open_alerts()
            .iter()
            .all(|k| !k.starts_with("shipment_late"))
    );
    rig.store
        .with(|c| {
            let pk: i64 = c.query_row("SELECT id FROM orders", [], |r| r.get(0))?;
            decisions::settle_pending(c, pk, decisions::Outcome::Confirmed, None, "now")?;
            Ok(())
        })
        .unwrap();
    assert_eq!(
        watch(),
        1,
        "accepted, past its shipping deadline, nothing shipped"
    );
    assert!(
        rig.open_alerts()
            .contains(&"shipment_late:100:lm:O-1".to_owned()),
        "{:?}",
        rig.open_alerts()
    );
}
