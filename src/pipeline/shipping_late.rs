//! The shipping deadline a marketplace announces (or the channel's `shipping_deadline` sets),
//! watched like the acceptance one: on-call
//! hears of an order with units still to ship at 50 % and 80 % of its window (from the
//! order's creation) and at the deadline; the customer gets a `delayed` message once it has
//! passed (when the channel's customers hear `delayed`). Every alert resolves once each unit
//! owed has shipped or been cancelled.

use jiff::Timestamp;
use rusqlite::Transaction;

use crate::config::Config;
use crate::delivery;
use crate::domain::alert_keys::{self, SHIPPING_STEPS};
use crate::domain::alerts::{Alert, AlertKind};
use crate::domain::deadlines;
use crate::events::OrderEvent;
use crate::store::outbox::Subject;
use crate::store::{self, alerts, orders, shipments};

/// Raises, tells or resolves for each of `channel`'s orders with a shipping deadline. Returns
/// how many passed their deadline with units owed for the first time (the late-parcel count).
pub fn watch(
    tx: &Transaction<'_>,
    config: &Config,
    channel: &str,
    now: Timestamp,
) -> store::Result<usize> {
    let now_text = store::time_text(now);
    let mut newly_late = 0;
    for stored in orders::awaiting_shipment(tx, channel)? {
        let Some(deadline) = stored.shipping_deadline_at else {
            continue;
        };
        let order_id = &stored.order_id;
        let owed: u32 = shipments::units_left(tx, stored.pk)?.values().sum();
        // Awaiting acceptance here means accepted by vigie on a marketplace with no
        // acceptance step (the query's condition).
        let still_owed = owed > 0
            && matches!(
                stored.status,
                vigie_connector::OrderStatus::Accepted
                    | vigie_connector::OrderStatus::Pending
                    | vigie_connector::OrderStatus::AwaitingAcceptance
            );
        if !still_owed {
            for (_, percent) in SHIPPING_STEPS {
                alerts::resolve(
                    tx,
                    &alert_keys::shipment_late(percent, channel, order_id),
                    &now_text,
                )?;
            }
            continue;
        }
        let elapsed = deadlines::elapsed_fraction(stored.created_at, deadline, now);
        for (step, percent) in SHIPPING_STEPS {
            if elapsed < step {
                continue;
            }
            let message = if percent == 100 {
                format!(
                    "{channel}:{order_id} passed its shipping deadline ({deadline}) with {owed} unit(s) not shipped"
                )
            } else {
                format!(
                    "{channel}:{order_id} has {owed} unit(s) not shipped, {percent} % of its shipping window gone (deadline {deadline})"
                )
            };
            let key = alert_keys::shipment_late(percent, channel, order_id);
            let alert = Alert::new(AlertKind::ShipmentLate, key, message).order(channel, order_id);
            alerts::raise(tx, &alert, &now_text)?;
        }
        if now >= deadline && orders::mark_shipping_late(tx, stored.pk, &now_text)? {
            newly_late += 1;
            let order = orders::payload(tx, stored.pk)?;
            let about = (OrderEvent::Delayed, Subject::ShippingLate);
            delivery::enqueue_about(tx, config, channel, stored.pk, about, &order, &now_text)?;
        }
    }
    Ok(newly_late)
}
