//! The sections customer notifications and on-call alerts read: `[notify]` (which events reach
//! the customer, by which route, in which language), `[smtp]`, `[[events.webhook]]` (every
//! status change to the seller's own systems) and `[alerts]`.

use std::collections::{BTreeMap, HashSet};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::secret::SecretKeys;
use super::{ChannelConfig, HumanDuration, KeyError, MarketplaceConfig, invalid};
use crate::domain::events::OrderEvent;

/// Locales with built-in templates; a templates directory may add others.
pub const BUILT_IN_LOCALES: [&str; 2] = ["fr", "en"];

/// How a customer message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The marketplace's own messaging (Mirakl OR43, Fnac messages_update).
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
    pub marketplace_per_minute: NonZeroU32,
    pub email_per_minute: NonZeroU32,
    pub webhook_per_minute: NonZeroU32,
}

/// An HTTPS endpoint with an optional HMAC-SHA256 secret for `X-Vigie-Signature`.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub url: Url,
    pub secret: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// `Name <address>` or `address`, checked as a mailbox.
    pub from: String,
    pub reply_to: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: loopback relays only (a local Postfix, tests).
    None,
}

#[derive(Debug, Clone, Default)]
pub struct EventsConfig {
    pub webhook: Vec<EventWebhook>,
}

/// A seller system that receives every status change with the full order.
#[derive(Debug, Clone)]
pub struct EventWebhook {
    /// Stable identity in the outbox (`events:NAME`): renaming it re-sends nothing old.
    pub name: String,
    pub url: Url,
    pub secret: Option<SecretString>,
    pub events: Vec<OrderEvent>,
}

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

// ---- raw sections, as written ----

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    host: String,
    port: Option<u16>,
    #[serde(default = "default_tls")]
    tls: SmtpTls,
    username: Option<String>,
    password: Option<SecretString>,
    password_file: Option<PathBuf>,
    password_credential: Option<String>,
    from: String,
    reply_to: Option<String>,
    timeout: Option<HumanDuration>,
}

