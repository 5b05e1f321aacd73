//! A stateful Fnac server on 127.0.0.1 for tests, the demo and benchmarks, with Fnac's rules:
//! session tokens that expire, `Created`/`ToAccept` preconditions answered with ERR_003,
//! paging, offer batches applied one after the other in their own time (ACTIVE → RUNNING →
//! OK) that report unknown SKUs (ERR_026) offer by offer. Fault knobs (HTTP 500 rate, latency, forced auth failure,
//! token expiry, a malformed order) and per-service request counters. Seeded: the same seed
//! gives the same ids.
//!
//! Its responses follow the XSDs, with strings in CDATA and empty dates as Fnac sends them.

mod render;
mod requests;
mod server;
mod state;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::oneshot;
use url::Url;
use vigie_connector::{Decimal, HttpSettings};

use crate::FnacSettings;
use state::State;
pub use state::{LineView, OrderView, RecordedMessage, RecordedOffer, RecordedOffersUpdate};

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Seeds ids, credentials and fault draws.
    pub seed: u64,
    /// How long an `auth` token stays valid (on tokio's clock).
    pub token_ttl: Duration,
    /// How long Fnac takes to apply one `offers_update` batch (on tokio's clock). A shop's
    /// batches run one after the other, as Fnac queues a shop's imports: each is ACTIVE while
    /// the ones before it run, RUNNING for this long, then OK, however often it is asked about.
    pub batch_run_time: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            token_ttl: Duration::from_secs(3600),
            // A small batch is applied within seconds (protocols/fnac.md, section 3.2).
            batch_run_time: Duration::from_secs(10),
        }
    }
}

/// Faults the server injects into every answer; all off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Share of requests (0.0..=1.0) answered HTTP 500 before being processed.
    pub error_rate: f64,
    /// Added before every answer.
    pub latency: Duration,
    /// `auth` refuses the credentials.
    pub fail_auth: bool,
    /// Share (0.0..=1.0) of `messages_update` calls whose messages are taken (the customer
    /// gets them) and then answered HTTP 500 anyway: sent again, they arrive twice.
    pub message_applied_then_fail_rate: f64,
    /// Those drawn calls are answered after this long instead of 500 (past a client's
    /// timeout: tokio time, so paused tests advance it).
    pub message_applied_then_stall: Option<Duration>,
    /// The shop's import queue is stuck: no `offers_update` batch is applied, each stays
    /// ACTIVE or RUNNING until this is lifted (for tests that need a batch still running
    /// whatever the clock does meanwhile).
    pub stalled_batches: bool,
}

/// An order to place, as a customer would.
#[derive(Debug, Clone)]
pub struct OrderSpec {
    pub lines: Vec<LineSpec>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    /// ISO alpha-3, as Fnac writes it (`FRA`, `BEL`).
    pub shipping_country: String,
}

