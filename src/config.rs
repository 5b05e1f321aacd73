//! Typed configuration: TOML through the `config` crate, `VIGIE__SECTION__KEY` overrides,
//! secrets from the file, from `*_file` or from systemd credentials, all validated before
//! anything starts. Every error names the file and the key path (`channel[1].base_url`).
//!
//! Loading is a pure function of the text and an [`Environment`] snapshot, so tests never
//! touch the process environment.

mod duration;
mod notify;
mod secret;
mod summary;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;
use vigie_connector::Country;
use vigie_fnac::FnacSettings;
use vigie_mirakl::MiraklSettings;

pub use duration::{Deadline, HumanDuration};
pub use notify::{
    AlertFormat, AlertWebhook, AlertsConfig, BUILT_IN_LOCALES, ChannelNotify, EventWebhook,
    EventsConfig, NotifyConfig, Route, RouteLimits, SignedWebhook, SmtpConfig, SmtpTls,
};
use secret::SecretKeys;

/// Where the configuration is read when neither `--config` nor `$VIGIE_CONFIG` says.
pub const DEFAULT_PATH: &str = "/etc/vigie/vigie.toml";
const DEFAULT_STATE_DIR: &str = "/var/lib/vigie";

/// An invalid configuration: which file, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}{message}", file.display(), if key.is_empty() { String::new() } else { format!("{key}: ") })]
pub struct ConfigError {
    pub file: PathBuf,
    pub key: String,
    pub message: String,
}

/// The environment variables configuration loading may read, captured once.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// `--config` wins, then `$VIGIE_CONFIG`, then [`DEFAULT_PATH`].
    pub fn config_path(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| self.get("VIGIE_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
    }

    fn overrides(&self) -> ::config::Map<String, String> {
        self.vars
            .iter()
            .filter(|(k, _)| k.starts_with("VIGIE__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The configuration as it stands now, shared by the daemon's parts; SIGHUP swaps it.
pub type SharedConfig = std::sync::Arc<std::sync::RwLock<std::sync::Arc<Config>>>;

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub daemon: DaemonConfig,
    pub channels: Vec<ChannelConfig>,
    pub inventory: InventoryConfig,
    pub rules: RulesConfig,
    pub alerts: AlertsConfig,
    pub notify: NotifyConfig,
    pub smtp: Option<SmtpConfig>,
    pub events: EventsConfig,
}

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub state_dir: PathBuf,
    pub status_listen: SocketAddr,
    pub timezone: jiff::tz::TimeZone,
    pub shop_name: String,
    /// A tracing filter (`info`, `vigie=debug,info`); `RUST_LOG` wins when set.
    pub log: String,
    /// How long in-flight work may finish after SIGTERM before it is parked.
    pub shutdown_grace: Duration,
    pub dry_run: bool,
}

#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    pub poll_interval: Duration,
    pub acceptance_deadline: Deadline,
    /// Accept the stocked lines of an order and refuse the rest, where the marketplace allows.
    pub partial_acceptance: bool,
    /// Units per SKU never offered on this channel (on top of the inventory's safety buffer).
    pub stock_buffer: u32,
    /// At most this many units per SKU offered on this channel.
    pub stock_cap: Option<u32>,
    pub marketplace: MarketplaceConfig,
}

/// The connector's own settings, built from the channel's keys.
#[derive(Debug, Clone)]
pub enum MarketplaceConfig {
    Mirakl(MiraklSettings),
    Fnac(FnacSettings),
}

impl MarketplaceConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Mirakl(_) => "mirakl",
            Self::Fnac(_) => "fnac",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryConfig {
    #[serde(default)]
    pub source: InventorySource,
    /// The CSV file (`source = "csv"`).
    pub path: Option<PathBuf>,
    /// The JSON endpoint (`source = "http"`).
    pub url: Option<Url>,
    /// How often the JSON endpoint is read (`source = "http"`).
    pub interval: Option<HumanDuration>,
    #[serde(default)]
    pub safety_buffer: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventorySource {
    Csv,
    Http,
    #[default]
    Manual,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    #[serde(default)]
    pub on_insufficient_stock: InsufficientStock,
    pub flag_total_above: Option<Decimal>,
    pub flag_quantity_above: Option<u32>,
    /// `None`: every destination is allowed.
    pub allowed_countries: Option<Vec<Country>>,
    #[serde(default)]
    pub flag_sku_tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsufficientStock {
    #[default]
    Refuse,
    Flag,
}

/// Reads and validates the file at `path`.
pub fn load(path: &Path, env: &Environment) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        key: String::new(),
        message: format!("cannot read the configuration: {e}"),
    })?;
    parse(&text, path, env)
}

