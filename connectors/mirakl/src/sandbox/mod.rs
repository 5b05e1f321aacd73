//! A stateful Mirakl seller API on 127.0.0.1, for tests, the demo and benchmarks.
//!
//! It keeps offers, orders, stock imports and customer threads, and enforces the rules the
//! real API documents: the raw key in `Authorization`, a decision for every line in one OR21
//! call, OR21 only in `WAITING_ACCEPTANCE` (`ORDER_INVALID_STATE` otherwise), at most 100
//! orders per OR11 page, optional refusal of partial acceptance. Ordered units leave the offer
//! when the order is created and come back when a line is refused. Faults (5xx, 429 with
//! `Retry-After`, latency, 401, a malformed order, a message taken then answered 500 or late)
//! are switched on at run time; randomness comes
//! from one seeded generator.
//!
//! Longer than 400 lines, as a sandbox may be: its whole public face (options, order specs,
//! the orders it holds, the handle tests drive) reads best in one place.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use rust_decimal::Decimal;
//! use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};
//! let sandbox = MiraklSandbox::start(SandboxOptions::default()).await?;
//! sandbox.set_quantity("SKU-1", 5);
//! let id = sandbox.add_order(OrderSpec::new().line("SKU-1", 2, Decimal::new(1990, 2)));
//! // point a `Mirakl` at sandbox.base_url() with sandbox.api_key() and sandbox.shop_id()
//! # let _ = id; Ok(()) }
//! ```

mod lifecycle;
mod routes;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use rust_decimal::Decimal;
use tokio::task::JoinHandle;

use state::State;

/// How the sandbox shop is set up.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub api_key: String,
    pub shop_id: u64,
    pub currency: String,
    /// `false` makes mixed OR21 decisions fail with `ORDER_PARTIAL_ACCEPTANCE_DISABLED`.
    pub partial_acceptance: bool,
    /// STO02 calls answering `RUNNING` before an import completes (and applies).
    pub import_polls_before_complete: u32,
    /// Accept STO01 lines for SKUs with no offer (creating it) instead of reporting an error.
    pub create_unknown_offers: bool,
    /// Seeds every random choice: fault draws, generated orders, thread ids.
    pub seed: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            api_key: "sandbox-shop-key".into(),
            shop_id: 2001,
            currency: "EUR".into(),
            partial_acceptance: true,
            import_polls_before_complete: 0,
            create_unknown_offers: false,
            seed: 7,
        }
    }
}

/// Faults applied to every `/api/...` request; all off by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Probability (0.0..=1.0) that a request answers 503.
    pub server_error_rate: f64,
    /// Every Nth request answers 429 with `Retry-After: retry_after_secs`.
    pub rate_limit_every: Option<u64>,
    pub retry_after_secs: u64,
    /// Added before every answer (tokio time: paused tests advance it).
    pub latency: Duration,
    /// Every request answers 401, as with a revoked key.
    pub reject_auth: bool,
    /// Share (0.0..=1.0) of OR43 messages taken (the customer gets them) and then answered
    /// 500 anyway, as a server failing after it acted: sent again, they arrive twice.
    pub message_applied_then_fail_rate: f64,
    /// Those drawn messages are answered after this long instead of 500 (past a client's
    /// timeout: tokio time, so paused tests advance it).
    pub message_applied_then_stall: Option<Duration>,
}

/// An order to place in the shop.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSpec {
    pub lines: Vec<LineSpec>,
    pub first_name: String,
    pub last_name: String,
    /// ISO alpha-3, as Mirakl writes `country_iso_code`.
    pub shipping_country: String,
    /// Addresses are `null` until the order is accepted, as many operators configure.
    pub hide_address_until_accepted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineSpec {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Decimal,
}

impl Default for OrderSpec {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderSpec {
    pub fn new() -> Self {
        Self {
            lines: Vec::new(),
            first_name: "Camille".into(),
            last_name: "Martin".into(),
            shipping_country: "FRA".into(),
            hide_address_until_accepted: true,
        }
    }

    pub fn line(mut self, sku: impl Into<String>, quantity: u32, unit_price: Decimal) -> Self {
        self.lines.push(LineSpec {
            sku: sku.into(),
            quantity,
            unit_price,
        });
        self
    }

    pub fn country(mut self, alpha3: impl Into<String>) -> Self {
        self.shipping_country = alpha3.into();
        self
    }

    pub fn customer(mut self, first_name: impl Into<String>, last_name: impl Into<String>) -> Self {
        self.first_name = first_name.into();
        self.last_name = last_name.into();
        self
    }

    pub fn address_visible(mut self) -> Self {
        self.hide_address_until_accepted = false;
        self
    }
}

/// The shop's `leadtime_to_ship`, in days.
pub const LEADTIME_TO_SHIP_DAYS: i64 = 2;

/// Carrier data set when an order ships.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    pub tracking_number: String,
    pub carrier_code: Option<String>,
    pub carrier_name: Option<String>,
    pub tracking_url: Option<String>,
}