impl OrderSpec {
    /// A French customer buying these lines.
    pub fn new(lines: Vec<LineSpec>) -> Self {
        Self {
            lines,
            first_name: "Camille".into(),
            last_name: "Durand".into(),
            email: None,
            shipping_country: "FRA".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LineSpec {
    pub sku: String,
    pub quantity: u32,
    /// Unit price in euros.
    pub unit_price: Decimal,
}

impl LineSpec {
    pub fn new(sku: &str, quantity: u32, unit_price: Decimal) -> Self {
        Self {
            sku: sku.into(),
            quantity,
            unit_price,
        }
    }
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
}

impl Shared {
    /// The shop as it stands now: the batches whose time came are applied first, so
    /// whatever looks at it (a request, a test) sees them in their place among the orders.
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicked handler leaves consistent data behind: every change is one assignment.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.apply_due_batches(tokio::time::Instant::now());
        state
    }
}

/// A running sandbox; dropping it stops the server.
pub struct FnacSandbox {
    base_url: Url,
    shared: Arc<Shared>,
    partner_id: String,
    shop_id: String,
    key: String,
    _shutdown: oneshot::Sender<()>,
}

impl std::fmt::Debug for FnacSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnacSandbox")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl FnacSandbox {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    pub async fn start(options: SandboxOptions) -> std::io::Result<Self> {
        let state = State::new(&options);
        let (partner_id, shop_id, key) = state.credentials();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel();
        let app = server::router(shared.clone());
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("Fnac sandbox stopped: {e}");
            }
        });
        let base_url = format!("http://{addr}/api.php")
            .parse()
            .expect("a valid URL");
        Ok(Self {
            base_url,
            shared,
            partner_id,
            shop_id,
            key,
            _shutdown: shutdown,
        })
    }

    /// `http://127.0.0.1:PORT/api.php`; services live under it.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    pub fn partner_id(&self) -> &str {
        &self.partner_id
    }

    pub fn shop_id(&self) -> &str {
        &self.shop_id
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Client settings for this sandbox, every other value at its default.
    pub fn settings(&self) -> FnacSettings {
        let mut settings = FnacSettings::new(
            self.base_url(),
            &self.partner_id,
            &self.shop_id,
            SecretString::from(self.key.clone()),
        );
        settings.http = HttpSettings::default();
        settings
    }

    /// Creates or updates the offer for `sku`.
    pub fn set_quantity(&self, sku: &str, quantity: u32) {
        self.shared.state().set_quantity(sku, quantity);
    }

    pub fn quantity(&self, sku: &str) -> Option<u32> {
        self.shared.state().quantity(sku)
    }

    /// Places an order (state `Created`, lines `ToAccept`) and takes its units off the
    /// offers; returns its 13-character id.
    pub fn add_order(&self, spec: OrderSpec) -> String {
        self.shared.state().add_order(spec)
    }

    /// Places an order whose XML the client cannot read (its `created_at` is not a date).
    pub fn add_malformed_order(&self, spec: OrderSpec) -> String {
        let mut state = self.shared.state();
        let id = state.add_order(spec);
        state.make_malformed(&id);
        id
    }

    pub fn order(&self, order_id: &str) -> Option<OrderView> {
        self.shared.state().view(order_id)
    }

    pub fn orders(&self) -> Vec<OrderView> {
        self.shared.state().views()
    }

    /// The seller accepts every waiting line elsewhere (Fnac's back office): `ToAccept`
    /// lines become `Accepted`.
    pub fn accept_elsewhere(&self, order_id: &str) -> bool {
        self.shared.state().accept_elsewhere(order_id)
    }

    /// Moves an order's creation and last change `age` into the past, as for an order placed
    /// long before vigie first watched the shop.
    pub fn backdate(&self, order_id: &str, age: Duration) -> bool {
        self.shared.state().backdate(order_id, age)
    }

    /// Fnac debits the customer: `Accepted` lines become `ToShip`.
    pub fn debit(&self, order_id: &str) -> bool {
        self.shared.state().debit(order_id)
    }

    /// The seller ships: accepted lines become `Shipped` with this tracking.
    pub fn ship(&self, order_id: &str, tracking_number: &str, carrier: &str) -> bool {
        self.shared.state().ship(order_id, tracking_number, carrier)
    }

    /// The customer or Fnac cancels lines still waiting or accepted.
    pub fn cancel(&self, order_id: &str) -> bool {
        self.shared.state().cancel(order_id)
    }

    /// Fnac refunds the order's live lines, before or after shipping: they become `Refunded`.
    pub fn refund(&self, order_id: &str) -> bool {
        self.shared.state().refund(order_id)
    }

    /// The customer opens a claim (`incident_open_state` `kind`, e.g. "1": not received).
    pub fn open_incident(&self, order_id: &str, kind: &'static str, message: &str) -> bool {
        self.shared.state().open_incident(order_id, kind, message)
    }

    /// Customer service closes the order's open claims.
    pub fn close_incidents(&self, order_id: &str) -> bool {
        self.shared.state().close_incidents(order_id)
    }

    pub fn offers_updates(&self) -> Vec<RecordedOffersUpdate> {
        self.shared.state().offers_updates.clone()
    }

    pub fn messages(&self) -> Vec<RecordedMessage> {
        self.shared.state().messages.clone()
    }

    /// Requests received for `service` (e.g. `auth`, `orders_query`), faults included.
    pub fn requests(&self, service: &str) -> u64 {
        self.shared.state().requests(service)
    }

    pub fn set_faults(&self, faults: Faults) {
        self.shared.state().faults = faults;
    }

    /// Every issued token stops working now, as after their validity.
    pub fn expire_tokens(&self) {
        self.shared.state().expire_tokens();
    }
}