/// Validates configuration `text` as if read from `file` (relative secret files are
/// resolved from its directory).
pub fn parse(text: &str, file: &Path, env: &Environment) -> Result<Config, ConfigError> {
    let error = |key: &str, message: String| ConfigError {
        file: file.to_path_buf(),
        key: key.to_owned(),
        message,
    };
    let merged = ::config::Config::builder()
        .add_source(::config::File::from_str(text, ::config::FileFormat::Toml))
        .add_source(
            ::config::Environment::with_prefix("VIGIE")
                .separator("__")
                .try_parsing(true)
                .source(Some(env.overrides())),
        )
        .build()
        .map_err(|e| error("", e.to_string()))?;
    let raw: RawConfig = serde_path_to_error::deserialize(merged).map_err(|e| {
        let (key, message) = key_and_message(&e);
        error(&key, message)
    })?;

    let base_dir = file.parent().unwrap_or(Path::new("."));
    let secrets = SecretKeys { env, base_dir };
    let daemon = raw.daemon.validate(env).map_err(|(k, m)| error(&k, m))?;
    let mut names = HashSet::new();
    let mut channels = Vec::with_capacity(raw.channel.len());
    for (index, channel) in raw.channel.into_iter().enumerate() {
        let at = format!("channel[{index}]");
        let channel = channel
            .validate(&secrets)
            .map_err(|(k, m)| error(&format!("{at}.{k}"), m))?;
        if !names.insert(channel.name.clone()) {
            return Err(error(
                &format!("{at}.name"),
                format!("duplicate channel name {:?}", channel.name),
            ));
        }
        channels.push(channel);
    }
    validate_inventory(&raw.inventory).map_err(|(k, m)| error(&format!("inventory.{k}"), m))?;
    let (notify, smtp, events, alerts) = notify::validate(
        raw.notify, raw.smtp, raw.events, raw.alerts, &channels, &secrets,
    )
    .map_err(|(k, m)| error(&k, m))?;
    Ok(Config {
        file: file.to_path_buf(),
        daemon,
        channels,
        inventory: raw.inventory,
        rules: raw.rules,
        alerts,
        notify,
        smtp,
        events,
    })
}

fn key_and_message(e: &serde_path_to_error::Error<::config::ConfigError>) -> (String, String) {
    let key = match e.path().to_string() {
        root if root == "." => String::new(),
        path => path,
    };
    let message = e.inner().to_string();
    // serde lists every expected field; the key path already says which one is wrong.
    match message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        Some(field) => (key, format!("unknown key {field:?}")),
        None => (key, message),
    }
}

type KeyError = (String, String);

fn invalid(key: &str, message: impl Into<String>) -> KeyError {
    (key.to_owned(), message.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default)]
    channel: Vec<RawChannel>,
    #[serde(default)]
    inventory: InventoryConfig,
    #[serde(default)]
    rules: RulesConfig,
    #[serde(default)]
    alerts: notify::RawAlerts,
    #[serde(default)]
    notify: notify::RawNotify,
    smtp: Option<notify::RawSmtp>,
    #[serde(default)]
    events: notify::RawEvents,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    state_dir: Option<PathBuf>,
    status_listen: Option<SocketAddr>,
    timezone: Option<String>,
    shop_name: Option<String>,
    log: Option<String>,
    shutdown_grace: Option<HumanDuration>,
    #[serde(default)]
    dry_run: bool,
}

