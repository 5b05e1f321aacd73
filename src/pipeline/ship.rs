//! Confirms the committed parcels to the marketplace until it takes them. A parcel is only
//! ever read back from the store, so a crash between its commit and the call resumes the
//! same parcel; a parcel the marketplace says it already has ("invalid state") is checked
//! against the order re-read, never counted twice. Also keeps the marketplace's carriers
//! list, read once a day.

use jiff::{SignedDuration, Timestamp};
use vigie_connector::{ConnectorError, Order, OrderStatus, Parcel, Shipment};

use super::{Channel, Context, Error, ingest};
use crate::delivery;
use crate::domain::alert_keys;
use crate::domain::alerts::{Alert, AlertKind};
use crate::events::OrderEvent;
use crate::store::outbox::Subject;
use crate::store::shipments::{self, Confirmation, PendingParcel};
use crate::store::{self, alerts, orders};

/// Mirakl asks for SH21 at most once a day; Fnac's list changes as rarely.
const CARRIERS_EVERY: SignedDuration = SignedDuration::from_hours(24);

/// Sends every pending parcel of the channel. Returns how many the marketplace confirmed
/// and whether re-reading the orders it already had moved stock.
pub async fn run(channel: &Channel, ctx: &Context) -> Result<(usize, bool), Error> {
    refresh_carriers(channel, ctx).await;
    let name = channel.name().to_owned();
    let pending = ctx
        .store
        .call(move |conn| shipments::pending(conn, &name))
        .await?;
    if pending.is_empty() {
        return Ok((0, false));
    }
    let parcels: Vec<_> = pending.iter().map(|p| p.parcel.clone()).collect();
    let answers = match channel.marketplace.confirm_parcels(&parcels).await {
        Ok(answers) => answers,
        Err(e @ ConnectorError::Auth(_)) => return Err(Error::Marketplace(e)),
        Err(e) => {
            tracing::warn!(channel = channel.name(), "parcels not confirmed yet: {e}");
            return Ok((0, false));
        }
    };
    let mut confirmed = 0;
    let mut reread = Vec::new();
    for (parcel, answer) in pending.into_iter().zip(answers) {
        match answer {
            Ok(()) => {
                settle(channel, ctx, &parcel, Confirmation::Confirmed, None).await?;
                confirmed += 1;
            }
            Err(ConnectorError::AlreadyDone(why)) => {
                tracing::info!(order = %parcel.parcel.order_id, "parcel: the marketplace says {why}; re-reading the order");
                reread.push(parcel);
            }
            Err(ConnectorError::Permanent { code, message }) => {
                let words = match code {
                    Some(code) => format!("{code}: {message}"),
                    None => message,
                };
                settle(channel, ctx, &parcel, Confirmation::Rejected, Some(words)).await?;
            }
            Err(e) => {
                tracing::warn!(order = %parcel.parcel.order_id, "parcel not confirmed yet: {e}");
            }
        }
    }
    if reread.is_empty() {
        return Ok((confirmed, false));
    }
    let ids: Vec<String> = reread.iter().map(|p| p.parcel.order_id.clone()).collect();
    let fresh = channel.marketplace.orders_by_id(&ids).await?;
    let report = ingest::run(channel, ctx, fresh, Vec::new()).await?;
    for parcel in reread {
        let order_pk = parcel.order_pk;
        let order = ctx
            .store
            .call(move |conn| orders::payload(conn, order_pk))
            .await?;
        match judged_on_its_lines(&order, &parcel.parcel) {
            // The marketplace had it already (the call before a crash got through).
            Some(Confirmation::Confirmed) => {
                settle(channel, ctx, &parcel, Confirmation::Confirmed, None).await?;
                confirmed += 1;
            }
            Some(Confirmation::Rejected) => {
                let words = format!("the order is {} on the marketplace", order.state.status);
                settle(channel, ctx, &parcel, Confirmation::Rejected, Some(words)).await?;
            }
            // Not ready to ship yet (payment pending): tried again next cycle.
            Some(Confirmation::Pending) | None => {}
        }
    }
    Ok((confirmed, report.stock_moved))
}

/// What the re-read order says of a parcel the marketplace called done, judged on the
/// parcel's own lines (a partial parcel leaves the order itself unshipped on Fnac): shipped
/// when every one of them is, rejected when one was cancelled or refused, else undecided.
fn judged_on_its_lines(order: &Order, parcel: &Parcel) -> Option<Confirmation> {
    let statuses: Vec<OrderStatus> = parcel
        .lines
        .iter()
        .map(|units| {
            order
                .lines
                .iter()
                .find(|l| l.id == units.line_id)
                .map_or(order.state.status, |l| l.state.status)
        })
        .collect();
    let shipped = |s: &OrderStatus| {
        matches!(
            s,
            OrderStatus::Shipped | OrderStatus::Received | OrderStatus::Closed
        )
    };
    let gone = |s: &OrderStatus| matches!(s, OrderStatus::Cancelled | OrderStatus::Refused);
    if statuses.iter().all(shipped) || shipped(&order.state.status) {
        Some(Confirmation::Confirmed)
    } else if statuses.iter().any(gone) || gone(&order.state.status) {
        Some(Confirmation::Rejected)
    } else {
        None
    }
}

