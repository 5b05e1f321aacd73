//! OR21 `PUT /api/orders/{id}/accept`: a decision for every line, in one call.

use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Method;
use serde::Serialize;
use vigie_connector::{ConnectorError, LineDecision};

use crate::client::{Api, Call};
use crate::errors::ORDER_PARTIAL_ACCEPTANCE_DISABLED;
use crate::settings::PartialAcceptanceFallback;

#[derive(Debug, Serialize, PartialEq)]
pub struct AcceptBody<'a> {
    pub order_lines: Vec<LineBody<'a>>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct LineBody<'a> {
    pub accepted: bool,
    pub id: &'a str,
}

pub fn accept_body(lines: &[LineDecision], all: Option<bool>) -> AcceptBody<'_> {
    AcceptBody {
        order_lines: lines
            .iter()
            .map(|l| LineBody {
                accepted: all.unwrap_or(l.accept),
                id: &l.line_id,
            })
            .collect(),
    }
}

pub(crate) async fn decide(
    api: &Api,
    order_id: &str,
    lines: &[LineDecision],
    fallback: PartialAcceptanceFallback,
    partial_disabled: &AtomicBool,
) -> Result<(), ConnectorError> {
    if lines.is_empty() {
        return Err(ConnectorError::permanent(format!(
            "OR21: no line decision for order {order_id}"
        )));
    }
    let mixed = lines.iter().any(|l| l.accept) && lines.iter().any(|l| !l.accept);
    let whole = match fallback {
        PartialAcceptanceFallback::RefuseOrder => Some(false),
        PartialAcceptanceFallback::AcceptOrder => Some(true),
        PartialAcceptanceFallback::Report => None,
    };
    // Once the shop said no, don't spend a call learning it again.
    if mixed && partial_disabled.load(Ordering::Relaxed) {
        return match whole {
            Some(all) => put(api, order_id, lines, Some(all)).await,
            None => Err(partial_refused(order_id)),
        };
    }
    match put(api, order_id, lines, None).await {
        Err(ConnectorError::Permanent {
            code: Some(code), ..
        }) if mixed && code == ORDER_PARTIAL_ACCEPTANCE_DISABLED => {
            partial_disabled.store(true, Ordering::Relaxed);
            tracing::warn!(
                order_id,
                ?fallback,
                "partial acceptance is disabled for this shop"
            );
            match whole {
                Some(all) => put(api, order_id, lines, Some(all)).await,
                None => Err(partial_refused(order_id)),
            }
        }
        other => other,
    }
}

fn partial_refused(order_id: &str) -> ConnectorError {
    ConnectorError::Permanent {
        code: Some(ORDER_PARTIAL_ACCEPTANCE_DISABLED.into()),
        message: format!(
            "OR21: order {order_id} needs a whole-order decision: partial acceptance is disabled for this shop"
        ),
    }
}

async fn put(
    api: &Api,
    order_id: &str,
    lines: &[LineDecision],
    all: Option<bool>,
) -> Result<(), ConnectorError> {
    let url = api.url(&["orders", order_id, "accept"]);
    let body = accept_body(lines, all);
    // A repeated decision is refused with ORDER_INVALID_STATE, which we read as done.
    api.send(Call::safe("OR21"), Method::PUT, &url, &[], |r| {
        r.json(&body)
    })
    .await
    .map(|_| ())
}
