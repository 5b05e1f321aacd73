//! A database written by the previous release opens with today's store, migrates forward and
//! reads back unchanged: every row through the typed store functions (a stray state or time
//! would be an error naming its row), the views scripts read equal to what that release
//! printed.
//!
//! How `tests/fixtures/previous_release.db` was made, once, with the release of commit
//! 01eb75f (before the store owned its tables); it stands for the databases sellers have, so
//! it is never regenerated:
//! 1. `cargo run --release -- demo --keep`: both sandboxes and the real daemon, 120 orders.
//! 2. Trimmed with sqlite3 to the first 24 orders (`DELETE` of the later orders and of their
//!    lines, history, decisions, flags, reservations, outbox rows and order alerts; `VACUUM`).
//! 3. Topped up, through that commit's library in a throwaway program, with what a minute of
//!    demo does not reach: four orders ingested by `ingest::commit` with an unreadable payload
//!    (quarantine and its alert); one decision the marketplace rejected (`failed` and
//!    `decision_rejected`), one it confirmed (the executor's transaction: a `confirmed`
//!    reservation, the `accepted` message queued), one left pending, one cancelled before it
//!    went out (`superseded`, units `released`); a stock batch still being applied; outbox rows
//!    left `uncertain` (with its alert), `failed`, waiting for a retry and `sending`; a
//!    notified `stock_low` resolved (owed its `resolve` notice); two reviews (`vigie review`'s
//!    function: a refusal and an acceptance) not yet sent.
//! 4. Checkpointed (`PRAGMA wal_checkpoint(TRUNCATE)`, no WAL left beside it) and vacuumed.
//!
//! The `.json` files beside it are what that release's binary printed for it:
//! `vigie orders --json`, `vigie stock show --json` and `vigie status --json` (with the two
//! channels of [`CONFIG`]).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;
use serde_json::Value;
use vigie::config::{self, Config, Environment};
use vigie::store::decisions::{self, Outcome, Source};
use vigie::store::orders::{self, OrderFilter};
use vigie::store::reservations::{self, ReservationState};
use vigie::store::{Store, StoreError, channels, pushes, quarantine, status, stock};
use vigie_connector::{Money, OrderStatus, Timestamp};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/previous_release"
);

/// The demo's two channels, as far as `vigie status` shows them.
const CONFIG: &str = r#"
    [[channel]]
    name = "leroymerlin"
    kind = "mirakl"
    base_url = "https://mirakl.example"
    api_key = "k"
    shop_id = 2001
    poll_interval = "2s"

    [[channel]]
    name = "fnac"
    kind = "fnac"
    base_url = "https://fnac.example/api.php"
    partner_id = "8af00a13-3fad-517d-86cc-7763222724a2"
    shop_id = "67e92d78-fd76-30b2-a2ef-6071de5134d1"
    key = "6a3a9ca3-9e0f-81a8-08ca-b0dff8119fea"
    poll_interval = "2s"
"#;

