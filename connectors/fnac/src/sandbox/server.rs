//! HTTP side of the sandbox: `POST /api.php/{service}`, faults first, then the session
//! check, then the service itself. Errors are reported the way Fnac does: HTTP 200 with a
//! `status` and `<error>` elements.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::de::DeserializeOwned;
use vigie_connector::Timestamp;

use super::Shared;
use super::render::{self, error, response, text};
use super::requests;
use super::state::{
    BatchProgress, CARRIERS, MAX_OFFERS_PER_UPDATE, MAX_ORDERS_PER_UPDATE, RecordedMessage,
    RecordedOffer, ShippedLine,
};
use crate::xml::Envelope;
use crate::xml::order::time;
use crate::xml::write::NAMESPACE;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api.php/{service}", post(handle))
        .with_state(shared)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path(service): Path<String>,
    body: String,
) -> Response {
    let (latency, fail) = {
        let mut state = shared.state();
        state.count(&service);
        (state.faults.latency, state.draw_error())
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if fail {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response();
    }
    let taken_before = shared.state().messages.len();
    let xml = answer(&shared, &service, &body);
    let after_taken = {
        let mut state = shared.state();
        let taken = state.messages.len() > taken_before;
        taken.then(|| state.draw_applied_then_fail()).flatten()
    };
    match after_taken {
        None => {}
        Some(None) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "failed after acting").into_response();
        }
        Some(Some(stall)) => tokio::time::sleep(stall).await,
    }
    ([(CONTENT_TYPE, "text/xml; charset=utf-8")], xml).into_response()
}

fn answer(shared: &Shared, service: &str, body: &str) -> String {
    let invalid = |detail: &str| {
        response(
            service,
            "FATAL",
            &error(
                "FATAL",
                "ERR_096",
                &format!("XML Validation failed: {detail}"),
            ),
        )
    };
    match Envelope::parse(body.as_bytes()) {
        Ok(doc) if doc.root == service => {}
        Ok(doc) => return invalid(&format!("root {} is not {service}", doc.root)),
        Err(e) => return invalid(&e),
    }
    if service == "auth" {
        return auth(shared, body);
    }
    let Ok(header) = quick_xml::de::from_str::<requests::Header>(body) else {
        return invalid("unreadable header");
    };
    if header.xmlns != NAMESPACE {
        return invalid("wrong namespace");
    }
    if !shared
        .state()
        .session_valid(&header.partner_id, &header.shop_id, &header.token)
    {
        return response(
            service,
            "ERROR",
            &error(
                "ERROR",
                "ERR_097",
                "Authentication failed : token is invalid or expired",
            ),
        );
    }
    match service {
        "orders_query" => parse(body).map(|r| orders_query(shared, r)),
        "orders_update" => parse(body).map(|r| orders_update(shared, r)),
        "offers_update" => parse(body).map(|r| offers_update(shared, r)),
        "batch_status" => parse(body).map(|r| batch_status(shared, r)),
        "offers_query" => parse(body).map(|r| offers_query(shared, r)),
        "messages_update" => parse(body).map(|r| messages_update(shared, r)),
        "carriers_query" => parse(body).map(carriers_query),
        "incidents_query" => parse(body).map(|r| incidents_query(shared, r)),
        _ => Ok(response(
            service,
            "FATAL",
            &error("FATAL", "ERR_001", "Service not available in the sandbox"),
        )),
    }
    .unwrap_or_else(|e| invalid(&e))
}

/// Every carrier, for `<query>all</query>` (the only value the XSD allows).
fn carriers_query(request: requests::CarriersQuery) -> String {
    if request.query.trim() != "all" {
        return response(
            "carriers_query",
            "FATAL",
            &error(
                "FATAL",
                "ERR_096",
                "XML Validation failed: query must be all",
            ),
        );
    }
    let content: String = CARRIERS
        .iter()
        .map(|(code, name)| {
            format!(
                "<carrier code=\"{code}\" global=\"1\">{}</carrier>",
                text("name", name)
            )
        })
        .collect();
    response("carriers_query", "OK", &content)
}

fn parse<T: DeserializeOwned>(body: &str) -> Result<T, String> {
    quick_xml::de::from_str(body).map_err(|e| e.to_string())
}

fn auth(shared: &Shared, body: &str) -> String {
    let request: requests::Auth = parse(body).unwrap_or_default();
    let granted = shared.state().authenticate(
        request.partner_id.trim(),
        request.shop_id.trim(),
        request.key.trim(),
    );
    match granted {
        Some((token, validity)) => response(
            "auth",
            "OK",
            &format!(
                "{}{}{}",
                text("token", &token),
                text("validity", &crate::xml::write::date_time(validity)),
                text("version", "2.6.0")
            ),
        ),
        None => response(
            "auth",
            "ERROR",
            &error(
                "ERROR",
                "ERR_001",
                "Authentication failed : one of the parameters (partner_id, key, shop_id) is invalid",
            ),
        ),
    }
}

