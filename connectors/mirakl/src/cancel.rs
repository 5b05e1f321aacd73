//! The seller cancels: OR29 `PUT /api/orders/{id}/cancel` for the whole order, else OR30
//! `PUT /api/orders/cancel` line by line with a reason code (RE01 `CANCELATION`) and the
//! amount to give back. A repeated OR29 answers `ORDER_INVALID_STATE`: already done.

use reqwest::Method;
use serde::Serialize;
use vigie_connector::{ConnectorError, Decimal, SellerCancel};

use crate::client::{Api, Call};

/// OR30_Request: `cancelations`, each with the required `amount`, `order_line_id`,
/// `quantity`, `reason_code` and `shipping_amount`.
#[derive(Debug, Serialize, PartialEq)]
pub struct CancelBody<'a> {
    pub cancelations: Vec<CancelationBody<'a>>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct CancelationBody<'a> {
    /// A JSON number, as Mirakl writes amounts.
    pub amount: serde_json::Value,
    pub currency_iso_code: &'a str,
    pub order_line_id: &'a str,
    pub quantity: u32,
    pub reason_code: &'a str,
    /// vigie does not know a line's share of the shipping price: the operator's rules apply.
    pub shipping_amount: serde_json::Value,
}

pub fn cancel_body(cancel: &SellerCancel) -> CancelBody<'_> {
    CancelBody {
        cancelations: cancel
            .lines
            .iter()
            .map(|l| CancelationBody {
                amount: number(l.amount.amount),
                currency_iso_code: &l.amount.currency,
                order_line_id: &l.line_id,
                quantity: l.quantity,
                reason_code: &cancel.reason,
                shipping_amount: number(Decimal::ZERO),
            })
            .collect(),
    }
}

/// An exact amount as a JSON number (`19.9`).
fn number(amount: Decimal) -> serde_json::Value {
    serde_json::from_str(&amount.normalize().to_string()).unwrap_or(serde_json::Value::Null)
}

pub(crate) async fn cancel(api: &Api, cancel: &SellerCancel) -> Result<(), ConnectorError> {
    if cancel.whole_order {
        let url = api.url(&["orders", &cancel.order_id, "cancel"]);
        return api
            .send(Call::safe("OR29"), Method::PUT, &url, &[], |r| {
                r.header(reqwest::header::CONTENT_LENGTH, 0)
            })
            .await
            .map(|_| ());
    }
    let url = api.url(&["orders", "cancel"]);
    let body = cancel_body(cancel);
    // Sent again, OR30 would cancel more units: never repeated once it may have arrived.
    api.send(Call::once("OR30"), Method::PUT, &url, &[], |r| {
        r.json(&body)
    })
    .await
    .map(|_| ())
}
