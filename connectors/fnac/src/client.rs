//! Transport and session: every call is `POST {base}/{service}` with an XML document whose
//! root carries `partner_id`, `shop_id` and the session `token`. Calls to one shop are
//! serialised, the orders' first ([`Lane`]); the token is reused until shortly before its
//! `validity`, and an authentication error triggers one fresh `auth` and one retry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;
use vigie_connector::{
    BodyLimit, ChannelClient, ConnectorError, Repeat, Reply, Throttle, Timestamp,
};

use crate::FnacSettings;
use crate::xml::{Element, Envelope, WireError};

/// Used when an `auth_response` carries no `validity`: short, so a wrong guess costs little.
const DEFAULT_VALIDITY: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub(crate) struct Transport {
    http: ChannelClient,
    base: String,
    partner_id: String,
    shop_id: String,
    key: SecretString,
    skew: Duration,
    /// Held for a whole call: serialises the shop's calls and guards the token.
    session: Mutex<Option<Token>>,
    lane: Lane,
}

/// The shop's calls share one budget (60 a minute by default) and take turns. Reading orders
/// and deciding, shipping or cancelling them go first, and so does a stock push that drops a
/// SKU to zero (its last units sold elsewhere must stop selling): another call for stock or a
/// message waits while one of those waits or runs, so an acceptance waits only for the calls
/// already in line for the shop, never behind a row of stock batches and messages. Those go
/// in the gaps between cycles.
#[derive(Debug, Default)]
struct Lane {
    /// Order calls waiting for their turn or running.
    orders: AtomicUsize,
    /// Told when the last of them ends.
    clear: Notify,
}

impl Lane {
    /// Whether `service` is on the orders' path.
    fn first(service: &str) -> bool {
        matches!(
            service,
            "orders_query" | "incidents_query" | "orders_update"
        )
    }

    /// Waits until a call may queue for the shop's turn; a call that goes `first` holds its
    /// place ahead of the others until the returned guard is dropped.
    async fn enter(&self, first: bool) -> Option<OrdersFirst<'_>> {
        if first {
            self.orders.fetch_add(1, Ordering::SeqCst);
            return Some(OrdersFirst(self));
        }
        loop {
            let clear = self.clear.notified();
            tokio::pin!(clear);
            // Registered before the count is read, so an order call ending in between wakes it.
            clear.as_mut().enable();
            if self.orders.load(Ordering::SeqCst) == 0 {
                return None;
            }
            clear.await;
        }
    }
}

/// An order call's place ahead of the others.
struct OrdersFirst<'a>(&'a Lane);

impl Drop for OrdersFirst<'_> {
    fn drop(&mut self) {
        if self.0.orders.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.clear.notify_waiters();
        }
    }
}

#[derive(Debug)]
struct Token {
    value: SecretString,
    /// On tokio's clock, so paused-time tests can expire it.
    renew_at: Instant,
}

impl Transport {
    pub fn new(channel: &str, settings: &FnacSettings) -> Result<Self, ConnectorError> {
        let pace = Throttle::per_minute(settings.requests_per_minute);
        Ok(Self {
            http: ChannelClient::new(channel, pace, settings.http.clone())?,
            base: settings.base_url.as_str().trim_end_matches('/').to_owned(),
            partner_id: settings.partner_id.clone(),
            shop_id: settings.shop_id.clone(),
            key: settings.key.clone(),
            skew: settings.token_skew,
            session: Mutex::new(None),
            lane: Lane::default(),
        })
    }

    /// Sends one service call. `build` adds the service's attributes and children to a root
    /// that already holds the namespace and the session header.
    pub async fn call<F>(
        &self,
        service: &'static str,
        repeat: Repeat,
        build: F,
    ) -> Result<Envelope, ConnectorError>
    where
        F: Fn(Element) -> Element,
    {
        self.call_in_turn(Lane::first(service), service, repeat, build)
            .await
    }

    /// [`Transport::call`], ahead of the calls for stock and messages when `first`.
    pub async fn call_in_turn<F>(
        &self,
        first: bool,
        service: &'static str,
        repeat: Repeat,
        build: F,
    ) -> Result<Envelope, ConnectorError>
    where
        F: Fn(Element) -> Element,
    {
        let _place = self.lane.enter(first).await;
        let mut session = self.session.lock().await;
        let mut renewed = false;
        loop {
            let token = match session.as_ref() {
                Some(token) if Instant::now() < token.renew_at => token.value.clone(),
                _ => {
                    let token = self.authenticate().await?;
                    let value = token.value.clone();
                    *session = Some(token);
                    value
                }
            };
            let document = build(
                Element::root(service)
                    .attr("partner_id", &self.partner_id)
                    .attr("shop_id", &self.shop_id)
                    .attr("token", token.expose_secret()),
            )
            .document();
            let outcome = self.post(service, repeat, document).await;
            let refused = match &outcome {
                Err(ConnectorError::Auth(message)) => Some(message.clone()),
                Ok(doc) => doc
                    .errors()
                    .into_iter()
                    .find(WireError::is_auth)
                    .map(|e| e.describe()),
                Err(_) => None,
            };
            match refused {
                None => return outcome,
                Some(message) if renewed => return Err(ConnectorError::Auth(message)),
                Some(message) => {
                    tracing::info!(channel = %self.http.channel(), service, %message,
                        "session refused; authenticating again");
                    *session = None;
                    renewed = true;
                }
            }
        }
    }

