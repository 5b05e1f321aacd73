//! What a Mirakl channel needs: its `[[channel]]` keys as the seller writes them, checked
//! into [`MiraklSettings`], with Mirakl's defaults, its `check-config` line and its client.

use std::num::NonZeroU32;
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
use vigie_connector::{
    ConnectorError, Deadline, HttpSettings, HumanDuration, Marketplace, OrderEvent,
};

use crate::Mirakl;

/// One Mirakl shop on one operator's instance.
#[derive(Debug, Clone)]
pub struct MiraklSettings {
    /// The operator's instance, e.g. `https://adeo-marketplace.mirakl.net`; `/api/...` is appended.
    pub base_url: url::Url,
    /// The shop API key, sent raw in `Authorization` (no `Bearer`).
    pub api_key: SecretString,
    /// Sent as `shop_id` on every call when the key reaches several shops.
    pub shop_id: Option<u64>,
    pub limits: MiraklLimits,
    /// What `decide` does when the shop refuses partial acceptance.
    pub partial_acceptance_fallback: PartialAcceptanceFallback,
    /// The topic of the thread opened to a customer.
    pub message_topic: MessageTopic,
    pub http: HttpSettings,
}

impl MiraklSettings {
    /// Settings with Mirakl's published limits and default HTTP behaviour.
    pub fn new(base_url: url::Url, api_key: SecretString) -> Self {
        Self {
            base_url,
            api_key,
            shop_id: None,
            limits: MiraklLimits::default(),
            partial_acceptance_fallback: PartialAcceptanceFallback::default(),
            message_topic: MessageTopic::default(),
            http: HttpSettings::default(),
        }
    }
}

/// Per-operation call budgets. Defaults are the "maximum usage" Mirakl publishes per API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiraklLimits {
    /// OR11 polls (one poll may page through several requests). Mirakl: once per minute.
    pub orders_per_minute: NonZeroU32,
    /// STO01 stock imports. Mirakl: once per minute.
    pub stock_imports_per_minute: NonZeroU32,
    /// STO02 import status checks. Mirakl: once every 15 seconds.
    pub stock_status_every: Duration,
    /// STO03 error reports. Mirakl: once per minute.
    pub error_reports_per_minute: NonZeroU32,
}

impl Default for MiraklLimits {
    fn default() -> Self {
        Self {
            orders_per_minute: NonZeroU32::MIN,
            stock_imports_per_minute: NonZeroU32::MIN,
            stock_status_every: Duration::from_secs(15),
            error_reports_per_minute: NonZeroU32::MIN,
        }
    }
}

/// How often STO02 may be asked: Mirakl allows every 15 s (sandboxes and tests go faster);
/// more than an hour would leave a stock import unconfirmed for too long.
const STATUS_CHECKS: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(3600);

/// The whole-order decision to send when a mixed decision meets
/// `ORDER_PARTIAL_ACCEPTANCE_DISABLED`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PartialAcceptanceFallback {
    /// Refuse every line: never sells a unit vigie could not reserve.
    #[default]
    RefuseOrder,
    /// Accept every line (the seller prefers back-orders to refusals).
    AcceptOrder,
    /// Send nothing more and report a `Permanent` error so a human decides.
    Report,
}

/// The topic of the thread OR43 opens to a customer. Some operators refuse free text and
/// require one of their reason codes (RE01 `GET /api/reasons`, type `ORDER_MESSAGING`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MessageTopic {
    /// `FREE_TEXT`, the message's subject.
    #[default]
    FreeText,
    /// `REASON_CODE` with this code.
    ReasonCode(String),
}

/// `message_topic_type` as written.
#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum TopicType {
    FreeText,
    ReasonCode,
}

/// A Mirakl channel's own keys in the configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiraklChannel {
    base_url: url::Url,
    api_key: Option<SecretString>,
    api_key_file: Option<PathBuf>,
    api_key_credential: Option<String>,
    shop_id: Option<ShopId>,
    #[serde(default)]
    limits: Limits,
    message_topic_type: Option<TopicType>,
    message_topic_code: Option<String>,
}

