//! Stock: `offers_update` (asynchronous, answers a `batch_id`), `batch_status` to follow it,
//! `offers_query` to read quantities back.

use std::time::Duration;

use serde::Deserialize;
use vigie_connector::{
    ConnectorError, PushStatus, PushTicket, Repeat, SkuRejection, StockLevel, StockUpdate,
};

use crate::client::{Transport, describe_all, root_failure};
use crate::pages::read_pages;
use crate::xml::read::{failed_status, non_empty};
use crate::xml::{Element, WireError};

/// `quantity_0_9999` in the XSD.
pub const MAX_QUANTITY: u32 = 9_999;
/// Fnac's recommended maximum per `offers_update`.
pub const MAX_BATCH: usize = 10_000;
const MAX_PAGES: u32 = 10_000;
/// A small batch is usually applied within seconds; a queued one takes longer, and the
/// engine asks less often as it waits (see `Capabilities::stock_status_after`).
pub(crate) const STATUS_AFTER: Duration = Duration::from_secs(5);

pub(crate) async fn push(
    t: &Transport,
    updates: &[StockUpdate],
) -> Result<PushTicket, ConnectorError> {
    if updates.is_empty() {
        return Err(ConnectorError::permanent("no offer to update"));
    }
    if updates.len() > MAX_BATCH {
        return Err(ConnectorError::permanent(format!(
            "{} offers in one push; Fnac takes at most {MAX_BATCH}",
            updates.len()
        )));
    }
    for update in updates.iter().filter(|u| u.quantity > MAX_QUANTITY) {
        tracing::warn!(sku = %update.sku, quantity = update.quantity,
            "Fnac offers hold at most {MAX_QUANTITY} units; offering {MAX_QUANTITY}");
    }
    // Absolute quantities: sending them twice changes nothing. A batch that stops a SKU
    // selling goes ahead of the shop's other stock calls and messages.
    let stops_a_sale = updates.iter().any(|u| u.quantity == 0);
    let doc = t
        .call_in_turn(stops_a_sale, "offers_update", Repeat::Safe, |root| {
            updates.iter().fold(root, |root, update| {
                root.child(
                    Element::new("offer")
                        .child(
                            Element::new("offer_reference")
                                .attr("type", "SellerSku")
                                .content(&update.sku),
                        )
                        .text("quantity", &update.quantity.min(MAX_QUANTITY).to_string()),
                )
            })
        })
        .await?;
    if let Some(failure) = root_failure(&doc, "offer") {
        return Err(failure);
    }
    doc.text("batch_id")
        .map(PushTicket)
        .ok_or_else(|| ConnectorError::permanent("offers_update answered no batch_id"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireOfferStatus {
    #[serde(rename = "@status")]
    status: Option<String>,
    offer_seller_id: Option<String>,
    offer_fnac_id: Option<String>,
    error: Vec<WireError>,
}

pub(crate) async fn status(
    t: &Transport,
    ticket: &PushTicket,
) -> Result<PushStatus, ConnectorError> {
    let doc = t
        .call("batch_status", Repeat::Safe, |root| {
            root.text("batch_id", &ticket.0)
        })
        .await?;
    let status = doc.status.clone().unwrap_or_default();
    let offers: Vec<WireOfferStatus> = doc.all("offer").filter_map(|c| c.parse().ok()).collect();
    let root_errors: Vec<WireError> = doc
        .errors()
        .into_iter()
        .filter(|e| e.is_failure())
        .collect();
    match status.as_str() {
        "ACTIVE" | "RUNNING" => Ok(PushStatus::Pending),
        "FATAL" => Ok(PushStatus::Failed {
            message: if root_errors.is_empty() {
                "the batch was aborted (FATAL)".to_owned()
            } else {
                describe_all(&root_errors)
            },
        }),
        // ERROR with only root errors: nothing was processed (e.g. an unknown batch id).
        "ERROR" if offers.is_empty() && !root_errors.is_empty() => Ok(PushStatus::Failed {
            message: describe_all(&root_errors),
        }),
        "OK" | "WARNING" | "ERROR" => Ok(PushStatus::Completed {
            rejected: offers.iter().filter_map(rejection).collect(),
        }),
        other => Err(ConnectorError::permanent(format!(
            "batch_status answered an unknown status {other:?}"
        ))),
    }
}

/// An offer that failed, even inside an OK batch (e.g. ERR_026 Product not found).
fn rejection(offer: &WireOfferStatus) -> Option<SkuRejection> {
    let failed = failed_status(offer.status.as_deref());
    let failures: Vec<WireError> = offer
        .error
        .iter()
        .filter(|e| e.is_failure())
        .cloned()
        .collect();
    if !failed && failures.is_empty() {
        return None;
    }
    let sku = offer
        .offer_seller_id
        .as_deref()
        .and_then(non_empty)
        .or_else(|| offer.offer_fnac_id.as_deref().and_then(non_empty))
        .unwrap_or_default();
    let message = if failures.is_empty() {
        format!(
            "offer {}",
            offer.status.as_deref().unwrap_or("failed").trim()
        )
    } else {
        describe_all(&failures)
    };
    Some(SkuRejection { sku, message })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireOffer {
    offer_seller_id: Option<String>,
    quantity: Option<String>,
}

pub(crate) async fn levels(t: &Transport) -> Result<Vec<StockLevel>, ConnectorError> {
    let mut levels = Vec::new();
    read_pages(
        t,
        "offers_query",
        "offer",
        MAX_PAGES,
        |root| root,
        |child| {
            let offer: Option<WireOffer> = child.parse().ok();
            let level = offer.and_then(|o| {
                Some(StockLevel {
                    sku: o.offer_seller_id.as_deref().and_then(non_empty)?,
                    quantity: o.quantity.as_deref()?.trim().parse().ok()?,
                })
            });
            match level {
                Some(level) => levels.push(level),
                None => tracing::warn!(offer = %child.raw, "unreadable Fnac offer skipped"),
            }
        },
    )
    .await?;
    Ok(levels)
}
