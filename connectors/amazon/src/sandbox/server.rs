//! The sandbox's HTTP face: Amazon's paths, LWA, the access token header, usage plans on
//! every operation, `ErrorList` bodies, and the presigned upload and download URLs.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Extracted;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::state::{Answer, Refusal, State, invalid};
use super::{Shared, lock};

pub fn router(state: Shared) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(
    Extracted(shared): Extracted<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = lock(&shared);
    let path: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let text = String::from_utf8_lossy(&body).into_owned();
    // Outside the SP-API: LWA and the presigned URLs.
    match (&method, path.as_slice()) {
        (&Method::POST, ["auth", "o2", "token"]) => {
            count(&mut state, "token");
            let form: HashMap<String, String> =
                url::form_urlencoded::parse(&body).into_owned().collect();
            return match state.issue_token(&form) {
                Ok(grant) => (StatusCode::OK, axum::Json(grant)).into_response(),
                Err(Refusal(status, code, message)) => (
                    status_code(status),
                    axum::Json(json!({"error": code, "error_description": message})),
                )
                    .into_response(),
            };
        }
        (&Method::PUT, ["uploads", id]) => {
            let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
            return match state.upload(id, content_type, text) {
                Ok(()) => StatusCode::OK.into_response(),
                Err(Refusal(status, code, message)) => (
                    status_code(status),
                    format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>"),
                )
                    .into_response(),
            };
        }
        (&Method::GET, ["downloads", id]) => {
            return match state.download(id) {
                Some(content) => content.into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            };
        }
        _ => {}
    }
    let Some(operation) = operation(&method, &path) else {
        return error(Refusal(
            404,
            "NotFound",
            format!("no operation at {} {}", method, uri.path()),
        ));
    };
    count(&mut state, operation);
    let token = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok());
    if let Err(refusal) = state.authorize(token) {
        return error(refusal);
    }
    let rate = match state.spend(operation) {
        Ok(rate) => rate,
        Err(rate) => {
            let mut response = error(Refusal(
                429,
                "QuotaExceeded",
                "You exceeded your quota for the requested resource.".into(),
            ));
            plan_headers(&mut response, rate.per_second);
            return response;
        }
    };
    let json_body =
        || serde_json::from_str::<Value>(&text).map_err(|e| invalid(format!("body: {e}")));
    let answer: Answer = match (operation, path.as_slice()) {
        ("searchOrders", _) => state.search_orders(&query),
        ("getOrder", [.., id]) => state.get_order(id, &query),
        ("confirmShipment", [_, _, _, id, _]) => json_body()
            .and_then(|b| state.confirm_shipment(id, &b))
            .map(|()| Value::Null),
        ("patchListingsItem", [_, _, _, seller, sku]) => require_marketplace(&query)
            .and_then(|()| json_body())
            .and_then(|b| state.patch_listing(seller, sku, &b)),
        ("searchListingsItems", [_, _, _, seller]) => {
            require_marketplace(&query).and_then(|()| state.search_listings(seller))
        }
        ("createFeedDocument", _) => json_body().and_then(|b| state.create_document(&b)),
        ("createFeed", _) => json_body().and_then(|b| state.create_feed(&b)),
        ("getFeed", [.., id]) => state.get_feed(id),
        ("getFeedDocument", [.., id]) => state.get_document(id),
        ("getMessagingActionsForOrder", [_, _, _, id]) => {
            require_marketplace(&query).and_then(|()| state.messaging_actions(id))
        }
        ("createUnexpectedProblem", [_, _, _, id, ..]) => require_marketplace(&query)
            .and_then(|()| json_body())
            .and_then(|b| state.unexpected_problem(id, &b)),
        _ => Err(Refusal(404, "NotFound", uri.path().to_owned())),
    };
    let mut response = match answer {
        Ok(Value::Null) if operation == "confirmShipment" => StatusCode::NO_CONTENT.into_response(),
        Ok(value) => {
            let status = match operation {
                "createFeed" => StatusCode::ACCEPTED,
                "createUnexpectedProblem" => StatusCode::CREATED,
                _ => StatusCode::OK,
            };
            (status, axum::Json(value)).into_response()
        }
        Err(refusal) => error(refusal),
    };
    plan_headers(&mut response, rate.per_second);
    response
}

/// The operation a request names, as the models call it.
fn operation(method: &Method, path: &[&str]) -> Option<&'static str> {
    Some(match (method, path) {
        (&Method::GET, ["orders", "2026-01-01", "orders"]) => "searchOrders",
        (&Method::GET, ["orders", "2026-01-01", "orders", _]) => "getOrder",
        (&Method::POST, ["orders", "v0", "orders", _, "shipmentConfirmation"]) => "confirmShipment",
        (&Method::PATCH, ["listings", "2021-08-01", "items", _, _]) => "patchListingsItem",
        (&Method::GET, ["listings", "2021-08-01", "items", _]) => "searchListingsItems",
        (&Method::POST, ["feeds", "2021-06-30", "documents"]) => "createFeedDocument",
        (&Method::POST, ["feeds", "2021-06-30", "feeds"]) => "createFeed",
        (&Method::GET, ["feeds", "2021-06-30", "feeds", _]) => "getFeed",
        (&Method::GET, ["feeds", "2021-06-30", "documents", _]) => "getFeedDocument",
        (&Method::GET, ["messaging", "v1", "orders", _]) => "getMessagingActionsForOrder",
        (
            &Method::POST,
            [
                "messaging",
                "v1",
                "orders",
                _,
                "messages",
                "unexpectedProblem",
            ],
        ) => "createUnexpectedProblem",
        _ => return None,
    })
}

fn require_marketplace(query: &[(String, String)]) -> Result<(), Refusal> {
    if query
        .iter()
        .any(|(k, v)| k == "marketplaceIds" && !v.is_empty())
    {
        Ok(())
    } else {
        Err(invalid("marketplaceIds is required"))
    }
}

fn count(state: &mut State, operation: &'static str) {
    *state.counters.entry(operation).or_default() += 1;
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST)
}

fn error(Refusal(status, code, message): Refusal) -> Response {
    (
        status_code(status),
        axum::Json(json!({"errors": [{"code": code, "message": message}]})),
    )
        .into_response()
}

/// Every SP-API answer says its plan and carries a request id.
fn plan_headers(response: &mut Response, per_second: f64) {
    let headers = response.headers_mut();
    if let Ok(v) = format!("{per_second}").parse() {
        headers.insert("x-amzn-ratelimit-limit", v);
    }
    if let Ok(v) = format!("sandbox-{}", fastid()).parse() {
        headers.insert("x-amzn-requestid", v);
    }
}

fn fastid() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
