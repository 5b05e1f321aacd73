//! `[notify]`: which events reach the customer, by which route, in which language, and how
//! sends are retried and paced.

use std::collections::{BTreeMap, HashSet};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;
use vigie_connector::spec::https_unless_loopback;

use super::bounds::{self, DAY, HOUR, MINUTE, SECOND};
use super::secret::SecretKeys;
use super::{ChannelConfig, HumanDuration, KeyError};
use crate::events::OrderEvent;

/// Locales with built-in templates; a templates directory may add others.
pub const BUILT_IN_LOCALES: [&str; 2] = ["fr", "en"];

/// Sends per minute and per route unless `[notify.limits]` says otherwise.
const EMAIL_PER_MINUTE: NonZeroU32 = NonZeroU32::new(30).unwrap();
const WEBHOOK_PER_MINUTE: NonZeroU32 = NonZeroU32::new(120).unwrap();

/// How a customer message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The marketplace's own messaging, through the channel's connector.
    Marketplace,
    /// E-mail over SMTP to the address the marketplace gives for notifications.
    Email,
    /// The rendered message, as JSON, to the seller's CRM (`[notify.webhook]`).
    Webhook,
}

impl Route {
    pub const ALL: [Route; 3] = [Self::Marketplace, Self::Email, Self::Webhook];

    /// Also the outbox `destination` of customer messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketplace => "marketplace",
            Self::Email => "email",
            Self::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Locale used when the customer's is unknown or has no templates.
    pub locale: String,
    /// Where `<locale>/<event>.*` templates are read; built-ins fill what it lacks.
    pub templates_dir: PathBuf,
    /// Set explicitly: a missing directory is then an error, not a fallback.
    pub templates_dir_explicit: bool,
    /// An order still undecided (or flagged) this long after first sight gets `delayed`.
    pub delayed_after: Duration,
    /// The seller's handling time, for the `accepted` message's expected dispatch date.
    pub dispatch_within: Option<Duration>,
    pub compensation_code: Option<String>,
    /// A sentence offered in `refused` messages (another product, a restock date...).
    pub refused_alternative: Option<String>,
    /// Transient failures are retried this many times before the message is `failed`.
    pub max_attempts: u32,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub limits: RouteLimits,
    /// Every configured channel, with its defaults filled in.
    pub channels: BTreeMap<String, ChannelNotify>,
    pub webhook: Option<SignedWebhook>,
}