fn default_tls() -> SmtpTls {
    SmtpTls::Starttls
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    #[serde(default)]
    webhook: Vec<RawEventWebhook>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEventWebhook {
    name: String,
    url: Url,
    secret: Option<SecretString>,
    secret_file: Option<PathBuf>,
    secret_credential: Option<String>,
    events: Option<Vec<OrderEvent>>,
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

/// The validated sections, in the order [`validate`] returns them.
pub(super) type Sections = (NotifyConfig, Option<SmtpConfig>, EventsConfig, AlertsConfig);

/// Validates the four sections against the channels already validated; errors name the key.
pub(super) fn validate(
    notify: RawNotify,
    smtp: Option<RawSmtp>,
    events: RawEvents,
    alerts: RawAlerts,
    channels: &[ChannelConfig],
    secrets: &SecretKeys,
) -> Result<Sections, KeyError> {
    let smtp = smtp
        .map(|s| validate_smtp(s, secrets))
        .transpose()
        .map_err(|(k, m)| (format!("smtp.{k}"), m))?;
    let notify = validate_notify(notify, channels, secrets, smtp.is_some())?;
    let events = validate_events(events, secrets)?;
    let alerts = validate_alerts(alerts, secrets)?;
    Ok((notify, smtp, events, alerts))
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
        Err(invalid(
            key,
            format!("{locale:?} is not a locale like \"fr\" or \"en\""),
        ))
    }
}

/// What each marketplace's customers hear by default. The marketplace itself confirms the
/// order at checkout, so `received` stays off; Fnac also tells the buyer itself when the
/// seller accepts, so `accepted` stays off there.
fn default_events(marketplace: &MarketplaceConfig) -> Vec<OrderEvent> {
    use OrderEvent::*;
    match marketplace {
        MarketplaceConfig::Mirakl(_) => vec![Delayed, Accepted, Shipped, Refused, Cancelled],
        MarketplaceConfig::Fnac(_) => vec![Delayed, Shipped, Refused, Cancelled],
    }
}

fn validate_notify(
    raw: RawNotify,
    channels: &[ChannelConfig],
    secrets: &SecretKeys,
    has_smtp: bool,
) -> Result<NotifyConfig, KeyError> {
    let locale = raw.locale.unwrap_or_else(|| "fr".to_owned());
    validate_locale("notify.locale", &locale)?;
    let templates_dir_explicit = raw.templates_dir.is_some();
    let templates_dir = secrets.base_dir.join(
        raw.templates_dir
            .unwrap_or_else(|| PathBuf::from("templates")),
    );
    let retry_min = raw.retry_min.map_or(Duration::from_secs(30), |d| d.0);
    let retry_max = raw.retry_max.map_or(Duration::from_secs(3600), |d| d.0);
    if retry_min.is_zero() {
        return Err(invalid("notify.retry_min", "must be longer than zero"));
    }
    if retry_max < retry_min {
        return Err(invalid(
            "notify.retry_max",
            "must not be shorter than retry_min",
        ));
    }
    let max_attempts = raw.max_attempts.unwrap_or(12);
    if max_attempts == 0 {
        return Err(invalid("notify.max_attempts", "must be at least 1"));
    }
    let delayed_after = raw
        .delayed_after
        .map_or(Duration::from_secs(24 * 3600), |d| d.0);
    if delayed_after.is_zero() {
        return Err(invalid("notify.delayed_after", "must be longer than zero"));
    }
    let webhook = raw
        .webhook
        .map(|w| {
            validate_webhook_url(&w.url).map_err(|m| invalid("url", m))?;
            let secret = optional_secret(
                secrets,
                "secret",
                w.secret,
                w.secret_file,
                w.secret_credential,
            )?;
            Ok(SignedWebhook { url: w.url, secret })
        })
        .transpose()
        .map_err(|(k, m): KeyError| (format!("notify.webhook.{k}"), m))?;

    let mut raw_channels = raw.channel;
    let mut resolved = BTreeMap::new();
    for channel in channels {
        let own = raw_channels.remove(&channel.name);
        let at = format!("notify.channel.{}", channel.name);
        let (events, routes, channel_locale) = match own {
            Some(c) => (c.events, c.routes, c.locale),
            None => (None, None, None),
        };
        let routes = routes.unwrap_or_else(|| vec![Route::Marketplace]);
        let mut seen = HashSet::new();
        for route in &routes {
            if !seen.insert(*route) {
                return Err(invalid(
                    &format!("{at}.routes"),
                    format!("{:?} is listed twice", route.as_str()),
                ));
            }
            match route {
                Route::Email if !has_smtp => {
                    return Err(invalid(
                        &format!("{at}.routes"),
                        "\"email\" needs an [smtp] section",
                    ));
                }
                Route::Webhook if webhook.is_none() => {
                    return Err(invalid(
                        &format!("{at}.routes"),
                        "\"webhook\" needs a [notify.webhook] section",
                    ));
                }
                _ => {}
            }
        }
        let channel_locale = channel_locale.unwrap_or_else(|| locale.clone());
        validate_locale(&format!("{at}.locale"), &channel_locale)?;
        let mut events = events.unwrap_or_else(|| default_events(&channel.marketplace));
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
    if let Some(unknown) = raw_channels.keys().next() {
        return Err(invalid(
            &format!("notify.channel.{unknown}"),
            "names no [[channel]]",
        ));
    }
    let limits = RouteLimits {
        marketplace_per_minute: raw
            .limits
            .marketplace_per_minute
            .unwrap_or(NonZeroU32::new(30).expect("non-zero")),
        email_per_minute: raw
            .limits
            .email_per_minute
            .unwrap_or(NonZeroU32::new(30).expect("non-zero")),
        webhook_per_minute: raw
            .limits
            .webhook_per_minute
            .unwrap_or(NonZeroU32::new(120).expect("non-zero")),
    };
    Ok(NotifyConfig {
        locale,
        templates_dir,
        templates_dir_explicit,
        delayed_after,
        dispatch_within: raw.dispatch_within.map(|d| d.0),
        compensation_code: raw.compensation_code.filter(|c| !c.trim().is_empty()),
        refused_alternative: raw.refused_alternative.filter(|c| !c.trim().is_empty()),
        max_attempts,
        retry_min,
        retry_max,
        limits,
        channels: resolved,
        webhook,
    })
}

fn validate_smtp(raw: RawSmtp, secrets: &SecretKeys) -> Result<SmtpConfig, KeyError> {
    let host = raw.host.trim().to_owned();
    if host.is_empty() {
        return Err(invalid("host", "is empty"));
    }
    if raw.tls == SmtpTls::None && !is_loopback_host(&host) {
        return Err(invalid(
            "tls",
            format!(
                "\"none\" sends the password and messages in clear: only for a loopback host, not {host:?}"
            ),
        ));
    }
    let port = raw.port.unwrap_or(match raw.tls {
        SmtpTls::Starttls => 587,
        SmtpTls::Implicit => 465,
        SmtpTls::None => 25,
    });
    let password = optional_secret(
        secrets,
        "password",
        raw.password,
        raw.password_file,
        raw.password_credential,
    )?;
    if password.is_some() != raw.username.is_some() {
        return Err(invalid(
            if raw.username.is_some() {
                "password"
            } else {
                "username"
            },
            "username and password go together",
        ));
    }
    raw.from.parse::<lettre::message::Mailbox>().map_err(|e| {
        invalid(
            "from",
            format!("{:?} is not an e-mail address: {e}", raw.from),
        )
    })?;
    if let Some(reply_to) = &raw.reply_to {
        reply_to.parse::<lettre::message::Mailbox>().map_err(|e| {
            invalid(
                "reply_to",
                format!("{reply_to:?} is not an e-mail address: {e}"),
            )
        })?;
    }
    Ok(SmtpConfig {
        host,
        port,
        tls: raw.tls,
        username: raw.username,
        password,
        from: raw.from,
        reply_to: raw.reply_to,
        timeout: raw.timeout.map_or(Duration::from_secs(30), |d| d.0),
    })
}

fn validate_events(raw: RawEvents, secrets: &SecretKeys) -> Result<EventsConfig, KeyError> {
    let mut names = HashSet::new();
    let mut webhook = Vec::with_capacity(raw.webhook.len());
    for (index, w) in raw.webhook.into_iter().enumerate() {
        let at = format!("events.webhook[{index}]");
        let key = |k: &str| format!("{at}.{k}");
        if w.name.is_empty()
            || !w
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(invalid(
                &key("name"),
                format!(
                    "{:?} must be non-empty lowercase letters, digits, '-' or '_'",
                    w.name
                ),
            ));
        }
        if !names.insert(w.name.clone()) {
            return Err(invalid(
                &key("name"),
                format!("duplicate name {:?}", w.name),
            ));
        }
        validate_webhook_url(&w.url).map_err(|m| invalid(&key("url"), m))?;
        let secret = optional_secret(
            secrets,
            "secret",
            w.secret,
            w.secret_file,
            w.secret_credential,
        )
        .map_err(|(k, m)| (key(&k), m))?;
        webhook.push(EventWebhook {
            name: w.name,
            url: w.url,
            secret,
            events: w.events.unwrap_or_else(|| OrderEvent::ALL.to_vec()),
        });
    }
    Ok(EventsConfig { webhook })
}

fn validate_alerts(raw: RawAlerts, secrets: &SecretKeys) -> Result<AlertsConfig, KeyError> {
    let defaults = AlertsConfig::default();
    let mut webhook = Vec::with_capacity(raw.webhook.len());
    for (index, w) in raw.webhook.into_iter().enumerate() {
        let at = format!("alerts.webhook[{index}]");
        let key = |k: &str| format!("{at}.{k}");
        validate_webhook_url(&w.url).map_err(|m| invalid(&key("url"), m))?;
        let secret = optional_secret(
            secrets,
            "secret",
            w.secret,
            w.secret_file,
            w.secret_credential,
        )
        .map_err(|(k, m)| (key(&k), m))?;
        let routing_key = optional_secret(
            secrets,
            "routing_key",
            w.routing_key,
            w.routing_key_file,
            w.routing_key_credential,
        )
        .map_err(|(k, m)| (key(&k), m))?;
        match w.format {
            AlertFormat::Pagerduty if routing_key.is_none() => {
                return Err(invalid(
                    &key("routing_key"),
                    "is required for format = \"pagerduty\": set routing_key, routing_key_file or routing_key_credential",
                ));
            }
            AlertFormat::Generic | AlertFormat::Slack if routing_key.is_some() => {
                return Err(invalid(
                    &key("routing_key"),
                    "is only for format = \"pagerduty\"",
                ));
            }
            AlertFormat::Slack | AlertFormat::Pagerduty if secret.is_some() => {
                return Err(invalid(
                    &key("secret"),
                    "is only for format = \"generic\" (Slack and PagerDuty authenticate by URL or routing key)",
                ));
            }
            _ => {}
        }
        webhook.push(AlertWebhook {
            url: w.url,
            format: w.format,
            secret,
            routing_key,
        });
    }
    let renotify_after = raw.renotify_after.map_or(defaults.renotify_after, |d| d.0);
    if renotify_after.is_zero() {
        return Err(invalid("alerts.renotify_after", "must be longer than zero"));
    }
    let channel_unreachable_after = raw
        .channel_unreachable_after
        .unwrap_or(defaults.channel_unreachable_after);
    if channel_unreachable_after == 0 {
        return Err(invalid(
            "alerts.channel_unreachable_after",
            "must be at least 1",
        ));
    }
    let mut stock_low_sku = BTreeMap::new();
    for (index, s) in raw.stock_low_sku.into_iter().enumerate() {
        if s.sku.trim().is_empty() {
            return Err(invalid(
                &format!("alerts.stock_low_sku[{index}].sku"),
                "is empty",
            ));
        }
        if stock_low_sku.insert(s.sku.clone(), s.threshold).is_some() {
            return Err(invalid(
                &format!("alerts.stock_low_sku[{index}].sku"),
                format!("{:?} is listed twice", s.sku),
            ));
        }
    }
    Ok(AlertsConfig {
        webhook,
        renotify_after,
        channel_unreachable_after,
        stock_low: raw.stock_low,
        stock_low_sku,
    })
}

/// A secret that may be absent; when present, exactly one of its three spellings.
fn optional_secret(
    secrets: &SecretKeys,
    key: &str,
    value: Option<SecretString>,
    file: Option<PathBuf>,
    credential: Option<String>,
) -> Result<Option<SecretString>, KeyError> {
    if value.is_none() && file.is_none() && credential.is_none() {
        return Ok(None);
    }
    secrets.resolve(key, value, file, credential).map(Some)
}

/// Webhooks carry order data and signatures: HTTPS, except on loopback.
fn validate_webhook_url(url: &Url) -> Result<(), String> {
    super::validate_base_url(url)
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Environment, parse};

    const CHANNEL: &str = "[[channel]]\nname = \"shop\"\nkind = \"mirakl\"\nbase_url = \"https://m.example\"\napi_key = \"k\"\n";

    fn key_of(extra: &str) -> (String, String) {
        let text = format!("{CHANNEL}\n{extra}");
        let e = parse(
            &text,
            Path::new("/etc/vigie/vigie.toml"),
            &Environment::default(),
        )
        .expect_err(extra);
        (e.key, e.message)
    }

    #[test]
    fn defaults_follow_the_marketplace() {
        let config = parse(
            CHANNEL,
            Path::new("/etc/vigie/vigie.toml"),
            &Environment::default(),
        )
        .unwrap();
        let shop = config.notify.channel("shop").unwrap();
        assert_eq!(shop.routes, [super::Route::Marketplace]);
        assert_eq!(shop.locale, "fr");
        assert!(
            !shop
                .events
                .contains(&crate::domain::events::OrderEvent::Received)
        );
        assert!(
            shop.events
                .contains(&crate::domain::events::OrderEvent::Accepted)
        );
        assert_eq!(
            config.notify.templates_dir,
            Path::new("/etc/vigie/templates")
        );
        assert_eq!(config.alerts.channel_unreachable_after, 3);
        assert!(config.smtp.is_none());
    }

    #[test]
    fn broken_sections_name_their_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("[notify]\ncolour = 1", "notify.colour", "unknown key"),
            (
                "[notify.channel.nope]\nroutes = []",
                "notify.channel.nope",
                "names no",
            ),
            (
                "[notify.channel.shop]\nroutes = [\"email\"]",
                "notify.channel.shop.routes",
                "[smtp]",
            ),
            (
                "[notify.channel.shop]\nroutes = [\"fax\"]",
                "notify.channel.shop.routes[0]",
                "fax",
            ),
            (
                "[notify.channel.shop]\nevents = [\"paid\"]",
                "notify.channel.shop.events[0]",
                "paid",
            ),
            (
                "[smtp]\nhost = \"smtp.example.com\"\ntls = \"none\"\nfrom = \"a@b.example\"",
                "smtp.tls",
                "loopback",
            ),
            (
                "[smtp]\nhost = \"h.example\"\nfrom = \"not an address\"",
                "smtp.from",
                "e-mail",
            ),
            (
                "[smtp]\nhost = \"h.example\"\nfrom = \"a@b.example\"\nusername = \"u\"",
                "smtp.password",
                "together",
            ),
            (
                "[[alerts.webhook]]\nurl = \"https://events.pagerduty.com/v2/enqueue\"\nformat = \"pagerduty\"",
                "alerts.webhook[0].routing_key",
                "required",
            ),
            (
                "[[alerts.webhook]]\nurl = \"https://hooks.slack.com/x\"\nformat = \"slack\"\nsecret = \"s\"",
                "alerts.webhook[0].secret",
                "generic",
            ),
            (
                "[[alerts.webhook]]\nurl = \"http://hooks.example/x\"",
                "alerts.webhook[0].url",
                "https",
            ),
            (
                "[alerts]\nchannel_unreachable_after = 0",
                "alerts.channel_unreachable_after",
                "at least",
            ),
            (
                "[[events.webhook]]\nname = \"erp\"\nurl = \"https://e.example\"\n[[events.webhook]]\nname = \"erp\"\nurl = \"https://f.example\"",
                "events.webhook[1].name",
                "duplicate",
            ),
            (
                "[[events.webhook]]\nname = \"erp\"\nurl = \"https://e.example\"\nsecret_file = \"/nonexistent/k\"",
                "events.webhook[0].secret_file",
                "cannot read",
            ),
        ];
        for (extra, key, word) in cases {
            let (got_key, message) = key_of(extra);
            assert_eq!(&got_key, key, "{extra}: {message}");
            assert!(message.contains(word), "{extra}: {message}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let text = format!(
            "{CHANNEL}\n[smtp]\nhost = \"h.example\"\nfrom = \"a@b.example\"\nusername = \"u\"\npassword = \"hunter2-smtp\"\n[[alerts.webhook]]\nurl = \"https://e.example\"\nformat = \"pagerduty\"\nrouting_key = \"pd-secret-key\""
        );
        let config = parse(&text, Path::new("/x/vigie.toml"), &Environment::default()).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2-smtp"));
        assert!(!debug.contains("pd-secret-key"));
    }
}