/// An order as the sandbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxOrder {
    pub id: String,
    pub commercial_id: String,
    /// Mirakl's order state (`WAITING_ACCEPTANCE`, `SHIPPING`, `REFUSED`, `SHIPPED`...).
    pub state: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When OR21 was received for it.
    pub decided_at: Option<Timestamp>,
    /// When OR21 accepted at least one of its lines.
    pub accepted_at: Option<Timestamp>,
    /// `shipping_deadline`: set at acceptance, [`LEADTIME_TO_SHIP_DAYS`] later (tests move it).
    pub shipping_deadline: Option<Timestamp>,
    pub first_name: String,
    pub last_name: String,
    pub shipping_country: String,
    pub hide_address_until_accepted: bool,
    pub lines: Vec<SandboxLine>,
    pub tracking: Option<Tracking>,
    /// Served with an unreadable `created_date`.
    pub malformed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxLine {
    pub id: String,
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Decimal,
    pub state: String,
    /// Units taken off the offer when the order was placed (less than `quantity` when the
    /// offer was short); given back if the line is refused.
    pub reserved: u32,
    /// `order_line_state_reason_code`: why the line was cancelled or is under a claim.
    pub reason_code: Option<String>,
    /// `cancelations[]` and `refunds[]`, in the order they happened.
    pub taken_back: Vec<TakenBack>,
    pub shipped_at: Option<Timestamp>,
    /// The state the line returns to when its claim closes (`INCIDENT_OPEN` meanwhile).
    pub before_incident: Option<String>,
}

impl SandboxLine {
    /// Units of the line already cancelled or refunded.
    fn taken(&self) -> u32 {
        self.taken_back.iter().map(|t| t.quantity).sum()
    }

    fn take_back(&mut self, refund: bool, quantity: u32, reason_code: &str) {
        let kind = if refund { "R" } else { "C" };
        self.taken_back.push(TakenBack {
            id: format!("{kind}-{}-{}", self.id, self.taken_back.len() + 1),
            refund,
            quantity,
            reason_code: reason_code.to_owned(),
            at: Timestamp::now(),
        });
    }
}

/// One entry of a line's `cancelations[]` (`refund: false`) or `refunds[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TakenBack {
    pub id: String,
    pub refund: bool,
    pub quantity: u32,
    pub reason_code: String,
    pub at: Timestamp,
}

/// One STO01 upload.
#[derive(Debug, Clone, PartialEq)]
pub struct StockImport {
    pub id: String,
    /// `WAITING`, `RUNNING` or `COMPLETE`.
    pub status: String,
    pub created_at: Timestamp,
    pub lines: Vec<StockImportLine>,
    /// STO02 calls so far.
    pub polls: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StockImportLine {
    /// Line in the file, the header being line 1.
    pub line_number: u64,
    pub sku: String,
    pub quantity: u32,
    /// The fields as sent.
    pub raw: Vec<String>,
    pub error: Option<String>,
}

/// One message to a customer: the first of its thread (OR43) or a reply in it (M12).
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub order_id: String,
    pub thread_id: String,
    pub to: Vec<String>,
    pub topic_type: String,
    pub topic_value: String,
    pub body: String,
    pub at: Timestamp,
}

/// Why a sandbox step was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxError(pub String);

impl std::fmt::Display for SandboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SandboxError {}

pub(crate) type Shared = Arc<Mutex<State>>;

/// A running sandbox; the server and its order generators stop when it is dropped.
pub struct MiraklSandbox {
    addr: SocketAddr,
    api_key: String,
    shop_id: u64,
    state: Shared,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for MiraklSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiraklSandbox")
            .field("addr", &self.addr)
            .field("shop_id", &self.shop_id)
            .finish_non_exhaustive()
    }
}

