//! The [`Mirakl`] channel: the seller API behind vigie's [`Marketplace`] trait.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use vigie_connector::{
    Capabilities, Carrier, ChannelClient, ConnectorError, CustomerMessage, Marketplace, OrderBatch,
    OrderDecision, Parcel, ParcelTerms, PushStatus, PushTicket, SellerCancel, ShopState,
    StockLevel, StockUpdate, Throttle, Timestamp, one_by_one,
};

use crate::client::{self, Api, Call};
use crate::orders::HOLDING_STOCK;
use crate::pages::PAGE_SIZE;
use crate::poll::poll;
use crate::settings::{MessageTopic, MiraklSettings, PartialAcceptanceFallback};
use crate::window::{SentAt, query_date};
use crate::{cancel, decide, messages, ship, stock};

/// One Mirakl shop. Cheap to share behind an `Arc`; every budget is per instance.
#[derive(Debug)]
pub struct Mirakl {
    api: Api,
    orders: Throttle,
    stock_imports: Throttle,
    stock_status: Throttle,
    /// How often STO02 may be asked: the first look at an import waits that long.
    stock_status_every: Duration,
    error_reports: Throttle,
    fallback: PartialAcceptanceFallback,
    /// The topic a new thread to a customer carries.
    topic: MessageTopic,
    /// Learned from an `ORDER_PARTIAL_ACCEPTANCE_DISABLED` answer.
    partial_disabled: AtomicBool,
    /// When A01 last proved the key, and the shop state it read; Mirakl allows A01 once a day.
    account_checked: Mutex<Option<(tokio::time::Instant, ShopState)>>,
}

/// A01 at most this often: Mirakl allows it once a day, and a daily check (vigie's runs every
/// 24 hours) must find it due even when the previous one took a while.
const ACCOUNT_CHECK_EVERY: Duration = Duration::from_secs(23 * 60 * 60);

#[derive(Debug, Deserialize)]
struct Account {
    shop_state: Option<String>,
}

impl Mirakl {
    pub fn new(channel_name: &str, settings: MiraklSettings) -> Result<Self, ConnectorError> {
        let limits = settings.limits;
        if limits.stock_status_every.is_zero() {
            return Err(ConnectorError::permanent(
                "Mirakl limits: stock_status_every must be positive",
            ));
        }
        // Mirakl publishes per-API budgets, not a global one: the per-operation throttles pace.
        let http = ChannelClient::new(channel_name, Throttle::unlimited(), settings.http)?;
        Ok(Self {
            api: Api::new(http, settings.base_url, settings.api_key, settings.shop_id)?,
            orders: Throttle::per_minute(limits.orders_per_minute),
            stock_imports: Throttle::per_minute(limits.stock_imports_per_minute),
            stock_status: Throttle::every(limits.stock_status_every),
            stock_status_every: limits.stock_status_every,
            error_reports: Throttle::per_minute(limits.error_reports_per_minute),
            fallback: settings.partial_acceptance_fallback,
            topic: settings.message_topic,
            partial_disabled: AtomicBool::new(false),
            account_checked: Mutex::new(None),
        })
    }

    /// A01: proves the key and reads the shop's state, at most once a day (the state read
    /// last is returned in between).
    async fn check_account(&self) -> Result<ShopState, ConnectorError> {
        let checked = self
            .account_checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((at, state)) = checked
            && at.elapsed() < ACCOUNT_CHECK_EVERY
        {
            return Ok(state);
        }
        let url = self.api.url(&["account"]);
        let reply = self.api.get(Call::safe("A01"), &url, &[]).await?;
        let account: Account = client::json("A01", &reply)?;
        let state = shop_state(account.shop_state);
        *self
            .account_checked
            .lock()
            .unwrap_or_else(|e| e.into_inner()) =
            Some((tokio::time::Instant::now(), state.clone()));
        Ok(state)
    }
}

/// A01's `shop_state`: `OPEN` takes orders; `SUSPENDED`, `CLOSE` (the seller's holiday or
/// the operator's decision) and `TERMINATED` take none. A state Mirakl adds later is not
/// taken for a closed shop.
fn shop_state(state: Option<String>) -> ShopState {
    match state {
        None => ShopState::Unstated,
        Some(s) if matches!(s.as_str(), "SUSPENDED" | "CLOSE" | "TERMINATED") => {
            ShopState::Closed(s)
        }
        Some(s) => ShopState::Open(s),
    }
}