fn page_of(
    results_count: Option<usize>,
    paging: Option<usize>,
    total: usize,
) -> (usize, usize, usize) {
    let per_page = results_count.filter(|n| *n > 0).unwrap_or(100);
    let page = paging.filter(|p| *p > 0).unwrap_or(1);
    let total_paging = total.div_ceil(per_page);
    (per_page, page, total_paging)
}

/// Whether every date filter's window holds the date it names: the creation, else the last
/// change.
fn within(filters: &[requests::DateFilter], created: Timestamp, updated: Timestamp) -> bool {
    filters.iter().all(|filter| {
        let at = match filter.kind.as_str() {
            "CreatedAt" => created,
            _ => updated,
        };
        let min = filter.min.as_deref().and_then(time);
        let max = filter.max.as_deref().and_then(time);
        min.is_none_or(|min| at >= min) && max.is_none_or(|max| at <= max)
    })
}

fn orders_query(shared: &Shared, request: requests::OrdersQuery) -> String {
    let state = shared.state();
    let mut states: HashSet<&str> = request.state.iter().map(|s| s.trim()).collect();
    if let Some(more) = &request.states {
        states.extend(more.state.iter().map(|s| s.trim()));
    }
    let mut ids: HashSet<&str> = request.order_fnac_id.iter().map(|s| s.trim()).collect();
    if let Some(more) = &request.orders_fnac_id {
        ids.extend(more.order_fnac_id.iter().map(|s| s.trim()));
    }
    let matching: Vec<_> = state
        .orders
        .iter()
        .filter(|o| states.is_empty() || states.contains(o.state()))
        .filter(|o| ids.is_empty() || ids.contains(o.id.as_str()))
        .filter(|o| within(&request.date, o.created_at, o.updated_at))
        .collect();
    let (per_page, page, total_paging) =
        page_of(request.results_count, request.paging, matching.len());
    let mut content = render::paging(page, total_paging, per_page, matching.len());
    for order in matching.iter().skip((page - 1) * per_page).take(per_page) {
        content += &render::order(order, state.shop_id());
    }
    response("orders_query", "OK", &content)
}

fn incidents_query(shared: &Shared, request: requests::IncidentsQuery) -> String {
    let state = shared.state();
    let mut orders: HashSet<&str> = request.order.iter().map(|s| s.trim()).collect();
    if let Some(more) = &request.orders {
        orders.extend(more.order.iter().map(|s| s.trim()));
    }
    let status = request.status.as_deref().map(str::trim);
    let matching: Vec<_> = state
        .incidents
        .iter()
        .filter(|i| orders.is_empty() || orders.contains(i.order_id.as_str()))
        .filter(|i| status.is_none_or(|s| (s == "OPENED") == i.opened))
        .filter(|i| within(&request.date, i.created_at, i.updated_at))
        .collect();
    let (per_page, page, total_paging) =
        page_of(request.results_count, request.paging, matching.len());
    let mut content = render::paging(page, total_paging, per_page, matching.len());
    for incident in matching.iter().skip((page - 1) * per_page).take(per_page) {
        content += &render::incident(incident);
    }
    response("incidents_query", "OK", &content)
}

fn orders_update(shared: &Shared, request: requests::OrdersUpdate) -> String {
    if request.order.len() > MAX_ORDERS_PER_UPDATE {
        return response(
            "orders_update",
            "FATAL",
            &error(
                "FATAL",
                "ERR_105",
                "The limit of requested elements is reached by the service. Try with less elements.",
            ),
        );
    }
    let mut state = shared.state();
    let mut status = "OK";
    let mut content = String::new();
    for order in request.order {
        let result = if order.action == "accept_order" {
            let details: Vec<(String, String)> = order
                .order_detail
                .into_iter()
                .map(|d| {
                    (
                        d.order_detail_id.trim().to_owned(),
                        d.action.trim().to_owned(),
                    )
                })
                .collect();
            state.accept_order(order.order_id.trim(), &details)
        } else if order.action == "confirm_to_send" {
            let details: Vec<ShippedLine> = order
                .order_detail
                .into_iter()
                .map(|d| ShippedLine {
                    id: d.order_detail_id.trim().to_owned(),
                    action: d.action.trim().to_owned(),
                    tracking_number: d.tracking_number.unwrap_or_default().trim().to_owned(),
                    company: d.tracking_company.unwrap_or_default().trim().to_owned(),
                })
                .collect();
            state.confirm_to_send(order.order_id.trim(), &details)
        } else if order.action == "refund_order" {
            let details: Vec<(String, String, String)> = order
                .order_detail
                .into_iter()
                .map(|d| {
                    (
                        d.order_detail_id.trim().to_owned(),
                        d.action.trim().to_owned(),
                        d.refund_reason.unwrap_or_default().trim().to_owned(),
                    )
                })
                .collect();
            state.refund_order(order.order_id.trim(), &details)
        } else {
            super::state::OrderResult {
                order_id: order.order_id,
                status: "FATAL",
                state: None,
                error: Some((
                    "FATAL",
                    "ERR_002",
                    format!("Action {} is not simulated by the sandbox", order.action),
                )),
                lines: Vec::new(),
            }
        };
        if result.status != "OK" {
            status = "ERROR";
        }
        content += &render::order_result(&result);
    }
    response("orders_update", status, &content)
}

