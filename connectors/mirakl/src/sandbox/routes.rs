//! The sandbox's HTTP face: Mirakl's paths, auth, paging limits, error bodies and faults.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::state::{CARRIERS, Or11Filters, Refusal, State as Shop, matches};
use super::{Shared, Tracking, lock};

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/version", get(v01))
        .route("/api/account", get(a01))
        .route("/api/orders", get(or11))
        .route("/api/orders/{order_id}/accept", put(or21))
        .route("/api/orders/{order_id}/tracking", put(or23))
        .route("/api/orders/{order_id}/ship", put(or24))
        .route("/api/shipping/carriers", get(sh21))
        .route("/api/orders/{order_id}/cancel", put(or29))
        .route("/api/orders/cancel", put(or30))
        .route("/api/orders/{order_id}/threads", post(or43))
        .route("/api/inbox/threads/{thread_id}/message", post(m12))
        .route("/api/offers", get(of21))
        .route("/api/offers/stock/imports", post(sto01))
        .route("/api/offers/stock/imports/{import_id}/status", get(sto02))
        .route(
            "/api/offers/stock/imports/{import_id}/error_report",
            get(sto03),
        )
        .fallback(|| async { refusal(Refusal::new(404, None, "Not Found")) })
        .with_state(state)
}

fn refusal(r: Refusal) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = match r.code {
        Some(code) => json!({
            "status": r.status, "message": r.message,
            "errors": [{"code": code, "message": r.message}]
        }),
        None => json!({"status": r.status, "message": r.message}),
    };
    (status, Json(body)).into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    refusal(Refusal::new(400, None, message))
}

type Query = Vec<(String, String)>;

fn query(raw: Option<String>) -> Query {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(query: &'a Query, name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Counts the request, then applies latency, faults, auth and shop selection, in that order.
async fn gate(
    state: &Shared,
    endpoint: &'static str,
    headers: &HeaderMap,
    query: &Query,
    needs_auth: bool,
) -> Result<(), Response> {
    let (latency, outcome) = {
        let mut shop = lock(state);
        *shop.counters.entry(endpoint).or_default() += 1;
        shop.requests += 1;
        let faults = shop.faults.clone();
        let key_ok = headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == shop.options.api_key.as_bytes());
        let outcome = if faults.reject_auth || (needs_auth && !key_ok) {
            Some(refusal(Refusal::new(401, None, "Unauthorized")))
        } else if faults
            .rate_limit_every
            .is_some_and(|n| n > 0 && shop.requests.is_multiple_of(n))
        {
            let mut response = refusal(Refusal::new(429, None, "Too Many Requests"));
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(faults.retry_after_secs),
            );
            Some(response)
        } else if faults.server_error_rate > 0.0 && shop.rng.f64() < faults.server_error_rate {
            Some(refusal(Refusal::new(503, None, "Service Unavailable")))
        } else {
            match param(query, "shop_id").map(str::parse::<u64>) {
                Some(Err(_)) => Some(bad_request("shop_id must be an integer")),
                Some(Ok(id)) if id != shop.options.shop_id => {
                    Some(refusal(Refusal::new(403, None, "Forbidden")))
                }
                _ => None,
            }
        };
        (faults.latency, outcome)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    outcome.map_or(Ok(()), Err)
}

/// Offset paging: `max` defaults to 10 and may not exceed 100.
fn paging(query: &Query) -> Result<(usize, usize), Refusal> {
    let number = |name: &str, default: usize| match param(query, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| Refusal::new(400, None, format!("The parameter {name} must be a number"))),
    };
    let max = number("max", 10)?;
    if max > 100 {
        return Err(Refusal::new(
            400,
            None,
            "The limit of 100 is exceeded for the parameter : max",
        ));
    }
    Ok((max.max(1), number("offset", 0)?))
}

async fn v01(State(state): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    // V01 needs no key: only the status code matters.
    if let Err(r) = gate(&state, "V01", &headers, &query(q), false).await {
        return r;
    }
    Json(json!({"version": "3.210.0-sandbox"})).into_response()
}

async fn a01(State(state): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if let Err(r) = gate(&state, "A01", &headers, &query(q), true).await {
        return r;
    }
    let shop = lock(&state);
    Json(json!({
        "shop_id": shop.options.shop_id, "shop_name": "Sandbox shop", "shop_state": "OPEN",
        "currency_iso_code": shop.options.currency, "channels": []
    }))
    .into_response()
}

