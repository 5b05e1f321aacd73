//! Typed configuration: TOML through the `config` crate, `VIGIE__SECTION__KEY` overrides,
//! secrets from the file, from `*_file` or from systemd credentials, all validated before
//! anything starts. Every error names the file and the key path (`channel[1].base_url`).
//!
//! Loading is a pure function of the text and an [`Environment`] snapshot, so tests never
//! touch the process environment.

mod alerts;
mod bounds;
mod channel;
mod daemon;
mod events;
mod inventory;
mod notify;
mod rules;
mod secret;
mod smtp;
mod summary;
mod web;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vigie_connector::spec::KeyError;

pub use alerts::{AlertFormat, AlertWebhook, AlertsConfig};
pub use channel::ChannelConfig;
pub use daemon::DaemonConfig;
pub use events::{EventWebhook, EventsConfig};
pub use inventory::{InventoryConfig, InventorySource};
pub use notify::{
    BUILT_IN_LOCALES, ChannelNotify, NotifyConfig, Route, RouteLimits, SignedWebhook,
};
pub use rules::{DeadlineAction, InsufficientStock, OnDeadline, RulesConfig};
use secret::SecretKeys;
pub use smtp::{SmtpConfig, SmtpTls};
pub use vigie_connector::{Deadline, HumanDuration};
pub use web::WebConfig;

/// Where the configuration is read when neither `--config` nor `$VIGIE_CONFIG` says.
pub const DEFAULT_PATH: &str = "/etc/vigie/vigie.toml";

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
    pub web: WebConfig,
    /// What is valid but unwise (a secret others can read), for `check-config` and the log.
    pub warnings: Vec<String>,
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
    let error = |e: KeyError| ConfigError {
        file: file.to_path_buf(),
        key: e.key,
        message: e.message,
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
        .map_err(|e| error(KeyError::new("", e.to_string())))?;
    let raw: RawConfig =
        serde_path_to_error::deserialize(merged).map_err(|e| error(path_error(&e)))?;

    let secrets = SecretKeys::new(env, file);
    let daemon = raw
        .daemon
        .validate(env)
        .map_err(|e| error(e.under("daemon")))?;
    let mut names = HashSet::new();
    let mut channels = Vec::with_capacity(raw.channel.len());
    for (index, table) in raw.channel.into_iter().enumerate() {
        let channel = channel::read(index, table, &secrets).map_err(error)?;
        if !names.insert(channel.name.clone()) {
            return Err(error(KeyError::new(
                format!("channel[{index}].name"),
                format!("duplicate channel name {:?}", channel.name),
            )));
        }
        channels.push(channel);
    }
    raw.inventory
        .validate()
        .map_err(|e| error(e.under("inventory")))?;
    let smtp = raw
        .smtp
        .map(|s| s.validate(&secrets))
        .transpose()
        .map_err(|e| error(e.under("smtp")))?;
    let notify = raw
        .notify
        .validate(&channels, &secrets, smtp.is_some())
        .map_err(|e| error(e.under("notify")))?;
    let events = raw
        .events
        .validate(&secrets)
        .map_err(|e| error(e.under("events")))?;
    let alerts = raw
        .alerts
        .validate(&secrets)
        .map_err(|e| error(e.under("alerts")))?;
    let web = raw
        .web
        .validate(&secrets, daemon.status_listen)
        .map_err(|e| error(e.under("web")))?;
    // Checked last, so that a mistake in another section is told first.
    if channels.is_empty() {
        return Err(error(KeyError::new(
            "channel",
            "no channel configured: add a [[channel]] block for each marketplace shop",
        )));
    }
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
        web,
        warnings: secrets.warnings(),
    })
}

/// A key that did not deserialize, as the configuration reports it.
fn path_error(e: &serde_path_to_error::Error<::config::ConfigError>) -> KeyError {
    let key = match e.path().to_string() {
        root if root == "." => String::new(),
        path => path,
    };
    let message = e.inner().to_string();
    // serde lists every expected field; the key path already says which one is wrong.
    match unknown_field(&message) {
        Some(field) => KeyError::new(key, format!("unknown key {field:?}")),
        None => KeyError::new(key, message),
    }
}

/// The key serde's message says is unknown, if that is what it says.
fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
}

/// Names of channels and webhooks appear in order names, outbox rows and metrics.
fn check_name(key: impl Into<String>, name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(KeyError::new(
            key,
            format!("{name:?} must be non-empty lowercase letters, digits, '-' or '_'"),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    daemon: daemon::RawDaemon,
    /// Each table is read by [`channel::read`], once its `kind` is known.
    #[serde(default)]
    channel: Vec<::config::Value>,
    #[serde(default)]
    inventory: InventoryConfig,
    #[serde(default)]
    rules: RulesConfig,
    #[serde(default)]
    alerts: alerts::RawAlerts,
    #[serde(default)]
    notify: notify::RawNotify,
    smtp: Option<smtp::RawSmtp>,
    #[serde(default)]
    events: events::RawEvents,
    #[serde(default)]
    web: web::RawWeb,
}

#[cfg(test)]
mod tests;
