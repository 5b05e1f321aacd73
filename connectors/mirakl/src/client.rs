//! Requests as Mirakl wants them: the raw key in `Authorization`, JSON accepted, `shop_id` on
//! every call, paths under the operator's instance. Answers other than 2xx become errors here.

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use vigie_connector::{BodyLimit, ChannelClient, ConnectorError, Repeat, Reply, Throttle};

use crate::errors;

/// One shop's view of the seller API.
#[derive(Clone)]
pub(crate) struct Api {
    http: ChannelClient,
    base: url::Url,
    key: SecretString,
    shop_id: Option<u64>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("channel", &self.http.channel())
            .field("base", &self.base.as_str())
            .field("shop_id", &self.shop_id)
            .finish_non_exhaustive()
    }
}

/// One Mirakl operation as sent: its code (metrics, logs, error messages), whether it may be
/// repeated, the endpoint budget every attempt pays, and how much of its answer is read.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub code: &'static str,
    pub repeat: Repeat,
    pub budget: Option<&'a Throttle>,
    pub limit: BodyLimit,
}

impl<'a> Call<'a> {
    /// A call safe to repeat (reads, absolute writes, decisions Mirakl refuses twice).
    pub fn safe(code: &'static str) -> Self {
        Self {
            code,
            repeat: Repeat::Safe,
            budget: None,
            limit: BodyLimit::single("answer"),
        }
    }

    /// A write that would be applied twice (a customer message).
    pub fn once(code: &'static str) -> Self {
        Self {
            repeat: Repeat::OnlyIfUnsent,
            ..Self::safe(code)
        }
    }

    /// An answer that may be large (a page of a list, a report), up to `limit`.
    pub fn reading(self, limit: BodyLimit) -> Self {
        Self { limit, ..self }
    }

    /// Every attempt, retries included, waits for `budget`.
    pub fn paying(self, budget: &'a Throttle) -> Self {
        Self {
            budget: Some(budget),
            ..self
        }
    }
}

impl Api {
    pub fn new(
        http: ChannelClient,
        base: url::Url,
        key: SecretString,
        shop_id: Option<u64>,
    ) -> Result<Self, ConnectorError> {
        if base.cannot_be_a_base() {
            return Err(ConnectorError::permanent(format!(
                "Mirakl base_url {base} cannot carry a path"
            )));
        }
        // A key that is not a valid header value would fail every call: say so once, now.
        HeaderValue::from_str(key.expose_secret()).map_err(|_| {
            ConnectorError::Auth(
                "the Mirakl API key contains characters not allowed in a header".into(),
            )
        })?;
        Ok(Self {
            http,
            base,
            key,
            shop_id,
        })
    }

    /// `base` + `/api/<segments>`, each segment percent-encoded (order ids are free text).
    pub fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .expect("checked in new")
            .pop_if_empty()
            .push("api")
            .extend(segments);
        url
    }

    /// Sends one request; `query` comes before `shop_id`. Only 2xx answers come back as `Ok`.
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
        {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query {
                pairs.append_pair(name, value);
            }
            if let Some(shop_id) = self.shop_id {
                pairs.append_pair("shop_id", &shop_id.to_string());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let reply = self
            .http
            .send_paced(call.code, call.repeat, call.budget, call.limit, |http| {
                body(
                    http.request(method.clone(), url.clone())
                        .header(AUTHORIZATION, self.auth_header())
                        .header(ACCEPT, "application/json"),
                )
            })
            .await
            .map_err(|e| self.redact(e))?;
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(self.redact(errors::classify(call.code, &reply)))
        }
    }

    /// A GET: no body.
    pub async fn get(
        &self,
        call: Call<'_>,
        url: &url::Url,
        query: &[(&str, String)],
    ) -> Result<Reply, ConnectorError> {
        self.send(call, Method::GET, url, query, |r| r).await
    }

    /// Error texts quote the marketplace's answer; one that echoes the key must not leak it.
    fn redact(&self, error: ConnectorError) -> ConnectorError {
        let key = self.key.expose_secret();
        if key.is_empty() {
            return error;
        }
        let clean = |text: String| text.replace(key, "[redacted]");
        match error {
            ConnectorError::Transient(m) => ConnectorError::Transient(clean(m)),
            ConnectorError::Uncertain(m) => ConnectorError::Uncertain(clean(m)),
            ConnectorError::Auth(m) => ConnectorError::Auth(clean(m)),
            ConnectorError::AlreadyDone(m) => ConnectorError::AlreadyDone(clean(m)),
            ConnectorError::Permanent { code, message } => ConnectorError::Permanent {
                code,
                message: clean(message),
            },
            other @ ConnectorError::RateLimited { .. } => other,
        }
    }

    fn auth_header(&self) -> HeaderValue {
        let mut value = HeaderValue::from_str(self.key.expose_secret()).expect("checked in new");
        // Keeps the key out of reqwest's and hyper's Debug output.
        value.set_sensitive(true);
        value
    }
}

/// Reads a 2xx JSON body, naming the endpoint and the field that did not fit.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    endpoint: &str,
    reply: &Reply,
) -> Result<T, ConnectorError> {
    let mut de = serde_json::Deserializer::from_slice(&reply.body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        ConnectorError::permanent(format!(
            "{endpoint}: unexpected answer at {}: {}",
            e.path(),
            e.inner()
        ))
    })
}
