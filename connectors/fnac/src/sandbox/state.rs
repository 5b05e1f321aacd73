//! The sandbox's shop: offers, orders, batches, sessions, and Fnac's rules about them. Longer
//! than 400 lines, as a sandbox may be: each rule stays next to the state it guards.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use jiff::SignedDuration;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use vigie_connector::{Decimal, Timestamp};

use super::{Faults, OrderSpec, SandboxOptions};

/// Orders per `orders_update` and offers per `offers_update`, as Fnac documents.
pub use crate::update::MAX_ORDERS_PER_UPDATE;

/// `carriers_query`: the carriers the sandbox's shop may name, code and name.
pub const CARRIERS: &[(&str, &str)] = &[
    ("CHRONOPOST", "Chronopost"),
    ("COLISPRIVE", "Colis Privé"),
    ("DHL", "DHL"),
    ("GLS", "GLS"),
    ("LAPOSTE", "La Poste"),
    ("SOCOLISSIMO", "Colissimo"),
    ("UPS", "UPS"),
];

/// One `Shipped` line of a `confirm_to_send`.
#[derive(Debug, Clone)]
pub(crate) struct ShippedLine {
    pub id: String,
    pub action: String,
    pub tracking_number: String,
    pub company: String,
}
pub const MAX_OFFERS_PER_UPDATE: usize = 10_000;

/// An order as the sandbox holds it, for inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderView {
    pub id: String,
    /// Fnac's order state (`Created`, `Accepted`, `Refused`, `ToShip`, `Shipped`...).
    pub state: String,
    pub created_at: Timestamp,
    pub lines: Vec<LineView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineView {
    /// `order_detail_id`.
    pub id: String,
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Decimal,
    /// Fnac's line state (`ToAccept`, `Accepted`, `Refused`, `ToShip`, `Shipped`...).
    pub state: String,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
}

/// One `offers_update` call as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedOffersUpdate {
    pub batch_id: String,
    pub offers: Vec<RecordedOffer>,
    /// Wall-clock times, for the bench (which runs in real time): with tokio's clock paused,
    /// `applied_at` (the wall clock less the batch's lateness on tokio's clock) can come out
    /// before `received_at`.
    pub received_at: Timestamp,
    /// When its quantities took effect; `None` while queued or running.
    pub applied_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedOffer {
    pub sku: String,
    pub quantity: Option<u32>,
}

/// One `<message>` of a `messages_update` that the sandbox accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedMessage {
    pub order_id: String,
    pub action: String,
    pub to: String,
    pub subject: String,
    pub description: String,
    pub message_type: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Offer {
    pub quantity: u32,
    pub price: Decimal,
    pub offer_fnac_id: String,
    pub product_fnac_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub id: String,
    pub client_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub country: String,
    pub created_at: Timestamp,
    /// What `UpdatedAt` filters on.
    pub updated_at: Timestamp,
    pub lines: Vec<Line>,
    /// Rendered with an unreadable `created_at`, to exercise quarantine.
    pub malformed: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub id: u32,
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Decimal,
    pub state: &'static str,
    pub offer_fnac_id: String,
    pub product_fnac_id: String,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
}

#[derive(Debug)]
struct Batch {
    offers: Vec<RecordedOffer>,
    /// When the batches before it are done and it starts running.
    starts: Instant,
    /// When it is applied.
    done: Instant,
    /// Where it is in `offers_updates`.
    record: usize,
    /// Set once applied.
    result: Option<Vec<OfferResult>>,
}

/// A per-item outcome: `status` and an optional `(severity, code, message)`.
pub(crate) type Fault = (&'static str, &'static str, String);

#[derive(Debug, Clone)]
pub(crate) struct OfferResult {
    pub sku: String,
    pub offer_fnac_id: Option<String>,
    pub product_fnac_id: Option<String>,
    pub status: &'static str,
    pub error: Option<Fault>,
}

