//! `orders_update` in batches: up to 25 orders per call, whatever the action (accept, ship),
//! one answer per order element.

use vigie_connector::{ConnectorError, Repeat};

use crate::client::{Transport, root_failure};
use serde::Deserialize;

use crate::client::to_error;
use crate::xml::read::failed_status;
use crate::xml::{Element, Envelope, WireError};

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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireOrderResult {
    #[serde(rename = "@status")]
    status_attribute: Option<String>,
    status: Option<String>,
    pub order_id: Option<String>,
    error: Vec<WireError>,
    order_detail: Vec<WireLineResult>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireLineResult {
    order_detail_id: Option<String>,
    status: Option<String>,
    error: Vec<WireError>,
}

/// The per-order answers of an `orders_update`.
pub(crate) fn order_results(doc: &Envelope) -> Vec<WireOrderResult> {
    doc.all("order").filter_map(|c| c.parse().ok()).collect()
}

pub(crate) fn check_order_result(
    order_id: &str,
    result: &WireOrderResult,
) -> Result<(), ConnectorError> {
    let mut failures: Vec<(String, &WireError)> = result
        .error
        .iter()
        .filter(|e| e.is_failure() || failed_status(result.status.as_deref()))
        .map(|e| (format!("order {order_id}"), e))
        .collect();
    for line in &result.order_detail {
        let label = format!(
            "order {order_id} line {}",
            line.order_detail_id.as_deref().unwrap_or("?").trim()
        );
        for error in &line.error {
            if error.is_failure() || failed_status(line.status.as_deref()) {
                failures.push((label.clone(), error));
            }
        }
        if line.error.is_empty() && failed_status(line.status.as_deref()) {
            return Err(ConnectorError::permanent(format!(
                "{label}: refused without detail"
            )));
        }
    }
    // One wrong-state error means the order moved on: the engine re-reads it.
    if let Some((label, error)) = failures.iter().find(|(_, e)| e.is_wrong_state()) {
        return Err(ConnectorError::AlreadyDone(format!(
            "{label}: {}",
            error.describe()
        )));
    }
    if let Some((label, error)) = failures.first() {
        return Err(match to_error(error) {
            ConnectorError::Permanent { code, message } => ConnectorError::Permanent {
                code,
                message: format!("{label}: {message}"),
            },
            other => other,
        });
    }
    if failed_status(result.status.as_deref()) || failed_status(result.status_attribute.as_deref())
    {
        return Err(ConnectorError::permanent(format!(
            "order {order_id}: refused without detail"
        )));
    }
    Ok(())
}
