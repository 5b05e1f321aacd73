//! The status server, on loopback by default: `/healthz` for probes, `/metrics` for
//! Prometheus, read-only JSON views (`/status`, `/orders`), and the review pages and seller
//! API of [`crate::web`], which also guards the JSON views when bound off loopback.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use axum::{Router, middleware};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::heartbeat::Heartbeats;
use super::serve_http::{self, Limits};
use crate::config::SharedConfig;
use crate::store::{Store, StoreError, orders, status};
use crate::web;

#[derive(Clone)]
pub(super) struct StatusState {
    pub store: Store,
    pub heartbeats: Heartbeats,
    pub metrics: PrometheusHandle,
    pub config: SharedConfig,
    /// Per channel at start, what its marketplace takes in a parcel.
    pub parcel_terms: std::collections::HashMap<String, vigie_connector::ParcelTerms>,
}

pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    state: StatusState,
    limits: Limits,
    stop: CancellationToken,
) {
    // Histograms need regular upkeep or their buffers grow between scrapes.
    let upkeep = state.metrics.clone();
    let upkeep_stop = stop.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = upkeep_stop.cancelled() => return,
                _ = ticker.tick() => upkeep.run_upkeep(),
            }
        }
    });
    let listen = match listener.local_addr() {
        Ok(listen) => listen,
        Err(e) => {
            tracing::error!("status server: {e}");
            return;
        }
    };
    let web = web::WebState::new(
        state.store.clone(),
        state.config.clone(),
        listen,
        state.parcel_terms.clone(),
    );
    let views = Router::new()
        .route("/status", get(status_view))
        .route("/orders", get(orders_view))
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(
            web.clone(),
            web::readers_only,
        ))
        .layer(middleware::from_fn_with_state(
            web.clone(),
            web::own_host_only,
        ));
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(views)
        .merge(web::routes(web));
    serve_http::serve(listener, app, limits, stop).await;
}

async fn healthz(State(state): State<StatusState>) -> Response {
    let stale = state.heartbeats.stale();
    let mut problems = Vec::new();
    if !stale.is_empty() {
        problems.push(format!("stuck channel loops: {}", stale.join(", ")));
    }
    if state.store.is_full() {
        problems.push(format!(
            "state directory full: {} cannot grow",
            state.store.path().display()
        ));
    }
    if problems.is_empty() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let body = problems.join("\n") + "\n";
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// Counters and histograms are recorded as things happen; the gauges (backlog, KPIs) are
/// read from the store at each scrape, so every process's decisions count (reviews too).
async fn metrics(State(state): State<StatusState>) -> Response {
    let config = state
        .config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    match state
        .store
        .read(move |conn| status::report(conn, &config, jiff::Timestamp::now()))
        .await
    {
        Ok(report) => set_gauges(&report),
        Err(e) => tracing::error!("status server: {e}"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

fn set_gauges(report: &status::StatusReport) {
    for c in &report.channels {
        let k = &c.kpis;
        let channel = c.name.clone();
        metrics::gauge!("vigie_orders_undecided", "channel" => channel.clone())
            .set(k.undecided as f64);
        metrics::gauge!("vigie_orders_flagged", "channel" => channel.clone())
            .set(k.awaiting_review as f64);
        metrics::gauge!("vigie_deadlines_missed", "channel" => channel.clone())
            .set(k.deadline_missed as f64);
        if let Some(rate) = k.acceptance_rate {
            metrics::gauge!("vigie_acceptance_rate", "channel" => channel.clone()).set(rate);
        }
        if let Some(rate) = k.cancellation_rate {
            metrics::gauge!("vigie_cancellation_rate", "channel" => channel.clone()).set(rate);
        }
        for (ending, n) in [
            ("received", k.received),
            ("accepted", k.accepted),
            ("refused", k.refused),
            ("flagged", k.flagged),
            ("decided_elsewhere", k.decided_elsewhere),
            ("expired", k.expired),
            ("cancelled_by_customer", k.cancelled_by_customer),
        ] {
            metrics::gauge!("vigie_kpi_orders", "channel" => channel.clone(), "ending" => ending)
                .set(n as f64);
        }
        let t = &k.time_to_accept_seconds;
        for (quantile, value) in [("0.5", t.p50), ("0.9", t.p90), ("0.99", t.p99)] {
            if let Some(value) = value {
                metrics::gauge!("vigie_kpi_time_to_accept_seconds",
                    "channel" => channel.clone(), "quantile" => quantile)
                .set(value);
            }
        }
    }
    for (state, n) in &report.outbox {
        metrics::gauge!("vigie_outbox_messages", "state" => state.clone()).set(*n as f64);
    }
    metrics::gauge!("vigie_alerts_open").set(report.open_alerts as f64);
}

async fn status_view(State(state): State<StatusState>) -> Response {
    let config = state
        .config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    json(
        state
            .store
            .read(move |conn| status::report(conn, &config, jiff::Timestamp::now()))
            .await,
    )
}

#[derive(Deserialize)]
struct OrderQuery {
    status: Option<String>,
    channel: Option<String>,
}

async fn orders_view(
    State(state): State<StatusState>,
    Query(query): Query<OrderQuery>,
) -> Response {
    let filter = orders::OrderFilter {
        status: query.status,
        channel: query.channel,
        order_id: None,
    };
    json(
        state
            .store
            .read(move |conn| orders::list(conn, &filter))
            .await,
    )
}

fn json<T: serde::Serialize>(result: Result<T, StoreError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => {
            tracing::error!("status server: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "database error\n").into_response()
        }
    }
}