pub(crate) enum BatchProgress {
    Unknown,
    Pending(&'static str),
    Done(Vec<OfferResult>),
}

#[derive(Debug)]
pub(crate) struct LineResult {
    pub id: String,
    pub status: &'static str,
    pub state: Option<&'static str>,
    pub error: Option<Fault>,
}

#[derive(Debug)]
pub(crate) struct OrderResult {
    pub order_id: String,
    pub status: &'static str,
    pub state: Option<&'static str>,
    pub error: Option<Fault>,
    pub lines: Vec<LineResult>,
}

/// A claim on one line of an order (`incidents_query`).
#[derive(Debug, Clone)]
pub(crate) struct Incident {
    pub id: String,
    pub order_id: String,
    pub line_id: u32,
    /// `incident_open_state`: 1 article not received, 3 defective item...
    pub kind: &'static str,
    pub message: String,
    pub opened: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub(crate) struct State {
    rng: StdRng,
    pub incidents: Vec<Incident>,
    partner_id: String,
    shop_id: String,
    key: String,
    token_ttl: Duration,
    batch_run_time: Duration,
    tokens: HashMap<String, Instant>,
    offers: BTreeMap<String, Offer>,
    pub orders: Vec<Order>,
    batches: HashMap<String, Batch>,
    /// Batches not applied yet, in the order received.
    queued: VecDeque<String>,
    pub offers_updates: Vec<RecordedOffersUpdate>,
    pub messages: Vec<RecordedMessage>,
    counters: HashMap<String, u64>,
    pub faults: Faults,
}

impl State {
    pub fn new(options: &SandboxOptions) -> Self {
        let mut rng = StdRng::seed_from_u64(options.seed);
        let partner_id = uuid(&mut rng);
        let shop_id = uuid(&mut rng);
        let key = uuid(&mut rng);
        Self {
            rng,
            incidents: Vec::new(),
            partner_id,
            shop_id,
            key,
            token_ttl: options.token_ttl,
            batch_run_time: options.batch_run_time,
            tokens: HashMap::new(),
            offers: BTreeMap::new(),
            orders: Vec::new(),
            batches: HashMap::new(),
            queued: VecDeque::new(),
            offers_updates: Vec::new(),
            messages: Vec::new(),
            counters: HashMap::new(),
            faults: Faults::default(),
        }
    }

    pub fn credentials(&self) -> (String, String, String) {
        (
            self.partner_id.clone(),
            self.shop_id.clone(),
            self.key.clone(),
        )
    }

    pub fn shop_id(&self) -> &str {
        &self.shop_id
    }

    // ------------------------------------------------------------ requests and faults

    pub fn count(&mut self, service: &str) {
        *self.counters.entry(service.to_owned()).or_default() += 1;
    }

    pub fn requests(&self, service: &str) -> u64 {
        self.counters.get(service).copied().unwrap_or(0)
    }

    /// Whether this request draws an injected HTTP 500.
    pub fn draw_error(&mut self) -> bool {
        self.faults.error_rate > 0.0 && self.rng.random::<f64>() < self.faults.error_rate
    }

    /// How a call whose messages were taken is answered: as is (`None`), 500 (`Some(None)`)
    /// or late (`Some(Some(stall))`).
    pub fn draw_applied_then_fail(&mut self) -> Option<Option<Duration>> {
        let rate = self.faults.message_applied_then_fail_rate;
        (rate > 0.0 && self.rng.random::<f64>() < rate)
            .then_some(self.faults.message_applied_then_stall)
    }

    // ------------------------------------------------------------ sessions

    pub fn authenticate(
        &mut self,
        partner_id: &str,
        shop_id: &str,
        key: &str,
    ) -> Option<(String, Timestamp)> {
        if self.faults.fail_auth
            || partner_id != self.partner_id
            || shop_id != self.shop_id
            || key != self.key
        {
            return None;
        }
        let token = uuid(&mut self.rng);
        self.tokens
            .insert(token.clone(), Instant::now() + self.token_ttl);
        let validity = Timestamp::now()
            .checked_add(jiff::SignedDuration::try_from(self.token_ttl).unwrap_or_default())
            .unwrap_or(Timestamp::MAX);
        Some((token, validity))
    }

