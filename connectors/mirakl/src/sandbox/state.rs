//! The sandbox's shop: offers, orders, stock imports and threads, and the rules Mirakl applies
//! to them. Pure data and rules; HTTP lives in `routes`. Longer than 400 lines, as a sandbox
//! may be: each rule stays next to the state it guards.

use std::collections::{BTreeMap, HashSet};

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{
    Faults, LEADTIME_TO_SHIP_DAYS, OrderSpec, SandboxLine, SandboxOptions, SandboxOrder,
    SentMessage, StockImport, StockImportLine, Tracking,
};

/// A refusal in Mirakl's terms: HTTP status, symbolic code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: Option<&'static str>,
    pub message: String,
}

impl Refusal {
    pub fn new(status: u16, code: Option<&'static str>, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

pub struct State {
    pub options: SandboxOptions,
    pub faults: Faults,
    pub rng: fastrand::Rng,
    pub offers: BTreeMap<String, u32>,
    pub orders: Vec<SandboxOrder>,
    pub imports: Vec<StockImport>,
    pub messages: Vec<SentMessage>,
    pub counters: BTreeMap<&'static str, u64>,
    /// Gated requests so far, for "429 every N".
    pub requests: u64,
    next_order: u64,
}

/// SH21: the carriers the sandbox's operator registered: code, label, tracking link.
pub const CARRIERS: &[(&str, &str, &str)] = &[
    (
        "CHRONOPOST",
        "Chronopost",
        "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={trackingId}",
    ),
    (
        "COLISSIMO",
        "Colissimo",
        "https://www.laposte.fr/outils/suivre-vos-envois?code={trackingId}",
    ),
    (
        "DHL",
        "DHL",
        "https://www.dhl.com/fr-fr/home/tracking.html?tracking-id={trackingId}",
    ),
    (
        "UPS",
        "UPS",
        "https://www.ups.com/track?tracknum={trackingId}",
    ),
];

/// RE01 `CANCELATION` reasons the sandbox's operator defines.
pub const CANCEL_REASONS: &[&str] = &["NO_STOCK", "CUSTOMER_REQUEST", "OTHER"];

const DATE: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// Amounts go out as JSON numbers, as Mirakl writes them.
fn num(amount: Decimal) -> Value {
    serde_json::from_str(&amount.normalize().to_string()).unwrap_or(Value::Null)
}

fn date(ts: Timestamp) -> String {
    ts.strftime(DATE).to_string()
}

impl State {
    pub fn new(options: SandboxOptions) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(options.seed),
            options,
            faults: Faults::default(),
            offers: BTreeMap::new(),
            orders: Vec::new(),
            imports: Vec::new(),
            messages: Vec::new(),
            counters: BTreeMap::new(),
            requests: 0,
            next_order: 1,
        }
    }

    pub fn order_mut(&mut self, id: &str) -> Option<&mut SandboxOrder> {
        self.orders.iter_mut().find(|o| o.id == id)
    }