/// Mirakl shop ids are numbers; a quoted one is read too, and anything else named.
#[derive(Deserialize)]
#[serde(untagged)]
enum ShopId {
    Number(u64),
    Text(String),
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    orders_per_minute: Option<NonZeroU32>,
    stock_imports_per_minute: Option<NonZeroU32>,
    stock_status_every: Option<HumanDuration>,
}

impl ChannelSpec for MiraklChannel {
    const KIND: &'static str = "mirakl";
    type Settings = MiraklSettings;

    fn validate(self, secrets: &dyn Secrets) -> Result<MiraklSettings, KeyError> {
        https_unless_loopback(&self.base_url).map_err(|m| KeyError::new("base_url", m))?;
        let shop_id = match self.shop_id {
            None => None,
            Some(ShopId::Number(n)) => Some(n),
            Some(ShopId::Text(t)) => Some(t.parse().map_err(|_| {
                KeyError::new(
                    "shop_id",
                    format!("a Mirakl shop id is a number, got {t:?}"),
                )
            })?),
        };
        let api_key = secrets.resolve(
            "api_key",
            self.api_key,
            self.api_key_file,
            self.api_key_credential,
        )?;
        let mut settings = MiraklSettings::new(self.base_url, api_key);
        settings.shop_id = shop_id;
        settings.message_topic = message_topic(self.message_topic_type, self.message_topic_code)?;
        let limits = &mut settings.limits;
        if let Some(n) = self.limits.orders_per_minute {
            limits.orders_per_minute = n;
        }
        if let Some(n) = self.limits.stock_imports_per_minute {
            limits.stock_imports_per_minute = n;
        }
        if let Some(every) = self.limits.stock_status_every {
            limits.stock_status_every = every
                .within(STATUS_CHECKS)
                .map_err(|m| KeyError::new("limits.stock_status_every", m))?;
        }
        Ok(settings)
    }
}

/// `message_topic_type` and `message_topic_code`, which go together.
fn message_topic(kind: Option<TopicType>, code: Option<String>) -> Result<MessageTopic, KeyError> {
    let code = code.map(|c| c.trim().to_owned());
    match (kind.unwrap_or(TopicType::FreeText), code) {
        (TopicType::FreeText, None) => Ok(MessageTopic::FreeText),
        (TopicType::ReasonCode, Some(code)) if !code.is_empty() => {
            Ok(MessageTopic::ReasonCode(code))
        }
        (TopicType::ReasonCode, _) => Err(KeyError::new(
            "message_topic_code",
            "is required with message_topic_type = \"REASON_CODE\": one of the operator's \
             ORDER_MESSAGING reason codes (RE01)",
        )),
        (TopicType::FreeText, Some(_)) => Err(KeyError::new(
            "message_topic_code",
            "goes only with message_topic_type = \"REASON_CODE\"",
        )),
    }
}

impl ChannelSettings for MiraklSettings {
    fn defaults(&self) -> ChannelDefaults {
        use OrderEvent::*;
        ChannelDefaults {
            poll_interval: Duration::from_secs(300),
            // Operators choose 3 to 7 days; the shortest seen is the safe default.
            acceptance_deadline: Deadline::Calendar(Duration::from_secs(3 * 86_400)),
            // Mirakl e-mails the buyer itself at checkout and at every state change
            // (accepted, shipped, cancelled): only what it cannot know goes by default.
            customer_events: &[Delayed, Refused],
            polling: PollingPolicy {
                // OR11 rewinds `start_update_date` itself for Mirakl's own latency; this
                // covers the skew between Mirakl's clock, which stamps, and vigie's, which
                // ends the windows.
                overlap: SignedDuration::from_mins(5),
                first_lookback: SignedDuration::from_hours(24),
                // OR11 serves both the changes and the whole queue, and Mirakl allows it once
                // a minute for both together: sweeping every cycle would halve how often the
                // changes are read.
                queue_sweep_every: SignedDuration::from_mins(15),
            },
        }
    }