    /// A fresh session, whatever the cache holds: proves the credentials work.
    pub async fn reauthenticate(&self) -> Result<(), ConnectorError> {
        let mut session = self.session.lock().await;
        *session = Some(self.authenticate().await?);
        Ok(())
    }

    async fn authenticate(&self) -> Result<Token, ConnectorError> {
        let document = Element::root("auth")
            .text("partner_id", &self.partner_id)
            .text("shop_id", &self.shop_id)
            .text("key", self.key.expose_secret())
            .document();
        let doc = self.post("auth", Repeat::Safe, document).await?;
        let failed = || {
            let errors = doc.errors();
            let message = if errors.is_empty() {
                format!(
                    "auth answered {}",
                    doc.status.as_deref().unwrap_or("no status")
                )
            } else {
                describe_all(&errors)
            };
            ConnectorError::Auth(message)
        };
        if !matches!(doc.status.as_deref(), Some("OK" | "WARNING")) {
            return Err(failed());
        }
        let value = doc.text("token").ok_or_else(failed)?;
        let lifetime = doc
            .text("validity")
            .and_then(|v| crate::xml::order::time(&v))
            .map(|validity| {
                let left = validity.duration_since(Timestamp::now());
                Duration::try_from(left).unwrap_or(Duration::ZERO)
            })
            .unwrap_or(DEFAULT_VALIDITY);
        tracing::debug!(channel = %self.http.channel(), valid_for_s = lifetime.as_secs(),
            "authenticated");
        Ok(Token {
            value: SecretString::from(value),
            renew_at: Instant::now() + lifetime.saturating_sub(self.skew),
        })
    }

    async fn post(
        &self,
        service: &'static str,
        repeat: Repeat,
        document: String,
    ) -> Result<Envelope, ConnectorError> {
        let url = format!("{}/{service}", self.base);
        let reply = self
            .http
            .send(service, repeat, body_limit(service), |http| {
                http.post(&url)
                    .header("content-type", "text/xml; charset=utf-8")
                    .body(document.clone())
            })
            .await?;
        read_reply(service, repeat, &reply)
    }
}

/// How much of a service's answer is read: pages of lists are large, the rest small.
fn body_limit(service: &str) -> BodyLimit {
    match service {
        "orders_query" => BodyLimit::page("order page"),
        "offers_query" => BodyLimit::page("offer page"),
        _ => BodyLimit::single("answer"),
    }
}

/// 2xx bodies are Fnac documents; other 4xx are read as documents when they are.
fn read_reply(service: &str, repeat: Repeat, reply: &Reply) -> Result<Envelope, ConnectorError> {
    match Envelope::parse(&reply.body) {
        Ok(doc) if reply.status.is_success() => Ok(doc),
        Ok(doc) if !doc.errors().is_empty() => {
            let errors = doc.errors();
            if let Some(auth) = errors.iter().find(|e| e.is_auth()) {
                return Err(ConnectorError::Auth(auth.describe()));
            }
            Err(to_error(&errors[0]))
        }
        // A body we cannot read on a 2xx: the call's outcome is unknown.
        Err(e) if reply.status.is_success() => {
            Err(repeat.unknown_outcome(format!("{service}: unreadable response: {e}")))
        }
        _ => {
            let text = reply.text();
            let lower = text.to_ascii_lowercase();
            if lower.contains("authentication failed") || lower.contains("err_097") {
                return Err(ConnectorError::Auth(format!("HTTP {}", reply.status)));
            }
            Err(ConnectorError::Permanent {
                code: Some(format!("HTTP {}", reply.status.as_u16())),
                message: format!("{service}: {}", vigie_connector::snippet(&text)),
            })
        }
    }
}

/// The failure the root's errors or status report, if any. A failing status with `items`
/// children is left to the caller, which reads the per-item errors.
pub(crate) fn root_failure(doc: &Envelope, items: &str) -> Option<ConnectorError> {
    let errors: Vec<_> = doc
        .errors()
        .into_iter()
        .filter(|e| e.is_failure())
        .collect();
    if let Some(first) = errors.first() {
        return Some(to_error(first));
    }
    match doc.status.as_deref() {
        Some("ERROR" | "FATAL") if doc.all(items).next().is_none() => {
            Some(ConnectorError::permanent(format!(
                "{} answered {} without detail",
                doc.root,
                doc.status.as_deref().unwrap_or_default()
            )))
        }
        _ => None,
    }
}

/// ERR_003 (wrong state) means the action was already applied; anything else is permanent.
pub(crate) fn to_error(error: &WireError) -> ConnectorError {
    if error.is_wrong_state() {
        ConnectorError::AlreadyDone(error.describe())
    } else {
        ConnectorError::Permanent {
            code: error.code().map(str::to_owned),
            message: error.message(),
        }
    }
}

pub(crate) fn describe_all(errors: &[WireError]) -> String {
    errors
        .iter()
        .map(WireError::describe)
        .collect::<Vec<_>>()
        .join("; ")
}
