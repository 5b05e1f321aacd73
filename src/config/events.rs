//! `[[events.webhook]]`: the seller's own systems, told of every status change.

use std::collections::HashSet;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;
use vigie_connector::spec::https_unless_loopback;

use super::secret::SecretKeys;
use super::{KeyError, check_name};
use crate::events::OrderEvent;

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

impl RawEvents {
    /// Keys are relative to `[events]`.
    pub(super) fn validate(self, secrets: &SecretKeys) -> Result<EventsConfig, KeyError> {
        let mut names = HashSet::new();
        let webhook = self
            .webhook
            .into_iter()
            .enumerate()
            .map(|(index, w)| {
                w.validate(secrets, &mut names)
                    .map_err(|e| e.under(&format!("webhook[{index}]")))
            })
            .collect::<Result<_, _>>()?;
        Ok(EventsConfig { webhook })
    }
}

impl RawEventWebhook {
    /// `names`: the names of the webhooks before this one, which it must not repeat.
    fn validate(
        self,
        secrets: &SecretKeys,
        names: &mut HashSet<String>,
    ) -> Result<EventWebhook, KeyError> {
        check_name("name", &self.name)?;
        if !names.insert(self.name.clone()) {
            return Err(KeyError::new(
                "name",
                format!("duplicate name {:?}", self.name),
            ));
        }
        https_unless_loopback(&self.url).map_err(|m| KeyError::new("url", m))?;
        let secret = secrets.optional(
            "secret",
            self.secret,
            self.secret_file,
            self.secret_credential,
        )?;
        Ok(EventWebhook {
            name: self.name,
            url: self.url,
            secret,
            events: self.events.unwrap_or_else(|| OrderEvent::ALL.to_vec()),
        })
    }
}