    pub fn session_valid(&self, partner_id: &str, shop_id: &str, token: &str) -> bool {
        partner_id == self.partner_id
            && shop_id == self.shop_id
            && self
                .tokens
                .get(token)
                .is_some_and(|until| Instant::now() < *until)
    }

    pub fn expire_tokens(&mut self) {
        self.tokens.clear();
    }

    // ------------------------------------------------------------ offers

    pub fn set_quantity(&mut self, sku: &str, quantity: u32) {
        if let Some(offer) = self.offers.get_mut(sku) {
            offer.quantity = quantity;
            return;
        }
        let offer = Offer {
            quantity,
            price: Decimal::new(1990, 2),
            offer_fnac_id: uuid(&mut self.rng),
            product_fnac_id: self.rng.random_range(1_000_000..9_999_999u32).to_string(),
        };
        self.offers.insert(sku.to_owned(), offer);
    }

    pub fn quantity(&self, sku: &str) -> Option<u32> {
        self.offers.get(sku).map(|o| o.quantity)
    }

    pub fn offers(&self) -> impl Iterator<Item = (&String, &Offer)> {
        self.offers.iter()
    }

    /// Queues a batch behind the shop's others; it runs once they are done.
    pub fn submit_offers(&mut self, offers: Vec<RecordedOffer>) -> String {
        let batch_id = uuid(&mut self.rng);
        self.offers_updates.push(RecordedOffersUpdate {
            batch_id: batch_id.clone(),
            offers: offers.clone(),
            received_at: Timestamp::now(),
            applied_at: None,
        });
        let now = Instant::now();
        let starts = self
            .queued
            .back()
            .and_then(|id| self.batches.get(id))
            .map_or(now, |last| last.done.max(now));
        self.batches.insert(
            batch_id.clone(),
            Batch {
                offers,
                starts,
                done: starts + self.batch_run_time,
                record: self.offers_updates.len() - 1,
                result: None,
            },
        );
        self.queued.push_back(batch_id.clone());
        batch_id
    }

    /// ACTIVE while queued, RUNNING while it runs, then its per-offer results.
    pub fn poll_batch(&self, batch_id: &str) -> BatchProgress {
        let Some(batch) = self.batches.get(batch_id) else {
            return BatchProgress::Unknown;
        };
        match &batch.result {
            Some(result) => BatchProgress::Done(result.clone()),
            None if Instant::now() < batch.starts => BatchProgress::Pending("ACTIVE"),
            None => BatchProgress::Pending("RUNNING"),
        }
    }

    /// Applies, in the order received, the batches done by `now` (none while stalled).
    pub fn apply_due_batches(&mut self, now: Instant) {
        while !self.faults.stalled_batches {
            let Some(batch) = self.queued.front().and_then(|id| self.batches.get(id)) else {
                return;
            };
            if batch.done > now {
                return;
            }
            let (offers, record) = (batch.offers.clone(), batch.record);
            // Its own time, not the moment someone looked.
            let late = SignedDuration::try_from(now - batch.done).unwrap_or_default();
            let results = offers.into_iter().map(|o| self.apply_offer(o)).collect();
            if let Some(batch) = self
                .queued
                .pop_front()
                .and_then(|id| self.batches.get_mut(&id))
            {
                batch.result = Some(results);
            }
            if let Some(recorded) = self.offers_updates.get_mut(record) {
                let now = Timestamp::now();
                recorded.applied_at = Some(now.checked_sub(late).unwrap_or(now));
            }
        }
    }

    fn apply_offer(&mut self, offer: RecordedOffer) -> OfferResult {
        match self.offers.get_mut(&offer.sku) {
            Some(existing) => {
                if let Some(quantity) = offer.quantity {
                    existing.quantity = quantity;
                }
                OfferResult {
                    offer_fnac_id: Some(existing.offer_fnac_id.clone()),
                    product_fnac_id: Some(existing.product_fnac_id.clone()),
                    sku: offer.sku,
                    status: "OK",
                    error: None,
                }
            }
            // A stock update cannot create an offer: there is no product to attach it to.
            None => OfferResult {
                sku: offer.sku,
                offer_fnac_id: None,
                product_fnac_id: None,
                status: "ERROR",
                error: Some(("ERROR", "ERR_026", "Product not found".into())),
            },
        }
    }

