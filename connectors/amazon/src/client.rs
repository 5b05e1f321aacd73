//! Requests as the SP-API wants them: the LWA access token in `x-amz-access-token`, JSON
//! bodies, each operation paced by its own usage plan. A 403 saying the token expired logs
//! in again and repeats the call once; other non-2xx answers become errors here.

use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Method, RequestBuilder};
use secrecy::ExposeSecret;
use serde::Deserialize;
use vigie_connector::{BodyLimit, ChannelClient, ConnectorError, Repeat, Reply, snippet};

use crate::auth::Login;
use crate::limits::Budget;

/// Where Amazon says the rate it grants for the operation just called.
const RATE_LIMIT_HEADER: &str = "x-amzn-ratelimit-limit";

/// One seller account's view of the SP-API.
#[derive(Debug)]
pub(crate) struct Api {
    pub http: ChannelClient,
    base: url::Url,
    pub login: Login,
    pub marketplace_id: String,
    pub seller_id: String,
}

/// One SP-API operation as sent: its name (metrics, logs, errors), whether it may be repeated,
/// its usage plan, and how much of its answer is read.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub operation: &'static str,
    pub repeat: Repeat,
    pub budget: &'a Budget,
    pub limit: BodyLimit,
}

impl<'a> Call<'a> {
    pub fn safe(operation: &'static str, budget: &'a Budget) -> Self {
        Self {
            operation,
            repeat: Repeat::Safe,
            budget,
            limit: BodyLimit::single("answer"),
        }
    }

    /// A write that would be applied twice (a message, a feed).
    pub fn once(operation: &'static str, budget: &'a Budget) -> Self {
        Self {
            repeat: Repeat::OnlyIfUnsent,
            ..Self::safe(operation, budget)
        }
    }

    pub fn reading(self, limit: BodyLimit) -> Self {
        Self { limit, ..self }
    }
}

/// `ErrorList`, as every SP-API operation answers a failure.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorList {
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Deserialize)]
pub struct ApiError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl Api {
    pub fn new(
        http: ChannelClient,
        base: url::Url,
        login: Login,
        marketplace_id: String,
        seller_id: String,
    ) -> Result<Self, ConnectorError> {
        if base.cannot_be_a_base() {
            return Err(ConnectorError::permanent(format!(
                "Amazon base_url {base} cannot carry a path"
            )));
        }
        Ok(Self {
            http,
            base,
            login,
            marketplace_id,
            seller_id,
        })
    }

    /// `base` + `/<segments>`, each segment percent-encoded (SKUs are free text).
    pub fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .expect("checked in new")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// Sends one request; only 2xx answers come back as `Ok`.
    pub async fn send<F>(
        &self,
        call: Call<'_>,
        method: Method,
        url: &url::Url,
        query: &[(&str, String)],
        body: F,
    ) -> Result<Reply, ConnectorError>
    where
        F: Fn(RequestBuilder) -> RequestBuilder,
    {
        let mut url = url.clone();
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut relogged = false;
        loop {
            let token = self.login.token().await?;
            let throttle = call.budget.throttle();
            let mut header = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
                ConnectorError::Auth("Login with Amazon gave a token unfit for a header".into())
            })?;
            // Keeps the token out of reqwest's and hyper's Debug output.
            header.set_sensitive(true);
            let sent = self
                .http
                .send_paced(
                    call.operation,
                    call.repeat,
                    Some(&throttle),
                    call.limit,
                    |http| {
                        body(
                            http.request(method.clone(), url.clone())
                                .header("x-amz-access-token", header.clone())
                                .header(ACCEPT, "application/json"),
                        )
                    },
                )
                .await;
            if let Ok(reply) = &sent {
                heard_rate(call.budget, reply);
            }
            match sent {
                Err(ConnectorError::Auth(m)) if !relogged && m.contains("xpired") => {
                    tracing::info!(
                        operation = call.operation,
                        "access token expired: logging in again"
                    );
                    self.login.forget().await;
                    relogged = true;
                }
                Err(e) => return Err(self.login.redact(e)),
                Ok(reply) if reply.status.is_success() => return Ok(reply),
                Ok(reply) => return Err(self.login.redact(classify(call.operation, &reply))),
            }
        }
    }

    pub async fn get(
        &self,
        call: Call<'_>,
        url: &url::Url,
        query: &[(&str, String)],
    ) -> Result<Reply, ConnectorError> {
        self.send(call, Method::GET, url, query, |r| r).await
    }

    /// A JSON body, sent with `method`.
    pub async fn send_json<T: serde::Serialize + ?Sized>(
        &self,
        call: Call<'_>,
        method: Method,
        url: &url::Url,
        query: &[(&str, String)],
        body: &T,
    ) -> Result<Reply, ConnectorError> {
        self.send(call, method, url, query, |r| r.json(body)).await
    }

    /// `marketplaceIds` as every call about the seller's marketplace carries it.
    pub fn marketplace(&self) -> (&'static str, String) {
        ("marketplaceIds", self.marketplace_id.clone())
    }
}

/// Paces the operation at the rate its answer names, when it names one.
fn heard_rate(budget: &Budget, reply: &Reply) {
    let rate = reply
        .headers
        .get(RATE_LIMIT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    if let Some(per_second) = rate {
        budget.heard(per_second);
    }
}

/// A 4xx other than 401/403/408/429: the request is wrong for good, in Amazon's words.
fn classify(operation: &str, reply: &Reply) -> ConnectorError {
    let list: ErrorList = serde_json::from_slice(&reply.body).unwrap_or_default();
    match list.errors.into_iter().next() {
        Some(e) => ConnectorError::Permanent {
            code: Some(e.code),
            message: format!("{operation}: {}", e.message),
        },
        None => ConnectorError::permanent(format!(
            "{operation}: HTTP {}: {}",
            reply.status,
            snippet(&reply.text())
        )),
    }
}

/// Reads a 2xx JSON body, naming the operation and the field that did not fit.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    operation: &str,
    reply: &Reply,
) -> Result<T, ConnectorError> {
    let mut de = serde_json::Deserializer::from_slice(&reply.body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        ConnectorError::permanent(format!(
            "{operation}: unexpected answer at {}: {}",
            e.path(),
            e.inner()
        ))
    })
}