async fn or11(State(state): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let query = query(q);
    if let Err(r) = gate(&state, "OR11", &headers, &query, true).await {
        return r;
    }
    let (max, offset) = match paging(&query) {
        Ok(p) => p,
        Err(r) => return refusal(r),
    };
    let list = |name: &str| {
        param(&query, name).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
    };
    let mut bad_date = None;
    let mut date = |name: &'static str| -> Option<Timestamp> {
        let raw = param(&query, name)?;
        let parsed = crate::wire::parse_date(raw);
        if parsed.is_none() {
            bad_date = Some(name);
        }
        parsed
    };
    let filters = Or11Filters {
        order_ids: list("order_ids"),
        states: list("order_state_codes"),
        start_update: date("start_update_date"),
        end_update: date("end_update_date"),
        start_created: date("start_date"),
        end_created: date("end_date"),
    };
    if let Some(name) = bad_date {
        return bad_request(format!("The parameter {name} is not a valid date"));
    }
    if filters
        .order_ids
        .as_ref()
        .is_some_and(|ids| ids.len() > 100)
    {
        return bad_request("The limit of 100 is exceeded for the parameter : order_ids");
    }
    let shop = lock(&state);
    let mut found: Vec<_> = shop
        .orders
        .iter()
        .filter(|o| matches(o, &filters))
        .collect();
    found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let total = found.len();
    let orders: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(max)
        .map(|o| shop.render_order(o))
        .collect();
    let mut response = Json(json!({"orders": orders, "total_count": total})).into_response();
    if offset + max < total {
        let mut next: Query = query
            .iter()
            .filter(|(k, _)| k != "offset" && k != "max")
            .cloned()
            .collect();
        next.push(("max".into(), max.to_string()));
        next.push(("offset".into(), (offset + max).to_string()));
        let next = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(next)
            .finish();
        if let Ok(link) = HeaderValue::from_str(&format!("</api/orders?{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    response
}

async fn or21(
    State(state): State<Shared>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&state, "OR21", &headers, &query(q), true).await {
        return r;
    }
    match lock(&state).decide(&order_id, &body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => refusal(r),
    }
}

/// OR23: `carrier_code` for a carrier SH21 lists, else `carrier_name` (+ `carrier_url`).
async fn or23(
    State(state): State<Shared>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&state, "OR23", &headers, &query(q), true).await {
        return r;
    }
    let tracking = match parse_tracking(&body) {
        Ok(tracking) => tracking,
        Err(r) => return refusal(r),
    };
    match lock(&state).set_tracking(&order_id, tracking) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => refusal(r),
    }
}

/// OR23_Request: every field an optional string; nothing else.
fn parse_tracking(body: &[u8]) -> Result<Tracking, Refusal> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Or23 {
        carrier_code: Option<String>,
        carrier_name: Option<String>,
        #[serde(rename = "carrier_standard_code")]
        _carrier_standard_code: Option<String>,
        carrier_url: Option<String>,
        tracking_number: Option<String>,
    }
    let body: Or23 = serde_json::from_slice(body)
        .map_err(|e| Refusal::new(400, Some("VALIDATION_ERROR"), e.to_string()))?;
    Ok(Tracking {
        tracking_number: body.tracking_number.unwrap_or_default(),
        carrier_code: body.carrier_code,
        carrier_name: body.carrier_name,
        tracking_url: body.carrier_url,
    })
}

/// OR24: no body; the order must be SHIPPING.
async fn or24(
    State(state): State<Shared>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Err(r) = gate(&state, "OR24", &headers, &query(q), true).await {
        return r;
    }
    match lock(&state).validate_shipment(&order_id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => refusal(r),
    }
}

/// OR29: no body; the whole order, while SHIPPING.
async fn or29(
    State(state): State<Shared>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Err(r) = gate(&state, "OR29", &headers, &query(q), true).await {
        return r;
    }
    match lock(&state).cancel_order(&order_id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => refusal(r),
    }
}

/// OR30_Request: `cancelations`, each with its required fields.
async fn or30(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&state, "OR30", &headers, &query(q), true).await {
        return r;
    }
    #[derive(serde::Deserialize)]
    struct Or30 {
        cancelations: Vec<Cancelation>,
    }
    #[derive(serde::Deserialize)]
    struct Cancelation {
        #[serde(rename = "amount")]
        _amount: f64,
        order_line_id: String,
        quantity: u32,
        reason_code: String,
        #[serde(rename = "shipping_amount")]
        _shipping_amount: f64,
    }
    let body: Or30 = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return bad_request(e.to_string()),
    };
    let lines: Vec<(String, u32, String)> = body
        .cancelations
        .into_iter()
        .map(|c| (c.order_line_id, c.quantity, c.reason_code))
        .collect();
    let taken = lock(&state).cancel_lines(&lines);
    match taken {
        Ok(created) => Json(created).into_response(),
        Err(r) => refusal(r),
    }
}

/// SH21: the registered carriers, sorted by label.
async fn sh21(State(state): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if let Err(r) = gate(&state, "SH21", &headers, &query(q), true).await {
        return r;
    }
    let carriers: Vec<Value> = CARRIERS
        .iter()
        .map(|(code, label, url)| {
            json!({"code": code, "label": label, "standard_code": code, "tracking_url": url})
        })
        .collect();
    Json(json!({ "carriers": carriers })).into_response()
}