    // ------------------------------------------------------------ orders

    pub fn add_order(&mut self, spec: OrderSpec) -> String {
        let id = order_id(&mut self.rng);
        let client_id = uuid(&mut self.rng);
        let mut lines = Vec::with_capacity(spec.lines.len());
        for (index, line) in spec.lines.into_iter().enumerate() {
            if self.quantity(&line.sku).is_none() {
                self.set_quantity(&line.sku, 0);
            }
            let offer = self.offers.get_mut(&line.sku).expect("just created");
            // Fnac takes sold units off the offer when the order is placed.
            offer.quantity = offer.quantity.saturating_sub(line.quantity);
            lines.push(Line {
                id: u32::try_from(index + 1).unwrap_or(u32::MAX),
                sku: line.sku,
                quantity: line.quantity,
                unit_price: line.unit_price,
                state: "ToAccept",
                offer_fnac_id: offer.offer_fnac_id.clone(),
                product_fnac_id: offer.product_fnac_id.clone(),
                tracking_number: None,
                carrier: None,
            });
        }
        self.orders.push(Order {
            id: id.clone(),
            client_id,
            first_name: spec.first_name,
            last_name: spec.last_name,
            email: spec.email,
            country: spec.shipping_country,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
            lines,
            malformed: false,
        });
        id
    }

    pub fn make_malformed(&mut self, order_id: &str) {
        if let Some(order) = self.order_mut(order_id) {
            order.malformed = true;
        }
    }

    fn order_mut(&mut self, order_id: &str) -> Option<&mut Order> {
        self.orders.iter_mut().find(|o| o.id == order_id)
    }

    pub fn order(&self, order_id: &str) -> Option<&Order> {
        self.orders.iter().find(|o| o.id == order_id)
    }

    pub fn view(&self, order_id: &str) -> Option<OrderView> {
        self.order(order_id).map(view)
    }

    pub fn views(&self) -> Vec<OrderView> {
        self.orders.iter().map(view).collect()
    }

    /// `accept_order`: the order must be `Created` and each named line `ToAccept`.
    pub fn accept_order(&mut self, order_id: &str, details: &[(String, String)]) -> OrderResult {
        let mut result = OrderResult {
            order_id: order_id.to_owned(),
            status: "OK",
            state: None,
            error: None,
            lines: Vec::new(),
        };
        let Some(index) = self.orders.iter().position(|o| o.id == order_id) else {
            result.status = "FATAL";
            result.error = Some(("FATAL", "ERR_004", "Order not found".into()));
            return result;
        };
        if self.orders[index].state() != "Created" {
            result.status = "FATAL";
            result.state = Some(self.orders[index].state());
            result.error = Some((
                "FATAL",
                "ERR_003",
                "Order status is not valid for action accept_order".into(),
            ));
            return result;
        }
        let mut released = Vec::new();
        for (line_id, action) in details {
            let order = &mut self.orders[index];
            let line = order
                .lines
                .iter_mut()
                .find(|l| l.id.to_string() == *line_id);
            let outcome = match (line, action.as_str()) {
                (None, _) => LineResult {
                    id: line_id.clone(),
                    status: "ERROR",
                    state: None,
                    error: Some(("ERROR", "ERR_005", "Order detail not found".into())),
                },
                (Some(line), _) if line.state != "ToAccept" => LineResult {
                    id: line_id.clone(),
                    status: "ERROR",
                    state: Some(line.state),
                    error: Some((
                        "ERROR",
                        "ERR_003",
                        "Order status is not valid for action accept_order".into(),
                    )),
                },
                (Some(line), "Accepted" | "Refused") => {
                    line.state = if action == "Accepted" {
                        "Accepted"
                    } else {
                        "Refused"
                    };
                    if line.state == "Refused" {
                        released.push((line.sku.clone(), line.quantity));
                    }
                    LineResult {
                        id: line_id.clone(),
                        status: "OK",
                        state: Some(line.state),
                        error: None,
                    }
                }
                (Some(line), _) => LineResult {
                    id: line_id.clone(),
                    status: "ERROR",
                    state: Some(line.state),
                    error: Some((
                        "ERROR",
                        "ERR_006",
                        format!("Action {action} is not valid for accept_order"),
                    )),
                },
            };
            if outcome.status != "OK" {
                result.status = "ERROR";
            }
            result.lines.push(outcome);
        }
        // Refused units go back on sale.
        for (sku, quantity) in released {
            if let Some(offer) = self.offers.get_mut(&sku) {
                offer.quantity = offer.quantity.saturating_add(quantity);
            }
        }
        self.orders[index].updated_at = Timestamp::now();
        result.state = Some(self.orders[index].state());
        result
    }

