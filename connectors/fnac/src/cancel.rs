//! The seller cancels: `orders_update refund_order`, each line `Refunded` with a
//! `refund_reason` from the XSD's list. Fnac refunds lines, not units. A line refunded again
//! answers ERR_003 (wrong state): already done.

use vigie_connector::{ConnectorError, Repeat, SellerCancel};

use crate::client::{Transport, root_failure};
use crate::orders::{check_order_id, detail_id};
use crate::update::{check_order_result, order_results};
use crate::xml::Element;

/// The XSD's `refund_reason` values.
pub const REFUND_REASONS: &[&str] = &[
    "other",
    "counterfeit",
    "retraction",
    "cancelled_client",
    "unmatch_article",
    "damaged_article",
    "unreceived_article",
    "returned_article",
    "no_stock",
    "shipping_impossible",
];

pub(crate) async fn cancel(t: &Transport, cancel: &SellerCancel) -> Result<(), ConnectorError> {
    check_order_id(&cancel.order_id)?;
    if !REFUND_REASONS.contains(&cancel.reason.as_str()) {
        return Err(ConnectorError::permanent(format!(
            "refund_reason {:?} is not one of {}",
            cancel.reason,
            REFUND_REASONS.join(", ")
        )));
    }
    let mut order = Element::new("order")
        .attr("order_id", &cancel.order_id)
        .attr("action", "refund_order");
    for line in &cancel.lines {
        order = order.child(
            Element::new("order_detail")
                .text("order_detail_id", &detail_id(&line.line_id)?.to_string())
                .text("action", "Refunded")
                .text("refund_reason", &cancel.reason),
        );
    }
    let doc = t
        .call("orders_update", Repeat::Safe, |root| {
            root.child(order.clone())
        })
        .await?;
    let results = order_results(&doc);
    match results
        .iter()
        .find(|r| r.order_id.as_deref().map(str::trim) == Some(cancel.order_id.as_str()))
    {
        Some(result) => check_order_result(&cancel.order_id, result),
        None => root_failure(&doc, "order").map_or(Ok(()), Err),
    }
}
