//! Amazon has no acceptance step: accepting needs no call. Refusing, and the seller's own
//! cancellations, cancel items through a `POST_ORDER_ACKNOWLEDGEMENT_DATA` feed (`StatusCode`
//! `Failure`, a `CancelReason` per item), followed to its processing report.

use serde::Deserialize;
use std::time::Duration;

use vigie_connector::{ConnectorError, LineDecision, SellerCancel};

use crate::client::Api;
use crate::feeds::{self, XML_CONTENT};
use crate::limits::Throttles;
use crate::orders;

pub const CANCEL_FEED: &str = "POST_ORDER_ACKNOWLEDGEMENT_DATA";
/// `CancelReason` of OrderAcknowledgement.xsd.
pub const CANCEL_REASONS: [&str; 10] = [
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "BuyerCanceled",
    "GeneralAdjustment",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "CustomerReturn",
    "MerchandiseNotReceived",
];
/// A refusal for want of stock, or of a flagged order: Amazon counts it against the seller's
/// cancellation rate, and `NoInventory` says it plainly.
const REFUSED: &str = "NoInventory";
/// An item the buyer asked to cancel: not a defect on the seller's cancellation rate.
const BUYER_ASKED: &str = "BuyerCanceled";

/// The acknowledgement feed cancelling `items` (item id, `CancelReason`) of `order_id`.
pub fn acknowledgement_xml(seller_id: &str, order_id: &str, items: &[(&str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(item, reason)| {
            format!(
                "<Item><AmazonOrderItemCode>{}</AmazonOrderItemCode><CancelReason>{}</CancelReason></Item>",
                escape(item),
                escape(reason),
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><AmazonEnvelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="amzn-envelope.xsd"><Header><DocumentVersion>1.01</DocumentVersion><MerchantIdentifier>{}</MerchantIdentifier></Header><MessageType>OrderAcknowledgement</MessageType><Message><MessageID>1</MessageID><OrderAcknowledgement><AmazonOrderID>{}</AmazonOrderID><StatusCode>Failure</StatusCode>{items}</OrderAcknowledgement></Message></AmazonEnvelope>"#,
        escape(seller_id),
        escape(order_id),
    )
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// The parts of an XML `ProcessingReport` that say whether it worked.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    message: ReportMessage,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReportMessage {
    processing_report: ProcessingReport,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessingReport {
    processing_summary: Summary,
    #[serde(default)]
    result: Vec<ReportResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    messages_with_error: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReportResult {
    result_description: Option<String>,
}

/// Refuses the refused lines: `BuyerCanceled` for the items the buyer asked to cancel (read
/// again now, as the request may be newer than the order vigie judged), else `NoInventory`.
pub async fn decide(
    api: &Api,
    throttles: &Throttles,
    feed_check_every: Duration,
    order_id: &str,
    lines: &[LineDecision],
) -> Result<(), ConnectorError> {
    let refused: Vec<&str> = lines
        .iter()
        .filter(|l| !l.accept)
        .map(|l| l.line_id.as_str())
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let asked = orders::buyer_cancel_requests(api, &throttles.get_order, order_id).await?;
    let items: Vec<(&str, &str)> = refused
        .into_iter()
        .map(|item| {
            let reason = if asked.iter().any(|a| a == item) {
                BUYER_ASKED
            } else {
                REFUSED
            };
            (item, reason)
        })
        .collect();
    cancel_items(api, throttles, feed_check_every, order_id, &items).await
}

/// The seller cancels lines with one of Amazon's `CancelReason`s. Amazon cancels an item
/// whole: every unit of each line named.
pub async fn seller_cancel(
    api: &Api,
    throttles: &Throttles,
    feed_check_every: Duration,
    cancel: &SellerCancel,
) -> Result<(), ConnectorError> {
    let reason = cancel.reason.as_str();
    if !CANCEL_REASONS.contains(&reason) {
        return Err(ConnectorError::permanent(format!(
            "Amazon cancels with a CancelReason, one of {}; not {reason:?}",
            CANCEL_REASONS.join(", ")
        )));
    }
    // Amazon cancels an item whole: fewer units than the item holds would cancel them all.
    let ordered = orders::item_quantities(api, &throttles.get_order, &cancel.order_id).await?;
    if let Some(line) = cancel.lines.iter().find(|l| {
        ordered
            .iter()
            .any(|(id, quantity)| *id == l.line_id && l.quantity < *quantity)
    }) {
        return Err(ConnectorError::permanent(format!(
            "Amazon cancels an item whole: item {} of order {} cannot lose only {} unit(s)",
            line.line_id, cancel.order_id, line.quantity
        )));
    }
    let items: Vec<(&str, &str)> = cancel
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), reason))
        .collect();
    cancel_items(api, throttles, feed_check_every, &cancel.order_id, &items).await
}

async fn cancel_items(
    api: &Api,
    throttles: &Throttles,
    feed_check_every: Duration,
    order_id: &str,
    items: &[(&str, &str)],
) -> Result<(), ConnectorError> {
    let xml = acknowledgement_xml(&api.seller_id, order_id, items);
    let feed_id = feeds::submit(api, throttles, CANCEL_FEED, XML_CONTENT, xml.into_bytes()).await?;
    tracing::info!(order = order_id, feed = %feed_id, "cancellation sent to Amazon");
    match feeds::finished(api, throttles, feed_check_every, &feed_id).await? {
        // Nothing was applied: the cancellation may be sent again.
        Err(why) => Err(ConnectorError::Transient(why)),
        Ok(report) => read_report(&feed_id, &report),
    }
}

fn read_report(feed_id: &str, report: &str) -> Result<(), ConnectorError> {
    let envelope: Envelope = quick_xml::de::from_str(report).map_err(|e| {
        ConnectorError::permanent(format!(
            "cancellation feed {feed_id}: unreadable processing report: {e}"
        ))
    })?;
    let report = envelope.message.processing_report;
    if report.processing_summary.messages_with_error == 0 {
        return Ok(());
    }
    let why: Vec<String> = report
        .result
        .into_iter()
        .filter_map(|r| r.result_description)
        .collect();
    Err(ConnectorError::Permanent {
        code: Some("ProcessingReport".into()),
        message: format!("cancellation feed {feed_id} rejected: {}", why.join("; ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_with_errors_is_a_permanent_refusal() {
        let report = "<?xml version=\"1.0\"?><AmazonEnvelope><Header><DocumentVersion>1.02</DocumentVersion></Header><MessageType>ProcessingReport</MessageType><Message><MessageID>1</MessageID><ProcessingReport><DocumentTransactionID>1</DocumentTransactionID><StatusCode>Complete</StatusCode><ProcessingSummary><MessagesProcessed>1</MessagesProcessed><MessagesSuccessful>0</MessagesSuccessful><MessagesWithError>1</MessagesWithError><MessagesWithWarning>0</MessagesWithWarning></ProcessingSummary><Result><MessageID>1</MessageID><ResultCode>Error</ResultCode><ResultDescription>order already shipped</ResultDescription></Result></ProcessingReport></Message></AmazonEnvelope>";
        let e = read_report("F1", report).unwrap_err();
        assert!(e.to_string().contains("order already shipped"), "{e}");
        let ok = report.replace("<MessagesWithError>1<", "<MessagesWithError>0<");
        assert!(read_report("F1", &ok).is_ok());
    }

    #[test]
    fn items_are_cancelled_with_a_reason() {
        let xml = acknowledgement_xml(
            "M1",
            "407-1-2",
            &[("111", "NoInventory"), ("a<b", "BuyerCanceled")],
        );
        assert!(
            xml.contains("<AmazonOrderID>407-1-2</AmazonOrderID><StatusCode>Failure</StatusCode>")
        );
        assert!(xml.contains("<AmazonOrderItemCode>a&lt;b</AmazonOrderItemCode><CancelReason>BuyerCanceled</CancelReason>"));
    }
}