    /// `confirm_to_send`: each named line must be `ToShip` (Fnac debited the customer) and
    /// carry a tracking number and a carrier code `carriers_query` lists.
    pub fn confirm_to_send(&mut self, order_id: &str, details: &[ShippedLine]) -> OrderResult {
        let mut result = OrderResult {
            order_id: order_id.to_owned(),
            status: "OK",
            state: None,
            error: None,
            lines: Vec::new(),
        };
        let Some(order) = self.orders.iter_mut().find(|o| o.id == order_id) else {
            result.status = "FATAL";
            result.error = Some(("FATAL", "ERR_004", "Order not found".into()));
            return result;
        };
        for detail in details {
            let line = order
                .lines
                .iter_mut()
                .find(|l| l.id.to_string() == detail.id);
            let refusal = match &line {
                None => Some(("ERR_005", "Order detail not found".to_owned())),
                Some(line) if line.state != "ToShip" => Some((
                    "ERR_003",
                    "Order status is not valid for action confirm_to_send".to_owned(),
                )),
                Some(_) if detail.action != "Shipped" => Some((
                    "ERR_006",
                    format!("Action {} is not valid for confirm_to_send", detail.action),
                )),
                Some(_) if !CARRIERS.iter().any(|(code, _)| *code == detail.company) => Some((
                    "ERR_008",
                    format!("Unknown tracking company {}", detail.company),
                )),
                Some(_) => None,
            };
            let outcome = match (line, refusal) {
                (Some(line), None) => {
                    line.state = "Shipped";
                    line.tracking_number = Some(detail.tracking_number.clone());
                    line.carrier = Some(detail.company.clone());
                    LineResult {
                        id: detail.id.clone(),
                        status: "OK",
                        state: Some(line.state),
                        error: None,
                    }
                }
                (line, refusal) => {
                    let (code, message) = refusal.unwrap_or(("ERR_002", String::new()));
                    result.status = "ERROR";
                    LineResult {
                        id: detail.id.clone(),
                        status: "ERROR",
                        state: line.map(|l| l.state),
                        error: Some(("ERROR", code, message)),
                    }
                }
            };
            result.lines.push(outcome);
        }
        order.updated_at = Timestamp::now();
        result.state = Some(order.state());
        result
    }