    /// A new order waiting for acceptance. Mirakl takes the ordered units off the offer at once.
    pub fn add_order(&mut self, spec: OrderSpec) -> String {
        let n = self.next_order;
        self.next_order += 1;
        let id = format!("SBX{n:06}-A");
        let now = Timestamp::now();
        let lines = spec
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let reserved = match self.offers.get_mut(&l.sku) {
                    Some(qty) => {
                        let taken = (*qty).min(l.quantity);
                        *qty -= taken;
                        taken
                    }
                    None => 0,
                };
                SandboxLine {
                    reserved,
                    id: format!("{id}-{}", i + 1),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    state: "WAITING_ACCEPTANCE".into(),
                    reason_code: None,
                    taken_back: Vec::new(),
                    shipped_at: None,
                    before_incident: None,
                }
            })
            .collect();
        self.orders.push(SandboxOrder {
            id: id.clone(),
            commercial_id: format!("SBX{n:06}"),
            state: "WAITING_ACCEPTANCE".into(),
            created_at: now,
            updated_at: now,
            decided_at: None,
            accepted_at: None,
            shipping_deadline: None,
            first_name: spec.first_name,
            last_name: spec.last_name,
            shipping_country: spec.shipping_country,
            hide_address_until_accepted: spec.hide_address_until_accepted,
            lines,
            tracking: None,
            malformed: false,
        });
        id
    }

    /// A plausible order drawn from `skus` with the seeded generator.
    pub fn random_spec(&mut self, skus: &[String]) -> OrderSpec {
        const COUNTRIES: [&str; 4] = ["FRA", "FRA", "BEL", "DEU"];
        let mut spec = OrderSpec::new().country(COUNTRIES[self.rng.usize(..COUNTRIES.len())]);
        let count = if skus.len() > 1 && self.rng.u8(..4) == 0 {
            2
        } else {
            1
        };
        let mut picked = HashSet::new();
        for _ in 0..count {
            let sku = &skus[self.rng.usize(..skus.len())];
            if picked.insert(sku.clone()) {
                let cents = self.rng.i64(500..10_000);
                spec = spec.line(sku.clone(), self.rng.u32(1..=3), Decimal::new(cents, 2));
            }
        }
        spec
    }

    /// OR21: a decision for every line, in WAITING_ACCEPTANCE only.
    pub fn decide(&mut self, order_id: &str, body: &[u8]) -> Result<(), Refusal> {
        let partial_allowed = self.options.partial_acceptance;
        let decisions = parse_decisions(body)?;
        let Some(order) = self.order_mut(order_id) else {
            return Err(Refusal::new(
                404,
                Some("ORDER_NOT_FOUND"),
                format!("The order {order_id} does not exist"),
            ));
        };
        if order.state != "WAITING_ACCEPTANCE" {
            return Err(Refusal::new(
                400,
                Some("ORDER_INVALID_STATE"),
                format!(
                    "Order {order_id} is not in the expected state for this operation (state {})",
                    order.state
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (id, _) in &decisions {
            if !seen.insert(id.as_str()) {
                return Err(Refusal::new(
                    400,
                    Some("ORDER_LINE_DUPLICATE_ID"),
                    format!("The order lines list contains duplicate order line IDs: {id}"),
                ));
            }
            if !order.lines.iter().any(|l| &l.id == id) {
                return Err(Refusal::new(
                    400,
                    Some("ORDER_LINE_NOT_FOUND"),
                    format!("The order line {id} is not associated with the order"),
                ));
            }
        }
        if order.lines.iter().any(|l| !seen.contains(l.id.as_str())) {
            return Err(Refusal::new(
                400,
                Some("ORDER_LINE_ACCEPTANCE_DECISION_MISSING"),
                "Some order lines are missing from the acceptance decision",
            ));
        }
        let accepted = decisions.iter().filter(|(_, a)| *a).count();
        if !partial_allowed && accepted > 0 && accepted < decisions.len() {
            return Err(Refusal::new(
                400,
                Some("ORDER_PARTIAL_ACCEPTANCE_DISABLED"),
                "Partial acceptance is disabled for this shop",
            ));
        }
        let now = Timestamp::now();
        let mut restored = Vec::new();
        for line in &mut order.lines {
            let accept = decisions.iter().any(|(id, a)| *id == line.id && *a);
            if accept {
                line.state = "SHIPPING".into();
            } else {
                line.state = "REFUSED".into();
                restored.push((line.sku.clone(), line.reserved));
            }
        }
        order.state = if accepted > 0 { "SHIPPING" } else { "REFUSED" }.into();
        order.decided_at = Some(now);
        order.updated_at = now;
        if accepted > 0 {
            order.accepted_at = Some(now);
            // Mirakl sets it at acceptance: the lead time after it.
            order.shipping_deadline = now
                .checked_add(SignedDuration::from_hours(24 * LEADTIME_TO_SHIP_DAYS))
                .ok();
        }
        // Refused units go back on the offer.
        for (sku, quantity) in restored {
            if let Some(qty) = self.offers.get_mut(&sku) {
                *qty = qty.saturating_add(quantity);
            }
        }
        Ok(())
    }

    /// OR23 + OR24 as one step: SHIPPING lines become SHIPPED with tracking.
    pub fn ship(&mut self, order_id: &str, tracking: Tracking) -> Result<(), Refusal> {
        self.set_tracking(order_id, tracking)?;
        self.validate_shipment(order_id)
    }

    /// OR23: the order's tracking (one per order), while it is SHIPPING. A registered
    /// carrier's link is computed from SH21's template.
    pub fn set_tracking(&mut self, order_id: &str, mut tracking: Tracking) -> Result<(), Refusal> {
        if let Some(code) = &tracking.carrier_code {
            let Some((_, label, url)) = CARRIERS.iter().find(|(c, _, _)| c == code) else {
                return Err(Refusal::new(
                    400,
                    Some("CARRIER_NOT_FOUND"),
                    format!("The carrier {code} does not exist"),
                ));
            };
            tracking.carrier_name = Some((*label).to_owned());
            tracking.tracking_url = Some(url.replace("{trackingId}", &tracking.tracking_number));
        } else if tracking.carrier_name.is_none() {
            return Err(Refusal::new(
                400,
                Some("VALIDATION_ERROR"),
                "carrier_code or carrier_name is required",
            ));
        }
        let order = self.shipping_order(order_id)?;
        order.tracking = Some(tracking);
        order.updated_at = Timestamp::now();
        Ok(())
    }

    /// OR24: validates the shipment of a SHIPPING order; its SHIPPING lines become SHIPPED.
    pub fn validate_shipment(&mut self, order_id: &str) -> Result<(), Refusal> {
        let order = self.shipping_order(order_id)?;
        for line in &mut order.lines {
            if line.state == "SHIPPING" {
                line.state = "SHIPPED".into();
                line.shipped_at = Some(Timestamp::now());
            }
        }
        order.state = "SHIPPED".into();
        order.updated_at = Timestamp::now();
        Ok(())
    }

    /// OR29: cancels a whole SHIPPING order (`can_cancel`).
    pub fn cancel_order(&mut self, order_id: &str) -> Result<(), Refusal> {
        let order = self.shipping_order(order_id)?;
        for line in &mut order.lines {
            if line.state == "SHIPPING" {
                line.state = "CANCELED".into();
            }
        }
        order.state = "CANCELED".into();
        order.updated_at = Timestamp::now();
        Ok(())
    }

    /// OR30: cancels units of SHIPPING lines, each with a reason code, listed in the line's
    /// `cancelations[]`; a line whose every unit is cancelled becomes CANCELED, and the order
    /// too once no line is left.
    pub fn cancel_lines(&mut self, lines: &[(String, u32, String)]) -> Result<Value, Refusal> {
        let mut ids = Vec::new();
        for (line_id, quantity, reason) in lines {
            if !CANCEL_REASONS.contains(&reason.as_str()) {
                return Err(Refusal::new(
                    400,
                    Some("REASON_NOT_FOUND"),
                    format!("The reason {reason} does not exist"),
                ));
            }
            let order = self
                .orders
                .iter_mut()
                .find(|o| o.lines.iter().any(|l| &l.id == line_id))
                .ok_or_else(|| {
                    Refusal::new(
                        400,
                        Some("ORDER_LINE_NOT_FOUND"),
                        format!("The order line {line_id} does not exist"),
                    )
                })?;
            let line = order
                .lines
                .iter_mut()
                .find(|l| &l.id == line_id)
                .filter(|l| {
                    l.state == "SHIPPING" && *quantity > 0 && *quantity <= l.quantity - l.taken()
                })
                .ok_or_else(|| {
                    Refusal::new(
                        400,
                        Some("ORDER_INVALID_STATE"),
                        format!(
                            "The order line {line_id} cannot be cancelled for {quantity} units"
                        ),
                    )
                })?;
            // Listed in the line's `cancelations[]`; `quantity` stays what was ordered.
            line.take_back(false, *quantity, reason);
            if line.taken() == line.quantity {
                line.state = "CANCELED".into();
            }
            if order
                .lines
                .iter()
                .all(|l| l.state == "CANCELED" || l.state == "REFUSED")
            {
                order.state = "CANCELED".into();
            }
            order.updated_at = Timestamp::now();
            ids.push(json!({"cancelation_id": format!("CX-{line_id}"), "order_line_id": line_id}));
        }
        Ok(json!({ "cancelations": ids }))
    }

    fn shipping_order(&mut self, order_id: &str) -> Result<&mut SandboxOrder, Refusal> {
        let order = self.order_mut(order_id).ok_or_else(|| {
            Refusal::new(
                404,
                Some("ORDER_NOT_FOUND"),
                format!("The order {order_id} does not exist"),
            )
        })?;
        if order.state != "SHIPPING" {
            return Err(Refusal::new(
                400,
                Some("ORDER_INVALID_STATE"),
                format!(
                    "Order {order_id} is not in the expected state for this operation (state {})",
                    order.state
                ),
            ));
        }
        Ok(order)
    }

    /// STO01: reads the CSV, records every line, applies the valid ones (now or after polls).
    pub fn import_stock(&mut self, csv: &str) -> Result<String, Refusal> {
        let mut rows = csv
            .trim_start_matches('\u{feff}')
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = rows
            .next()
            .ok_or_else(|| Refusal::new(400, None, "The import file is empty"))?;
        let header = crate::wire::split_record(header);
        let column = |name: &str| header.iter().position(|h| h.trim() == name);
        let (Some(sku_col), Some(qty_col)) = (column("offer-sku"), column("quantity")) else {
            return Err(Refusal::new(
                400,
                None,
                "The import file must have the columns offer-sku and quantity",
            ));
        };
        let mode_col = column("update-delete");
        let mut lines = Vec::new();
        for (index, row) in rows {
            let fields = crate::wire::split_record(row);
            let sku = fields
                .get(sku_col)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            let raw_qty = fields.get(qty_col).map(|s| s.trim()).unwrap_or_default();
            let delete = mode_col
                .and_then(|c| fields.get(c))
                .is_some_and(|m| m.trim() == "delete");
            let quantity = if delete {
                Some(0)
            } else {
                raw_qty.parse::<u32>().ok()
            };
            let error = if sku.is_empty() {
                Some("The offer-sku is missing".to_owned())
            } else if quantity.is_none() {
                Some(format!("The quantity {raw_qty:?} is invalid"))
            } else if !self.offers.contains_key(&sku) && !self.options.create_unknown_offers {
                Some(format!("The offer with sku {sku} does not exist"))
            } else {
                None
            };
            lines.push(StockImportLine {
                line_number: index as u64 + 1,
                sku,
                quantity: quantity.unwrap_or(0),
                raw: fields,
                error,
            });
        }
        let id = format!("sto-{:04}", self.imports.len() + 1);
        let mut import = StockImport {
            id: id.clone(),
            status: "WAITING".into(),
            created_at: Timestamp::now(),
            lines,
            polls: 0,
        };
        if self.options.import_polls_before_complete == 0 {
            self.complete(&mut import);
        }
        self.imports.push(import);
        Ok(id)
    }

    fn complete(&mut self, import: &mut StockImport) {
        for line in import.lines.iter().filter(|l| l.error.is_none()) {
            self.offers.insert(line.sku.clone(), line.quantity);
        }
        import.status = "COMPLETE".into();
    }

    /// STO02: an import runs for the configured number of polls, then completes.
    pub fn import_status(&mut self, id: &str) -> Option<Value> {
        let index = self.imports.iter().position(|i| i.id == id)?;
        let mut import = self.imports[index].clone();
        import.polls += 1;
        if import.status != "COMPLETE" {
            if import.polls > self.options.import_polls_before_complete {
                self.complete(&mut import);
            } else {
                import.status = "RUNNING".into();
            }
        }
        let errors = import.lines.iter().filter(|l| l.error.is_some()).count();
        let body = json!({
            "import_id": import.id,
            "shop_id": self.options.shop_id,
            "status": import.status,
            "date_created": date(import.created_at),
            "has_error_report": import.status == "COMPLETE" && errors > 0,
            "lines_in_success": if import.status == "COMPLETE" { import.lines.len() - errors } else { 0 },
            "lines_in_error": if import.status == "COMPLETE" { errors } else { 0 },
        });
        self.imports[index] = import;
        Some(body)
    }

    /// STO03: line number, reason, then the submitted columns.
    pub fn error_report(&self, id: &str) -> Option<String> {
        let import = self
            .imports
            .iter()
            .find(|i| i.id == id && i.status == "COMPLETE")?;
        let errors: Vec<_> = import.lines.iter().filter(|l| l.error.is_some()).collect();
        if errors.is_empty() {
            return None;
        }
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut csv = String::from(
            "\"line-number\";\"error-message\";\"offer-sku\";\"quantity\";\"warehouse-code\";\"update-delete\"\n",
        );
        for line in errors {
            let mut fields = vec![
                quote(&line.line_number.to_string()),
                quote(line.error.as_deref().unwrap_or_default()),
            ];
            fields.extend(line.raw.iter().map(|f| quote(f)));
            csv.push_str(&fields.join(";"));
            csv.push('\n');
        }
        Some(csv)
    }

    /// OR43: validates the `thread_input` JSON and records the message in a new thread.
    pub fn post_thread(&mut self, order_id: &str, input: &str) -> Result<Value, Refusal> {
        let (input, body) = message_input("thread_input", input)?;
        let to: Vec<String> = input
            .get("to")
            .and_then(Value::as_array)
            .map(|to| {
                to.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if to.is_empty() || to.iter().any(|t| !is_participant(t)) {
            return Err(Refusal::new(400, None, "thread_input.to is invalid"));
        }
        let topic = input.get("topic");
        let topic_type = topic.and_then(|t| t.get("type")).and_then(Value::as_str);
        let topic_value = topic.and_then(|t| t.get("value")).and_then(Value::as_str);
        let (Some(topic_type @ ("FREE_TEXT" | "REASON_CODE")), Some(topic_value)) =
            (topic_type, topic_value)
        else {
            return Err(Refusal::new(400, None, "thread_input.topic is invalid"));
        };
        if !self.orders.iter().any(|o| o.id == order_id) {
            return Err(Refusal::new(
                404,
                Some("ORDER_NOT_FOUND"),
                format!("The order {order_id} does not exist"),
            ));
        }
        let thread_id = self.uuid();
        let message_id = self.uuid();
        self.messages.push(SentMessage {
            order_id: order_id.to_owned(),
            thread_id: thread_id.clone(),
            to,
            topic_type: topic_type.to_owned(),
            topic_value: topic_value.to_owned(),
            body,
            at: Timestamp::now(),
        });
        Ok(json!({"thread_id": thread_id, "message_id": message_id}))
    }

    /// M12: validates the `message_input` JSON and records the reply in its thread, under
    /// the new topic it gives, or the thread's.
    pub fn reply(&mut self, thread_id: &str, input: &str) -> Result<Value, Refusal> {
        let (input, body) = message_input("message_input", input)?;
        let to: Vec<String> = input
            .get("to")
            .and_then(Value::as_array)
            .map(|to| {
                to.iter()
                    .filter_map(|t| t.get("type").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if to.is_empty() || to.iter().any(|t| !is_participant(t)) {
            return Err(Refusal::new(400, None, "message_input.to is invalid"));
        }
        let thread = self
            .messages
            .iter()
            .find(|m| m.thread_id == thread_id)
            .cloned()
            .ok_or_else(|| {
                Refusal::new(404, None, format!("The thread {thread_id} does not exist"))
            })?;
        let topic = match input.get("topic") {
            None => (thread.topic_type.clone(), thread.topic_value.clone()),
            Some(topic) => match (
                topic.get("type").and_then(Value::as_str),
                topic.get("value").and_then(Value::as_str),
            ) {
                (Some(kind @ ("FREE_TEXT" | "REASON_CODE")), Some(value)) => {
                    (kind.to_owned(), value.to_owned())
                }
                _ => return Err(Refusal::new(400, None, "message_input.topic is invalid")),
            },
        };
        let message_id = self.uuid();
        self.messages.push(SentMessage {
            to,
            body,
            topic_type: topic.0,
            topic_value: topic.1,
            at: Timestamp::now(),
            ..thread
        });
        Ok(json!({"thread_id": thread_id, "message_id": message_id}))
    }

    fn uuid(&mut self) -> String {
        let a = self.rng.u64(..);
        let b = self.rng.u64(..);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }

    /// OR11's rendering of one order, in the documented shape.
    pub fn render_order(&self, order: &SandboxOrder) -> Value {
        let currency = &self.options.currency;
        let price: Decimal = order.lines.iter().map(SandboxLine::price).sum();
        let waiting = matches!(order.state.as_str(), "WAITING_ACCEPTANCE" | "STAGING");
        let address = if waiting && order.hide_address_until_accepted {
            Value::Null
        } else {
            json!({
                "firstname": order.first_name, "lastname": order.last_name,
                "street_1": "1 rue de la Paix", "street_2": null, "zip_code": "75002",
                "city": "Paris", "country": order.shipping_country,
                "country_iso_code": order.shipping_country, "phone": null,
            })
        };
        let lines: Vec<Value> = order
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                json!({
                    "order_line_id": l.id,
                    "order_line_index": i + 1,
                    "order_line_state": l.state,
                    "order_line_state_reason_code": l.reason_code,
                    "offer_id": 1000 + i,
                    "offer_sku": l.sku,
                    "offer_state_code": "11",
                    "product_sku": format!("PRD-{}", l.sku),
                    "product_title": format!("Product {}", l.sku),
                    "quantity": l.quantity,
                    "price_unit": num(l.unit_price),
                    "price": num(l.price()),
                    "shipping_price": 0,
                    "total_price": num(l.price()),
                    "taxes": [],
                    "shipping_taxes": [],
                    "cancelations": l.taken_back.iter().filter(|t| !t.refund).map(|t| json!({
                        "id": t.id, "quantity": t.quantity, "reason_code": t.reason_code,
                        "amount": num(l.unit_price * Decimal::from(t.quantity)),
                        "shipping_amount": 0, "created_date": date(t.at),
                        "commission_amount": 0, "commission_taxes": [],
                        "commission_total_amount": 0,
                    })).collect::<Vec<_>>(),
                    "refunds": l.taken_back.iter().filter(|t| t.refund).map(|t| json!({
                        "id": t.id, "order_refund_id": t.id, "quantity": t.quantity,
                        "reason_code": t.reason_code,
                        "amount": num(l.unit_price * Decimal::from(t.quantity)),
                        "shipping_amount": 0, "created_date": date(t.at),
                        "refund_state": "REFUNDED", "state": "REFUNDED",
                        "commission_amount": 0, "commission_tax_amount": 0,
                        "commission_taxes": [], "commission_total_amount": 0,
                    })).collect::<Vec<_>>(),
                    "shipped_date": l.shipped_at.map(date),
                    "can_refund": false,
                    "commission_fee": 0,
                    "total_commission": 0,
                    "category_code": "sandbox",
                    "category_label": "Sandbox",
                    "description": null,
                    "product_medias": [],
                    "order_line_additional_fields": [],
                    "created_date": date(order.created_at),
                    "last_updated_date": date(order.updated_at),
                })
            })
            .collect();
        let tracking = order.tracking.as_ref();
        let mut value = json!({
            "order_id": order.id,
            "commercial_id": order.commercial_id,
            "order_state": order.state,
            "order_state_reason_code": null,
            "created_date": date(order.created_at),
            "last_updated_date": date(order.updated_at),
            "acceptance_decision_date": order.decided_at.map(date),
            "currency_iso_code": currency,
            "order_tax_mode": "TAX_INCLUDED",
            "payment_workflow": "PAY_ON_DELIVERY",
            "price": num(price),
            "shipping_price": 0,
            "total_price": num(price),
            "total_commission": 0,
            "can_cancel": order.state == "SHIPPING",
            "can_shop_ship": order.state == "SHIPPING",
            "has_customer_message": false,
            "has_incident": order.lines.iter().any(|l| l.state == "INCIDENT_OPEN"),
            "has_invoice": false,
            "fully_refunded": false,
            "leadtime_to_ship": LEADTIME_TO_SHIP_DAYS,
            "shipping_deadline": order.shipping_deadline.map(date),
            "paymentType": "CB",
            "fulfillment": {"center": {"code": "DEFAULT"}},
            "shipping_type_code": "STD",
            "shipping_type_label": "Standard",
            "shipping_zone_code": "EU",
            "shipping_zone_label": "Europe",
            "customer_notification_email": format!("notify+{}@sandbox.invalid", order.commercial_id.to_lowercase()),
            "customer": {
                "customer_id": format!("CUST-{}", order.commercial_id),
                "firstname": order.first_name,
                "lastname": order.last_name,
                "locale": "fr_FR",
                "billing_address": address,
                "shipping_address": address,
            },
            "shipping_carrier_code": tracking.and_then(|t| t.carrier_code.clone()),
            "shipping_company": tracking.and_then(|t| t.carrier_name.clone()),
            "shipping_tracking": tracking.map(|t| t.tracking_number.clone()),
            "shipping_tracking_url": tracking.and_then(|t| t.tracking_url.clone()),
            "order_lines": lines,
        });
        if order.malformed {
            // What a broken upstream might send: a date nobody can read.
            value["created_date"] = json!("not-a-date");
        }
        value
    }
}

/// OR21's body: `{"order_lines": [{"id": "...", "accepted": bool}, ...]}`.
fn parse_decisions(body: &[u8]) -> Result<Vec<(String, bool)>, Refusal> {
    let invalid = |m: &str| Refusal::new(400, Some("VALIDATION_ERROR"), m.to_owned());
    let value: Value =
        serde_json::from_slice(body).map_err(|_| invalid("The body is not valid JSON"))?;
    let lines = value
        .get("order_lines")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("order_lines is required"))?;
    lines
        .iter()
        .map(|line| {
            if line.is_null() {
                return Err(Refusal::new(
                    400,
                    Some("ORDER_LINE_NULL_ELEMENT"),
                    "The order lines list contains a null element",
                ));
            }
            let id = line.get("id").and_then(Value::as_str);
            let accepted = line.get("accepted").and_then(Value::as_bool);
            match (id, accepted) {
                (Some(id), Some(accepted)) => Ok((id.to_owned(), accepted)),
                _ => Err(invalid("each order line needs an id and accepted")),
            }
        })
        .collect()
}

impl SandboxLine {
    pub fn price(&self) -> Decimal {
        self.unit_price * Decimal::from(self.quantity)
    }
}

/// Every sandbox order matching OR11's filters, in creation order.
pub fn matches(order: &SandboxOrder, filters: &Or11Filters) -> bool {
    if let Some(ids) = &filters.order_ids
        && !ids.contains(&order.id)
    {
        return false;
    }
    if let Some(states) = &filters.states
        && !states.contains(&order.state)
    {
        return false;
    }
    let within = |ts: Timestamp, from: Option<Timestamp>, to: Option<Timestamp>| {
        from.is_none_or(|f| ts >= f) && to.is_none_or(|t| ts <= t)
    };
    within(order.updated_at, filters.start_update, filters.end_update)
        && within(order.created_at, filters.start_created, filters.end_created)
}

#[derive(Debug, Default)]
pub struct Or11Filters {
    pub order_ids: Option<HashSet<String>>,
    pub states: Option<HashSet<String>>,
    pub start_update: Option<Timestamp>,
    pub end_update: Option<Timestamp>,
    pub start_created: Option<Timestamp>,
    pub end_created: Option<Timestamp>,
}

/// A message part (`thread_input`, `message_input`) as JSON, and its body once checked.
fn message_input(part: &str, input: &str) -> Result<(Value, String), Refusal> {
    let input: Value = serde_json::from_str(input)
        .map_err(|e| Refusal::new(400, None, format!("{part} is not JSON: {e}")))?;
    let body = input
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::new(400, None, format!("{part}.body is required")))?
        .to_owned();
    if !(3..=50_000).contains(&body.chars().count()) {
        return Err(Refusal::new(
            400,
            None,
            format!("{part}.body must have 3 to 50000 characters"),
        ));
    }
    Ok((input, body))
}

fn is_participant(kind: &str) -> bool {
    ["CUSTOMER", "OPERATOR", "SHOP"].contains(&kind)
}
