//! What an Amazon channel needs: its `[[channel]]` keys as the seller writes them, checked
//! into [`AmazonSettings`], with Amazon's defaults, its `check-config` line and its client.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use secrecy::SecretString;
use serde::Deserialize;
use vigie_connector::spec::{
    Bounds, ChannelDefaults, ChannelSettings, ChannelSpec, KeyError, PollingPolicy, Secrets,
    https_unless_loopback, shown_url,
};
use vigie_connector::{ConnectorError, Deadline, HttpSettings, Marketplace, OrderEvent};

use crate::{Amazon, Limits};

/// Amazon France's marketplace id.
pub const FRANCE: &str = "A13V1IB3VIYZZH";
const EU_ENDPOINT: &str = "https://sellingpartnerapi-eu.amazon.com/";
const LWA_TOKEN_URL: &str = "https://api.amazon.com/auth/o2/token";

/// One seller account on one Amazon marketplace.
#[derive(Debug, Clone)]
pub struct AmazonSettings {
    /// The SP-API endpoint (EU by default); `/orders/...` etc. are appended.
    pub base_url: url::Url,
    /// Login with Amazon's token endpoint.
    pub token_url: url::Url,
    pub marketplace_id: String,
    /// The merchant token, in the Listings paths.
    pub seller_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
    /// `lead_time_to_ship_max_days` sent with every quantity: Amazon drops it otherwise.
    pub handling_days: u32,
    /// Pushes of at most this many SKUs patch each listing; larger ones go as one feed.
    pub patch_at_most: usize,
    /// How often a feed's processing is asked about while vigie waits for it.
    pub feed_check_every: Duration,
    pub limits: Limits,
    pub http: HttpSettings,
}

impl AmazonSettings {
    /// Settings for Amazon's EU endpoint and Amazon's published usage plans.
    pub fn new(
        seller_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        refresh_token: SecretString,
    ) -> Self {
        Self {
            base_url: EU_ENDPOINT.parse().expect("a valid constant URL"),
            token_url: LWA_TOKEN_URL.parse().expect("a valid constant URL"),
            marketplace_id: FRANCE.to_owned(),
            seller_id: seller_id.into(),
            client_id: client_id.into(),
            client_secret,
            refresh_token,
            handling_days: 2,
            patch_at_most: 20,
            feed_check_every: Duration::from_secs(30),
            limits: Limits::default(),
            http: HttpSettings::default(),
        }
    }
}

/// An Amazon channel's own keys in the configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmazonChannel {
    #[serde(default = "france")]
    marketplace_id: String,
    seller_id: String,
    client_id: String,
    client_secret: Option<SecretString>,
    client_secret_file: Option<PathBuf>,
    client_secret_credential: Option<String>,
    refresh_token: Option<SecretString>,
    refresh_token_file: Option<PathBuf>,
    refresh_token_credential: Option<String>,
    base_url: Option<url::Url>,
    token_url: Option<url::Url>,
    handling_days: Option<u32>,
    #[serde(default)]
    limits: LimitKeys,
}

