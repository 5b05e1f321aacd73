//! A stateful SP-API on 127.0.0.1, for tests, the demo and benchmarks, faithful to what the
//! protocol notes (section 10) and Amazon's models say: Login with Amazon tokens that expire,
//! a token bucket per operation (429 `QuotaExceeded`, `x-amzn-RateLimit-Limit` on every
//! answer), v2026 orders with their lifecycle (`PENDING` -> `UNSHIPPED` after a delay,
//! payment failures, buyer cancellation requests), `searchOrders`' rules (one time filter,
//! its `...Before` two minutes in the past, pagination tokens bound to their filters),
//! listings that lose the units Amazon sells, feeds with their document upload and
//! processing reports (listings and order acknowledgements), and templated messages.
//!
//! Longer than 400 lines across its files, as a sandbox may be.

mod server;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rust_decimal::Decimal;
use secrecy::SecretString;
use tokio::task::JoinHandle;

use state::State;
pub use state::{SandboxFeed, SandboxItem, SandboxOrder};

/// How the sandbox account is set up.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub seller_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    pub marketplace_id: String,
    /// How long an access token lives (Amazon: an hour).
    pub token_ttl: Duration,
    /// Multiplies every usage plan's rate (Amazon's own plans at 1.0).
    pub rate_scale: f64,
    /// How long a new order stays `PENDING` before it is `UNSHIPPED`.
    pub pending_for: Duration,
    /// `getFeed` calls answering `IN_PROGRESS` before a feed is processed.
    pub feed_polls_before_done: u32,
    /// Every change is stamped this far in the past: an Amazon whose changes show in
    /// `searchOrders` at once, so tests need not wait out its two-minute lag. Zero is Amazon.
    pub stamp_behind: Duration,
    /// The `CarrierCode`s `confirmShipment` takes besides `Other`.
    pub carriers: Vec<String>,
    pub seed: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            seller_id: "A2SANDBOXSELLER".into(),
            client_id: "amzn1.application-oa2-client.sandbox".into(),
            client_secret: "sandbox-client-secret".into(),
            refresh_token: "Atzr|sandbox-refresh-token".into(),
            marketplace_id: crate::FRANCE.into(),
            token_ttl: Duration::from_secs(3600),
            rate_scale: 1.0,
            pending_for: Duration::from_secs(30 * 60),
            feed_polls_before_done: 1,
            stamp_behind: Duration::ZERO,
            carriers: crate::ship::FRENCH_CARRIERS.map(String::from).to_vec(),
            seed: 7,
        }
    }
}

/// Faults, all off by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Every SP-API request answers 429 `QuotaExceeded`, as in a storm.
    pub throttle_all: bool,
    /// Every access token issued so far is expired (403 `Unauthorized`).
    pub expire_tokens: bool,
    /// Every feed ends `FATAL`.
    pub fatal_feeds: bool,
    /// `searchOrders` shows no order, as when Amazon shows them late.
    pub hide_orders: bool,
}

/// An order to place.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSpec {
    pub items: Vec<(String, u32, Decimal)>,
    pub country: String,
    /// Orders Amazon fulfils: visible, never the seller's to ship or count.
    pub fulfilled_by_amazon: bool,
}

impl Default for OrderSpec {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderSpec {
    pub fn new() -> Self {
        Self {
            items: Vec::new(),
            country: "FR".into(),
            fulfilled_by_amazon: false,
        }
    }

    pub fn item(mut self, sku: impl Into<String>, quantity: u32, unit_price: Decimal) -> Self {
        self.items.push((sku.into(), quantity, unit_price));
        self
    }

    pub fn country(mut self, alpha2: impl Into<String>) -> Self {
        self.country = alpha2.into();
        self
    }

