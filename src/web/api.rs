//! The seller API: JSON in, JSON out, `202` once recorded, a 4xx `{error}` naming the field.
//! A request with an `Idempotency-Key` is applied once: its answer is stored in the same
//! commit as what it did, and a retry gets that answer again without doing anything.

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rusqlite::Transaction;
use serde::Deserialize;
use serde_json::json;

use super::WebState;
use super::ship::{self, ShipError};
use crate::pipeline::parcel::{ParcelError, ParcelRequest};
use crate::pipeline::review::{self, ReviewError};
use crate::store::shipments::Recorded;
use crate::store::{self, StoreError, api_requests};

/// With a token configured, every call must carry it; without one, only loopback is served.
/// A body must say it is JSON: a page of another site can post `text/plain` to a local vigie
/// without asking the browser first, never `application/json`.
pub async fn authorized(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let json = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json {
        return answer(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"error": "Content-Type: application/json is required"}),
        );
    }
    let config = state.config();
    let allowed = match &config.web.api_token {
        Some(_) => state.has_api_token(request.headers()),
        None => !state.login_required(),
    };
    if allowed {
        next.run(request).await
    } else {
        answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "Authorization: Bearer <web.api_token> is required"}),
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    decision: Decision,
    reason: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Decision {
    Accept,
    Refuse,
}

/// `POST /api/orders/{channel}/{order_id}/review` with `{decision, reason?}`.
pub async fn review(
    State(state): State<WebState>,
    Path((channel, order_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: ReviewBody = match read_json(&body) {
        Ok(parsed) => parsed,
        Err(refused) => return refused.into_response(),
    };
    let buffer = state.config().inventory.safety_buffer;
    let request = format!(
        "review {channel}:{order_id} {}",
        String::from_utf8_lossy(&body)
    );
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let done = state
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            once(&tx, key.as_deref(), &request, |tx| {
                let verdict = review::Verdict {
                    accept: matches!(parsed.decision, Decision::Accept),
                    note: parsed.reason.as_deref(),
                    actor: "api",
                };
                match review::decide(tx, &channel, &order_id, verdict, buffer) {
                    Ok(()) => Ok((
                        StatusCode::ACCEPTED,
                        json!({"channel": channel, "order_id": order_id, "recorded": true}),
                    )),
                    Err(ReviewError::Store(e)) => Err(e),
                    Err(e @ ReviewError::UnknownOrder(_)) => {
                        Ok((StatusCode::NOT_FOUND, json!({"error": e.to_string()})))
                    }
                    Err(e) => Ok((StatusCode::CONFLICT, json!({"error": e.to_string()}))),
                }
            })
            .and_then(|answer| commit_if_done(tx, answer))
        })
        .await;
    match done {
        Ok((status, body)) => answer(status, body),
        Err(e) => {
            tracing::error!("api: {e}");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "database error"}),
            )
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipmentBody {
    channel: String,
    order_id: String,
    carrier: String,
    tracking_number: String,
    tracking_url: Option<String>,
    /// None: every unit still to ship.
    #[serde(default)]
    lines: Vec<ShippedLine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShippedLine {
    line_id: String,
    /// None: every unit of the line still to ship.
    quantity: Option<u32>,
}

/// `POST /api/shipments` with `{channel, order_id, carrier, tracking_number, tracking_url?,
/// lines?}`: a parcel, recorded like `vigie ship`; the daemon confirms it at its next cycle.
pub async fn shipments(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: ShipmentBody = match read_json(&body) {
        Ok(parsed) => parsed,
        Err(refused) => return refused.into_response(),
    };
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let request = format!("shipment {}", String::from_utf8_lossy(&body));
    let store = state.store.clone();
    let done = store
        .call(move |conn| {
            let tx = conn.transaction()?;
            once(&tx, key.as_deref(), &request, |tx| {
                let parcel = ParcelRequest {
                    order_id: parsed.order_id.clone(),
                    carrier: parsed.carrier.clone(),
                    tracking_number: parsed.tracking_number.clone(),
                    tracking_url: parsed.tracking_url.clone(),
                    lines: parsed
                        .lines
                        .iter()
                        .map(|l| (l.line_id.clone(), l.quantity))
                        .collect(),
                };
                match ship::record(&state, tx, &parsed.channel, &parcel, "api", "api") {
                    Ok(recorded) => Ok((
                        StatusCode::ACCEPTED,
                        json!({
                            "channel": parsed.channel,
                            "order_id": parsed.order_id,
                            "carrier": parsed.carrier.trim(),
                            "tracking_number": parsed.tracking_number.trim(),
                            "recorded": recorded == Recorded::New,
                        }),
                    )),
                    Err(ShipError::Parcel(ParcelError::Store(e))) => Err(e),
                    Err(e) => Ok(refusal(&e)),
                }
            })
            .and_then(|answer| commit_if_done(tx, answer))
        })
        .await;
    match done {
        Ok((status, body)) => answer(status, body),
        Err(e) => {
            tracing::error!("api: {e}");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "database error"}),
            )
        }
    }
}