fn france() -> String {
    FRANCE.to_owned()
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitKeys {
    scale: Option<f64>,
}

impl ChannelSpec for AmazonChannel {
    const KIND: &'static str = "amazon";
    type Settings = AmazonSettings;

    fn validate(self, secrets: &dyn Secrets) -> Result<AmazonSettings, KeyError> {
        for (key, url) in [("base_url", &self.base_url), ("token_url", &self.token_url)] {
            if let Some(url) = url {
                https_unless_loopback(url).map_err(|m| KeyError::new(key, m))?;
            }
        }
        for (key, value) in [
            ("marketplace_id", &self.marketplace_id),
            ("seller_id", &self.seller_id),
            ("client_id", &self.client_id),
        ] {
            if value.trim().is_empty() {
                return Err(KeyError::new(key, "must not be empty"));
            }
        }
        let client_secret = secrets.resolve(
            "client_secret",
            self.client_secret,
            self.client_secret_file,
            self.client_secret_credential,
        )?;
        let refresh_token = secrets.resolve(
            "refresh_token",
            self.refresh_token,
            self.refresh_token_file,
            self.refresh_token_credential,
        )?;
        let mut settings = AmazonSettings::new(
            self.seller_id.trim(),
            self.client_id.trim(),
            client_secret,
            refresh_token,
        );
        settings.marketplace_id = self.marketplace_id.trim().to_owned();
        if let Some(url) = self.base_url {
            settings.base_url = url;
        }
        if let Some(url) = self.token_url {
            settings.token_url = url;
        }
        if let Some(days) = self.handling_days {
            if !(1..=30).contains(&days) {
                return Err(KeyError::new("handling_days", "must be between 1 and 30"));
            }
            settings.handling_days = days;
        }
        if let Some(scale) = self.limits.scale {
            if !(scale.is_finite() && scale > 0.0 && scale <= 10_000.0) {
                return Err(KeyError::new(
                    "limits.scale",
                    "must be a positive factor, at most 10000",
                ));
            }
            settings.limits.scale = scale;
        }
        Ok(settings)
    }
}

impl ChannelSettings for AmazonSettings {
    fn defaults(&self) -> ChannelDefaults {
        ChannelDefaults {
            // One searchOrders every three minutes is Amazon's sustained rate.
            poll_interval: Duration::from_secs(180),
            // No acceptance step: vigie decides an order the moment it sees it; this only
            // bounds how long a flagged order may wait for the seller.
            acceptance_deadline: Deadline::WorkingDays(1),
            // Amazon e-mails the buyer itself at every status change and allows only its
            // own templates: a delay is the one thing it cannot tell (`unexpectedProblem`).
            customer_events: &[OrderEvent::Delayed],
            polling: PollingPolicy {
                // searchOrders shows nothing younger than two minutes, and orders are seen
                // to appear later still: read generously behind.
                overlap: SignedDuration::from_mins(15),
                first_lookback: SignedDuration::from_hours(24),
                queue_sweep_every: SignedDuration::from_hours(1),
            },
        }
    }

    fn summary(&self) -> String {
        format!(
            "{}, marketplace {}, seller {}, client_secret [redacted], refresh_token [redacted], \
             usage plans x{}; customer messages: only `delayed` (as unexpectedProblem), Amazon \
             tells the buyer every other event itself",
            shown_url(&self.base_url),
            self.marketplace_id,
            self.seller_id,
            self.limits.scale,
        )
    }

    fn build(&self, channel: &str, bounds: Bounds) -> Result<Arc<dyn Marketplace>, ConnectorError> {
        let mut settings = self.clone();
        settings.http.max_wait = bounds.max_wait;
        Ok(Arc::new(Amazon::new(channel, settings)?))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::{Value, json};
    use vigie_connector::testing::{assert_summary_and_build, refused_with};

    use super::*;

    fn read(table: Value) -> Result<AmazonSettings, KeyError> {
        vigie_connector::spec::read_inline::<AmazonChannel>(table)
    }

    fn base() -> Value {
        json!({
            "seller_id": "A2SELLER", "client_id": "amzn1.application-oa2-client.x",
            "client_secret": "SECRET-cs", "refresh_token": "Atzr|SECRET-rt",
        })
    }

    #[test]
    fn reads_its_keys_and_says_what_amazon_implies() {
        let settings = read(base()).unwrap();
        assert_eq!(settings.marketplace_id, FRANCE);
        assert_eq!(settings.base_url.as_str(), EU_ENDPOINT);
        assert_eq!(settings.refresh_token.expose_secret(), "Atzr|SECRET-rt");
        assert_eq!(settings.defaults().customer_events, [OrderEvent::Delayed]);
        assert_summary_and_build(&settings, "client_secret [redacted]");
        assert!(!settings.summary().contains("SECRET"));
    }

    #[test]
    fn names_the_key_it_refuses() {
        let with = |key: &str, value: Value| refused_with::<AmazonChannel>(&base(), key, value);
        assert_eq!(with("base_url", json!("http://x.example")).key, "base_url");
        assert_eq!(with("limits", json!({ "scale": 0 })).key, "limits.scale");
        assert_eq!(with("handling_days", json!(0)).key, "handling_days");
        assert_eq!(with("seller_id", json!(" ")).key, "seller_id");
        assert!(with("api_key", json!("k")).message.contains("api_key"));
        let mut missing = base();
        missing.as_object_mut().unwrap().remove("refresh_token");
        assert_eq!(read(missing).unwrap_err().key, "refresh_token");
    }
}
