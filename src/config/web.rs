//! `[web]`: who may use the review pages and the seller API, and the address alerts link to.
//!
//! On loopback nobody needs to log in (as for the JSON views); bound anywhere else, the status
//! server must have a password or an API token, or vigie refuses to start.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::KeyError;
use super::secret::SecretKeys;

#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// The login password, as an argon2 PHC string (`$argon2id$v=19$...`).
    pub password_hash: Option<SecretString>,
    /// `Authorization: Bearer` token for the seller API.
    pub api_token: Option<SecretString>,
    /// Where people reach the pages; alerts link to orders under it, and cookies are `Secure`
    /// when it is https.
    pub public_url: Option<Url>,
}

impl WebConfig {
    /// Whether visitors must log in (or send the API token): always off loopback, and on
    /// loopback too once a password is set (a reverse proxy in front brings everyone there).
    pub fn requires_login(&self, listen: SocketAddr) -> bool {
        !listen.ip().is_loopback() || self.password_hash.is_some()
    }

    /// Whether a request's `Host` names this server: an address, `localhost`, or the host of
    /// `public_url`. Any other name is a page of another site that made its name resolve to
    /// vigie's address (DNS rebinding), to read the pages with the visitor's browser.
    pub fn is_own_host(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        name.parse::<std::net::IpAddr>().is_ok()
            || name.eq_ignore_ascii_case("localhost")
            || self
                .public_url
                .as_ref()
                .and_then(|u| u.host_str())
                .is_some_and(|own| own.eq_ignore_ascii_case(name))
    }

    /// The page of one order, for alerts, when `public_url` is set.
    pub fn order_url(&self, channel: &str, order_id: &str) -> Option<Url> {
        let mut url = self.public_url.clone()?;
        url.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .extend(["orders", channel, order_id]);
        Some(url)
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    password_hash: Option<SecretString>,
    password_hash_file: Option<PathBuf>,
    password_hash_credential: Option<String>,
    api_token: Option<SecretString>,
    api_token_file: Option<PathBuf>,
    api_token_credential: Option<String>,
    public_url: Option<Url>,
}

impl RawWeb {
    /// Keys are relative to `[web]`; `listen` is `daemon.status_listen`.
    pub(super) fn validate(
        self,
        secrets: &SecretKeys,
        listen: SocketAddr,
    ) -> Result<WebConfig, KeyError> {
        let password_hash = secrets.optional(
            "password_hash",
            self.password_hash,
            self.password_hash_file,
            self.password_hash_credential,
        )?;
        if let Some(hash) = &password_hash {
            argon2::PasswordHash::new(hash.expose_secret()).map_err(|e| {
                KeyError::new(
                    "password_hash",
                    format!("not an argon2 hash ($argon2id$v=19$...): {e}"),
                )
            })?;
        }
        let api_token = secrets.optional(
            "api_token",
            self.api_token,
            self.api_token_file,
            self.api_token_credential,
        )?;
        if let Some(token) = &api_token
            && token.expose_secret().len() < 16
        {
            return Err(KeyError::new(
                "api_token",
                "is shorter than 16 characters: use a long random token (openssl rand -hex 32)",
            ));
        }
        if let Some(url) = &self.public_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(KeyError::new("public_url", "must be an http or https URL"));
        }
        let web = WebConfig {
            password_hash,
            api_token,
            public_url: self.public_url,
        };
        if web.requires_login(listen) && web.password_hash.is_none() && web.api_token.is_none() {
            return Err(KeyError::new(
                "",
                format!(
                    "daemon.status_listen = {listen} is not loopback: set password_hash \
                     (pages) and/or api_token (API), or listen on 127.0.0.1"
                ),
            ));
        }
        Ok(web)
    }
}