    /// `refund_order`: each named line `Refunded` with a reason from the XSD's list, while
    /// accepted, to ship or shipped.
    pub fn refund_order(
        &mut self,
        order_id: &str,
        details: &[(String, String, String)],
    ) -> OrderResult {
        let mut result = OrderResult {
            order_id: order_id.to_owned(),
            status: "OK",
            state: None,
            error: None,
            lines: Vec::new(),
        };
        let Some(order) = self.orders.iter_mut().find(|o| o.id == order_id) else {
            result.status = "FATAL";
            result.error = Some(("FATAL", "ERR_004", "Order not found".into()));
            return result;
        };
        for (id, action, reason) in details {
            let line = order.lines.iter_mut().find(|l| l.id.to_string() == *id);
            let refusal = match &line {
                None => Some(("ERR_005", "Order detail not found".to_owned())),
                Some(l) if !["Accepted", "ToShip", "Shipped"].contains(&l.state) => Some((
                    "ERR_003",
                    "Order status is not valid for action refund_order".to_owned(),
                )),
                Some(_) if action != "Refunded" => Some((
                    "ERR_006",
                    format!("Action {action} is not valid for refund_order"),
                )),
                Some(_) if !crate::REFUND_REASONS.contains(&reason.as_str()) => Some((
                    "ERR_096",
                    format!("XML Validation failed: refund_reason {reason}"),
                )),
                Some(_) => None,
            };
            let outcome = match (line, refusal) {
                (Some(line), None) => {
                    line.state = "Refunded";
                    LineResult {
                        id: id.clone(),
                        status: "OK",
                        state: Some(line.state),
                        error: None,
                    }
                }
                (line, refusal) => {
                    let (code, message) = refusal.unwrap_or(("ERR_002", String::new()));
                    result.status = "ERROR";
                    LineResult {
                        id: id.clone(),
                        status: "ERROR",
                        state: line.map(|l| l.state),
                        error: Some(("ERROR", code, message)),
                    }
                }
            };
            result.lines.push(outcome);
        }
        order.updated_at = Timestamp::now();
        result.state = Some(order.state());
        result
    }

    pub fn accept_elsewhere(&mut self, order_id: &str) -> bool {
        self.move_lines(order_id, &["ToAccept"], "Accepted", None)
    }

    pub fn backdate(&mut self, order_id: &str, age: Duration) -> bool {
        let Some(order) = self.order_mut(order_id) else {
            return false;
        };
        order.created_at -= age;
        order.updated_at -= age;
        true
    }

    pub fn debit(&mut self, order_id: &str) -> bool {
        self.move_lines(order_id, &["Accepted"], "ToShip", None)
    }

    pub fn ship(&mut self, order_id: &str, tracking: &str, carrier: &str) -> bool {
        self.move_lines(
            order_id,
            &["Accepted", "ToShip"],
            "Shipped",
            Some((tracking, carrier)),
        )
    }

    pub fn cancel(&mut self, order_id: &str) -> bool {
        self.move_lines(
            order_id,
            &["ToAccept", "Accepted", "ToShip"],
            "Cancelled",
            None,
        )
    }

    /// Fnac refunds the lines not refused nor cancelled, shipped or not (a shipped line
    /// keeps its tracking number).
    pub fn refund(&mut self, order_id: &str) -> bool {
        self.move_lines(
            order_id,
            &["Accepted", "ToShip", "Shipped", "NotReceived", "Received"],
            "Refunded",
            None,
        )
    }

    /// The customer opens a claim of `kind` on the order's first line.
    pub fn open_incident(&mut self, order_id: &str, kind: &'static str, message: &str) -> bool {
        let Some(line_id) = self
            .order(order_id)
            .and_then(|o| o.lines.first())
            .map(|l| l.id)
        else {
            return false;
        };
        let id = uuid(&mut self.rng);
        let now = Timestamp::now();
        self.incidents.push(Incident {
            id,
            order_id: order_id.to_owned(),
            line_id,
            kind,
            message: message.to_owned(),
            opened: true,
            created_at: now,
            updated_at: now,
        });
        true
    }

    /// Customer service closes the order's open claims.
    pub fn close_incidents(&mut self, order_id: &str) -> bool {
        let mut closed = false;
        for incident in self
            .incidents
            .iter_mut()
            .filter(|i| i.order_id == order_id && i.opened)
        {
            incident.opened = false;
            incident.updated_at = Timestamp::now();
            closed = true;
        }
        closed
    }

    fn move_lines(
        &mut self,
        order_id: &str,
        from: &[&str],
        to: &'static str,
        tracking: Option<(&str, &str)>,
    ) -> bool {
        let Some(order) = self.order_mut(order_id) else {
            return false;
        };
        let mut moved = false;
        for line in order.lines.iter_mut().filter(|l| from.contains(&l.state)) {
            line.state = to;
            if let Some((number, carrier)) = tracking {
                line.tracking_number = Some(number.to_owned());
                line.carrier = Some(carrier.to_owned());
            }
            moved = true;
        }
        if moved {
            order.updated_at = Timestamp::now();
        }
        moved
    }

