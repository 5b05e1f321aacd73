//! Order events into the queue: one job per destination configured for the event.

use rusqlite::Transaction;
use vigie_connector::Order;

use super::render::facts;
use crate::config::{Config, Route};
use crate::events::OrderEvent;
use crate::store::outbox::{self, Destination, Subject};
use crate::store::{self, StoreError};

/// Writes one job per destination configured for `event` on `channel` (customer routes, then
/// every `[[events.webhook]]` that wants it), inside the caller's transaction, so the jobs
/// commit with the status change. The e-mail route of an order the marketplace gave no
/// address for goes through the marketplace's messaging instead (once, if that route is
/// configured too). A job that already exists for (order, event, destination) is left alone.
/// Returns how many were written.
pub fn enqueue(
    tx: &Transaction<'_>,
    config: &Config,
    channel: &str,
    order_pk: i64,
    event: OrderEvent,
    order: &Order,
    now: &str,
) -> store::Result<usize> {
    let about = (event, Subject::Order);
    enqueue_about(tx, config, channel, order_pk, about, order, now)
}

/// [`enqueue`] for one `subject` of the order (a parcel, a cancellation, a late shipment):
/// each subject is told once per event and destination, so a second parcel is a second
/// `shipped` and the same parcel confirmed again is not.
pub fn enqueue_about(
    tx: &Transaction<'_>,
    config: &Config,
    channel: &str,
    order_pk: i64,
    (event, subject): (OrderEvent, Subject),
    order: &Order,
    now: &str,
) -> store::Result<usize> {
    let routes: &[Route] = match config.notify.channel(channel) {
        Some(c) if c.events.contains(&event) => &c.routes,
        _ => &[],
    };
    let has_email = order
        .customer
        .email
        .as_deref()
        .is_some_and(|e| !e.trim().is_empty());
    let mut destinations: Vec<Destination> = Vec::new();
    for route in routes {
        let destination = match route {
            Route::Email if !has_email => Destination::Marketplace,
            route => route_destination(*route),
        };
        if !destinations.contains(&destination) {
            destinations.push(destination);
        }
    }
    destinations.extend(
        config
            .events
            .webhook
            .iter()
            .filter(|w| w.events.contains(&event))
            .map(|w| Destination::Events(w.name.clone())),
    );
    if destinations.is_empty() {
        return Ok(0);
    }
    let mut facts = facts::gather(tx, config, channel, order_pk, event, order, now)?;
    facts.shipping_late = subject == Subject::ShippingLate;
    let payload = serde_json::to_string(&facts).map_err(|e| {
        StoreError::Data(format!(
            "order {order_pk}: cannot encode the {} facts: {e}",
            event.as_str()
        ))
    })?;
    let mut written = 0;
    for destination in &destinations {
        if outbox::insert_order_job(tx, order_pk, (event, &subject), destination, &payload, now)? {
            written += 1;
        }
    }
    Ok(written)
}

fn route_destination(route: Route) -> Destination {
    match route {
        Route::Marketplace => Destination::Marketplace,
        Route::Email => Destination::Email,
        Route::Webhook => Destination::Webhook,
    }
}
