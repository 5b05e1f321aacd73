//! Signed JSON over HTTPS, shared by the seller's webhooks and the on-call alerts: one POST,
//! an `X-Vigie-Signature` when a secret is set, and the outcome classified for retries.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use url::Url;

use super::SendError;

pub const SIGNATURE_HEADER: &str = "X-Vigie-Signature";
/// The outbox row id: the same delivery retried carries the same id, so receivers can dedupe.
pub const DELIVERY_HEADER: &str = "X-Vigie-Delivery";

/// HMAC-SHA256 of `body` under `secret`, in lowercase hex.
pub fn sign(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The HTTP client every webhook is sent with.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client settings are valid")
}

/// POSTs `body` (JSON) to `url`. 2xx is success; 408, 429 and 5xx are worth retrying (429's
/// Retry-After is honoured); any other status is permanent. Errors never carry the URL, whose
/// path may hold a token (Slack).
pub async fn post_json(
    client: &reqwest::Client,
    url: &Url,
    body: Vec<u8>,
    secret: Option<&SecretString>,
    delivery: Option<&str>,
) -> Result<(), SendError> {
    let mut request = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(secret) = secret {
        request = request.header(SIGNATURE_HEADER, sign(secret, &body));
    }
    if let Some(id) = delivery {
        request = request.header(DELIVERY_HEADER, id);
    }
    let response = request.body(body).send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        SendError::Transient {
            message: format!("{} {what}", host(url)),
            retry_after: None,
        }
    })?;
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
    let message = format!("{} answered {status}", host(url));
    if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
    {
        Err(SendError::Transient {
            message,
            retry_after,
        })
    } else {
        Err(SendError::Permanent(message))
    }
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