/// A parcel refused: which status, and the error prefixed with the field it is about.
fn refusal(e: &ShipError) -> (StatusCode, serde_json::Value) {
    let status = match e {
        ShipError::UnknownChannel(_) | ShipError::Parcel(ParcelError::UnknownOrder(_)) => {
            StatusCode::NOT_FOUND
        }
        ShipError::Parcel(ParcelError::NotShippable { .. } | ParcelError::NothingToShip(_)) => {
            StatusCode::CONFLICT
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let error = match e.field() {
        Some(field) => format!("{field}: {e}"),
        None => e.to_string(),
    };
    (status, json!({ "error": error }))
}

/// Commits what a 2xx answer did (and the answer, under its key); a refusal may have written
/// part of its work before it found the problem, so it is rolled back whole.
fn commit_if_done(
    tx: Transaction<'_>,
    answer: (StatusCode, serde_json::Value),
) -> Result<(StatusCode, serde_json::Value), StoreError> {
    if answer.0.is_success() {
        tx.commit()?;
    }
    Ok(answer)
}

/// Runs `apply` unless `key` was answered before: then the same answer, or 422 when the key
/// came with another request. Only a 2xx answer is kept: a refusal changed nothing, so
/// trying again later is safe and may succeed.
fn once(
    tx: &Transaction<'_>,
    key: Option<&str>,
    request: &str,
    apply: impl FnOnce(&Transaction<'_>) -> Result<(StatusCode, serde_json::Value), StoreError>,
) -> Result<(StatusCode, serde_json::Value), StoreError> {
    let Some(key) = key else {
        return apply(tx);
    };
    if let Some(earlier) = api_requests::recall(tx, key)? {
        if earlier.request != request {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": "Idempotency-Key: already used for another request"}),
            ));
        }
        let status = StatusCode::from_u16(earlier.status).unwrap_or(StatusCode::ACCEPTED);
        let body = serde_json::from_str(&earlier.response)
            .map_err(|e| StoreError::Data(format!("api request {key}: {e}")))?;
        return Ok((status, body));
    }
    let (status, body) = apply(tx)?;
    if status.is_success() {
        let answered = api_requests::Answered {
            request: request.to_owned(),
            status: status.as_u16(),
            response: body.to_string(),
        };
        api_requests::remember(tx, key, &answered, &store::now_text())?;
    }
    Ok((status, body))
}

/// A request refused before anything was done: its status and what to say of it.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        answer(self.0, json!({ "error": self.1 }))
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Refused> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 200 => Ok(Some(key.to_owned())),
        _ => Err(Refused(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key: 1 to 200 visible ASCII characters".into(),
        )),
    }
}

/// The body as `T`, or a 400/422 naming the field that is wrong.
fn read_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refused> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let field = e.path().to_string();
        let status = if e.inner().is_syntax() || e.inner().is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let error = if field == "." {
            e.inner().to_string()
        } else {
            format!("{field}: {}", e.inner())
        };
        Refused(status, error)
    })
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}