fn offers_update(shared: &Shared, request: requests::OffersUpdate) -> String {
    if request.offer.is_empty() || request.offer.len() > MAX_OFFERS_PER_UPDATE {
        return response(
            "offers_update",
            "FATAL",
            &error("FATAL", "ERR_105", "Between 1 and 10000 offers per call"),
        );
    }
    let mut offers = Vec::with_capacity(request.offer.len());
    for offer in request.offer {
        let quantity = match offer.quantity.as_deref().map(str::trim) {
            None => None,
            Some(q) => match q.parse::<u32>() {
                Ok(q) if q <= crate::MAX_QUANTITY => Some(q),
                _ => {
                    return response(
                        "offers_update",
                        "FATAL",
                        &error("FATAL", "ERR_096", "XML Validation failed: quantity"),
                    );
                }
            },
        };
        offers.push(RecordedOffer {
            sku: offer.offer_reference.value.trim().to_owned(),
            quantity,
        });
    }
    let batch_id = shared.state().submit_offers(offers);
    response("offers_update", "OK", &text("batch_id", &batch_id))
}

fn batch_status(shared: &Shared, request: requests::BatchStatus) -> String {
    let batch_id = request.batch_id.trim();
    match shared.state().poll_batch(batch_id) {
        BatchProgress::Unknown => response(
            "batch_status",
            "ERROR",
            &error("ERROR", "ERR_040", "Batch not found"),
        ),
        BatchProgress::Pending(status) => {
            response("batch_status", status, &text("batch_id", batch_id))
        }
        BatchProgress::Done(results) => {
            let mut content = text("batch_id", batch_id);
            for result in &results {
                content += &render::offer_result(result);
            }
            response("batch_status", "OK", &content)
        }
    }
}

fn offers_query(shared: &Shared, request: requests::OffersQuery) -> String {
    let state = shared.state();
    let wanted: HashSet<&str> = request.offer_seller_id.iter().map(|s| s.trim()).collect();
    let matching: Vec<_> = state
        .offers()
        .filter(|(sku, _)| wanted.is_empty() || wanted.contains(sku.as_str()))
        .collect();
    let (per_page, page, total_paging) =
        page_of(request.results_count, request.paging, matching.len());
    let mut content = render::paging(page, total_paging, per_page, matching.len());
    for (sku, offer) in matching.iter().skip((page - 1) * per_page).take(per_page) {
        content += &render::offer(sku, offer);
    }
    response("offers_query", "OK", &content)
}

fn messages_update(shared: &Shared, request: requests::MessagesUpdate) -> String {
    let mut state = shared.state();
    let mut status = "OK";
    let mut content = String::new();
    for message in request.message {
        let id = message.id.trim().to_owned();
        let refusal = if message.action != "create" {
            Some(("ERR_002", "Only create is simulated by the sandbox"))
        } else if state.order(&id).is_none() {
            Some(("ERR_004", "Order not found"))
        } else if message.message_to.trim() != "CLIENT" {
            Some((
                "ERR_140",
                "CALLCENTER is allowed only for an order in incident",
            ))
        } else {
            None
        };
        match refusal {
            None => {
                state.record_message(RecordedMessage {
                    order_id: id.clone(),
                    action: message.action,
                    to: message.message_to.trim().to_owned(),
                    subject: message.message_subject.trim().to_owned(),
                    description: message.message_description,
                    message_type: message.message_type.trim().to_owned(),
                });
                content += &format!(
                    "<message status=\"OK\" id=\"{}\"/>",
                    quick_xml::escape::escape(&id)
                );
            }
            Some((code, text)) => {
                status = "ERROR";
                content += &format!(
                    "<message status=\"ERROR\" id=\"{}\">{}</message>",
                    quick_xml::escape::escape(&id),
                    error("ERROR", code, text)
                );
            }
        }
    }
    response("messages_update", status, &content)
}