    pub fn by_amazon(mut self) -> Self {
        self.fulfilled_by_amazon = true;
        self
    }
}

pub(crate) type Shared = Arc<Mutex<State>>;

/// A running sandbox; the server stops when it is dropped.
pub struct AmazonSandbox {
    addr: SocketAddr,
    options: SandboxOptions,
    state: Shared,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for AmazonSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmazonSandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl AmazonSandbox {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start(options: SandboxOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let base = format!("http://{addr}");
        let state: Shared = Arc::new(Mutex::new(State::new(options.clone(), base)));
        let app = server::router(state.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "Amazon sandbox stopped");
            }
        });
        Ok(Self {
            addr,
            options,
            state,
            server,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// `http://127.0.0.1:PORT/`: both the SP-API endpoint and, under `/auth/o2/token`, LWA.
    pub fn base_url(&self) -> url::Url {
        format!("http://{}/", self.addr)
            .parse()
            .expect("a socket address makes a URL")
    }

    pub fn token_url(&self) -> url::Url {
        self.base_url()
            .join("auth/o2/token")
            .expect("a relative path joins")
    }

    pub fn options(&self) -> &SandboxOptions {
        &self.options
    }

    /// Client settings pointing at this sandbox, at its usage plans.
    pub fn client_settings(&self) -> crate::AmazonSettings {
        let o = &self.options;
        let mut settings = crate::AmazonSettings::new(
            o.seller_id.clone(),
            o.client_id.clone(),
            SecretString::from(o.client_secret.clone()),
            SecretString::from(o.refresh_token.clone()),
        );
        settings.base_url = self.base_url();
        settings.token_url = self.token_url();
        settings.marketplace_id = o.marketplace_id.clone();
        settings.limits.scale = o.rate_scale;
        settings.feed_check_every = Duration::from_millis(100);
        settings
    }

    /// Creates the listing if needed and sets its merchant-fulfilled quantity.
    pub fn set_quantity(&self, sku: &str, quantity: u32) {
        self.state().listings.insert(sku.to_owned(), quantity);
    }

    pub fn quantity(&self, sku: &str) -> Option<u32> {
        self.state().listings.get(sku).copied()
    }

    /// Places an order in `PENDING`, its units taken off the listings as Amazon does.
    pub fn add_order(&self, spec: OrderSpec) -> String {
        self.state().add_order(spec)
    }

    /// Places `count` seeded random orders over `skus`.
    pub fn add_random_orders(&self, count: usize, skus: &[&str]) -> Vec<String> {
        let mut state = self.state();
        (0..count)
            .map(|_| {
                let spec = state.random_spec(skus);
                state.add_order(spec)
            })
            .collect()
    }

    /// Payment failed: Amazon cancels the order itself.
    pub fn fail_payment(&self, order_id: &str) -> Result<(), String> {
        self.state().cancel_by_amazon(order_id)
    }

    /// The buyer asks to cancel one item.
    /// The payment went through: the order is `UNSHIPPED`, ready to ship.
    pub fn mark_paid(&self, order_id: &str) {
        let mut state = self.state();
        let stamp = state.stamp();
        if let Some(order) = state
            .orders
            .iter_mut()
            .find(|o| o.id == order_id && o.status == "PENDING")
        {
            order.status = "UNSHIPPED".into();
            order.updated = stamp;
        }
    }

    pub fn request_cancellation(&self, order_id: &str, item_id: &str) -> Result<(), String> {
        self.state().request_cancellation(order_id, item_id)
    }

    pub fn order(&self, order_id: &str) -> Option<SandboxOrder> {
        let mut state = self.state();
        state.advance();
        state.orders.iter().find(|o| o.id == order_id).cloned()
    }

    pub fn orders(&self) -> Vec<SandboxOrder> {
        let mut state = self.state();
        state.advance();
        state.orders.clone()
    }

    pub fn feeds(&self) -> Vec<SandboxFeed> {
        self.state().feeds.clone()
    }

    /// How many order-acknowledgement feeds named each order, whatever became of them: a
    /// refusal sent twice shows as 2.
    pub fn acknowledgements_per_order(&self) -> BTreeMap<String, usize> {
        let mut per_order = BTreeMap::new();
        for feed in &self.state().feeds {
            if let Some(order) = state::acknowledged_order(feed) {
                *per_order.entry(order.to_owned()).or_default() += 1;
            }
        }
        per_order
    }

    /// Every `unexpectedProblem` message: (order id, text).
    pub fn messages(&self) -> Vec<(String, String)> {
        self.state().messages.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    /// Requests per operation (`searchOrders`, `patchListingsItem`, `createFeed`, `token`...),
    /// throttled and refused ones included.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.state()
            .counters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }

    pub fn request_count(&self, operation: &str) -> u64 {
        self.state().counters.get(operation).copied().unwrap_or(0)
    }
}

impl Drop for AmazonSandbox {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The state stays usable after a panicking test thread poisoned the lock.
pub(crate) fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}
