//! What a Fnac or Darty channel needs: its `[[channel]]` keys as the seller writes them,
//! checked into [`FnacSettings`], with Fnac's defaults, its `check-config` line and its client.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;
use vigie_connector::spec::{
    Bounds, ChannelDefaults, ChannelSettings, ChannelSpec, KeyError, PollingPolicy, Secrets,
    https_unless_loopback, shown_url,
};
use vigie_connector::{ConnectorError, Deadline, HttpSettings, Marketplace, OrderEvent};

use crate::Fnac;

/// Fnac publishes no rate limit: a polite pace by default.
const REQUESTS_PER_MINUTE: NonZeroU32 = NonZeroU32::new(60).unwrap();

/// One Fnac or Darty shop.
#[derive(Debug, Clone)]
pub struct FnacSettings {
    /// e.g. `https://vendeur.fnac.com/api.php`; services are posted to `{base_url}/{service}`.
    pub base_url: Url,
    /// UUID issued by Fnac.
    pub partner_id: String,
    /// UUID issued by Fnac; the Fnac shop and the Darty shop have different ones.
    pub shop_id: String,
    /// The shop's API key.
    pub key: SecretString,
    /// Fnac publishes no rate limit; calls are serialised per shop and paced to this.
    /// Default 60.
    pub requests_per_minute: NonZeroU32,
    /// The session token is renewed this long before its announced `validity`, for clock
    /// skew. Default 60 s.
    pub token_skew: Duration,
    /// `messages_update` action used to write to the customer. Default `create`, with the
    /// order id as the message `id` (not publicly documented; see the crate README note).
    pub message_action: String,
    /// Fnac's message category (`message_subject`). Default `order_information`.
    pub message_subject: String,
    pub http: HttpSettings,
}

impl FnacSettings {
    /// Settings with every default; only the credentials and the address are required.
    pub fn new(base_url: Url, partner_id: &str, shop_id: &str, key: SecretString) -> Self {
        Self {
            base_url,
            partner_id: partner_id.to_owned(),
            shop_id: shop_id.to_owned(),
            key,
            requests_per_minute: REQUESTS_PER_MINUTE,
            token_skew: Duration::from_secs(60),
            message_action: "create".to_owned(),
            message_subject: "order_information".to_owned(),
            http: HttpSettings::default(),
        }
    }
}

/// `uuid` in Fnac's XSD: 8-4-4-4-12 hexadecimal digits.
pub(crate) fn is_uuid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A Fnac channel's own keys in the configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FnacChannel {
    base_url: Url,
    partner_id: Option<String>,
    shop_id: Option<String>,
    key: Option<SecretString>,
    key_file: Option<PathBuf>,
    key_credential: Option<String>,
    #[serde(default)]
    limits: Limits,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    requests_per_minute: Option<NonZeroU32>,
}

impl ChannelSpec for FnacChannel {
    const KIND: &'static str = "fnac";
    type Settings = FnacSettings;

    fn validate(self, secrets: &dyn Secrets) -> Result<FnacSettings, KeyError> {
        https_unless_loopback(&self.base_url).map_err(|m| KeyError::new("base_url", m))?;
        let required = |value: Option<String>, key: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| KeyError::new(key, "is required for a fnac channel"))
        };
        let partner_id = required(self.partner_id, "partner_id")?;
        let shop_id = required(self.shop_id, "shop_id")?;
        for (key, value) in [("partner_id", &partner_id), ("shop_id", &shop_id)] {
            if !is_uuid(value) {
                return Err(KeyError::new(
                    key,
                    format!("{value:?} is not a UUID as Fnac issues them"),
                ));
            }
        }
        let key = secrets.resolve("key", self.key, self.key_file, self.key_credential)?;
        let mut settings = FnacSettings::new(self.base_url, &partner_id, &shop_id, key);
        if let Some(n) = self.limits.requests_per_minute {
            settings.requests_per_minute = n;
        }
        Ok(settings)
    }
}

