//! `orders_update` in batches: up to 25 orders per call, whatever the action (accept, ship),
//! one answer per order element.

use vigie_connector::{ConnectorError, Repeat};

use crate::client::{Transport, root_failure};
use crate::orders::{check_order_result, order_results};
use crate::xml::Element;

/// Fnac takes at most 25 orders per `orders_update` (ERR_105 above).
pub const MAX_ORDERS_PER_UPDATE: usize = 25;

/// One `<order>` element for `orders_update`, or why it cannot be written.
pub(crate) struct OrderUpdate {
    pub order_id: String,
    pub element: Result<Element, ConnectorError>,
}

/// Sends the updates, one answer each, in order. An update that cannot be written is answered
/// alone; the others go in batches of distinct orders (the answer names orders, not elements).
/// Every action vigie sends is safe to repeat: an applied one answers ERR_003 (wrong state).
pub(crate) async fn send(
    t: &Transport,
    updates: Vec<OrderUpdate>,
) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
    let mut answers: Vec<Option<Result<(), ConnectorError>>> = vec![None; updates.len()];
    let mut ready = Vec::new();
    for (index, update) in updates.into_iter().enumerate() {
        match update.element {
            Ok(element) => ready.push((index, update.order_id, element)),
            Err(e) => answers[index] = Some(Err(e)),
        }
    }
    while !ready.is_empty() {
        let batch = take_batch(&mut ready);
        let doc = t
            .call("orders_update", Repeat::Safe, |root| {
                batch
                    .iter()
                    .fold(root, |root, (_, _, element)| root.child(element.clone()))
            })
            .await?;
        let results = order_results(&doc);
        let failure = root_failure(&doc, "order");
        for (index, order_id, _) in batch {
            let answer = match results
                .iter()
                .find(|r| r.order_id.as_deref().map(str::trim) == Some(order_id.as_str()))
            {
                Some(result) => check_order_result(&order_id, result),
                None => failure.clone().map_or(Ok(()), Err),
            };
            answers[index] = Some(answer);
        }
    }
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(ConnectorError::permanent("order update not sent"))))
        .collect())
}

type Ready = (usize, String, Element);

/// Up to [`MAX_ORDERS_PER_UPDATE`] updates of distinct orders, taken from the front.
fn take_batch(ready: &mut Vec<Ready>) -> Vec<Ready> {
    let mut batch: Vec<Ready> = Vec::new();
    let mut rest = Vec::new();
    for item in ready.drain(..) {
        let taken = batch.iter().any(|(_, order, _)| *order == item.1);
        if batch.len() < MAX_ORDERS_PER_UPDATE && !taken {
            batch.push(item);
        } else {
            rest.push(item);
        }
    }
    *ready = rest;
    batch
}