impl MiraklSandbox {
    /// Binds 127.0.0.1 on a free port and starts serving on the current tokio runtime.
    pub async fn start(options: SandboxOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let api_key = options.api_key.clone();
        let shop_id = options.shop_id;
        let state: Shared = Arc::new(Mutex::new(State::new(options)));
        let app = routes::router(state.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "Mirakl sandbox stopped");
            }
        });
        Ok(Self {
            addr,
            api_key,
            shop_id,
            state,
            tasks: Mutex::new(vec![server]),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// `http://127.0.0.1:PORT/`, the instance URL a `Mirakl` client takes.
    pub fn base_url(&self) -> url::Url {
        format!("http://{}/", self.addr)
            .parse()
            .expect("a socket address makes a URL")
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn shop_id(&self) -> u64 {
        self.shop_id
    }

    /// Client settings pointing at this sandbox, with Mirakl's default limits.
    pub fn client_settings(&self) -> crate::MiraklSettings {
        let mut settings = crate::MiraklSettings::new(
            self.base_url(),
            secrecy::SecretString::from(self.api_key.clone()),
        );
        settings.shop_id = Some(self.shop_id);
        settings
    }

    /// Creates the offer if needed and sets its quantity.
    pub fn set_quantity(&self, sku: &str, quantity: u32) {
        self.state().offers.insert(sku.to_owned(), quantity);
    }

    /// The offer's current quantity, `None` when the shop has no such offer.
    pub fn quantity(&self, sku: &str) -> Option<u32> {
        self.state().offers.get(sku).copied()
    }

    /// Places an order in `WAITING_ACCEPTANCE`; returns its Mirakl order id.
    pub fn add_order(&self, spec: OrderSpec) -> String {
        self.state().add_order(spec)
    }

    /// Places `count` seeded random orders over `skus` (one or two lines, 1 to 3 units).
    pub fn add_random_orders(&self, count: usize, skus: &[&str]) -> Vec<String> {
        let skus: Vec<String> = skus.iter().map(|s| (*s).to_owned()).collect();
        let mut state = self.state();
        (0..count)
            .map(|_| {
                let spec = state.random_spec(&skus);
                state.add_order(spec)
            })
            .collect()
    }

    /// Places one random order every `every` until the sandbox is dropped.
    pub fn start_generator(&self, every: Duration, skus: &[&str]) {
        let skus: Vec<String> = skus.iter().map(|s| (*s).to_owned()).collect();
        let state = self.state.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let mut state = lock(&state);
                let spec = state.random_spec(&skus);
                state.add_order(spec);
            }
        });
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }

    /// Ships an accepted order (OR23 + OR24 on the seller's side), with tracking.
    pub fn ship(&self, order_id: &str, tracking: Tracking) -> Result<(), SandboxError> {
        self.state()
            .ship(order_id, tracking)
            .map_err(|r| SandboxError(r.message))
    }

    /// The customer cancels an order still awaiting acceptance, or the operator cancels
    /// `quantity` units of an accepted line (all of them: the line becomes `CANCELED`).
    pub fn cancel(
        &self,
        order_id: &str,
        line_id: &str,
        quantity: u32,
        reason_code: &str,
    ) -> Result<(), SandboxError> {
        self.state()
            .cancel(order_id, line_id, quantity, reason_code)
            .map_err(|r| SandboxError(r.message))
    }

    /// The operator refunds a whole line (OR28's effect), shipped or not: it becomes
    /// `REFUNDED`.
    pub fn refund(
        &self,
        order_id: &str,
        line_id: &str,
        reason_code: &str,
    ) -> Result<(), SandboxError> {
        self.state()
            .refund(order_id, line_id, reason_code)
            .map_err(|r| SandboxError(r.message))
    }

    /// The customer opens a claim on a line (`INCIDENT_OPEN`, `has_incident`); `None` closes
    /// it and the line goes back to its state.
    pub fn set_incident(
        &self,
        order_id: &str,
        line_id: &str,
        reason_code: Option<&str>,
    ) -> Result<(), SandboxError> {
        self.state()
            .set_incident(order_id, line_id, reason_code)
            .map_err(|r| SandboxError(r.message))
    }

    /// Puts an order (and its lines) in any state, known to Mirakl or not.
    pub fn force_state(&self, order_id: &str, state: &str) -> Result<(), SandboxError> {
        let mut shop = self.state();
        let order = shop
            .order_mut(order_id)
            .ok_or_else(|| SandboxError(format!("no order {order_id}")))?;
        order.state = state.to_owned();
        for line in &mut order.lines {
            line.state = state.to_owned();
        }
        order.updated_at = Timestamp::now();
        Ok(())
    }

    /// Moves an order's creation and last change `age` into the past, as for an order placed
    /// and accepted long before vigie first watched the shop.
    pub fn backdate(&self, order_id: &str, age: Duration) -> Result<(), SandboxError> {
        let mut shop = self.state();
        let order = shop
            .order_mut(order_id)
            .ok_or_else(|| SandboxError(format!("no order {order_id}")))?;
        order.created_at -= age;
        order.updated_at -= age;
        Ok(())
    }

    /// Serves this order with an unreadable `created_date` in OR11.
    pub fn set_malformed(&self, order_id: &str, malformed: bool) -> Result<(), SandboxError> {
        let mut shop = self.state();
        let order = shop
            .order_mut(order_id)
            .ok_or_else(|| SandboxError(format!("no order {order_id}")))?;
        order.malformed = malformed;
        Ok(())
    }

    pub fn order(&self, order_id: &str) -> Option<SandboxOrder> {
        self.state()
            .orders
            .iter()
            .find(|o| o.id == order_id)
            .cloned()
    }

    pub fn orders(&self) -> Vec<SandboxOrder> {
        self.state().orders.clone()
    }

    /// Every STO01 upload, oldest first.
    pub fn stock_imports(&self) -> Vec<StockImport> {
        self.state().imports.clone()
    }

    /// Every message to a customer (OR43 and M12), oldest first.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.state().messages.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    /// Requests received by one endpoint (`V01`, `A01`, `OR11`, `OR21`, `OR43`, `STO01`,
    /// `STO02`, `STO03`, `OF21`), faulted ones included.
    pub fn request_count(&self, endpoint: &str) -> u64 {
        self.state().counters.get(endpoint).copied().unwrap_or(0)
    }

    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.state()
            .counters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }
}

impl Drop for MiraklSandbox {
    fn drop(&mut self) {
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}

/// The state stays usable after a panicking test thread poisoned the lock.
pub(crate) fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}
