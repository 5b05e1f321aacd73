//! Checks that depend on the clock rather than on a poll: orders nearing their acceptance
//! deadline (alerts at 50 % and 80 % of the window, `[rules] on_deadline`) or past it, orders
//! waiting too long (the customer's `delayed` message), accepted orders nearing their shipping
//! deadline ([`shipping_late`]), SKUs running low. Each raises, decides
//! or resolves idempotently, so running them every cycle is safe.

use jiff::Timestamp;
use rusqlite::{Connection, Transaction};

use super::{Channel, Context, Error, deadline, shipping_late};
use crate::config::Config;
use crate::delivery;
use crate::domain::alert_keys::{self, DEADLINE_STEPS};
use crate::domain::alerts::{Alert, AlertKind};
use crate::domain::deadlines;
use crate::events::OrderEvent;
use crate::store::{self, alerts, orders, stock, stock_low};

/// Runs every check for `channel` in one transaction, then wakes the senders. Returns whether
/// an order was decided at its deadline (channels need new quantities).
pub(super) async fn run(channel: &Channel, ctx: &Context, now: Timestamp) -> Result<bool, Error> {
    let (name, config) = (channel.name().to_owned(), ctx.config.clone());
    let partial_allowed = channel.partial_acceptance();
    let (waiting, late) = ctx
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let waiting = waiting_orders(&tx, &config, &name, partial_allowed, now)?;
            let late = shipping_late::watch(&tx, &config, &name, now)?;
            let now = store::time_text(now);
            stock_levels(&tx, &config, &now)?;
            skus_now_listed(&tx, &name, &now)?;
            tx.commit()?;
            Ok((waiting, late))
        })
        .await?;
    metrics::counter!("vigie_parcels_total", "channel" => channel.name().to_owned(),
        "outcome" => "late")
    .increment(late as u64);
    ctx.delivery.notify_one();
    Ok(waiting.decided > 0)
}

/// Closes the alerts an order stops deserving once it is decided or leaves the queue.
pub fn order_settled(
    conn: &Connection,
    channel: &str,
    order_id: &str,
    now: &str,
) -> store::Result<()> {
    for key in alert_keys::of_settled_order(channel, order_id) {
        alerts::resolve(conn, &key, now)?;
    }
    Ok(())
}

/// What [`waiting_orders`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Waiting {
    /// `delayed` messages queued.
    pub queued: usize,
    /// Orders decided by `[rules] on_deadline`.
    pub decided: usize,
}

/// Deadline alerts, `on_deadline` decisions and `delayed` messages for `channel`'s orders still
/// waiting for a decision the marketplace confirmed (undecided, held for review, or a decision
/// not yet accepted by the marketplace).
pub fn waiting_orders(
    tx: &Transaction<'_>,
    config: &Config,
    channel: &str,
    partial_allowed: bool,
    now: Timestamp,
) -> store::Result<Waiting> {
    let now_text = store::time_text(now);
    let mut waiting = Waiting::default();
    for (stored, order) in orders::awaiting_confirmation(tx, channel)? {
        let order_id = &stored.order_id;
        if let Some(deadline) = stored.deadline_at {
            let elapsed = deadlines::elapsed_fraction(stored.created_at, deadline, now);
            if deadline::apply(
                tx,
                &config.rules,
                (&stored, &order),
                elapsed,
                partial_allowed,
                config.inventory.safety_buffer,
                &now_text,
            )? {
                waiting.decided += 1;
            }
            if now >= deadline {
                let message = format!(
                    "{channel}:{order_id} passed its acceptance deadline ({deadline}) and the marketplace still shows it waiting; it may be cancelled any moment"
                );
                let alert = Alert::new(
                    AlertKind::DeadlineMissed,
                    alert_keys::deadline_missed(channel, order_id),
                    message,
                )
                .order(channel, order_id);
                alerts::raise(tx, &alert, &now_text)?;
            }
            for (step, percent) in DEADLINE_STEPS {
                if elapsed >= step {
                    let message = format!(
                        "{channel}:{order_id} is still undecided, {percent} % of its acceptance window gone (deadline {deadline})"
                    );
                    let alert = Alert::new(
                        AlertKind::DeadlineAtRisk,
                        alert_keys::deadline_at_risk(percent, channel, order_id),
                        message,
                    )
                    .order(channel, order_id);
                    alerts::raise(tx, &alert, &now_text)?;
                }
            }
        }
        let delayed_at = stored
            .first_seen_at
            .checked_add(config.notify.delayed_after)
            .unwrap_or(Timestamp::MAX);
        if now >= delayed_at {
            waiting.queued += delivery::enqueue(
                tx,
                config,
                channel,
                stored.pk,
                OrderEvent::Delayed,
                &order,
                &now_text,
            )?;
        }
    }
    Ok(waiting)
}

