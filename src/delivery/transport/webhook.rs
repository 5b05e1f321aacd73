//! Signed JSON over HTTPS, shared by the seller's CRM and order webhooks and the on-call
//! alerts: one POST, an `X-Vigie-Signature` when a secret is set.

use std::time::Duration;

use anyhow::Context;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use url::Url;

use crate::delivery::outcome::{self, SendError};

pub const SIGNATURE_HEADER: &str = "X-Vigie-Signature";
/// The outbox job id: the same delivery retried carries the same id, so receivers can dedupe.
pub const DELIVERY_HEADER: &str = "X-Vigie-Delivery";

/// HMAC-SHA256 of `body` under `secret`, in lowercase hex.
pub fn sign(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The HTTP client every webhook is sent with.
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the webhook HTTP client")
}

/// POSTs `body` to `url` with its `delivery` id; 2xx is success. Errors never carry the URL, whose path may hold a
/// token (Slack).
pub async fn post_json(
    client: &reqwest::Client,
    url: &Url,
    body: &serde_json::Value,
    secret: Option<&SecretString>,
    delivery: &str,
) -> Result<(), SendError> {
    let body = serde_json::to_vec(body)
        .map_err(|e| SendError::Permanent(format!("cannot encode the body: {e}")))?;
    let mut request = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(DELIVERY_HEADER, delivery);
    if let Some(secret) = secret {
        request = request.header(SIGNATURE_HEADER, sign(secret, &body));
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| outcome::http_failure(&host(url), &e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Err(outcome::http_status(&host(url), status, retry_after))
}

/// The part of a URL safe to log.
pub fn host(url: &Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_rfc_4231_test_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        let secret = SecretString::from("Jefe".to_owned());
        assert_eq!(
            sign(&secret, b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