/// The fixture opened by today's store, from a copy (opening migrates it).
fn open_fixture() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{FIXTURE}.db"),
        dir.path().join(vigie::store::DATABASE_FILE),
    )
    .unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn printed(view: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURE}.{view}.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn config() -> Config {
    config::parse(
        CONFIG,
        Path::new("/etc/vigie/vigie.toml"),
        &Environment::default(),
    )
    .unwrap()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Everything the previous release printed is still printed, with the same value; fields a
/// later release adds are allowed.
fn assert_still_shows(today: &Value, before: &Value, path: &str) {
    match (today, before) {
        (Value::Object(today), Value::Object(before)) => {
            for (key, value) in before {
                let inner = format!("{path}.{key}");
                let now = today.get(key).unwrap_or_else(|| panic!("{inner} is gone"));
                assert_still_shows(now, value, &inner);
            }
        }
        (Value::Array(today), Value::Array(before)) => {
            assert_eq!(today.len(), before.len(), "{path}: length");
            for (n, (now, value)) in today.iter().zip(before).enumerate() {
                assert_still_shows(now, value, &format!("{path}[{n}]"));
            }
        }
        _ => assert_eq!(today, before, "{path}"),
    }
}

fn every_sku(c: &Connection, buffer: u32) -> Result<Vec<stock::StockView>, StoreError> {
    let mut rows = Vec::new();
    stock::show(c, None, buffer, |row| {
        rows.push(row);
        Ok::<_, StoreError>(())
    })?;
    Ok(rows)
}

#[test]
fn the_views_scripts_read_are_what_the_previous_release_printed() {
    let (_dir, store) = open_fixture();
    let config = config();
    let (orders, stock, status) = store
        .with(|c| {
            Ok((
                orders::list(c, &OrderFilter::default())?,
                every_sku(c, config.inventory.safety_buffer)?,
                status::report(c, &config, Timestamp::now())?,
            ))
        })
        .unwrap();
    assert_still_shows(
        &serde_json::to_value(orders).unwrap(),
        &printed("orders"),
        "orders",
    );
    assert_still_shows(
        &serde_json::to_value(stock).unwrap(),
        &printed("stock"),
        "stock",
    );

    // The KPIs now count the orders of a window (the previous release counted every order,
    // and only vigie's confirmed decisions): each field it printed is still printed, and the
    // store's own tests check what they count. Everything else in the report is stored.
    let mut status = serde_json::to_value(status).unwrap();
    let mut before = printed("status");
    for (today, before) in status["channels"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .zip(before["channels"].as_array_mut().unwrap())
    {
        let (today, before) = (
            today.as_object_mut().unwrap(),
            before.as_object_mut().unwrap(),
        );
        let (kpis, printed) = (
            today.remove("kpis").unwrap(),
            before.remove("kpis").unwrap(),
        );
        for key in printed.as_object().unwrap().keys() {
            assert!(kpis.get(key).is_some(), "kpis.{key} is gone");
        }
    }
    // Low stock is one digest per cycle now: the upgrade closes the six per-SKU `stock_low`
    // alerts the previous release held open (see migration V4 and its store test).
    before["open_alerts"] = (before["open_alerts"].as_i64().unwrap() - 6).into();
    assert_still_shows(&status, &before, "status");
}

#[test]
fn every_row_reads_back_through_the_typed_store() {
    let (_dir, store) = open_fixture();
    store
        .with(|c| {
            let listed = orders::list(c, &OrderFilter::default())?;
            assert_eq!(listed.len(), 28);
            let mut lines = 0;
            let mut reservation_states = BTreeMap::new();
            let mut outcomes = BTreeMap::new();
            let mut sources = BTreeMap::new();
            for view in &listed {
                let order = orders::find(c, &view.channel, &view.order_id)?.unwrap();
                let payload = orders::payload(c, order.pk)?;
                assert_eq!(payload.id, view.order_id);
                lines += orders::lines(c, order.pk)?.len();
                for r in reservations::of_order(c, order.pk)? {
                    *reservation_states
                        .entry(format!("{:?}", r.state))
                        .or_insert(0) += 1;
                }
                for d in decisions::of_order(c, order.pk)? {
                    *outcomes.entry(format!("{:?}", d.outcome)).or_insert(0) += 1;
                    *sources.entry(format!("{:?}", d.source)).or_insert(0) += 1;
                }
            }
            assert_eq!(lines, 28);
            let counts = |pairs: &[(&str, i32)]| -> BTreeMap<String, i32> {
                pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
            };
            assert_eq!(
                reservation_states,
                counts(&[
                    ("Confirmed", 1),
                    ("Consumed", 13),
                    ("Held", 8),
                    ("Released", 2)
                ])
            );
            assert_eq!(
                outcomes,
                counts(&[
                    ("None", 3),
                    ("Some(Confirmed)", 18),
                    ("Some(Failed)", 1),
                    ("Some(Superseded)", 1)
                ])
            );
            assert_eq!(sources, counts(&[("Review", 2), ("Rules", 21)]));

            let history: i64 =
                c.query_row("SELECT COUNT(*) FROM status_history", [], |r| r.get(0))?;
            let flags: i64 = c.query_row("SELECT COUNT(*) FROM flags", [], |r| r.get(0))?;
            assert_eq!((history, flags), (53, 7));

            assert_eq!(every_sku(c, 0)?.len(), 13);
            for channel in ["leroymerlin", "fnac"] {
                assert_eq!(pushes::told(c, channel)?.len(), 13, "{channel}");
                for cursor in ["updated_until", "queue_swept_at", "drift_checked_at"] {
                    assert!(channels::cursor(c, channel, cursor)?.is_some(), "{cursor}");
                }
            }
            assert_eq!(
                channels::cursor(c, "fnac", "updated_until")?,
                Some(at("2026-11-30T12:26:03.265700856Z"))
            );
            let batches = pushes::open_tickets(c, "fnac")?;
            assert_eq!(batches.len(), 1);
            assert_eq!(batches[0].ticket, "batch-fixture-1");
            assert_eq!(batches[0].skus, ["LAMP-01", "LAMP-02"]);
            assert!(pushes::open_tickets(c, "leroymerlin")?.is_empty());
            let health = channels::health(c)?;
            assert_eq!(health.len(), 2);
            assert!(health.iter().all(|h| h.consecutive_failures == 0));
            assert_eq!(quarantine::count(c)?, 1);
            Ok(())
        })
        .unwrap();
}

#[test]
fn orders_read_back_field_by_field() {
    let (_dir, store) = open_fixture();
    store
        .with(|c| {
            // Shipped: the decision confirmed, the units consumed.
            let shipped = orders::find(c, "leroymerlin", "SBX000003-A")?.unwrap();
            assert_eq!(shipped.reference, "SBX000003");
            assert_eq!(shipped.marketplace_state, "SHIPPED");
            assert_eq!(shipped.status, OrderStatus::Shipped);
            assert_eq!(shipped.created_at, at("2026-11-30T12:25:16.830Z"));
            assert_eq!(shipped.updated_at, at("2026-11-30T12:25:19.252Z"));
            assert_eq!(shipped.first_seen_at, at("2026-11-30T12:25:17.259105984Z"));
            assert_eq!(shipped.deadline_at, Some(at("2026-12-05T12:25:16.830Z")));
            assert_eq!(shipped.total, Money::new(150.into(), "EUR"));
            let lines = orders::lines(c, shipped.pk)?;
            assert_eq!(lines.len(), 1);
            assert_eq!(
                (lines[0].line_id.as_str(), lines[0].sku.as_str(), lines[0].quantity),
                ("SBX000003-A-1", "RUG-01", 2)
            );
            assert_eq!(lines[0].marketplace_state, "SHIPPED");
            assert_eq!(lines[0].status, OrderStatus::Shipped);
            let decided = decisions::of_order(c, shipped.pk)?;
            assert_eq!(decided.len(), 1);
            let d = &decided[0];
            assert!(d.accept);
            assert!(d.reasons.is_empty());
            assert_eq!((d.source, d.note.as_deref()), (Source::Rules, None));
            assert_eq!(d.decided_at, at("2026-11-30T12:25:17.259105984Z"));
            assert_eq!(d.outcome, Some(Outcome::Confirmed));
            assert_eq!(d.outcome_at, Some(at("2026-11-30T12:25:17.271880271Z")));
            assert_eq!(d.outcome_note, None);
            let held = reservations::of_order(c, shipped.pk)?;
            assert_eq!(held.len(), 1);
            assert_eq!(
                (held[0].line_id.as_str(), held[0].sku.as_str(), held[0].quantity),
                ("SBX000003-A-1", "RUG-01", 2)
            );
            assert_eq!(held[0].state, ReservationState::Consumed);
            assert_eq!(held[0].updated_at, at("2026-11-30T12:25:19.272573888Z"));

            // Rejected by the marketplace: the decision failed, its units still held.
            let failed = orders::find(c, "leroymerlin", "FX-FAILED")?.unwrap();
            assert_eq!(failed.status, OrderStatus::AwaitingAcceptance);
            assert_eq!(failed.total, Money::new("39.00".parse().unwrap(), "EUR"));
            let d = &decisions::of_order(c, failed.pk)?[0];
            assert_eq!(d.outcome, Some(Outcome::Failed));
            assert_eq!(
                d.outcome_note.as_deref(),
                Some(
                    "ORDER_PARTIAL_ACCEPTANCE_DISABLED: Partial acceptance is disabled for this shop"
                )
            );
            assert_eq!(
                reservations::of_order(c, failed.pk)?[0].state,
                ReservationState::Held
            );

            // Cancelled before vigie's acceptance went out.
            let superseded = orders::find(c, "leroymerlin", "FX-SUPERSEDED")?.unwrap();
            assert_eq!(superseded.status, OrderStatus::Cancelled);
            assert_eq!(superseded.marketplace_state, "CANCELED");
            let d = &decisions::of_order(c, superseded.pk)?[0];
            assert_eq!(d.outcome, Some(Outcome::Superseded));
            assert_eq!(
                d.outcome_note.as_deref(),
                Some("the marketplace made the order CANCELED first")
            );
            assert_eq!(
                reservations::of_order(c, superseded.pk)?[0].state,
                ReservationState::Released
            );

            // Confirmed by the marketplace, not shipped yet.
            let confirmed = orders::find(c, "leroymerlin", "FX-CONFIRMED")?.unwrap();
            let d = &decisions::of_order(c, confirmed.pk)?[0];
            assert_eq!(d.outcome, Some(Outcome::Confirmed));
            assert_eq!(
                reservations::of_order(c, confirmed.pk)?[0].state,
                ReservationState::Confirmed
            );

            // Two reviews and one rules decision still to be sent.
            let pending = decisions::pending(c, "fnac")?;
            let ids: Vec<&str> = pending.iter().map(|p| p.order_id.as_str()).collect();
            assert_eq!(ids, ["1FB737CD04725", "3F97D0F311617"]);
            assert!(!pending[0].lines[0].accept);
            assert!(pending[1].lines[0].accept);
            let refused = &decisions::of_order(c, pending[0].order_pk)?[0];
            assert_eq!(
                (refused.source, refused.note.as_deref()),
                (Source::Review, Some("customer asked"))
            );
            assert_eq!(
                reservations::of_order(c, pending[0].order_pk)?[0].state,
                ReservationState::Released
            );
            let accepted = &decisions::of_order(c, pending[1].order_pk)?[0];
            assert_eq!(
                (accepted.source, accepted.note.as_deref()),
                (Source::Review, Some("checked by phone"))
            );
            let ids: Vec<String> = decisions::pending(c, "leroymerlin")?
                .into_iter()
                .map(|p| p.order_id)
                .collect();
            assert_eq!(ids, ["FX-PENDING"]);
            Ok(())
        })
        .unwrap();
}
