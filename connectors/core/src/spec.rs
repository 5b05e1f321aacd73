//! A connector's `[[channel]]` settings. The application reads the keys every channel has
//! (`name`, `kind`, `poll_interval`...) and hands the rest of the table to the connector crate
//! its `kind` names: that crate reads them into its own typed struct, checks them, says what
//! its marketplace implies by default, summarizes them for `vigie check-config`, and builds
//! the client. Nothing else of the application knows a marketplace's keys.

use std::any::Any;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use reqwest::Url;
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use crate::{ConnectorError, Deadline, Marketplace, OrderEvent};

/// A key whose value is wrong: its path inside the table being read, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// `partner_id`, `limits.orders_per_minute`; empty when the table as a whole is wrong.
    pub key: String,
    pub message: String,
}

impl KeyError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The same error seen from the enclosing table: `shop_id` under `channel[1]` is
    /// `channel[1].shop_id`.
    pub fn under(self, table: &str) -> Self {
        let key = if self.key.is_empty() {
            table.to_owned()
        } else {
            format!("{table}.{}", self.key)
        };
        Self { key, ..self }
    }
}

/// Reads secrets the way every section of the configuration writes them.
pub trait Secrets {
    /// The secret written as `key` itself, in the file `{key}_file`, or in the systemd
    /// credential `{key}_credential`: exactly one of the three must be set.
    fn resolve(
        &self,
        key: &str,
        value: Option<SecretString>,
        file: Option<PathBuf>,
        credential: Option<String>,
    ) -> Result<SecretString, KeyError>;
}

/// A connector's own `[[channel]]` keys, as written: a `#[serde(deny_unknown_fields)]`
/// struct, so a typo is an error naming the key.
pub trait ChannelSpec: DeserializeOwned {
    /// The `kind` that names this connector in the configuration.
    const KIND: &'static str;
    type Settings: ChannelSettings;

    /// Checks the keys and reads the secrets; errors name the key inside the channel's table.
    fn validate(self, secrets: &dyn Secrets) -> Result<Self::Settings, KeyError>;
}

/// A connector's validated settings for one channel. (`Any`: a test can still reach the
/// connector's own type behind `dyn ChannelSettings`.)
pub trait ChannelSettings: Any + Debug + Send + Sync {
    /// What this marketplace implies where the channel does not say.
    fn defaults(&self) -> ChannelDefaults;

    /// One line for `vigie check-config`, secrets redacted.
    fn summary(&self) -> String;

    /// The client of the channel named `channel`, within the application's `bounds`; no
    /// call is made yet.
    fn build(&self, channel: &str, bounds: Bounds) -> Result<Arc<dyn Marketplace>, ConnectorError>;
}

/// What the application bounds in every connector it builds, whatever its marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The longest any one wait may last (`[daemon] max_retry_wait`): a call budget, a
    /// backoff, a marketplace's `Retry-After`.
    pub max_wait: Duration,
}

/// A marketplace's defaults for the keys every channel has, and its polling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelDefaults {
    pub poll_interval: Duration,
    pub acceptance_deadline: Deadline,
    /// The customer events sent through the marketplace's messaging unless the seller's
    /// `[notify.channel.NAME]` lists others.
    pub customer_events: &'static [OrderEvent],
    pub polling: PollingPolicy,
}

/// How the pipeline reads a marketplace's orders: each poll the changes since the previous
/// one, now and then the overlap again for changes shown late, and now and then the whole
/// queue of orders awaiting acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollingPolicy {
    /// How long after the time it stamps on a change the marketplace may show it (its own
    /// latency, its clock against ours). Once every `overlap`, a poll reads the changes again
    /// from `overlap` before the previous such re-read; the other polls read from where the
    /// last one ended.
    pub overlap: SignedDuration,
    /// On the very first poll, look back this far for changes.
    pub first_lookback: SignedDuration,
    /// How often the whole acceptance queue is read besides the changes, for an order whose
    /// change fell outside every window.
    pub queue_sweep_every: SignedDuration,
}

/// `url` as a summary may show it: a password or user in it, and its query (where tokens
/// travel), are redacted like every other secret.
pub fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        // Cannot fail: the URL has a host, since it has credentials.
        let _ = shown.set_password(None);
        let _ = shown.set_username("redacted");
    }
    if shown.query().is_some() {
        shown.set_query(Some("redacted"));
    }
    shown.to_string()
}

/// Keys, tokens and signatures travel in requests: HTTPS only, except on loopback
/// (sandboxes, tests, a local relay).
pub fn https_unless_loopback(url: &Url) -> Result<(), String> {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(format!("{url} has no host")),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "{url} must use https (plain http is only allowed on loopback)"
        )),
        other => Err(format!("{url}: unsupported scheme {other:?}")),
    }
}

/// Reads a connector's keys from `table` and checks them, secrets written in the table
/// itself: how connector crates test their settings.
#[cfg(feature = "test-support")]
pub fn read_inline<S: ChannelSpec>(table: serde_json::Value) -> Result<S::Settings, KeyError> {
    struct Inline;
    impl Secrets for Inline {
        fn resolve(
            &self,
            key: &str,
            value: Option<SecretString>,
            _: Option<PathBuf>,
            _: Option<String>,
        ) -> Result<SecretString, KeyError> {
            value.ok_or_else(|| KeyError::new(key, "is required"))
        }
    }
    serde_json::from_value::<S>(table)
        .map_err(|e| KeyError::new("", e.to_string()))?
        .validate(&Inline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        let check = |u: &str| https_unless_loopback(&u.parse().unwrap());
        assert!(check("https://x.example").is_ok());
        assert!(check("http://127.0.0.1:8080").is_ok());
        assert!(check("http://[::1]/x").is_ok());
        assert!(check("http://localhost/x").is_ok());
        assert!(check("http://x.example").unwrap_err().contains("https"));
        assert!(check("ftp://x.example").unwrap_err().contains("scheme"));
    }

    #[test]
    fn keys_read_from_the_enclosing_table() {
        let e = KeyError::new("limits.orders_per_minute", "must be positive");
        assert_eq!(
            e.clone().under("channel[1]").key,
            "channel[1].limits.orders_per_minute"
        );
        assert_eq!(KeyError::new("", "x").under("smtp").key, "smtp");
    }

    #[test]
    fn shown_urls_keep_no_credentials_or_query() {
        let url: Url = "https://shop:s3cret@m.example/api?token=abc#x"
            .parse()
            .unwrap();
        let shown = shown_url(&url);
        assert!(!shown.contains("s3cret") && !shown.contains("abc") && !shown.contains("shop:"));
        assert_eq!(shown, "https://redacted@m.example/api?redacted#x");
        let plain: Url = "https://m.example/api".parse().unwrap();
        assert_eq!(shown_url(&plain), "https://m.example/api");
    }
}
