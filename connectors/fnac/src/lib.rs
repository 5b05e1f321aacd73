//! Fnac/Darty seller connector: Fnac's XML marketplace API ("BOMP") behind vigie's
//! [`Marketplace`] trait. Darty has used the same API since May 2023, with its own shop id,
//! so one channel per shop covers both.
//!
//! Requests follow Fnac's XSDs exactly; responses are read leniently (CDATA, empty elements,
//! any order, unknown elements), one order at a time so a broken one is quarantined alone.
#![forbid(unsafe_code)]

mod cancel;
mod client;
mod incidents;
mod messages;
mod orders;
mod pages;
mod settings;
mod ship;
mod stock;
mod update;
mod xml;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use vigie_connector::{
    Capabilities, Carrier, ConnectorError, CustomerMessage, Marketplace, OrderBatch, OrderDecision,
    Parcel, ParcelTerms, PushStatus, PushTicket, SellerCancel, ShopState, StockLevel, StockUpdate,
    Timestamp,
};

use crate::client::Transport;
use crate::incidents::ClaimsPace;
use crate::messages::MessageSettings;
use crate::settings::is_uuid;

pub use crate::settings::{FnacChannel, FnacSettings};

pub use crate::cancel::REFUND_REASONS;
pub use crate::stock::{MAX_BATCH, MAX_QUANTITY};
pub use crate::update::MAX_ORDERS_PER_UPDATE;

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

/// A Fnac or Darty shop.
#[derive(Debug)]
pub struct Fnac {
    transport: Transport,
    messages: MessageSettings,
    claims: ClaimsPace,
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
            messages: MessageSettings {
                action: settings.message_action,
                subject: settings.message_subject,
                share: messages::share(settings.requests_per_minute),
            },
            claims: ClaimsPace::default(),
        })
    }
}

#[async_trait]
impl Marketplace for Fnac {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            partial_acceptance: true,
            max_quantity: MAX_QUANTITY,
            max_stock_batch: MAX_BATCH,
            visibility_lag: std::time::Duration::ZERO,
            stock_status_after: stock::STATUS_AFTER,
        }
    }

    /// A fresh `auth`: Fnac says nothing of the shop's state.
    async fn health(&self) -> Result<ShopState, ConnectorError> {
        self.transport.reauthenticate().await?;
        Ok(ShopState::Unstated)
    }

    async fn orders_awaiting_acceptance(&self) -> Result<OrderBatch, ConnectorError> {
        orders::awaiting_acceptance(&self.transport).await
    }

    async fn orders_holding_stock(&self) -> Result<OrderBatch, ConnectorError> {
        orders::holding_stock(&self.transport).await
    }

    async fn orders_updated(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<OrderBatch, ConnectorError> {
        orders::updated(&self.transport, &self.claims, since, until).await
    }

    async fn orders_by_id(&self, ids: &[String]) -> Result<OrderBatch, ConnectorError> {
        orders::by_id(&self.transport, ids).await
    }

    /// `accept_order`, up to 25 orders per `orders_update`.
    async fn decide(
        &self,
        decisions: &[OrderDecision],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
        orders::decide(&self.transport, decisions).await
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
    ) -> Result<Option<String>, ConnectorError> {
        // Fnac keeps one conversation per order by itself.
        messages::send(&self.transport, &self.messages, order_id, message).await?;
        Ok(None)
    }

    async fn confirm_parcels(
        &self,
        parcels: &[Parcel],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
        ship::confirm(&self.transport, parcels).await
    }

    /// `confirm_to_send` marks whole lines `Shipped` (a line has no quantity to send), and
    /// takes only the carriers `carriers_query` lists.
    fn parcel_terms(&self) -> ParcelTerms {
        ParcelTerms {
            unlisted_carriers: false,
            whole_lines_only: true,
        }
    }

    async fn carriers(&self) -> Result<Vec<Carrier>, ConnectorError> {
        ship::carriers(&self.transport).await
    }

    async fn cancel(&self, cancel: &SellerCancel) -> Result<(), ConnectorError> {
        cancel::cancel(&self.transport, cancel).await
    }
}