impl RawDaemon {
    fn validate(self, env: &Environment) -> Result<DaemonConfig, KeyError> {
        let state_dir = self
            .state_dir
            .or_else(|| env.get("STATE_DIRECTORY").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let tz_name = self.timezone.as_deref().unwrap_or("Europe/Paris");
        let timezone = jiff::tz::TimeZone::get(tz_name)
            .map_err(|e| invalid("daemon.timezone", format!("unknown time zone: {e}")))?;
        let log = self.log.unwrap_or_else(|| "info".to_owned());
        tracing_subscriber::EnvFilter::try_new(&log)
            .map_err(|e| invalid("daemon.log", format!("not a log filter: {e}")))?;
        let shutdown_grace = self.shutdown_grace.map_or(Duration::from_secs(20), |d| d.0);
        Ok(DaemonConfig {
            state_dir,
            status_listen: self
                .status_listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9184))),
            timezone,
            shop_name: self.shop_name.unwrap_or_default(),
            log,
            shutdown_grace,
            dry_run: self.dry_run,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: String,
    kind: Kind,
    base_url: Url,
    poll_interval: Option<HumanDuration>,
    acceptance_deadline: Option<Deadline>,
    shop_id: Option<ShopId>,
    // Mirakl
    api_key: Option<SecretString>,
    api_key_file: Option<PathBuf>,
    api_key_credential: Option<String>,
    // Fnac
    partner_id: Option<String>,
    key: Option<SecretString>,
    key_file: Option<PathBuf>,
    key_credential: Option<String>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    partial_acceptance: bool,
    #[serde(default)]
    stock_buffer: u32,
    stock_cap: Option<u32>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Mirakl,
    Fnac,
}

/// Mirakl shop ids are numbers, Fnac's are strings; accept either spelling in TOML.
#[derive(Deserialize)]
#[serde(untagged)]
enum ShopId {
    Number(u64),
    Text(String),
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    orders_per_minute: Option<NonZeroU32>,
    stock_imports_per_minute: Option<NonZeroU32>,
    stock_status_every: Option<HumanDuration>,
    requests_per_minute: Option<NonZeroU32>,
}

impl RawChannel {
    fn validate(self, secrets: &SecretKeys) -> Result<ChannelConfig, KeyError> {
        let name = self.name;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(invalid(
                "name",
                format!("{name:?} must be non-empty lowercase letters, digits, '-' or '_'"),
            ));
        }
        validate_base_url(&self.base_url).map_err(|m| invalid("base_url", m))?;
        let poll_interval = self.poll_interval.map_or(Duration::from_secs(300), |d| d.0);
        if poll_interval.is_zero() {
            return Err(invalid("poll_interval", "must be longer than zero"));
        }
        let reject = |present: bool, key: &str, kind: &str| {
            if present {
                Err(invalid(key, format!("is not a key of a {kind} channel")))
            } else {
                Ok(())
            }
        };
        let (marketplace, default_deadline) = match self.kind {
            Kind::Mirakl => {
                reject(self.partner_id.is_some(), "partner_id", "mirakl")?;
                reject(
                    self.key.is_some() || self.key_file.is_some() || self.key_credential.is_some(),
                    "key",
                    "mirakl",
                )?;
                reject(
                    self.limits.requests_per_minute.is_some(),
                    "limits.requests_per_minute",
                    "mirakl",
                )?;
                let shop_id = match self.shop_id {
                    None => None,
                    Some(ShopId::Number(n)) => Some(n),
                    Some(ShopId::Text(t)) => Some(t.parse().map_err(|_| {
                        invalid(
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
                let limits = &mut settings.limits;
                if let Some(n) = self.limits.orders_per_minute {
                    limits.orders_per_minute = n;
                }
                if let Some(n) = self.limits.stock_imports_per_minute {
                    limits.stock_imports_per_minute = n;
                }
                match self.limits.stock_status_every {
                    Some(HumanDuration(every)) if every.is_zero() => {
                        return Err(invalid(
                            "limits.stock_status_every",
                            "must be longer than zero",
                        ));
                    }
                    Some(HumanDuration(every)) => limits.stock_status_every = every,
                    None => {}
                }
                let marketplace = MarketplaceConfig::Mirakl(settings);
                // Operators choose 3 to 7 days; the shortest seen is the safe default.
                (
                    marketplace,
                    Deadline::Calendar(Duration::from_secs(3 * 86_400)),
                )
            }
            Kind::Fnac => {
                reject(
                    self.api_key.is_some()
                        || self.api_key_file.is_some()
                        || self.api_key_credential.is_some(),
                    "api_key",
                    "fnac",
                )?;
                for (set, key) in [
                    (
                        self.limits.orders_per_minute.is_some(),
                        "limits.orders_per_minute",
                    ),
                    (
                        self.limits.stock_imports_per_minute.is_some(),
                        "limits.stock_imports_per_minute",
                    ),
                    (
                        self.limits.stock_status_every.is_some(),
                        "limits.stock_status_every",
                    ),
                ] {
                    reject(set, key, "fnac")?;
                }
                let partner_id = self
                    .partner_id
                    .filter(|p| !p.trim().is_empty())
                    .ok_or_else(|| invalid("partner_id", "is required for a fnac channel"))?;
                let shop_id = match self.shop_id {
                    Some(ShopId::Text(t)) if !t.trim().is_empty() => t,
                    Some(ShopId::Number(n)) => n.to_string(),
                    _ => return Err(invalid("shop_id", "is required for a fnac channel")),
                };
                for (key, value) in [("partner_id", &partner_id), ("shop_id", &shop_id)] {
                    if !is_uuid(value) {
                        return Err(invalid(
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
                let marketplace = MarketplaceConfig::Fnac(settings);
                (marketplace, Deadline::WorkingDays(2))
            }
        };
        Ok(ChannelConfig {
            name,
            poll_interval,
            acceptance_deadline: self.acceptance_deadline.unwrap_or(default_deadline),
            partial_acceptance: self.partial_acceptance,
            stock_buffer: self.stock_buffer,
            stock_cap: self.stock_cap,
            marketplace,
        })
    }
}

/// Marketplace keys travel in headers: HTTPS only, except on loopback (sandboxes, tests).
fn validate_base_url(url: &Url) -> Result<(), String> {
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

/// Fnac's partner and shop ids are UUIDs (8-4-4-4-12 hex digits).
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn validate_inventory(inventory: &InventoryConfig) -> Result<(), KeyError> {
    match inventory.source {
        InventorySource::Csv if inventory.path.is_none() => {
            Err(invalid("path", "is required when source = \"csv\""))
        }
        InventorySource::Http if inventory.url.is_none() => {
            Err(invalid("url", "is required when source = \"http\""))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
