//! The one interface between the engine and a marketplace.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    Carrier, ConnectorError, Order, Parcel, PushStatus, PushTicket, SellerCancel, StockLevel,
    StockUpdate, Throttle,
};

/// A seller's shop on one marketplace.
///
/// Every method is one logical operation; the connector pages, rate-limits and retries inside
/// it, and reports failures with a [`ConnectorError`] class that tells the engine what to do.
/// Mutating methods are safe to call again with the same arguments: a repeated decision
/// answers [`ConnectorError::AlreadyDone`], a repeated stock push sets the same quantities.
#[async_trait]
pub trait Marketplace: Send + Sync {
    /// What this marketplace allows.
    fn capabilities(&self) -> Capabilities;

    /// A cheap call proving the marketplace answers and the credentials work, and what it
    /// says of the shop.
    async fn health(&self) -> Result<ShopState, ConnectorError>;

    /// Every order currently waiting for the seller's decision.
    async fn orders_awaiting_acceptance(&self) -> Result<OrderBatch, ConnectorError>;

    /// Every order that still holds the seller's stock, whatever its age: accepted (or being
    /// paid for) and not shipped yet. Read when a channel is first watched, so the units
    /// promised before vigie watched the shop are reserved before it decides anything.
    async fn orders_holding_stock(&self) -> Result<OrderBatch, ConnectorError>;

    /// Orders changed between `since` and `until` (the connector may widen the window to
    /// cover the marketplace's own clock skew; callers de-duplicate). A connector that waits
    /// for a call budget may read on to the moment it sends the read, and then says so in
    /// [`OrderBatch::read_until`].
    async fn orders_updated(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<OrderBatch, ConnectorError>;

    /// Re-reads specific orders, e.g. after [`ConnectorError::AlreadyDone`].
    async fn orders_by_id(&self, ids: &[String]) -> Result<OrderBatch, ConnectorError>;

    /// Accepts or refuses the lines of each order, batched as the marketplace allows; one
    /// answer per order, in order, so each order's outcome is recorded on its own. The outer
    /// error ends the whole call (authentication): nothing is known of any order.
    async fn decide(
        &self,
        decisions: &[OrderDecision],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError>;

    /// Submits new quantities; the marketplace applies them asynchronously.
    async fn push_stock(&self, updates: &[StockUpdate]) -> Result<PushTicket, ConnectorError>;

    /// Where a submitted stock batch stands.
    async fn push_status(&self, ticket: &PushTicket) -> Result<PushStatus, ConnectorError>;

    /// The quantities the marketplace currently offers, for drift correction.
    async fn stock_levels(&self) -> Result<Vec<StockLevel>, ConnectorError>;

    /// How fast [`Self::message_customer`] may be called. It does not wait for this pace
    /// itself: the caller takes a place before it commits to a send, so a message waiting
    /// for its turn is never one that may be on its way. Default: unlimited (the
    /// marketplace publishes no limit; its 429s pace the sends).
    fn message_pace(&self) -> Throttle {
        Throttle::unlimited()
    }

    /// Posts a message to the customer through the marketplace's own messaging, in
    /// `message.thread` when an earlier message opened one. Returns the conversation it went
    /// into, when the marketplace has such a thing, for the order's next message. Paced by
    /// the caller: see [`Self::message_pace`].
    async fn message_customer(
        &self,
        order_id: &str,
        message: &CustomerMessage,
    ) -> Result<Option<String>, ConnectorError>;

    /// Confirms parcels to the marketplace, batched as it allows; one answer per parcel, in
    /// order. Confirming a parcel again is safe: the marketplace answers it as done
    /// ([`ConnectorError::AlreadyDone`]) or takes the same tracking again.
    async fn confirm_parcels(
        &self,
        parcels: &[Parcel],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError>;

    /// The carriers the marketplace knows, by code.
    async fn carriers(&self) -> Result<Vec<Carrier>, ConnectorError>;

    /// What the marketplace takes in a parcel.
    fn parcel_terms(&self) -> ParcelTerms;

    /// The seller cancels accepted units. Cancelling again answers
    /// [`ConnectorError::AlreadyDone`].
    async fn cancel(&self, cancel: &SellerCancel) -> Result<(), ConnectorError>;
}

/// Orders read in one operation, and the ones that could not be read.
#[derive(Debug, Default, Clone)]
pub struct OrderBatch {
    pub orders: Vec<Order>,
    /// Order payloads that did not parse; the engine quarantines them and carries on.
    pub malformed: Vec<Malformed>,
    /// Where a [`Marketplace::orders_updated`] read ended when the connector read past the
    /// `until` asked (to the moment it sent the read): the next window starts there.
    pub read_until: Option<Timestamp>,
}

/// An order payload the connector could not understand, kept verbatim for a human.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// The order id, when it could still be read.
    pub order_id: Option<String>,
    pub error: String,
    pub payload: String,
}

/// The shop's state as a health check reads it, in the marketplace's own words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ShopState {
    /// The marketplace does not say; the credentials work.
    #[default]
    Unstated,
    /// Taking orders (Mirakl `OPEN`).
    Open(String),
    /// Taking no orders: suspended or closed by the operator (Mirakl `SUSPENDED`, `CLOSE`...).
    Closed(String),
}

/// The seller's decision on one order: every line accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDecision {
    pub order_id: String,
    pub lines: Vec<LineDecision>,
}

/// Sends `items` one call each, one answer per item: for marketplaces that take one order
/// per call. An authentication failure ends the whole call (every other would fail too);
/// after a rate limit, the rest are answered with it unsent, for the next cycle.
pub async fn one_by_one<'a, T, F>(
    items: &'a [T],
    mut send: impl FnMut(&'a T) -> F,
) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError>
where
    F: Future<Output = Result<(), ConnectorError>>,
{
    let mut answers = Vec::with_capacity(items.len());
    for item in items {
        let answer = send(item).await;
        match answer {
            Err(e @ ConnectorError::Auth(_)) => return Err(e),
            Err(e @ ConnectorError::RateLimited { .. }) => {
                answers.resize(items.len(), Err(e));
                break;
            }
            answer => answers.push(answer),
        }
    }
    Ok(answers)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDecision {
    pub line_id: String,
    pub accept: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMessage {
    pub subject: String,
    pub body: String,
    /// The marketplace's conversation about this order, as an earlier send returned it.
    pub thread: Option<String>,
}

/// What a marketplace takes in a parcel, checked when the seller records one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParcelTerms {
    /// A carrier it does not list, by name (and tracking link).
    pub unlisted_carriers: bool,
    /// Only whole lines: all of a line's units in one parcel.
    pub whole_lines_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Some lines of an order may be accepted and others refused.
    pub partial_acceptance: bool,
    /// Largest quantity an offer may carry (Fnac: 9999).
    pub max_quantity: u32,
    /// Most SKUs one stock push may carry.
    pub max_stock_batch: usize,
    /// How late the marketplace's order reads show an order (Amazon: two minutes); zero
    /// when at once. Such a channel is pushed a quantity other than zero only right after
    /// its orders were read (see the engine's push step).
    pub visibility_lag: std::time::Duration,
    /// How soon a stock push may be applied: the engine first asks where one stands this
    /// long after submitting it, then each time the time since the submission has doubled
    /// (at most a minute apart), and gathers the changes made meanwhile for the next push.
    pub stock_status_after: std::time::Duration,
}
