//! Login with Amazon: the refresh token, client id and secret exchanged for a one-hour access
//! token, kept until a few minutes before it expires, and dropped when Amazon says it did.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use vigie_connector::{BodyLimit, ChannelClient, ConnectorError, Repeat, snippet};

/// A token is renewed this long before Amazon's expiry, so no call carries a dying one.
const RENEW_EARLY: Duration = Duration::from_secs(5 * 60);

pub(crate) struct Login {
    http: ChannelClient,
    token_url: url::Url,
    client_id: String,
    client_secret: SecretString,
    refresh_token: SecretString,
    current: Mutex<Option<(SecretString, Instant)>>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Grant {
    access_token: SecretString,
    expires_in: u64,
}

#[derive(Deserialize)]
struct Refusal {
    error: Option<String>,
}

impl Login {
    pub fn new(
        http: ChannelClient,
        token_url: url::Url,
        client_id: String,
        client_secret: SecretString,
        refresh_token: SecretString,
    ) -> Self {
        Self {
            http,
            token_url,
            client_id,
            client_secret,
            refresh_token,
            current: Mutex::new(None),
        }
    }

    /// A valid access token, asked of Login with Amazon when none is or it expires soon.
    pub async fn token(&self) -> Result<SecretString, ConnectorError> {
        let mut current = self.current.lock().await;
        if let Some((token, renew_at)) = &*current
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let grant = self.refresh().await?;
        let lifetime = Duration::from_secs(grant.expires_in).saturating_sub(RENEW_EARLY);
        *current = Some((grant.access_token.clone(), Instant::now() + lifetime));
        Ok(grant.access_token)
    }

    /// Amazon said the token expired (its clock, or a revocation): the next call logs in again.
    pub async fn forget(&self) {
        *self.current.lock().await = None;
    }

    async fn refresh(&self) -> Result<Grant, ConnectorError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.expose_secret()),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        let reply = self
            .http
            .send(
                "lwa_token",
                Repeat::Safe,
                BodyLimit::single("LWA token"),
                |http| http.post(self.token_url.clone()).form(&form),
            )
            .await
            .map_err(|e| self.redact(e))?;
        if reply.status.is_success() {
            return serde_json::from_slice(&reply.body).map_err(|e| {
                ConnectorError::Auth(format!("Login with Amazon answered no token: {e}"))
            });
        }
        let why = serde_json::from_slice::<Refusal>(&reply.body)
            .ok()
            .and_then(|r| r.error)
            .unwrap_or_else(|| snippet(&reply.text()));
        Err(self.redact(ConnectorError::Auth(format!(
            "Login with Amazon refused the refresh token (HTTP {}): {why}",
            reply.status
        ))))
    }

    /// Error texts quote the answers; one that echoes a secret must not leak it.
    pub fn redact(&self, error: ConnectorError) -> ConnectorError {
        let secrets = [
            self.client_secret.expose_secret(),
            self.refresh_token.expose_secret(),
        ];
        let clean = |mut text: String| {
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                text = text.replace(secret, "[redacted]");
            }
            text
        };
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
}
