//! OR23 `PUT /api/orders/{id}/tracking` then, once the parcel carries the order's last units,
//! OR24 `PUT /api/orders/{id}/ship`; and SH21, the carriers the operator registered.
//!
//! Mirakl holds one tracking per order: a later parcel's OR23 replaces the earlier one, and
//! OR24 closes the order's shipment. A repeated OR24 answers `ORDER_INVALID_STATE`, which the
//! client reads as already done: the engine re-reads the order.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use vigie_connector::{Carrier, ConnectorError, Parcel};

use crate::client::{self, Api, Call};

/// OR23_Request: a registered carrier by `carrier_code` (Mirakl computes the link); another
/// one by `carrier_name` and, when known, `carrier_url`.
#[derive(Debug, Serialize, PartialEq)]
pub struct TrackingBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_url: Option<&'a str>,
    pub tracking_number: &'a str,
}

pub fn tracking_body(parcel: &Parcel) -> TrackingBody<'_> {
    match parcel.carrier.code.as_deref() {
        Some(code) => TrackingBody {
            carrier_code: Some(code),
            carrier_name: None,
            carrier_url: None,
            tracking_number: &parcel.tracking_number,
        },
        None => TrackingBody {
            carrier_code: None,
            carrier_name: Some(&parcel.carrier.name),
            carrier_url: parcel.tracking_url.as_deref(),
            tracking_number: &parcel.tracking_number,
        },
    }
}

pub(crate) async fn confirm(api: &Api, parcel: &Parcel) -> Result<(), ConnectorError> {
    let order = parcel.order_id.as_str();
    let url = api.url(&["orders", order, "tracking"]);
    let body = tracking_body(parcel);
    // Setting the same tracking again changes nothing: safe to repeat.
    api.send(Call::safe("OR23"), Method::PUT, &url, &[], |r| {
        r.json(&body)
    })
    .await?;
    if !parcel.completes_order {
        return Ok(());
    }
    let url = api.url(&["orders", order, "ship"]);
    // No body, but a length: some Mirakl front ends answer 411 without one.
    api.send(Call::safe("OR24"), Method::PUT, &url, &[], |r| {
        r.header(reqwest::header::CONTENT_LENGTH, 0)
    })
    .await
    .map(|_| ())
}

#[derive(Debug, Deserialize)]
struct Carriers {
    #[serde(default)]
    carriers: Vec<WireCarrier>,
}

#[derive(Debug, Deserialize)]
struct WireCarrier {
    code: String,
    label: Option<String>,
}

/// SH21 `GET /api/shipping/carriers` (Mirakl asks for it once a day; the engine caches it).
pub(crate) async fn carriers(api: &Api) -> Result<Vec<Carrier>, ConnectorError> {
    let url = api.url(&["shipping", "carriers"]);
    let reply = api.get(Call::safe("SH21"), &url, &[]).await?;
    let listed: Carriers = client::json("SH21", &reply)?;
    Ok(listed
        .carriers
        .into_iter()
        .map(|c| Carrier {
            name: c.label.unwrap_or_else(|| c.code.clone()),
            code: c.code,
        })
        .collect())
}
