//! Checks that depend on the clock rather than on a poll: orders nearing their acceptance
//! deadline (alerts at 50 % and 80 % of the window), orders waiting too long (the customer's
//! `delayed` message), SKUs running low. Each raises or resolves idempotently, so running
//! them every cycle is safe.

use jiff::Timestamp;
use rusqlite::{Connection, Transaction};

use super::{Context, Error};
use crate::config::Config;
use crate::delivery;
use crate::domain::alert_keys::{self, DEADLINE_STEPS};
use crate::domain::alerts::{Alert, AlertKind};
use crate::domain::deadlines;
use crate::events::OrderEvent;
use crate::store::{self, alerts, orders, stock};

/// Runs every check for `channel` in one transaction, then wakes the senders.
pub(super) async fn run(channel: &str, ctx: &Context, now: Timestamp) -> Result<(), Error> {
    let (name, config) = (channel.to_owned(), ctx.config.clone());
    ctx.store
        .call(move |conn| {
            let tx = conn.transaction()?;
            waiting_orders(&tx, &config, &name, now)?;
            stock_levels(&tx, &config, &store::time_text(now))?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    ctx.delivery.notify_one();
    Ok(())
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

/// Deadline alerts and `delayed` messages for `channel`'s orders still waiting for a decision
/// the marketplace confirmed (undecided, held for review, or a decision not yet accepted by
/// the marketplace). Returns how many messages were queued.
pub fn waiting_orders(
    tx: &Transaction<'_>,
    config: &Config,
    channel: &str,
    now: Timestamp,
) -> store::Result<usize> {
    let now_text = store::time_text(now);
    let mut queued = 0;
    for (stored, order) in orders::awaiting_confirmation(tx, channel)? {
        let order_id = &stored.order_id;
        if let Some(deadline) = stored.deadline_at {
            let elapsed = deadlines::elapsed_fraction(stored.created_at, deadline, now);
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
            queued += delivery::enqueue(
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
    Ok(queued)
}

/// Raises `stock_low` for every SKU at or below its threshold, resolves it above.
pub fn stock_levels(conn: &Connection, config: &Config, now: &str) -> store::Result<()> {
    let alerts = &config.alerts;
    if alerts.stock_low.is_none() && alerts.stock_low_sku.is_empty() {
        return Ok(());
    }
    for (sku, available) in stock::all_available(conn, config.inventory.safety_buffer)? {
        let Some(threshold) = alerts.stock_low_threshold(&sku) else {
            continue;
        };
        let key = alert_keys::stock_low(&sku);
        if available <= i64::from(threshold) {
            let message = format!(
                "{sku}: {} unit(s) left to sell (threshold {threshold})",
                available.max(0)
            );
            alerts::raise(conn, &Alert::new(AlertKind::StockLow, key, message), now)?;
        } else {
            alerts::resolve(conn, &key, now)?;
        }
    }
    Ok(())
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
            customer: Customer::default(),
            shipping_address: None,
            lines: vec![],
            total: Money::new(Decimal::TEN, "EUR"),
            shipment: None,
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
                    Some(deadline),
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
                    let queued = waiting_orders(
                        &tx,
                        &config,
                        "lm",
                        created + SignedDuration::from_hours(hours),
                    )?;
                    tx.commit()?;
                    Ok(queued)
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
        assert_eq!(check(102), 1);
        assert_eq!(check(103), 0);

        store
            .with(|c| order_settled(c, "lm", "o1", &store::now_text()))
            .unwrap();
        assert!(open_alerts(&store).is_empty());
    }
}
