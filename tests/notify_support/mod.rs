//! Shared by the notification and alert tests: a configuration around a real SQLite file, an
//! order row, a polling helper, and the SMTP sink of vigie-testkit.

#![allow(dead_code)] // each test file uses part of it

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vigie::config::{Config, Environment};
use vigie::store::Store;
use vigie_connector::{
    Customer, Decimal, MarketplaceState, Money, Order, OrderLine, OrderStatus, Timestamp,
};

/// A configuration with one Mirakl channel `shop` at `base_url`, plus `extra` TOML.
pub fn config(dir: &Path, base_url: &str, extra: &str) -> Config {
    let text = format!(
        r#"
[daemon]
state_dir = "{state}"
shop_name = "Ma Boutique"
timezone = "Europe/Paris"

[[channel]]
name = "shop"
kind = "mirakl"
base_url = "{base_url}"
api_key = "sandbox-shop-key"

{extra}
"#,
        state = dir.join("state").display(),
    );
    vigie::config::parse(&text, &dir.join("vigie.toml"), &Environment::default())
        .unwrap_or_else(|e| panic!("test config: {e}"))
}

pub fn open_store(config: &Config) -> Store {
    Store::open(&config.daemon.state_dir).expect("open the store")
}

/// An order as a connector would read it, with French accents in the names.
pub fn order(id: &str) -> Order {
    let at: Timestamp = "2026-11-20T09:30:00Z".parse().unwrap();
    let state = MarketplaceState::new("WAITING_ACCEPTANCE", OrderStatus::AwaitingAcceptance);
    Order {
        id: id.to_owned(),
        reference: format!("{id}-REF"),
        state: state.clone(),
        created_at: at,
        updated_at: at,
        acceptance_deadline: Some("2026-11-24T17:00:00Z".parse().unwrap()),
        shipping_deadline: None,
        customer: Customer {
            first_name: Some("Hélène".to_owned()),
            last_name: Some("Lefèvre".to_owned()),
            email: Some(format!("notify+{}@example.org", id.to_lowercase())),
            locale: Some("fr_FR".to_owned()),
        },
        destination_hints: Default::default(),
        shipping_address: None,
        lines: vec![OrderLine {
            id: "1".to_owned(),
            sku: "PERC-18V".to_owned(),
            title: Some("Perceuse-visseuse 18 V".to_owned()),
            quantity: 1,
            price: Money::new(Decimal::new(12990, 2), "EUR"),
            state,
            cancellations: Vec::new(),
        }],
        total: Money::new(Decimal::new(12990, 2), "EUR"),
        shipment: None,
        incident: None,
    }
}

/// Stores `order` the way ingestion does (the columns notifications read), returning its id.
pub fn insert_order(store: &Store, channel: &str, order: &Order) -> i64 {
    let channel = channel.to_owned();
    let order = order.clone();
    store
        .with(move |conn| {
            conn.execute(
                "INSERT INTO orders (channel, order_id, reference, marketplace_state, status,
                    created_at, updated_at, first_seen_at, total_amount, currency, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    channel,
                    order.id,
                    order.reference,
                    order.state.raw,
                    order.state.status.as_str(),
                    order.created_at.to_string(),
                    order.total.amount.to_string(),
                    order.total.currency,
                    serde_json::to_string(&order).unwrap(),
                ],
            )?;
            Ok(conn.last_insert_rowid())
        })
        .unwrap()
}

/// Enqueues `event` for `order` in its own transaction, as the engine does with the status
/// change; returns how many rows were written.
pub fn enqueue(
    store: &Store,
    config: &Config,
    order_pk: i64,
    event: vigie::events::OrderEvent,
    order: &Order,
) -> usize {
    store
        .with(|conn| {
            let tx = conn.transaction()?;
            let n = vigie::delivery::enqueue(
                &tx,
                config,
                "shop",
                order_pk,
                event,
                order,
                &vigie::store::now_text(),
            )?;
            tx.commit()?;
            Ok(n)
        })
        .unwrap()
}

/// `(destination, state, attempts)` of every outbox row, in id order.
pub fn outbox(store: &Store) -> Vec<(String, String, i64)> {
    store
        .with(|conn| {
            let mut stmt =
                conn.prepare("SELECT destination, state, attempts FROM outbox ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .unwrap()
}

/// `(kind, dedup_key, message)` of every alert, in id order.
pub fn alerts(store: &Store) -> Vec<(String, String, String)> {
    store
        .with(|conn| {
            let mut stmt =
                conn.prepare("SELECT kind, dedup_key, message FROM alerts ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .unwrap()
}

/// Makes `server` answer `status` to every POST on `at`.
pub async fn answer(server: &wiremock::MockServer, at: &str, status: u16) {
    use wiremock::matchers::{method, path};
    wiremock::Mock::given(method("POST"))
        .and(path(at))
        .respond_with(wiremock::ResponseTemplate::new(status))
        .mount(server)
        .await;
}

/// A clock the test moves by hand, so retries are due exactly when the test says. It starts a
/// second ahead of the system clock, which stamps the rows the test enqueues.
pub fn manual_clock() -> (vigie::delivery::Clock, Arc<Mutex<Timestamp>>) {
    let start = Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let now = Arc::new(Mutex::new(start));
    let read = now.clone();
    (Arc::new(move || *read.lock().unwrap()), now)
}

/// Polls `condition` until it holds, failing after a generous real-time bound.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(5));
    }
}
