//! Checks that depend on the clock rather than on a poll: orders nearing their acceptance
//! deadline (alerts at 50 % and 80 % of the window), orders waiting too long (the customer's
//! `delayed` message), SKUs running low. Each raises or resolves idempotently, so running
//! them every cycle is safe.

use jiff::Timestamp;
use rusqlite::{Connection, Transaction, params};
use vigie_connector::Order;

use super::sla;
use crate::config::Config;
use crate::delivery;
use crate::domain::alerts::{Alert, AlertKind};
use crate::events::OrderEvent;
use crate::store::{self, StoreError, alerts, stock};

/// Fractions of the acceptance window at which on-call hears of an undecided order.
const DEADLINE_STEPS: [(f64, u32); 2] = [(0.5, 50), (0.8, 80)];

pub fn flag_key(channel: &str, order_id: &str) -> String {
    format!("order_flagged:{channel}:{order_id}")
}

pub fn rejected_key(channel: &str, order_id: &str) -> String {
    format!("decision_rejected:{channel}:{order_id}")
}

fn deadline_key(percent: u32, channel: &str, order_id: &str) -> String {
    format!("deadline_at_risk:{percent}:{channel}:{order_id}")
}

/// Closes the alerts an order stops deserving once it is decided or leaves the queue.
pub fn order_settled(
    conn: &Connection,
    channel: &str,
    order_id: &str,
    now: &str,
) -> store::Result<()> {
    alerts::resolve(conn, &flag_key(channel, order_id), now)?;
    alerts::resolve(conn, &rejected_key(channel, order_id), now)?;
    for (_, percent) in DEADLINE_STEPS {
        alerts::resolve(conn, &deadline_key(percent, channel, order_id), now)?;
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
    let mut stmt = tx.prepare(
        "SELECT o.id, o.order_id, o.created_at, o.deadline_at, o.first_seen_at, o.payload
         FROM orders o
         WHERE o.channel = ?1 AND o.status = 'awaiting_acceptance'
           AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.order_pk = o.id AND d.outcome = 'confirmed')",
    )?;
    let waiting: Vec<(i64, String, String, Option<String>, String, String)> = stmt
        .query_map(params![channel], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let time = |text: &str| -> store::Result<Timestamp> {
        text.parse()
            .map_err(|e| StoreError::Data(format!("stored time {text:?}: {e}")))
    };
    let mut queued = 0;
    for (order_pk, order_id, created, deadline, first_seen, payload) in waiting {
        let created = time(&created)?;
        if let Some(deadline) = deadline.as_deref().map(time).transpose()? {
            let elapsed = sla::elapsed_fraction(created, deadline, now);
            for (step, percent) in DEADLINE_STEPS {
                if elapsed >= step {
                    let message = format!(
                        "{channel}:{order_id} is still undecided, {percent} % of its acceptance window gone (deadline {deadline})"
                    );
                    let alert = Alert::new(
                        AlertKind::DeadlineAtRisk,
                        deadline_key(percent, channel, &order_id),
                        message,
                    )
                    .order(channel, &order_id);
                    alerts::raise(tx, &alert, &now_text)?;
                }
            }
        }
        let delayed_at = time(&first_seen)?
            .checked_add(config.notify.delayed_after)
            .unwrap_or(Timestamp::MAX);
        if now >= delayed_at {
            let order: Order =
                serde_json::from_str(&payload).map_err(|e| StoreError::Data(e.to_string()))?;
            queued += delivery::enqueue(
                tx,
                config,
                channel,
                order_pk,
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
        let key = format!("stock_low:{sku}");
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
    use vigie_connector::{Customer, MarketplaceState, Money, OrderStatus};

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
        let deadline = (created + SignedDuration::from_hours(100)).to_string();
        store
            .with(|c| {
                let tx = c.transaction()?;
                orders::ingest(
                    &tx,
                    "lm",
                    &order(created),
                    Some(&deadline),
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