/// Resolves the `unknown_sku` alerts of `channel` whose SKU the inventory lists by now (a
/// snapshot or a `stock set` added it); the orders that named it still wait for review.
pub fn skus_now_listed(conn: &Connection, channel: &str, now: &str) -> store::Result<()> {
    for (key, _, _) in alerts::open(conn)? {
        if let Some(sku) = alert_keys::sku_of_unknown(&key, channel)
            && stock::listed(conn, sku)?.is_some()
        {
            alerts::resolve(conn, &key, now)?;
        }
    }
    Ok(())
}

/// Raises one `stock_low` digest listing the SKUs that fell to their threshold since the last
/// cycle; a SKU still low is not listed again until it has been above its threshold.
pub fn stock_levels(conn: &Connection, config: &Config, now: &str) -> store::Result<()> {
    /// The SKUs a digest names; the rest are counted.
    const LISTED: usize = 50;
    let alerts = &config.alerts;
    if alerts.stock_low.is_none() && alerts.stock_low_sku.is_empty() {
        return Ok(());
    }
    let mut crossed = Vec::new();
    for (sku, available) in stock::all_available(conn, config.inventory.safety_buffer)? {
        let Some(threshold) = alerts.stock_low_threshold(&sku) else {
            continue;
        };
        if available > i64::from(threshold) {
            stock_low::recovered(conn, &sku)?;
        } else if stock_low::crossed(conn, &sku, now)? {
            crossed.push(format!(
                "{sku} ({} left, threshold {threshold})",
                available.max(0)
            ));
        }
    }
    if crossed.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "{} SKU(s) at or below their low-stock threshold: {}",
        crossed.len(),
        crossed[..crossed.len().min(LISTED)].join(", ")
    );
    if crossed.len() > LISTED {
        message += &format!(" and {} more (vigie stock show)", crossed.len() - LISTED);
    }
    let alert = Alert::new(AlertKind::StockLow, alert_keys::stock_low(now), message);
    alerts::raise(conn, &alert, now)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use jiff::SignedDuration;
    use rust_decimal::Decimal;
    use vigie_connector::{Customer, MarketplaceState, Money, Order, OrderStatus};

    use super::*;
    use crate::config::Environment;
    use crate::store::{Store, orders};

    const CONFIG: &str = r#"
        [[channel]]
        name = "lm"
        kind = "mirakl"
        base_url = "https://x.example"
        api_key = "k"
        [notify]
        delayed_after = "1h"
        [notify.channel.lm]
        events = ["delayed"]
    "#;

    fn order(created: Timestamp) -> Order {
        let state = MarketplaceState::new("WAITING_ACCEPTANCE", OrderStatus::AwaitingAcceptance);
        Order {
            id: "o1".into(),
            reference: "o1".into(),
            state,
            created_at: created,
            updated_at: created,
            acceptance_deadline: None,
            shipping_deadline: None,
            customer: Customer::default(),
            destination_hints: Default::default(),
            shipping_address: None,
            lines: vec![],
            total: Money::new(Decimal::TEN, "EUR"),
            shipment: None,
            incident: None,
        }
    }

    fn open_alerts(store: &Store) -> Vec<String> {
        store
            .with(|c| {
                Ok(alerts::open(c)?
                    .into_iter()
                    .map(|(key, _, _)| key)
                    .collect())
            })
            .unwrap()
    }

    #[test]
    fn undecided_orders_alert_at_half_and_four_fifths_then_resolve() {
        let config = crate::config::parse(
            CONFIG,
            Path::new("/etc/vigie/vigie.toml"),
            &Environment::default(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let created = Timestamp::now() - SignedDuration::from_hours(100);
        let deadline = created + SignedDuration::from_hours(100);
        store
            .with(|c| {
                let tx = c.transaction()?;
                orders::ingest(
                    &tx,
                    "lm",
                    &order(created),
                    orders::Deadlines {
                        acceptance: Some(deadline),
                        shipping: None,
                    },
                    &store::now_text(),
                )?;
                tx.commit()?;
                Ok(())
            })
            .unwrap();
        let check = |hours: i64| {
            store
                .with(|c| {
                    let tx = c.transaction()?;
                    let waiting = waiting_orders(
                        &tx,
                        &config,
                        "lm",
                        false,
                        created + SignedDuration::from_hours(hours),
                    )?;
                    tx.commit()?;
                    Ok(waiting.queued)
                })
                .unwrap()
        };
        assert_eq!(check(49), 0);
        assert!(open_alerts(&store).is_empty());
        check(50);
        assert_eq!(open_alerts(&store), ["deadline_at_risk:50:lm:o1"]);
        check(80);
        check(90);
        assert_eq!(
            open_alerts(&store),
            ["deadline_at_risk:50:lm:o1", "deadline_at_risk:80:lm:o1"]
        );

        // the apology goes out once, an hour after first sight (first seen "now", i.e. at 100 h)
        assert_eq!(check(100), 0);
        assert!(open_alerts(&store).contains(&"deadline_missed:lm:o1".to_string()));
        assert_eq!(check(102), 1);
        assert_eq!(check(103), 0);

        store
            .with(|c| order_settled(c, "lm", "o1", &store::now_text()))
            .unwrap();
        assert!(open_alerts(&store).is_empty());
    }

    /// The messages of the `stock_low` alerts owed to on-call, oldest first (nothing delivers
    /// them in this test, so every one raised is still owed).
    fn stock_low_told(store: &Store) -> Vec<String> {
        store
            .with(|c| {
                Ok(alerts::owed(c)?
                    .into_iter()
                    .map(Result::unwrap)
                    .filter(|o| o.alert.alert.kind == AlertKind::StockLow)
                    .map(|o| o.alert.alert.message)
                    .collect())
            })
            .unwrap()
    }

    #[test]
    fn low_stock_is_one_digest_of_the_skus_that_crossed_then_silence_while_they_stay_low() {
        let config = crate::config::parse(
            &format!("{CONFIG}\n[alerts]\nstock_low = 2\n"),
            Path::new("/etc/vigie/vigie.toml"),
            &Environment::default(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let set = |sku: &str, quantity: u32| {
            store
                .with(|c| {
                    let item = stock::StockItem {
                        sku: sku.into(),
                        quantity,
                        tags: vec![],
                    };
                    stock::set(c, &item, &store::now_text())
                })
                .unwrap();
        };
        let cycle = |at: &str| {
            store.with(|c| stock_levels(c, &config, at)).unwrap();
        };
        for (sku, quantity) in [("A", 1), ("B", 2), ("C", 0), ("D", 9)] {
            set(sku, quantity);
        }
        cycle("2026-11-30T10:00:00.000000000Z");
        cycle("2026-11-30T10:01:00.000000000Z");
        set("A", 5);
        cycle("2026-11-30T10:02:00.000000000Z");
        set("A", 0);
        set("D", 1);
        cycle("2026-11-30T10:03:00.000000000Z");

        assert_eq!(
            stock_low_told(&store),
            [
                "3 SKU(s) at or below their low-stock threshold: A (1 left, threshold 2), \
                 B (2 left, threshold 2), C (0 left, threshold 2)",
                "2 SKU(s) at or below their low-stock threshold: A (0 left, threshold 2), \
                 D (1 left, threshold 2)"
            ]
        );
        // Told once: nothing stays open to be reminded every few hours.
        assert!(open_alerts(&store).is_empty());
    }

    #[test]
    fn an_unknown_sku_alert_resolves_once_the_inventory_lists_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = store::now_text();
        store
            .with(|c| {
                for (channel, sku) in [("lm", "X"), ("lm2", "X")] {
                    let key = alert_keys::unknown_sku(channel, sku);
                    let alert = Alert::new(AlertKind::UnknownSku, key, "unknown");
                    alerts::raise(c, &alert, &now)?;
                }
                skus_now_listed(c, "lm", &now)
            })
            .unwrap();
        assert_eq!(
            open_alerts(&store),
            ["unknown_sku:lm:X", "unknown_sku:lm2:X"]
        );

        store
            .with(|c| {
                let item = stock::StockItem {
                    sku: "X".into(),
                    quantity: 0,
                    tags: vec![],
                };
                stock::set(c, &item, &now)?;
                skus_now_listed(c, "lm", &now)
            })
            .unwrap();
        assert_eq!(open_alerts(&store), ["unknown_sku:lm2:X"], "only lm's");
    }
}