    fn summary(&self) -> String {
        format!(
            "{}, shop {}, api_key [redacted], at most {} order polls and {} stock imports a minute, \
             customer threads {}",
            shown_url(&self.base_url),
            self.shop_id
                .map_or("default".to_owned(), |id| id.to_string()),
            self.limits.orders_per_minute,
            self.limits.stock_imports_per_minute,
            match &self.message_topic {
                MessageTopic::FreeText => "FREE_TEXT".to_owned(),
                MessageTopic::ReasonCode(code) => format!("REASON_CODE {code}"),
            },
        )
    }

    fn build(&self, channel: &str, bounds: Bounds) -> Result<Arc<dyn Marketplace>, ConnectorError> {
        let mut settings = self.clone();
        settings.http.max_wait = bounds.max_wait;
        Ok(Arc::new(Mirakl::new(channel, settings)?))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::{Value, json};
    use vigie_connector::testing::{assert_summary_and_build, refused_with};

    use super::*;

    fn read(table: Value) -> Result<MiraklSettings, KeyError> {
        vigie_connector::spec::read_inline::<MiraklChannel>(table)
    }

    #[test]
    fn reads_its_keys_and_says_what_mirakl_implies() {
        let settings = read(json!({
            "base_url": "https://adeo-marketplace.mirakl.net",
            "api_key": "SECRET-key",
            "shop_id": "2001",
            "limits": { "orders_per_minute": 2, "stock_status_every": "30s" },
        }))
        .unwrap();
        assert_eq!(settings.api_key.expose_secret(), "SECRET-key");
        assert_eq!(settings.shop_id, Some(2001));
        assert_eq!(settings.limits.orders_per_minute.get(), 2);
        assert_eq!(settings.limits.stock_imports_per_minute.get(), 1);
        assert_eq!(settings.limits.stock_status_every, Duration::from_secs(30));

        let defaults = settings.defaults();
        assert_eq!(
            defaults.acceptance_deadline,
            Deadline::Calendar(Duration::from_secs(3 * 86_400))
        );
        // Mirakl tells the buyer of every state change itself.
        assert_eq!(
            defaults.customer_events,
            [OrderEvent::Delayed, OrderEvent::Refused]
        );
        assert_eq!(settings.message_topic, MessageTopic::FreeText);
        assert!(defaults.polling.queue_sweep_every > defaults.polling.overlap);

        assert_summary_and_build(&settings, "shop 2001, api_key [redacted]");
    }

    #[test]
    fn names_the_key_it_refuses() {
        let base = json!({ "base_url": "https://x.example", "api_key": "k" });
        let with = |key: &str, value: Value| refused_with::<MiraklChannel>(&base, key, value);
        let e = with("shop_id", json!("abc"));
        assert_eq!(e.key, "shop_id");
        assert!(e.message.contains("a Mirakl shop id is a number"), "{e:?}");
        let e = with("limits", json!({ "stock_status_every": "0s" }));
        assert_eq!(e.key, "limits.stock_status_every");
        assert_eq!(with("base_url", json!("http://x.example")).key, "base_url");
        assert!(
            with("partner_id", json!("p"))
                .message
                .contains("partner_id")
        );
        let e = read(json!({ "base_url": "https://x.example" })).unwrap_err();
        assert_eq!(e.key, "api_key");
        let e = with("message_topic_type", json!("REASON_CODE"));
        assert_eq!(e.key, "message_topic_code");
        assert!(e.message.contains("RE01"), "{e:?}");
        assert_eq!(
            with("message_topic_code", json!("X")).key,
            "message_topic_code"
        );
        assert!(
            with("message_topic_type", json!("PHONE"))
                .message
                .contains("FREE_TEXT")
        );
    }

    #[test]
    fn a_reason_code_topic_is_read_with_its_code() {
        let settings = read(json!({
            "base_url": "https://x.example", "api_key": "k",
            "message_topic_type": "REASON_CODE", "message_topic_code": "ORDER_STATUS",
        }))
        .unwrap();
        assert_eq!(
            settings.message_topic,
            MessageTopic::ReasonCode("ORDER_STATUS".into())
        );
        assert!(settings.summary().contains("REASON_CODE ORDER_STATUS"));
    }
}
