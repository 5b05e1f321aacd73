//! `[alerts]`: on-call webhooks, and when a condition becomes an alert.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;
use vigie_connector::spec::https_unless_loopback;

use super::bounds::{self, DAY, MINUTE};
use super::secret::SecretKeys;
use super::{HumanDuration, KeyError};

#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub webhook: Vec<AlertWebhook>,
    /// An alert still open is sent again after this long.
    pub renotify_after: Duration,
    /// Consecutive failed polls before `channel_unreachable`.
    pub channel_unreachable_after: u32,
    /// `stock_low` when a SKU's available units fall to this or below (`None`: off).
    pub stock_low: Option<u32>,
    /// Per-SKU thresholds, winning over `stock_low`.
    pub stock_low_sku: BTreeMap<String, u32>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            webhook: Vec::new(),
            renotify_after: Duration::from_secs(4 * 3600),
            channel_unreachable_after: 3,
            stock_low: None,
            stock_low_sku: BTreeMap::new(),
        }
    }
}

impl AlertsConfig {
    /// The `stock_low` threshold for `sku`, if any.
    pub fn stock_low_threshold(&self, sku: &str) -> Option<u32> {
        self.stock_low_sku.get(sku).copied().or(self.stock_low)
    }
}

#[derive(Debug, Clone)]
pub struct AlertWebhook {
    pub url: Url,
    pub format: AlertFormat,
    /// generic: HMAC-SHA256 key for `X-Vigie-Signature`.
    pub secret: Option<SecretString>,
    /// pagerduty: the integration's routing key.
    pub routing_key: Option<SecretString>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertFormat {
    #[default]
    Generic,
    Slack,
    Pagerduty,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    #[serde(default)]
    webhook: Vec<RawAlertWebhook>,
    renotify_after: Option<HumanDuration>,
    channel_unreachable_after: Option<u32>,
    stock_low: Option<u32>,
    #[serde(default)]
    stock_low_sku: Vec<RawStockLow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertWebhook {
    url: Url,
    #[serde(default)]
    format: AlertFormat,
    secret: Option<SecretString>,
    secret_file: Option<PathBuf>,
    secret_credential: Option<String>,
    routing_key: Option<SecretString>,
    routing_key_file: Option<PathBuf>,
    routing_key_credential: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStockLow {
    sku: String,
    threshold: u32,
}

impl RawAlerts {
    /// Keys are relative to `[alerts]`.
    pub(super) fn validate(self, secrets: &SecretKeys) -> Result<AlertsConfig, KeyError> {
        let defaults = AlertsConfig::default();
        let webhook = self
            .webhook
            .into_iter()
            .enumerate()
            .map(|(index, w)| {
                w.validate(secrets)
                    .map_err(|e| e.under(&format!("webhook[{index}]")))
            })
            .collect::<Result<_, _>>()?;
        let renotify_after = bounds::duration(
            "renotify_after",
            self.renotify_after,
            defaults.renotify_after,
            MINUTE..=7 * DAY,
        )?;
        let channel_unreachable_after = self
            .channel_unreachable_after
            .unwrap_or(defaults.channel_unreachable_after);
        if channel_unreachable_after == 0 {
            return Err(KeyError::new(
                "channel_unreachable_after",
                "must be at least 1",
            ));
        }
        let mut stock_low_sku = BTreeMap::new();
        for (index, s) in self.stock_low_sku.into_iter().enumerate() {
            let key = format!("stock_low_sku[{index}].sku");
            if s.sku.trim().is_empty() {
                return Err(KeyError::new(key, "is empty"));
            }
            if stock_low_sku.insert(s.sku.clone(), s.threshold).is_some() {
                return Err(KeyError::new(key, format!("{:?} is listed twice", s.sku)));
            }
        }
        Ok(AlertsConfig {
            webhook,
            renotify_after,
            channel_unreachable_after,
            stock_low: self.stock_low,
            stock_low_sku,
        })
    }
}

impl RawAlertWebhook {
    fn validate(self, secrets: &SecretKeys) -> Result<AlertWebhook, KeyError> {
        https_unless_loopback(&self.url).map_err(|m| KeyError::new("url", m))?;
        let secret = secrets.optional(
            "secret",
            self.secret,
            self.secret_file,
            self.secret_credential,
        )?;
        let routing_key = secrets.optional(
            "routing_key",
            self.routing_key,
            self.routing_key_file,
            self.routing_key_credential,
        )?;
        match self.format {
            AlertFormat::Pagerduty if routing_key.is_none() => {
                return Err(KeyError::new(
                    "routing_key",
                    "is required for format = \"pagerduty\": set routing_key, routing_key_file or routing_key_credential",
                ));
            }
            AlertFormat::Generic | AlertFormat::Slack if routing_key.is_some() => {
                return Err(KeyError::new(
                    "routing_key",
                    "is only for format = \"pagerduty\"",
                ));
            }
            AlertFormat::Slack | AlertFormat::Pagerduty if secret.is_some() => {
                return Err(KeyError::new(
                    "secret",
                    "is only for format = \"generic\" (Slack and PagerDuty authenticate by URL or routing key)",
                ));
            }
            _ => {}
        }
        Ok(AlertWebhook {
            url: self.url,
            format: self.format,
            secret,
            routing_key,
        })
    }
}