    pub fn record_message(&mut self, message: RecordedMessage) {
        self.messages.push(message);
    }
}

impl Order {
    /// The order takes the earliest stage among its live lines (`state.xsd`).
    pub fn state(&self) -> &'static str {
        const STAGES: [(&str, &str); 6] = [
            ("ToAccept", "Created"),
            ("Accepted", "Accepted"),
            ("ToShip", "ToShip"),
            ("Shipped", "Shipped"),
            ("NotReceived", "NotReceived"),
            ("Received", "Received"),
        ];
        for (line_state, order_state) in STAGES {
            if self.lines.iter().any(|l| l.state == line_state) {
                return order_state;
            }
        }
        if self.lines.iter().all(|l| l.state == "Refused") {
            "Refused"
        } else if self.lines.iter().any(|l| l.state == "Refunded") {
            "Refunded"
        } else {
            "Cancelled"
        }
    }
}

fn view(order: &Order) -> OrderView {
    OrderView {
        id: order.id.clone(),
        state: order.state().to_owned(),
        created_at: order.created_at,
        lines: order
            .lines
            .iter()
            .map(|l| LineView {
                id: l.id.to_string(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                state: l.state.to_owned(),
                tracking_number: l.tracking_number.clone(),
                carrier: l.carrier.clone(),
            })
            .collect(),
    }
}

fn uuid(rng: &mut StdRng) -> String {
    let bits: u128 = rng.random();
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// 13 upper-case hexadecimal characters, like `57F645053CDFC`.
fn order_id(rng: &mut StdRng) -> String {
    let bits: u64 = rng.random();
    format!("{:013X}", bits & 0x000F_FFFF_FFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop(batch_run_time: Duration) -> State {
        let mut state = State::new(&SandboxOptions {
            batch_run_time,
            ..SandboxOptions::default()
        });
        state.set_quantity("A", 1);
        state
    }

    fn batch(state: &mut State, quantity: u32) -> String {
        state.submit_offers(vec![RecordedOffer {
            sku: "A".into(),
            quantity: Some(quantity),
        }])
    }

    /// Each batch's status, as `batch_status` would answer it now.
    fn statuses(state: &mut State, ids: &[&str]) -> Vec<&'static str> {
        state.apply_due_batches(Instant::now());
        ids.iter()
            .map(|id| match state.poll_batch(id) {
                BatchProgress::Pending(status) => status,
                BatchProgress::Done(_) => "OK",
                BatchProgress::Unknown => "unknown",
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_shops_batches_are_applied_one_after_the_other_in_their_own_time() {
        let mut state = shop(Duration::from_secs(10));
        let first = batch(&mut state, 5);
        tokio::time::advance(Duration::from_secs(4)).await;
        let second = batch(&mut state, 3);
        let both = [first.as_str(), second.as_str()];

        // Asked about as often as one likes, a batch is applied only when its time comes.
        for _ in 0..5 {
            assert_eq!(statuses(&mut state, &both), ["RUNNING", "ACTIVE"]);
        }
        assert_eq!(state.quantity("A"), Some(1));

        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(statuses(&mut state, &both), ["OK", "RUNNING"]);
        assert_eq!(state.quantity("A"), Some(5));
        let applied: Vec<bool> = state
            .offers_updates
            .iter()
            .map(|u| u.applied_at.is_some())
            .collect();
        assert_eq!(applied, [true, false]);

        // The second runs from the first's end, not from its receipt.
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(statuses(&mut state, &both), ["OK", "RUNNING"]);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(statuses(&mut state, &both), ["OK", "OK"]);
        assert_eq!(state.quantity("A"), Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_queue_applies_nothing_until_it_moves_again() {
        let mut state = shop(Duration::ZERO);
        state.faults.stalled_batches = true;
        let id = batch(&mut state, 5);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(statuses(&mut state, &[&id]), ["RUNNING"]);
        assert_eq!(state.quantity("A"), Some(1));

        state.faults.stalled_batches = false;
        assert_eq!(statuses(&mut state, &[&id]), ["OK"]);
        assert_eq!(state.quantity("A"), Some(5));
    }
}
