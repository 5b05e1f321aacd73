//! The pages for the person on call and the seller API, served by the status server.
//!
//! Rendered on the server from templates compiled into the binary, with one stylesheet and
//! no script: they work on a phone, with the keyboard, and on a server with no outbound
//! access. Who may use them is decided here (see [`auth`]).

mod api;
mod auth;
mod chart;
mod pages;
mod render;
mod ship;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use secrecy::ExposeSecret;
use vigie_connector::ParcelTerms;

use crate::config::{Config, SharedConfig};
use crate::store::Store;
pub use auth::Session;

#[derive(Clone)]
pub struct WebState {
    store: Store,
    config: SharedConfig,
    /// The address the status server is bound to: off loopback, people must log in.
    listen: SocketAddr,
    sessions: Arc<auth::Sessions>,
    logins: Arc<auth::LoginLimiter>,
    pages: Arc<render::Pages>,
    /// Per channel, what its marketplace takes in a parcel (read from the connectors at start;
    /// a channel added by a reload gets the defaults until the next start).
    parcel_terms: Arc<HashMap<String, ParcelTerms>>,
}

impl WebState {
    pub fn new(
        store: Store,
        config: SharedConfig,
        listen: SocketAddr,
        parcel_terms: HashMap<String, ParcelTerms>,
    ) -> Self {
        let timezone = current(&config).daemon.timezone.clone();
        Self {
            store,
            config,
            listen,
            sessions: Arc::default(),
            logins: Arc::default(),
            pages: Arc::new(render::Pages::new(timezone)),
            parcel_terms: Arc::new(parcel_terms),
        }
    }

    fn config(&self) -> Arc<Config> {
        current(&self.config)
    }

    fn login_required(&self) -> bool {
        self.config().web.requires_login(self.listen)
    }

    /// Whether the request carries the configured API token.
    fn has_api_token(&self, request: &axum::http::HeaderMap) -> bool {
        let config = self.config();
        match (&config.web.api_token, auth::bearer(request)) {
            (Some(token), Some(given)) => auth::same_secret(given, token.expose_secret()),
            _ => false,
        }
    }
}

fn current(config: &SharedConfig) -> Arc<Config> {
    config.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The pages, the login and the API, each behind the check it needs.
pub fn routes(state: WebState) -> Router {
    let pages = Router::new()
        .route("/", get(pages::dashboard))
        .route("/review", get(pages::review_queue))
        .route("/orders/{channel}/{order_id}", get(pages::order))
        .route("/orders/{channel}/{order_id}/review", post(pages::review))
        .route("/orders/{channel}/{order_id}/ship", post(pages::ship))
        .route("/stock", get(pages::stock))
        .route("/alerts", get(pages::alerts))
        .route("/alerts/{id}/acknowledge", post(pages::acknowledge))
        .route("/logout", post(pages::logout))
        .layer(middleware::from_fn_with_state(state.clone(), with_session));
    let api = Router::new()
        .route("/api/orders/{channel}/{order_id}/review", post(api::review))
        .route("/api/shipments", post(api::shipments))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            api::authorized,
        ));
    Router::new()
        .merge(pages)
        .merge(api)
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/assets/style.css", get(render::stylesheet))
        .layer(middleware::from_fn_with_state(state.clone(), own_host_only))
        .with_state(state)
}

/// Every page, view and API call: only under a name of this server (see
/// [`crate::config::WebConfig::is_own_host`]).
pub async fn own_host_only(
    State(state): State<WebState>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if state.config().web.is_own_host(host) {
        next.run(request).await
    } else {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "unknown host: use the server's address or [web] public_url\n",
        )
            .into_response()
    }
}

/// The read-only JSON views (`/status`, `/orders`): open on loopback as before; elsewhere
/// they need a session or the API token, like everything else.
pub async fn readers_only(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let now = Timestamp::now();
    if !state.login_required()
        || state.has_api_token(request.headers())
        || state.sessions.find(request.headers(), now).is_some()
    {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        "log in at /login or send the API token\n",
    )
        .into_response()
}

/// Pages need a session: the login's, or on loopback one given on the first visit (so every
/// form still carries a CSRF token: another site's page must not post to a local vigie).
async fn with_session(State(state): State<WebState>, mut request: Request, next: Next) -> Response {
    let now = Timestamp::now();
    if let Some(session) = state.sessions.find(request.headers(), now) {
        request.extensions_mut().insert(session);
        return next.run(request).await;
    }
    if state.login_required() {
        return Redirect::to("/login").into_response();
    }
    let (token, session) = match state.sessions.open("loopback", now) {
        Ok(opened) => opened,
        Err(e) => return render::failure(&format!("cannot open a session: {e}")),
    };
    request.extensions_mut().insert(session);
    let mut response = next.run(request).await;
    if let Ok(value) = auth::session_cookie(&token, false).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