#[async_trait]
impl Marketplace for Mirakl {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            partial_acceptance: !self.partial_disabled.load(Ordering::Relaxed),
            // Mirakl quantities are int32.
            max_quantity: i32::MAX as u32,
            // No published cap on a STO01 file; this keeps one import small enough to retry.
            max_stock_batch: 10_000,
            visibility_lag: Duration::ZERO,
            stock_status_after: self.stock_status_every,
        }
    }

    /// V01 (the instance answers), then A01 (the key works, the shop is open) once a day.
    async fn health(&self) -> Result<ShopState, ConnectorError> {
        let url = self.api.url(&["version"]);
        self.api.get(Call::safe("V01"), &url, &[]).await?;
        self.check_account().await
    }

    async fn orders_awaiting_acceptance(&self) -> Result<OrderBatch, ConnectorError> {
        let filters = [("order_state_codes", "WAITING_ACCEPTANCE".to_owned())];
        poll(&self.api, &self.orders, &filters, None).await
    }

    async fn orders_holding_stock(&self) -> Result<OrderBatch, ConnectorError> {
        let filters = [("order_state_codes", HOLDING_STOCK.join(","))];
        poll(&self.api, &self.orders, &filters, None).await
    }

    /// Reads on past `until`, to the moment the read is sent (see [`crate::window`]).
    async fn orders_updated(
        &self,
        since: Timestamp,
        _until: Timestamp,
    ) -> Result<OrderBatch, ConnectorError> {
        // Mirakl rewinds start_update_date itself; the caller de-duplicates.
        let filters = [("start_update_date", query_date(since, false))];
        let end = SentAt::new("end_update_date");
        let mut batch = poll(&self.api, &self.orders, &filters, Some(&end)).await?;
        batch.read_until = end.at();
        Ok(batch)
    }

    async fn orders_by_id(&self, ids: &[String]) -> Result<OrderBatch, ConnectorError> {
        let mut batch = OrderBatch::default();
        // order_ids takes at most 100 ids per call.
        for chunk in ids.chunks(PAGE_SIZE as usize) {
            let filters = [("order_ids", chunk.join(","))];
            let part = poll(&self.api, &self.orders, &filters, None).await?;
            batch.orders.extend(part.orders);
            batch.malformed.extend(part.malformed);
        }
        Ok(batch)
    }

    /// One OR21 per order: Mirakl takes no more, and allows one per event.
    async fn decide(
        &self,
        decisions: &[OrderDecision],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
        one_by_one(decisions, |d| {
            decide::decide(
                &self.api,
                &d.order_id,
                &d.lines,
                self.fallback,
                &self.partial_disabled,
            )
        })
        .await
    }

    async fn push_stock(&self, updates: &[StockUpdate]) -> Result<PushTicket, ConnectorError> {
        stock::push(&self.api, &self.stock_imports, updates).await
    }

    async fn push_status(&self, ticket: &PushTicket) -> Result<PushStatus, ConnectorError> {
        stock::status(&self.api, &self.stock_status, &self.error_reports, ticket).await
    }

    async fn stock_levels(&self) -> Result<Vec<StockLevel>, ConnectorError> {
        stock::levels(&self.api).await
    }

    /// Mirakl publishes no limit for OR43 and M12 (they go "once per event"): its 429s pace.
    fn message_pace(&self) -> Throttle {
        Throttle::unlimited()
    }

    async fn message_customer(
        &self,
        order_id: &str,
        message: &CustomerMessage,
    ) -> Result<Option<String>, ConnectorError> {
        messages::send(&self.api, &self.topic, order_id, message).await
    }

    /// One parcel at a time: OR23 and OR24 take one order each.
    async fn confirm_parcels(
        &self,
        parcels: &[Parcel],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
        one_by_one(parcels, |parcel| ship::confirm(&self.api, parcel)).await
    }

    async fn carriers(&self) -> Result<Vec<Carrier>, ConnectorError> {
        ship::carriers(&self.api).await
    }

    /// OR23 takes `carrier_name` + `carrier_url` for a carrier the operator does not list,
    /// and a line's units across several parcels.
    fn parcel_terms(&self) -> ParcelTerms {
        ParcelTerms {
            unlisted_carriers: true,
            whole_lines_only: false,
        }
    }

    async fn cancel(&self, cancel: &SellerCancel) -> Result<(), ConnectorError> {
        cancel::cancel(&self.api, cancel).await
    }
}