/// Records the marketplace's answer. A confirmed parcel queues the customer's `shipped`
/// message with its carrier and tracking in the same transaction; a rejected one raises
/// `shipment_rejected` with the marketplace's words.
async fn settle(
    channel: &Channel,
    ctx: &Context,
    pending: &PendingParcel,
    outcome: Confirmation,
    words: Option<String>,
) -> Result<(), Error> {
    let (name, config, pending) = (
        channel.name().to_owned(),
        ctx.config.clone(),
        pending.clone(),
    );
    ctx.store
        .call(move |conn| {
            let now = store::now_text();
            let tx = conn.transaction()?;
            shipments::settle(&tx, pending.id, outcome, words.as_deref(), &now)?;
            let parcel = &pending.parcel;
            match outcome {
                Confirmation::Confirmed => {
                    let mut order = orders::payload(&tx, pending.order_pk)?;
                    order.shipment = Some(Shipment {
                        tracking_number: Some(parcel.tracking_number.clone()),
                        carrier_code: parcel.carrier.code.clone(),
                        carrier_name: Some(parcel.carrier.name.clone()),
                        tracking_url: parcel.tracking_url.clone(),
                    });
                    // One `shipped` per parcel, with its own carrier and tracking.
                    let about = (OrderEvent::Shipped, Subject::Parcel(pending.id));
                    delivery::enqueue_about(
                        &tx,
                        &config,
                        &name,
                        pending.order_pk,
                        about,
                        &order,
                        &now,
                    )?;
                }
                Confirmation::Rejected => {
                    let text = format!(
                        "{name}:{}: the marketplace rejected the parcel {} ({}): {}",
                        parcel.order_id,
                        parcel.tracking_number,
                        parcel.carrier.name,
                        words.as_deref().unwrap_or_default()
                    );
                    let key = alert_keys::shipment_rejected(
                        &name,
                        &parcel.order_id,
                        &parcel.tracking_number,
                    );
                    let alert = Alert::new(AlertKind::ShipmentRejected, key, text)
                        .order(&name, &parcel.order_id);
                    alerts::raise(&tx, &alert, &now)?;
                }
                Confirmation::Pending => {}
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
    metrics::counter!("vigie_parcels_total", "channel" => channel.name().to_owned(),
        "outcome" => outcome_label(outcome))
    .increment(1);
    ctx.delivery.notify_one();
    Ok(())
}

fn outcome_label(outcome: Confirmation) -> &'static str {
    match outcome {
        Confirmation::Pending => "pending",
        Confirmation::Confirmed => "confirmed",
        Confirmation::Rejected => "rejected",
    }
}

/// Reads the marketplace's carriers when the cached list is a day old (or missing). A
/// failure keeps the old list: parcels still go out, by the `carriers` table or by name.
async fn refresh_carriers(channel: &Channel, ctx: &Context) {
    let name = channel.name().to_owned();
    let now = Timestamp::now();
    let read_at = ctx
        .store
        .call(move |conn| shipments::carriers_read_at(conn, &name))
        .await;
    match read_at {
        Ok(Some(at)) if now - CARRIERS_EVERY < at => return,
        Ok(_) => {}
        Err(e) => return tracing::warn!("cannot read the cached carriers: {e}"),
    }
    match channel.marketplace.carriers().await {
        Ok(listed) => {
            let name = channel.name().to_owned();
            let stored = ctx
                .store
                .call(move |conn| shipments::cache_carriers(conn, &name, &listed, now))
                .await;
            if let Err(e) = stored {
                tracing::warn!("cannot cache the carriers: {e}");
            }
        }
        Err(e) => tracing::warn!(channel = channel.name(), "carriers not read: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use vigie_connector::{MarketplaceState, ParcelCarrier, ParcelLine};

    use super::*;
    use crate::domain::test_orders;

    fn parcel(lines: &[&str]) -> Parcel {
        Parcel {
            order_id: "o1".into(),
            carrier: ParcelCarrier {
                name: "Colissimo".into(),
                code: None,
            },
            tracking_number: "6A1".into(),
            tracking_url: None,
            lines: lines
                .iter()
                .map(|l| ParcelLine {
                    line_id: (*l).into(),
                    quantity: 1,
                })
                .collect(),
            completes_order: false,
        }
    }

    #[test]
    fn a_parcel_the_marketplace_had_is_judged_on_its_own_lines() {
        // Fnac: one line shipped, the order itself still waiting for its other line.
        let mut order = test_orders::order(&[("A", 1), ("B", 1)], 50, None);
        let state = |raw: &str, status| MarketplaceState::new(raw, status);
        order.state = state("ToShip", OrderStatus::Accepted);
        order.lines[0].state = state("Shipped", OrderStatus::Shipped);
        order.lines[1].state = state("ToShip", OrderStatus::Accepted);
        assert_eq!(
            judged_on_its_lines(&order, &parcel(&["l0"])),
            Some(Confirmation::Confirmed)
        );
        assert_eq!(judged_on_its_lines(&order, &parcel(&["l0", "l1"])), None);
        order.lines[1].state = state("Cancelled", OrderStatus::Cancelled);
        assert_eq!(
            judged_on_its_lines(&order, &parcel(&["l1"])),
            Some(Confirmation::Rejected)
        );
    }
}