impl NotifyConfig {
    /// What `channel` sends; a channel missing from the config sends nothing.
    pub fn channel(&self, channel: &str) -> Option<&ChannelNotify> {
        self.channels.get(channel)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelNotify {
    pub events: Vec<OrderEvent>,
    pub routes: Vec<Route>,
    pub locale: String,
}

/// Sends per minute, per route; each route has its own budget.
#[derive(Debug, Clone, Copy)]
pub struct RouteLimits {
    /// All marketplaces' messages together; unset, each channel's messages are paced by its
    /// marketplace's own limit (its connector's), which the marketplace publishes and enforces.
    pub marketplace_per_minute: Option<NonZeroU32>,
    pub email_per_minute: NonZeroU32,
    pub webhook_per_minute: NonZeroU32,
}

/// An HTTPS endpoint with an optional HMAC-SHA256 secret for `X-Vigie-Signature`.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub url: Url,
    pub secret: Option<SecretString>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    locale: Option<String>,
    templates_dir: Option<PathBuf>,
    delayed_after: Option<HumanDuration>,
    dispatch_within: Option<HumanDuration>,
    compensation_code: Option<String>,
    refused_alternative: Option<String>,
    max_attempts: Option<u32>,
    retry_min: Option<HumanDuration>,
    retry_max: Option<HumanDuration>,
    #[serde(default)]
    limits: RawRouteLimits,
    #[serde(default)]
    channel: BTreeMap<String, RawChannelNotify>,
    webhook: Option<RawSignedWebhook>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouteLimits {
    marketplace_per_minute: Option<NonZeroU32>,
    email_per_minute: Option<NonZeroU32>,
    webhook_per_minute: Option<NonZeroU32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannelNotify {
    events: Option<Vec<OrderEvent>>,
    routes: Option<Vec<Route>>,
    locale: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignedWebhook {
    url: Url,
    secret: Option<SecretString>,
    secret_file: Option<PathBuf>,
    secret_credential: Option<String>,
}

impl RawNotify {
    /// Validates `[notify]` against the channels already validated; keys are relative to it.
    pub(super) fn validate(
        self,
        channels: &[ChannelConfig],
        secrets: &SecretKeys,
        has_smtp: bool,
    ) -> Result<NotifyConfig, KeyError> {
        let locale = self.locale.unwrap_or_else(|| "fr".to_owned());
        validate_locale("locale", &locale)?;
        let templates_dir_explicit = self.templates_dir.is_some();
        let templates_dir = secrets.base_dir.join(
            self.templates_dir
                .unwrap_or_else(|| PathBuf::from("templates")),
        );
        let retry_min = bounds::duration(
            "retry_min",
            self.retry_min,
            Duration::from_secs(30),
            SECOND..=HOUR,
        )?;
        let retry_max = bounds::duration("retry_max", self.retry_max, HOUR, SECOND..=DAY)?;
        if retry_max < retry_min {
            return Err(KeyError::new(
                "retry_max",
                "must not be shorter than retry_min",
            ));
        }
        let max_attempts = self.max_attempts.unwrap_or(12);
        if max_attempts == 0 {
            return Err(KeyError::new("max_attempts", "must be at least 1"));
        }
        let delayed_after =
            bounds::duration("delayed_after", self.delayed_after, DAY, SECOND..=30 * DAY)?;
        let dispatch_within =
            bounds::optional("dispatch_within", self.dispatch_within, MINUTE..=60 * DAY)?;
        let webhook = self
            .webhook
            .map(|w| {
                https_unless_loopback(&w.url).map_err(|m| KeyError::new("url", m))?;
                let secret =
                    secrets.optional("secret", w.secret, w.secret_file, w.secret_credential)?;
                Ok(SignedWebhook { url: w.url, secret })
            })
            .transpose()
            .map_err(|e: KeyError| e.under("webhook"))?;
        let channels =
            resolve_channels(self.channel, channels, &locale, has_smtp, webhook.is_some())?;
        let limits = RouteLimits {
            marketplace_per_minute: self.limits.marketplace_per_minute,
            email_per_minute: self.limits.email_per_minute.unwrap_or(EMAIL_PER_MINUTE),
            webhook_per_minute: self.limits.webhook_per_minute.unwrap_or(WEBHOOK_PER_MINUTE),
        };
        Ok(NotifyConfig {
            locale,
            templates_dir,
            templates_dir_explicit,
            delayed_after,
            dispatch_within,
            compensation_code: self.compensation_code.filter(|c| !c.trim().is_empty()),
            refused_alternative: self.refused_alternative.filter(|c| !c.trim().is_empty()),
            max_attempts,
            retry_min,
            retry_max,
            limits,
            channels,
            webhook,
        })
    }
}

/// What each configured channel sends: `[notify.channel.NAME]`, or its marketplace's defaults.
fn resolve_channels(
    mut raw: BTreeMap<String, RawChannelNotify>,
    channels: &[ChannelConfig],
    locale: &str,
    has_smtp: bool,
    has_webhook: bool,
) -> Result<BTreeMap<String, ChannelNotify>, KeyError> {
    let mut resolved = BTreeMap::new();
    for channel in channels {
        let own = raw.remove(&channel.name);
        let at = format!("channel.{}", channel.name);
        let (events, routes, channel_locale) = match own {
            Some(c) => (c.events, c.routes, c.locale),
            None => (None, None, None),
        };
        let routes = routes.unwrap_or_else(|| vec![Route::Marketplace]);
        let mut seen = HashSet::new();
        for route in &routes {
            if !seen.insert(*route) {
                return Err(KeyError::new(
                    format!("{at}.routes"),
                    format!("{:?} is listed twice", route.as_str()),
                ));
            }
            match route {
                Route::Email if !has_smtp => {
                    return Err(KeyError::new(
                        format!("{at}.routes"),
                        "\"email\" needs an [smtp] section",
                    ));
                }
                Route::Webhook if !has_webhook => {
                    return Err(KeyError::new(
                        format!("{at}.routes"),
                        "\"webhook\" needs a [notify.webhook] section",
                    ));
                }
                _ => {}
            }
        }
        let channel_locale = channel_locale.unwrap_or_else(|| locale.to_owned());
        validate_locale(&format!("{at}.locale"), &channel_locale)?;
        let mut events =
            events.unwrap_or_else(|| channel.settings.defaults().customer_events.to_vec());
        if let Some(own) = events
            .iter()
            .find(|e| !OrderEvent::FOR_CUSTOMERS.contains(e))
        {
            return Err(KeyError::new(
                format!("{at}.events"),
                format!(
                    "{:?} is for the seller's [[events.webhook]], not customers",
                    own.as_str()
                ),
            ));
        }
        events.sort_by_key(|e| OrderEvent::ALL.iter().position(|a| a == e));
        events.dedup();
        resolved.insert(
            channel.name.clone(),
            ChannelNotify {
                events,
                routes,
                locale: channel_locale,
            },
        );
    }
    if let Some(unknown) = raw.keys().next() {
        return Err(KeyError::new(
            format!("channel.{unknown}"),
            "names no [[channel]]",
        ));
    }
    Ok(resolved)
}

fn validate_locale(key: &str, locale: &str) -> Result<(), KeyError> {
    let ok = !locale.is_empty()
        && locale.len() <= 16
        && locale
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(KeyError::new(
            key,
            format!("{locale:?} is not a locale like \"fr\" or \"en\""),
        ))
    }
}
