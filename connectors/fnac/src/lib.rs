//! Fnac/Darty seller connector: Fnac's XML marketplace API ("BOMP") behind vigie's
//! [`Marketplace`] trait. Darty has used the same API since May 2023, with its own shop id,
//! so one channel per shop covers both.
//!
//! Requests follow Fnac's XSDs exactly; responses are read leniently (CDATA, empty elements,
//! any order, unknown elements), one order at a time so a broken one is quarantined alone.
#![forbid(unsafe_code)]

mod client;
mod messages;
mod orders;
mod stock;
mod xml;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use url::Url;
use vigie_connector::{
    Capabilities, ConnectorError, CustomerMessage, HttpSettings, LineDecision, Marketplace,
    OrderBatch, PushStatus, PushTicket, StockLevel, StockUpdate, Timestamp,
};

use crate::client::Transport;
use crate::messages::MessageSettings;

pub use crate::stock::{MAX_BATCH, MAX_QUANTITY};

/// The XSD's `message_action` values that create a message (`create`) or answer one.
const MESSAGE_ACTIONS: &[&str] = &["create", "reply"];
/// The XSD's `message_subject` categories.
const MESSAGE_SUBJECTS: &[&str] = &[
    "product_information",
    "shipping_information",
    "order_information",
    "offer_problem",
    "offer_not_received",
    "other_question",
];

/// One Fnac or Darty shop, as the daemon's validated configuration describes it.
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
    /// `orders_updated` widens its `UpdatedAt` window by this much on both sides.
    /// Default 10 min.
    pub update_overlap: Duration,
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
            requests_per_minute: NonZeroU32::new(60).expect("non-zero"),
            token_skew: Duration::from_secs(60),
            update_overlap: Duration::from_secs(600),
            message_action: "create".to_owned(),
            message_subject: "order_information".to_owned(),
            http: HttpSettings::default(),
        }
    }
}

/// A Fnac or Darty shop.
#[derive(Debug)]
pub struct Fnac {
    transport: Transport,
    update_overlap: Duration,
    messages: MessageSettings,
}

impl Fnac {
    /// Checks the settings against Fnac's formats and builds the shop's client; no call is
    /// made until the first operation.
    pub fn new(channel_name: &str, settings: FnacSettings) -> Result<Self, ConnectorError> {
        for (name, value) in [
            ("partner_id", &settings.partner_id),
            ("shop_id", &settings.shop_id),
        ] {
            if !is_uuid(value) {
                return Err(ConnectorError::permanent(format!(
                    "{name} must be the UUID Fnac issued, got {value:?}"
                )));
            }
        }
        if !MESSAGE_ACTIONS.contains(&settings.message_action.as_str()) {
            return Err(ConnectorError::permanent(format!(
                "message_action must be one of {MESSAGE_ACTIONS:?}"
            )));
        }
        if !MESSAGE_SUBJECTS.contains(&settings.message_subject.as_str()) {
            return Err(ConnectorError::permanent(format!(
                "message_subject must be one of {MESSAGE_SUBJECTS:?}"
            )));
        }
        Ok(Self {
            transport: Transport::new(channel_name, &settings)?,
            update_overlap: settings.update_overlap,
            messages: MessageSettings {
                action: settings.message_action,
                subject: settings.message_subject,
            },
        })
    }
}

/// `uuid` in Fnac's XSD: 8-4-4-4-12 hexadecimal digits.
fn is_uuid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[async_trait]
impl Marketplace for Fnac {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            partial_acceptance: true,
            max_quantity: MAX_QUANTITY,
            max_stock_batch: MAX_BATCH,
        }
    }

    async fn health(&self) -> Result<(), ConnectorError> {
        self.transport.reauthenticate().await
    }

    async fn orders_awaiting_acceptance(&self) -> Result<OrderBatch, ConnectorError> {
        orders::awaiting_acceptance(&self.transport).await
    }

    async fn orders_updated(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<OrderBatch, ConnectorError> {
        orders::updated(&self.transport, since, until, self.update_overlap).await
    }

    async fn orders_by_id(&self, ids: &[String]) -> Result<OrderBatch, ConnectorError> {
        orders::by_id(&self.transport, ids).await
    }

    async fn decide(&self, order_id: &str, lines: &[LineDecision]) -> Result<(), ConnectorError> {
        orders::decide(&self.transport, order_id, lines).await
    }

    async fn push_stock(&self, updates: &[StockUpdate]) -> Result<PushTicket, ConnectorError> {
        stock::push(&self.transport, updates).await
    }

    async fn push_status(&self, ticket: &PushTicket) -> Result<PushStatus, ConnectorError> {
        stock::status(&self.transport, ticket).await
    }

    async fn stock_levels(&self) -> Result<Vec<StockLevel>, ConnectorError> {
        stock::levels(&self.transport).await
    }

    async fn message_customer(
        &self,
        order_id: &str,
        message: &CustomerMessage,
    ) -> Result<(), ConnectorError> {
        messages::send(&self.transport, &self.messages, order_id, message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_uuids() {
        assert!(is_uuid("0a1B2c3d-0000-4000-8000-00000000abcd"));
        assert!(!is_uuid("0a1b2c3d00004000800000000000abcd"));
        assert!(!is_uuid("0a1b2c3d-0000-4000-8000-00000000abcg"));
    }
}