impl ChannelSettings for FnacSettings {
    fn defaults(&self) -> ChannelDefaults {
        use OrderEvent::*;
        ChannelDefaults {
            poll_interval: Duration::from_secs(300),
            // Fnac's rule: two working days to accept.
            acceptance_deadline: Deadline::WorkingDays(2),
            // Fnac confirms the order at checkout and tells the buyer itself when the seller
            // accepts.
            customer_events: &[Delayed, Shipped, Refused, Cancelled],
            polling: PollingPolicy {
                // Fnac documents no delay between an order's `UpdatedAt` and its showing in
                // orders_query, nor a rewind of its own: a generous one (what the connector
                // once added on both sides of every window, and the engine's 5 minutes).
                overlap: SignedDuration::from_mins(15),
                first_lookback: SignedDuration::from_hours(24),
                queue_sweep_every: SignedDuration::from_mins(15),
            },
        }
    }

    fn summary(&self) -> String {
        format!(
            "{}, partner {}, shop {}, key [redacted], at most {} requests a minute",
            shown_url(&self.base_url),
            self.partner_id,
            self.shop_id,
            self.requests_per_minute,
        )
    }

    fn build(&self, channel: &str, bounds: Bounds) -> Result<Arc<dyn Marketplace>, ConnectorError> {
        let mut settings = self.clone();
        settings.http.max_wait = bounds.max_wait;
        Ok(Arc::new(Fnac::new(channel, settings)?))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::{Value, json};
    use vigie_connector::testing::{assert_summary_and_build, refused_with};

    use super::*;

    const PARTNER: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    const SHOP: &str = "1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    fn read(table: Value) -> Result<FnacSettings, KeyError> {
        vigie_connector::spec::read_inline::<FnacChannel>(table)
    }

    fn valid() -> Value {
        json!({
            "base_url": "https://vendeur.fnac.com/api.php",
            "partner_id": PARTNER,
            "shop_id": SHOP,
            "key": "SECRET-key",
        })
    }

    #[test]
    fn recognises_uuids() {
        assert!(is_uuid("0a1B2c3d-0000-4000-8000-00000000abcd"));
        assert!(!is_uuid("0a1b2c3d00004000800000000000abcd"));
        assert!(!is_uuid("0a1b2c3d-0000-4000-8000-00000000abcg"));
    }

    #[test]
    fn reads_its_keys_and_says_what_fnac_implies() {
        let mut table = valid();
        table["limits"] = json!({ "requests_per_minute": 7 });
        let settings = read(table).unwrap();
        assert_eq!(settings.key.expose_secret(), "SECRET-key");
        assert_eq!(
            (settings.partner_id.as_str(), settings.shop_id.as_str()),
            (PARTNER, SHOP)
        );
        assert_eq!(settings.requests_per_minute.get(), 7);

        let defaults = settings.defaults();
        assert_eq!(defaults.acceptance_deadline, Deadline::WorkingDays(2));
        // Fnac tells the buyer of the acceptance itself.
        assert!(!defaults.customer_events.contains(&OrderEvent::Accepted));
        assert!(defaults.customer_events.contains(&OrderEvent::Shipped));

        assert_summary_and_build(&settings, "key [redacted], at most 7 requests");
    }

    #[test]
    fn names_the_key_it_refuses() {
        let without = |key: &str| {
            let mut table = valid();
            table.as_object_mut().unwrap().remove(key);
            read(table).unwrap_err()
        };
        let with = |key: &str, value: Value| refused_with::<FnacChannel>(&valid(), key, value);
        let e = without("partner_id");
        assert_eq!(
            (e.key.as_str(), e.message.as_str()),
            ("partner_id", "is required for a fnac channel")
        );
        assert_eq!(with("shop_id", json!(" ")).key, "shop_id");
        let e = with("shop_id", json!("darty"));
        assert_eq!(e.key, "shop_id");
        assert!(e.message.contains("not a UUID"), "{e:?}");
        assert_eq!(without("key").key, "key");
        assert!(with("api_key", json!("k")).message.contains("api_key"));
    }
}
