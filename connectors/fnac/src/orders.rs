//! Reading orders (`orders_query`, paged) and deciding them (`orders_update accept_order`,
//! batched).

use std::collections::HashSet;

use vigie_connector::{ConnectorError, OrderBatch, OrderDecision, Timestamp};

use crate::client::Transport;
use crate::incidents::{self, ClaimsPace};
use crate::pages::read_pages;
use crate::update::{self, OrderUpdate};
use crate::xml::Element;
use crate::xml::order::read_order;
use crate::xml::write::date_time;

/// `orders_fnac_id` holds at most 50 ids.
const IDS_PER_QUERY: usize = 50;
/// Fnac order ids are exactly 13 characters (`order_id_restriction`).
const ORDER_ID_LEN: usize = 13;
/// A runaway `total_paging` must not loop forever.
const MAX_PAGES: u32 = 1_000;

/// Orders waiting for the seller: order state `Created`, lines `ToAccept`.
pub(crate) async fn awaiting_acceptance(t: &Transport) -> Result<OrderBatch, ConnectorError> {
    query(t, |root| {
        root.child(Element::new("states").text("state", "Created"))
    })
    .await
}

/// Orders whose units are promised and not shipped yet: `Accepted` (Fnac has still to debit
/// the customer) and `ToShip`.
pub(crate) async fn holding_stock(t: &Transport) -> Result<OrderBatch, ConnectorError> {
    query(t, |root| {
        root.child(
            Element::new("states")
                .text("state", "Accepted")
                .text("state", "ToShip"),
        )
    })
    .await
}

/// Orders whose `UpdatedAt` falls in the window (the engine's polling policy decides how far
/// back it reaches). Fnac's dates are to the second: the window widens to whole seconds, or a
/// change stamped in the window's last second would be left out.
pub(crate) async fn updated(
    t: &Transport,
    claims: &ClaimsPace,
    since: Timestamp,
    until: Timestamp,
) -> Result<OrderBatch, ConnectorError> {
    let whole_second = jiff::TimestampRound::new()
        .smallest(jiff::Unit::Second)
        .mode(jiff::RoundMode::Ceil);
    let (min, max) = (
        date_time(since),
        date_time(until.round(whole_second).unwrap_or(until)),
    );
    let mut batch = query(t, |root| {
        root.child(
            Element::new("date")
                .attr("type", "UpdatedAt")
                .text("min", &min)
                .text("max", &max),
        )
    })
    .await?;
    // A claim opened or closed on an order that did not change otherwise.
    let Some(from) = claims.due(since, until) else {
        return Ok(batch);
    };
    let mut claimed = incidents::changed(t, from, until).await?;
    claimed.retain(|id| !batch.orders.iter().any(|o| &o.id == id));
    if !claimed.is_empty() {
        let more = by_id(t, &claimed).await?;
        batch.orders.extend(more.orders);
        batch.malformed.extend(more.malformed);
    }
    // Only now: a failed read of those orders is read again from the same start.
    claims.read(until);
    Ok(batch)
}

pub(crate) async fn by_id(t: &Transport, ids: &[String]) -> Result<OrderBatch, ConnectorError> {
    let valid: Vec<&str> = ids
        .iter()
        .map(|id| id.trim())
        .filter(|id| id.chars().count() == ORDER_ID_LEN)
        .collect();
    let mut batch = OrderBatch::default();
    for chunk in valid.chunks(IDS_PER_QUERY) {
        let found = query(t, |root| {
            let ids = chunk
                .iter()
                .fold(Element::new("orders_fnac_id"), |ids, id| {
                    ids.text("order_fnac_id", id)
                });
            root.child(ids)
        })
        .await?;
        batch.orders.extend(found.orders);
        batch.malformed.extend(found.malformed);
    }
    Ok(batch)
}

/// Every page of `orders_query` with the filter `add` adds after `<paging>`, each order with
/// its open claim.
async fn query<F>(t: &Transport, add: F) -> Result<OrderBatch, ConnectorError>
where
    F: Fn(Element) -> Element,
{
    let mut batch = OrderBatch::default();
    let mut seen = HashSet::new();
    read_pages(t, "orders_query", "order", MAX_PAGES, add, |child| {
        match read_order(child) {
            // Orders move between pages while we read; keep the first copy.
            Ok(order) => {
                if seen.insert(order.id.clone()) {
                    batch.orders.push(order);
                }
            }
            Err(malformed) => {
                tracing::warn!(order_id = ?malformed.order_id, error = %malformed.error,
                    "unreadable Fnac order quarantined");
                batch.malformed.push(malformed);
            }
        }
    })
    .await?;
    incidents::attach(t, &mut batch.orders).await?;
    Ok(batch)
}

/// Accepts or refuses the orders, each in one `accept_order`, batched by [`update::send`].
pub(crate) async fn decide(
    t: &Transport,
    decisions: &[OrderDecision],
) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
    let updates = decisions
        .iter()
        .map(|d| OrderUpdate {
            order_id: d.order_id.clone(),
            element: decision_element(d),
        })
        .collect();
    update::send(t, updates).await
}

/// `<order action="accept_order">` with every line `Accepted` or `Refused`.
fn decision_element(decision: &OrderDecision) -> Result<Element, ConnectorError> {
    check_order_id(&decision.order_id)?;
    if decision.lines.is_empty() {
        return Err(ConnectorError::permanent(
            "a decision needs at least one line",
        ));
    }
    let mut order = Element::new("order")
        .attr("order_id", &decision.order_id)
        .attr("action", "accept_order");
    for line in &decision.lines {
        order = order.child(
            Element::new("order_detail")
                .text("order_detail_id", &detail_id(&line.line_id)?.to_string())
                .text("action", if line.accept { "Accepted" } else { "Refused" }),
        );
    }
    Ok(order)
}

/// A line id as Fnac writes it: a positive `order_detail_id`.
pub(crate) fn detail_id(line_id: &str) -> Result<u64, ConnectorError> {
    line_id
        .trim()
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ConnectorError::permanent(format!("line id {line_id:?} is not a Fnac order_detail_id"))
        })
}

/// Checks a Fnac order id before it is sent (`order_id_restriction`: 13 characters).
pub(crate) fn check_order_id(order_id: &str) -> Result<(), ConnectorError> {
    if order_id.chars().count() == ORDER_ID_LEN {
        Ok(())
    } else {
        Err(ConnectorError::permanent(format!(
            "{order_id:?} is not a Fnac order id (13 characters)"
        )))
    }
}
