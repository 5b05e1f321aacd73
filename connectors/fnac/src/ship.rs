//! `orders_update confirm_to_send`: parcels with their tracking, up to 25 orders per call;
//! and `carriers_query`, the carrier codes `tracking_company` takes.
//!
//! Fnac ships lines, not units: each line of a parcel is sent `Shipped` with the parcel's
//! tracking. A line confirmed again answers ERR_003 (wrong state), read as already done.

use serde::Deserialize;
use vigie_connector::{Carrier, ConnectorError, Parcel, Repeat};

use crate::client::{Transport, root_failure};
use crate::orders::{check_order_id, check_order_result, detail_id, order_results};
use crate::xml::Element;

/// Fnac takes at most 25 orders per `orders_update` (ERR_105 above).
pub const MAX_ORDERS_PER_UPDATE: usize = 25;

/// One `<order action="confirm_to_send">` per parcel; `Shipped` for each of its lines.
fn order_element(parcel: &Parcel) -> Result<Element, ConnectorError> {
    check_order_id(&parcel.order_id)?;
    if parcel.lines.is_empty() {
        return Err(ConnectorError::permanent(format!(
            "the parcel {} of order {} names no line",
            parcel.tracking_number, parcel.order_id
        )));
    }
    // `tracking_company` is a carrier code; Fnac takes no free name.
    let company = parcel.carrier.code.as_deref().ok_or_else(|| {
        ConnectorError::permanent(format!(
            "the carrier {:?} has no Fnac code (see carriers_query)",
            parcel.carrier.name
        ))
    })?;
    let mut order = Element::new("order")
        .attr("order_id", &parcel.order_id)
        .attr("action", "confirm_to_send");
    for line in &parcel.lines {
        order = order.child(
            Element::new("order_detail")
                .text("order_detail_id", &detail_id(&line.line_id)?.to_string())
                .text("action", "Shipped")
                .text("tracking_number", &parcel.tracking_number)
                .text("tracking_company", company),
        );
    }
    Ok(order)
}

/// Confirms the parcels, one answer each. A parcel that cannot be written is answered alone;
/// the others go in batches of distinct orders (the answer names orders, not parcels).
pub(crate) async fn confirm(
    t: &Transport,
    parcels: &[Parcel],
) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
    let mut answers: Vec<Option<Result<(), ConnectorError>>> = vec![None; parcels.len()];
    let mut ready = Vec::new();
    for (index, parcel) in parcels.iter().enumerate() {
        match order_element(parcel) {
            Ok(element) => ready.push((index, element)),
            Err(e) => answers[index] = Some(Err(e)),
        }
    }
    while !ready.is_empty() {
        let batch = take_batch(&mut ready, parcels);
        let elements: Vec<Element> = batch.iter().map(|(_, e)| e.clone()).collect();
        // A confirmed line answers ERR_003 when confirmed again: safe to repeat.
        let doc = t
            .call("orders_update", Repeat::Safe, |root| {
                elements.iter().cloned().fold(root, Element::child)
            })
            .await?;
        let results = order_results(&doc);
        let failure = root_failure(&doc, "order");
        for (index, _) in batch {
            let order_id = parcels[index].order_id.as_str();
            let answer = match results
                .iter()
                .find(|r| r.order_id.as_deref().map(str::trim) == Some(order_id))
            {
                Some(result) => check_order_result(order_id, result),
                None => failure.clone().map_or(Ok(()), Err),
            };
            answers[index] = Some(answer);
        }
    }
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(ConnectorError::permanent("parcel not sent"))))
        .collect())
}

/// Up to [`MAX_ORDERS_PER_UPDATE`] parcels of distinct orders, taken from the front.
fn take_batch(ready: &mut Vec<(usize, Element)>, parcels: &[Parcel]) -> Vec<(usize, Element)> {
    let mut batch = Vec::new();
    let mut rest = Vec::new();
    for (index, element) in ready.drain(..) {
        let order = &parcels[index].order_id;
        let taken = batch
            .iter()
            .any(|(i, _): &(usize, Element)| &parcels[*i].order_id == order);
        if batch.len() < MAX_ORDERS_PER_UPDATE && !taken {
            batch.push((index, element));
        } else {
            rest.push((index, element));
        }
    }
    *ready = rest;
    batch
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireCarrier {
    #[serde(rename = "@code")]
    code: String,
    name: Option<String>,
}

/// `carriers_query` with `<query>all</query>`: every carrier the shop may name.
pub(crate) async fn carriers(t: &Transport) -> Result<Vec<Carrier>, ConnectorError> {
    let doc = t
        .call("carriers_query", Repeat::Safe, |root| {
            root.text("query", "all")
        })
        .await?;
    if let Some(failure) = root_failure(&doc, "carrier") {
        return Err(failure);
    }
    Ok(doc
        .all("carrier")
        .filter_map(|c| c.parse::<WireCarrier>().ok())
        .filter(|c| !c.code.trim().is_empty())
        .map(|c| {
            let code = c.code.trim().to_owned();
            Carrier {
                name: c
                    .name
                    .map(|n| n.trim().to_owned())
                    .unwrap_or_else(|| code.clone()),
                code,
            }
        })
        .collect())
}