/// The text of the multipart field `name`, which the endpoint requires.
async fn required_field(
    multipart: Result<Multipart, MultipartRejection>,
    name: &str,
) -> Result<String, Response> {
    let unreadable = |status, text| refusal(Refusal::new(status, None, text));
    let mut multipart = multipart.map_err(|e| unreadable(415, e.body_text()))?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| unreadable(400, e.body_text()))?
    {
        if field.name() == Some(name) {
            let bytes = field
                .bytes()
                .await
                .map_err(|e| unreadable(400, e.body_text()))?;
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Err(bad_request(format!("{name} is required")))
}

async fn or43(
    State(state): State<Shared>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let call = ("OR43", "thread_input");
    message(state, call, headers, q, multipart, |shop, input| {
        shop.post_thread(&order_id, input)
    })
    .await
}

async fn m12(
    State(state): State<Shared>,
    Path(thread_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let call = ("M12", "message_input");
    message(state, call, headers, q, multipart, |shop, input| {
        shop.reply(&thread_id, input)
    })
    .await
}

/// A message to a customer: `(endpoint, part)` names the call and its JSON part, which
/// `post` records.
async fn message(
    state: Shared,
    (endpoint, part): (&'static str, &str),
    headers: HeaderMap,
    q: Option<String>,
    multipart: Result<Multipart, MultipartRejection>,
    post: impl FnOnce(&mut Shop, &str) -> Result<Value, Refusal>,
) -> Response {
    if let Err(r) = gate(&state, endpoint, &headers, &query(q), true).await {
        return r;
    }
    let input = match required_field(multipart, part).await {
        Ok(input) => input,
        Err(r) => return r,
    };
    let taken = post(&mut lock(&state), &input);
    match taken {
        Ok(created) => {
            after_taken(&state, (StatusCode::CREATED, Json(created)).into_response()).await
        }
        Err(r) => refusal(r),
    }
}

/// A message taken is answered `answer`, unless the faults draw it: then 500, or `answer`
/// late.
async fn after_taken(state: &Shared, answer: Response) -> Response {
    let (drawn, stall) = {
        let mut shop = lock(state);
        let rate = shop.faults.message_applied_then_fail_rate;
        (
            rate > 0.0 && shop.rng.f64() < rate,
            shop.faults.message_applied_then_stall,
        )
    };
    match (drawn, stall) {
        (false, _) => answer,
        (true, None) => refusal(Refusal::new(500, None, "Internal Server Error")),
        (true, Some(stall)) => {
            tokio::time::sleep(stall).await;
            answer
        }
    }
}

async fn sto01(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    if let Err(r) = gate(&state, "STO01", &headers, &query(q), true).await {
        return r;
    }
    let csv = match required_field(multipart, "file").await {
        Ok(csv) => csv,
        Err(r) => return r,
    };
    let created = lock(&state).import_stock(&csv);
    match created {
        Ok(id) => {
            let mut response =
                (StatusCode::CREATED, Json(json!({"import_id": id}))).into_response();
            if let Ok(location) =
                HeaderValue::from_str(&format!("/api/offers/stock/imports/{id}/status"))
            {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Err(r) => refusal(r),
    }
}

async fn sto02(
    State(state): State<Shared>,
    Path(import_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Err(r) = gate(&state, "STO02", &headers, &query(q), true).await {
        return r;
    }
    match lock(&state).import_status(&import_id) {
        Some(status) => Json(status).into_response(),
        None => refusal(Refusal::new(404, None, format!("No import {import_id}"))),
    }
}

async fn sto03(
    State(state): State<Shared>,
    Path(import_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Err(r) = gate(&state, "STO03", &headers, &query(q), true).await {
        return r;
    }
    match lock(&state).error_report(&import_id) {
        Some(csv) => ([(header::CONTENT_TYPE, "text/csv")], csv).into_response(),
        None => refusal(Refusal::new(
            404,
            None,
            format!("No error report for import {import_id}"),
        )),
    }
}

async fn of21(State(state): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let query = query(q);
    if let Err(r) = gate(&state, "OF21", &headers, &query, true).await {
        return r;
    }
    let (max, offset) = match paging(&query) {
        Ok(p) => p,
        Err(r) => return refusal(r),
    };
    let shop = lock(&state);
    let sku_filter = param(&query, "sku");
    let offers: Vec<_> = shop
        .offers
        .iter()
        .filter(|(sku, _)| sku_filter.is_none_or(|f| f == sku.as_str()))
        .enumerate()
        .collect();
    let total = offers.len();
    let page: Vec<Value> = offers
        .into_iter()
        .skip(offset)
        .take(max)
        .map(|(i, (sku, quantity))| {
            json!({
                "offer_id": 5000 + i, "shop_sku": sku, "product_sku": format!("PRD-{sku}"),
                "product_title": format!("Product {sku}"), "quantity": quantity,
                "active": *quantity > 0, "state_code": "11", "price": 10,
                "currency_iso_code": shop.options.currency,
                "inactivity_reasons": if *quantity > 0 { json!([]) } else { json!(["ZERO_QUANTITY"]) },
            })
        })
        .collect();
    Json(json!({"offers": page, "total_count": total})).into_response()
}
