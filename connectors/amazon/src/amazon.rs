//! The [`Amazon`] channel: the Selling Partner API behind vigie's [`Marketplace`] trait.

use async_trait::async_trait;
use std::time::Duration;

use jiff::SignedDuration;
use vigie_connector::{
    Capabilities, Carrier, ChannelClient, ConnectorError, CustomerMessage, Marketplace, OrderBatch,
    OrderDecision, Parcel, ParcelTerms, PushStatus, PushTicket, SellerCancel, ShopState,
    StockLevel, StockUpdate, Throttle, Timestamp, one_by_one,
};

use crate::auth::Login;
use crate::client::Api;
use crate::limits::Throttles;
use crate::orders::{self, HOLDING_STOCK, query_end, query_time};
use crate::settings::AmazonSettings;
use crate::{decide, messages, ship, stock};

/// `searchOrders` shows nothing changed in the last two minutes: its `...Before` must be at
/// least that far in the past (a little more, for the clocks' skew).
pub const VISIBILITY_LAG: SignedDuration = SignedDuration::from_secs(150);

/// One seller account on one Amazon marketplace. Every budget is per instance.
#[derive(Debug)]
pub struct Amazon {
    api: Api,
    throttles: Throttles,
    /// How often one feed is asked about while vigie waits for it.
    feed_check_every: Duration,
    handling_days: u32,
    patch_at_most: usize,
}

impl Amazon {
    pub fn new(channel_name: &str, settings: AmazonSettings) -> Result<Self, ConnectorError> {
        // Amazon plans per operation: the per-operation throttles pace, not a channel one.
        let http = ChannelClient::new(channel_name, Throttle::unlimited(), settings.http)?;
        let login = Login::new(
            http.clone(),
            settings.token_url,
            settings.client_id,
            settings.client_secret,
            settings.refresh_token,
        );
        if settings.feed_check_every.is_zero() {
            return Err(ConnectorError::permanent(
                "feed_check_every must be positive",
            ));
        }
        Ok(Self {
            api: Api::new(
                http,
                settings.base_url,
                login,
                settings.marketplace_id,
                settings.seller_id,
            )?,
            throttles: Throttles::new(&settings.limits),
            feed_check_every: settings.feed_check_every,
            handling_days: settings.handling_days,
            patch_at_most: settings.patch_at_most,
        })
    }

    /// The latest time `searchOrders` may be asked about, for a read meant to end at `until`.
    fn lagged(until: Timestamp) -> Timestamp {
        until.min(Timestamp::now()) - VISIBILITY_LAG
    }
}

#[async_trait]
impl Marketplace for Amazon {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // The acknowledgement feed cancels items one by one.
            partial_acceptance: true,
            max_quantity: i32::MAX as u32,
            // JSON_LISTINGS_FEED takes up to 25 000 messages.
            max_stock_batch: 25_000,
            visibility_lag: VISIBILITY_LAG.unsigned_abs(),
            // Feeds are processed within minutes.
            stock_status_after: std::time::Duration::from_secs(15),
        }
    }

    /// A token from Login with Amazon proves the credentials; Amazon says nothing of the shop
    /// that is worth a call against its tight plans.
    async fn health(&self) -> Result<ShopState, ConnectorError> {
        self.api.login.token().await?;
        Ok(ShopState::Unstated)
    }

    async fn orders_awaiting_acceptance(&self) -> Result<OrderBatch, ConnectorError> {
        self.orders_holding_stock().await
    }

    async fn orders_holding_stock(&self) -> Result<OrderBatch, ConnectorError> {
        // searchOrders needs a time filter: Amazon returns nothing older than two years.
        let since = Timestamp::now() - SignedDuration::from_hours(2 * 365 * 24);
        let filters = [
            ("createdAfter", query_time(since)),
            ("createdBefore", query_time(Self::lagged(Timestamp::now()))),
            ("fulfillmentStatuses", HOLDING_STOCK.to_owned()),
        ];
        orders::search(&self.api, &self.throttles.search_orders, &filters).await
    }

    async fn orders_updated(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<OrderBatch, ConnectorError> {
        // The whole window moves back by the lag, so that consecutive windows still tile:
        // what changed in the lag before `since` was hidden from the previous read.
        let (since, until) = (since - VISIBILITY_LAG, Self::lagged(until));
        if since >= until {
            return Ok(OrderBatch::default());
        }
        let filters = [
            ("lastUpdatedAfter", query_time(since)),
            ("lastUpdatedBefore", query_end(until)),
        ];
        orders::search(&self.api, &self.throttles.search_orders, &filters).await
    }

    async fn orders_by_id(&self, ids: &[String]) -> Result<OrderBatch, ConnectorError> {
        orders::by_id(&self.api, &self.throttles.get_order, ids).await
    }

    /// One acknowledgement feed per order with refused lines.
    async fn decide(
        &self,
        decisions: &[OrderDecision],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
        one_by_one(decisions, |d| {
            decide::decide(
                &self.api,
                &self.throttles,
                self.feed_check_every,
                &d.order_id,
                &d.lines,
            )
        })
        .await
    }

    async fn push_stock(&self, updates: &[StockUpdate]) -> Result<PushTicket, ConnectorError> {
        stock::push(
            &self.api,
            &self.throttles,
            self.patch_at_most,
            self.handling_days,
            updates,
        )
        .await
    }

    async fn push_status(&self, ticket: &PushTicket) -> Result<PushStatus, ConnectorError> {
        stock::status(&self.api, &self.throttles, ticket).await
    }

    async fn stock_levels(&self) -> Result<Vec<StockLevel>, ConnectorError> {
        stock::levels(&self.api, &self.throttles).await
    }

    async fn message_customer(
        &self,
        order_id: &str,
        message: &CustomerMessage,
    ) -> Result<Option<String>, ConnectorError> {
        messages::send(&self.api, &self.throttles, order_id, message).await
    }

    /// One `confirmShipment` per parcel: Amazon takes one package per call.
    async fn confirm_parcels(
        &self,
        parcels: &[Parcel],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
        one_by_one(parcels, |parcel| {
            ship::confirm(&self.api, &self.throttles, parcel)
        })
        .await
    }

    async fn carriers(&self) -> Result<Vec<Carrier>, ConnectorError> {
        Ok(ship::carriers())
    }

    /// `Other` + `carrierName` names a carrier Amazon does not list; an item's units may go
    /// in several packages.
    fn parcel_terms(&self) -> ParcelTerms {
        ParcelTerms {
            unlisted_carriers: true,
            whole_lines_only: false,
        }
    }

    async fn cancel(&self, cancel: &SellerCancel) -> Result<(), ConnectorError> {
        decide::seller_cancel(&self.api, &self.throttles, self.feed_check_every, cancel).await
    }
}
