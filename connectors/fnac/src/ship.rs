//! `orders_update confirm_to_send`: parcels with their tracking, batched by [`update`];
//! and `carriers_query`, the carrier codes `tracking_company` takes.
//!
//! Fnac ships lines, not units: each line of a parcel is sent `Shipped` with the parcel's
//! tracking. A line confirmed again answers ERR_003 (wrong state), read as already done.

use serde::Deserialize;
use vigie_connector::{Carrier, ConnectorError, Parcel, Repeat};

use crate::client::{Transport, root_failure};
use crate::orders::{check_order_id, detail_id};
use crate::update::{self, OrderUpdate};
use crate::xml::Element;

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

/// Confirms the parcels, one answer each, batched by [`update::send`].
pub(crate) async fn confirm(
    t: &Transport,
    parcels: &[Parcel],
) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
    let updates = parcels
        .iter()
        .map(|parcel| OrderUpdate {
            order_id: parcel.order_id.clone(),
            element: order_element(parcel),
        })
        .collect();
    update::send(t, updates).await
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
