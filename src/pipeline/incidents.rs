//! Claims on orders (a parcel not received, a damaged item): on-call hears of one when the
//! marketplace opens it, the seller's systems get an `incident_opened` event, and the alert
//! resolves when the marketplace closes it.

use rusqlite::Transaction;
use vigie_connector::Order;

use super::settings::Settings;
use crate::delivery;
use crate::domain::alert_keys;
use crate::domain::alerts::{Alert, AlertKind};
use crate::events::OrderEvent;
use crate::store::{self, alerts, orders};

/// Stores whether a claim is open on the order; raises or resolves its alert when that
/// changed. Returns the log line, if any.
pub(super) fn follow(
    tx: &Transaction<'_>,
    s: &Settings<'_>,
    order_pk: i64,
    order: &Order,
    now: &str,
) -> store::Result<Option<String>> {
    let open = order.incident.as_ref();
    let was_open = orders::set_incident(tx, order_pk, open.map(|i| i.reason.as_deref()))?;
    let (channel, order_id) = (s.channel, &order.id);
    let key = alert_keys::incident_opened(channel, order_id);
    match (was_open, open) {
        (false, Some(incident)) => {
            let why = incident.reason.as_deref().unwrap_or("no reason given");
            if !s.dry_run {
                let alert = Alert::new(
                    AlertKind::IncidentOpened,
                    key,
                    format!(
                        "{channel}:{order_id}: the customer opened a claim ({why}); answer it \
                         in the marketplace's back office"
                    ),
                );
                alerts::raise(tx, &alert.order(channel, order_id), now)?;
                delivery::enqueue(
                    tx,
                    s.config,
                    channel,
                    order_pk,
                    OrderEvent::IncidentOpened,
                    order,
                    now,
                )?;
            }
            Ok(Some(format!(
                "{channel}:{order_id} incident opened ({why})"
            )))
        }
        (true, None) => {
            if !s.dry_run {
                alerts::resolve(tx, &key, now)?;
            }
            Ok(Some(format!("{channel}:{order_id} incident closed")))
        }
        _ => Ok(None),
    }
}
