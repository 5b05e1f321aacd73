//! Claims (`incidents_query`): Fnac tells them apart from the orders, so the orders read are
//! given theirs here, and a claim that opened or closed on an unchanged order brings the
//! order back into the poll, at most once a minute ([`ClaimsPace`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use jiff::SignedDuration;
use serde::Deserialize;
use vigie_connector::{ConnectorError, Incident, Order, Timestamp};

use crate::client::Transport;
use crate::pages::read_pages;
use crate::xml::Element;
use crate::xml::read::non_empty;
use crate::xml::write::date_time;

/// `<orders>` holds at most 50 order ids.
const ORDERS_PER_QUERY: usize = 50;
/// A runaway `total_paging` must not loop forever.
const MAX_PAGES: u32 = 100;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireIncident {
    header: WireHeader,
    order_details_incident: WireDetails,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireHeader {
    status: Option<String>,
    message: Option<String>,
    order_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireDetails {
    order_detail_incident: Vec<WireDetail>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireDetail {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Sets each order's open claim, as `incidents_query` lists the claims OPENED on them.
pub(crate) async fn attach(t: &Transport, orders: &mut [Order]) -> Result<(), ConnectorError> {
    let ids: Vec<String> = orders.iter().map(|o| o.id.clone()).collect();
    let mut open: HashMap<String, Incident> = HashMap::new();
    for chunk in ids.chunks(ORDERS_PER_QUERY) {
        let filter = |root: Element| {
            let orders = chunk
                .iter()
                .fold(Element::new("orders"), |list, id| list.text("order", id));
            root.text("status", "OPENED").child(orders)
        };
        read_pages(
            t,
            "incidents_query",
            "incident",
            MAX_PAGES,
            filter,
            |child| {
                // An unreadable claim is no claim: the order itself still goes through.
                let Ok(wire) = child.parse::<WireIncident>() else {
                    return;
                };
                if let Some((order_id, incident)) = opened(wire) {
                    open.entry(order_id).or_insert(incident);
                }
            },
        )
        .await?;
    }
    for order in orders {
        order.incident = open.remove(&order.id);
    }
    Ok(())
}

/// How often the claims that changed are read.
const CLAIMS_EVERY: SignedDuration = SignedDuration::from_secs(60);

/// Where the last read of the claims that changed ended. A claim is answered within days,
/// not seconds, and each read is one of the shop's requests: a poll every few seconds reads
/// them once a minute, and a poll every few minutes at each poll. The minute is counted on
/// the polls' own windows, not on a clock, so the pace is the same whatever the calls cost.
/// The read after a skipped one reaches back to where the last one ended, so no change is
/// missed; after a restart, the engine's re-read of its overlap covers what the last read
/// before it left.
#[derive(Debug, Default)]
pub(crate) struct ClaimsPace {
    last_until: Mutex<Option<Timestamp>>,
}

impl ClaimsPace {
    /// Where a read of the claims changed up to `until` should start, if one is due: at
    /// `since`, or earlier where the last read ended.
    pub fn due(&self, since: Timestamp, until: Timestamp) -> Option<Timestamp> {
        match *self
            .last_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Some(last) if until.duration_since(last) < CLAIMS_EVERY => None,
            Some(last) => Some(since.min(last)),
            None => Some(since),
        }
    }

    /// The claims changed up to `until` were read.
    pub fn read(&self, until: Timestamp) {
        *self
            .last_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(until);
    }
}

/// The orders whose claims changed between `since` and `until`.
pub(crate) async fn changed(
    t: &Transport,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<String>, ConnectorError> {
    let (min, max) = (date_time(since), date_time(until));
    let mut ids = Vec::new();
    let filter = |root: Element| {
        root.child(
            Element::new("date")
                .attr("type", "UpdatedAt")
                .text("min", &min)
                .text("max", &max),
        )
    };
    read_pages(
        t,
        "incidents_query",
        "incident",
        MAX_PAGES,
        filter,
        |child| {
            let id = child
                .parse::<WireIncident>()
                .ok()
                .and_then(|w| w.header.order_id.as_deref().and_then(non_empty));
            if let Some(id) = id
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        },
    )
    .await?;
    Ok(ids)
}

/// The order an OPENED claim is on, and why: the type of claim as the XSD names it, else the
/// customer's message.
fn opened(wire: WireIncident) -> Option<(String, Incident)> {
    let status = wire.header.status.as_deref().and_then(non_empty)?;
    if status != "OPENED" {
        return None;
    }
    let order_id = wire.header.order_id.as_deref().and_then(non_empty)?;
    let reason = wire
        .order_details_incident
        .order_detail_incident
        .iter()
        .find_map(|d| d.kind.as_deref().and_then(non_empty))
        .and_then(|code| type_label(&code))
        .map(str::to_owned)
        .or_else(|| wire.header.message.as_deref().and_then(non_empty));
    Some((order_id, Incident { reason }))
}

/// `incident_open_state` in `state.xsd`.
fn type_label(code: &str) -> Option<&'static str> {
    Some(match code {
        "1" | "12" => "item not received",
        "2" | "14" => "item unlike its description",
        "3" | "13" => "defective item",
        "4" => "retraction",
        "5" => "infringing item",
        "6" => "other customer claim",
        "7" | "17" | "18" => "refund",
        "8" => "no stock",
        "9" => "returned by the customer",
        "10" => "cancelled by the customer",
        "11" => "shipping impossible",
        "15" => "other seller claim",
        "16" => "longer period",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Envelope;

    #[test]
    fn reads_an_opened_claim_and_skips_a_closed_one() {
        let xml = r#"<incidents_query_response status="OK">
          <incident id="7d0bd1ac-7b5e-4c1b-b4a4-3a2b1c0d9e8f">
            <header><status>OPENED</status><waiting_for_seller_answer>TRUE</waiting_for_seller_answer>
              <message><![CDATA[Colis jamais reçu]]></message><opened_by>client</opened_by>
              <created_at>2026-11-02T10:00:00+01:00</created_at><updated_at>2026-11-02T10:00:00+01:00</updated_at>
              <order_id>ABCDEFGHIJKLM</order_id></header>
            <order_details_incident><order_detail_incident><order_detail_id>1</order_detail_id>
              <type>1</type><status>OPENED</status><created_at>2026-11-02T10:00:00+01:00</created_at>
              <updated_at>2026-11-02T10:00:00+01:00</updated_at></order_detail_incident></order_details_incident>
          </incident>
          <incident><header><status>CLOSED</status><order_id>NOPQRSTUVWXYZ</order_id></header></incident>
        </incidents_query_response>"#;
        let doc = Envelope::parse(xml.as_bytes()).unwrap();
        let read: Vec<_> = doc
            .all("incident")
            .filter_map(|c| opened(c.parse().unwrap()))
            .collect();
        assert_eq!(
            read,
            [(
                "ABCDEFGHIJKLM".to_owned(),
                Incident {
                    reason: Some("item not received".to_owned())
                }
            )]
        );
    }
}
