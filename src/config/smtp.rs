//! `[smtp]`: the relay customer e-mails leave through.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::bounds::{self, MINUTE, SECOND};
use super::secret::SecretKeys;
use super::{HumanDuration, KeyError};

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

impl RawSmtp {
    /// Keys are relative to `[smtp]`.
    pub(super) fn validate(self, secrets: &SecretKeys) -> Result<SmtpConfig, KeyError> {
        let host = self.host.trim().to_owned();
        if host.is_empty() {
            return Err(KeyError::new("host", "is empty"));
        }
        if self.tls == SmtpTls::None && !is_loopback_host(&host) {
            return Err(KeyError::new(
                "tls",
                format!(
                    "\"none\" sends the password and messages in clear: only for a loopback host, not {host:?}"
                ),
            ));
        }
        let port = self.port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        });
        let password = secrets.optional(
            "password",
            self.password,
            self.password_file,
            self.password_credential,
        )?;
        if password.is_some() != self.username.is_some() {
            return Err(KeyError::new(
                if self.username.is_some() {
                    "password"
                } else {
                    "username"
                },
                "username and password go together",
            ));
        }
        check_mailbox("from", &self.from)?;
        if let Some(reply_to) = &self.reply_to {
            check_mailbox("reply_to", reply_to)?;
        }
        Ok(SmtpConfig {
            host,
            port,
            tls: self.tls,
            username: self.username,
            password,
            from: self.from,
            reply_to: self.reply_to,
            timeout: bounds::duration(
                "timeout",
                self.timeout,
                Duration::from_secs(30),
                SECOND..=10 * MINUTE,
            )?,
        })
    }
}

fn check_mailbox(key: &str, address: &str) -> Result<(), KeyError> {
    address
        .parse::<lettre::message::Mailbox>()
        .map(drop)
        .map_err(|e| KeyError::new(key, format!("{address:?} is not an e-mail address: {e}")))
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
