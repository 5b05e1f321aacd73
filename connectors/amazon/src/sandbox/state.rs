//! What the sandbox account holds, and Amazon's rules applied to it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Faults, OrderSpec, SandboxOptions};
use crate::limits::{self, Rate};

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxOrder {
    pub id: String,
    /// `PENDING`, `UNSHIPPED`, `PARTIALLY_SHIPPED`, `SHIPPED` or `CANCELLED`.
    pub status: String,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub country: String,
    pub fulfilled_by_amazon: bool,
    pub items: Vec<SandboxItem>,
    /// Who cancelled it (`MERCHANT`, `AMAZON`), with the reason.
    pub cancelled: Option<(String, String)>,
    /// Packages confirmed: (package reference, carrier code, carrier name, tracking number).
    pub packages: Vec<(String, String, Option<String>, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxItem {
    pub id: String,
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Decimal,
    pub buyer_cancel_requested: bool,
    pub cancelled: bool,
    /// Units confirmed shipped.
    pub shipped: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxFeed {
    pub id: String,
    pub feed_type: String,
    pub document_id: String,
    /// `IN_QUEUE`, `IN_PROGRESS`, `DONE` or `FATAL`.
    pub status: String,
    pub polls: u32,
    /// The uploaded document, as sent.
    pub content: String,
    pub result_document_id: Option<String>,
}

/// One operation's bucket: tokens refill at its rate up to its burst.
struct Bucket {
    rate: Rate,
    tokens: f64,
    at: Instant,
}

pub struct State {
    pub options: SandboxOptions,
    /// `http://127.0.0.1:PORT`, for the presigned URLs it hands out.
    base: String,
    pub faults: Faults,
    pub listings: BTreeMap<String, u32>,
    pub orders: Vec<SandboxOrder>,
    pub feeds: Vec<SandboxFeed>,
    /// Uploaded or generated documents: id -> (content type, content).
    pub documents: HashMap<String, (String, Option<String>)>,
    pub messages: Vec<(String, String)>,
    pub counters: HashMap<&'static str, u64>,
    tokens: HashMap<String, Instant>,
    buckets: HashMap<&'static str, Bucket>,
    next_id: u64,
    rng: u64,
}

/// Why a request is refused: HTTP status, `ErrorList` code, message.
pub struct Refusal(pub u16, pub &'static str, pub String);

pub type Answer = Result<Value, Refusal>;

pub fn invalid(message: impl Into<String>) -> Refusal {
    Refusal(400, "InvalidInput", message.into())
}

impl State {
    pub fn new(options: SandboxOptions, base: String) -> Self {
        let rng = options.seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
        Self {
            options,
            base,
            faults: Faults::default(),
            listings: BTreeMap::new(),
            orders: Vec::new(),
            feeds: Vec::new(),
            documents: HashMap::new(),
            messages: Vec::new(),
            counters: HashMap::new(),
            tokens: HashMap::new(),
            buckets: HashMap::new(),
            next_id: 1,
            rng,
        }
    }

    /// The time stamped on a change made now.
    pub fn stamp(&self) -> Timestamp {
        Timestamp::now() - self.options.stamp_behind
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn draw(&mut self, below: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % below.max(1)
    }

    pub fn random_spec(&mut self, skus: &[&str]) -> OrderSpec {
        let mut spec = OrderSpec::new();
        if skus.is_empty() {
            return spec;
        }
        let sku = skus[self.draw(skus.len() as u64) as usize];
        let quantity = 1 + self.draw(2) as u32;
        let cents = 990 + 100 * self.draw(50) as i64;
        spec.items
            .push((sku.to_owned(), quantity, Decimal::new(cents, 2)));
        spec
    }

    // ------------------------------------------------------------------ auth and plans

    pub fn issue_token(&mut self, form: &HashMap<String, String>) -> Answer {
        let o = self.options.clone();
        let field = |name: &str| form.get(name).map(String::as_str);
        if field("grant_type") != Some("refresh_token") {
            return Err(Refusal(400, "unsupported_grant_type", "grant_type".into()));
        }
        if field("client_id") != Some(&o.client_id)
            || field("client_secret") != Some(&o.client_secret)
        {
            return Err(Refusal(
                401,
                "invalid_client",
                "Client authentication failed".into(),
            ));
        }
        if field("refresh_token") != Some(&o.refresh_token) {
            return Err(Refusal(
                400,
                "invalid_grant",
                "The refresh token is invalid".into(),
            ));
        }
        let token = format!("Atza|sandbox-{}", self.id());
        self.tokens
            .insert(token.clone(), Instant::now() + o.token_ttl);
        self.faults.expire_tokens = false;
        Ok(json!({
            "access_token": token, "token_type": "bearer",
            "expires_in": o.token_ttl.as_secs(),
        }))
    }

    /// The access token is known and alive.
    pub fn authorize(&self, token: Option<&str>) -> Result<(), Refusal> {
        let expired = || {
            Refusal(
                403,
                "Unauthorized",
                "The access token you provided has expired.".into(),
            )
        };
        match token.and_then(|t| self.tokens.get(t)) {
            None => Err(Refusal(
                403,
                "Unauthorized",
                "Access to requested resource is denied.".into(),
            )),
            Some(_) if self.faults.expire_tokens => Err(expired()),
            Some(until) if Instant::now() >= *until => Err(expired()),
            Some(_) => Ok(()),
        }
    }

    /// Takes a token from `operation`'s bucket; `Err` is the plan, for a 429.
    pub fn spend(&mut self, operation: &'static str) -> Result<Rate, Rate> {
        let scale = self.options.rate_scale;
        let rate = plan(operation);
        let rate = Rate {
            per_second: rate.per_second * scale,
            burst: rate.burst,
        };
        let now = Instant::now();
        let bucket = self.buckets.entry(operation).or_insert(Bucket {
            rate,
            tokens: f64::from(rate.burst),
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * bucket.rate.per_second;
        bucket.tokens = (bucket.tokens + refill).min(f64::from(bucket.rate.burst));
        bucket.at = now;
        if self.faults.throttle_all || bucket.tokens < 1.0 {
            return Err(bucket.rate);
        }
        bucket.tokens -= 1.0;
        Ok(bucket.rate)
    }

    // ------------------------------------------------------------------------- orders

    pub fn add_order(&mut self, spec: OrderSpec) -> String {
        let n = self.id();
        let id = format!("407-{:07}-{:07}", n % 10_000_000, (n * 7919) % 10_000_000);
        let stamp = self.stamp();
        let items = spec
            .items
            .into_iter()
            .enumerate()
            .map(|(i, (sku, quantity, unit_price))| {
                if !spec.fulfilled_by_amazon
                    && let Some(listed) = self.listings.get_mut(&sku)
                {
                    // Amazon takes the units off the listing the moment the order is placed.
                    *listed = listed.saturating_sub(quantity);
                }
                SandboxItem {
                    id: format!("{n:08}{i:06}"),
                    sku,
                    quantity,
                    unit_price,
                    buyer_cancel_requested: false,
                    cancelled: false,
                    shipped: 0,
                }
            })
            .collect();
        self.orders.push(SandboxOrder {
            id: id.clone(),
            status: "PENDING".into(),
            created: stamp,
            updated: stamp,
            country: spec.country,
            fulfilled_by_amazon: spec.fulfilled_by_amazon,
            items,
            cancelled: None,
            packages: Vec::new(),
        });
        id
    }

    /// Moves orders along their lifecycle: `PENDING` -> `UNSHIPPED` once paid.
    pub fn advance(&mut self) {
        let pending_for = self.options.pending_for;
        let now = self.stamp();
        for order in &mut self.orders {
            let paid_at = order.created + pending_for;
            if order.status == "PENDING" && now >= paid_at {
                order.status = "UNSHIPPED".into();
                order.updated = paid_at;
            }
        }
    }

    fn order_mut(&mut self, id: &str) -> Result<&mut SandboxOrder, String> {
        self.orders
            .iter_mut()
            .find(|o| o.id == id)
            .ok_or_else(|| format!("no order {id}"))
    }

    pub fn cancel_by_amazon(&mut self, id: &str) -> Result<(), String> {
        let stamp = self.stamp();
        let order = self.order_mut(id)?;
        order.status = "CANCELLED".into();
        order.cancelled = Some(("AMAZON".into(), "PAYMENT_FAILURE".into()));
        order.updated = stamp;
        Ok(())
    }

    pub fn request_cancellation(&mut self, id: &str, item: &str) -> Result<(), String> {
        let stamp = self.stamp();
        let order = self.order_mut(id)?;
        let item = order
            .items
            .iter_mut()
            .find(|i| i.id == item)
            .ok_or_else(|| format!("no item {item}"))?;
        item.buyer_cancel_requested = true;
        order.updated = stamp;
        Ok(())
    }

    /// `searchOrders`, as Amazon checks its parameters.
    pub fn search_orders(&mut self, query: &[(String, String)]) -> Answer {
        self.advance();
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let known = [
            "createdAfter",
            "createdBefore",
            "lastUpdatedAfter",
            "lastUpdatedBefore",
            "fulfillmentStatuses",
            "marketplaceIds",
            "fulfilledBy",
            "maxResultsPerPage",
            "paginationToken",
            "includedData",
        ];
        if let Some((k, _)) = query.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return Err(invalid(format!("unknown parameter {k}")));
        }
        let time = |name: &str| -> Result<Option<Timestamp>, Refusal> {
            get(name)
                .map(|v| {
                    v.parse::<Timestamp>()
                        .map_err(|_| invalid(format!("{name} is not ISO 8601")))
                })
                .transpose()
        };
        let (created_after, updated_after) = (time("createdAfter")?, time("lastUpdatedAfter")?);
        let by_creation = match (created_after, updated_after) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            _ => {
                return Err(invalid(
                    "You must provide exactly one of createdAfter and lastUpdatedAfter",
                ));
            }
        };
        let latest = Timestamp::now() - Duration::from_secs(120);
        let before = if by_creation {
            time("createdBefore")?
        } else {
            time("lastUpdatedBefore")?
        };
        if before.is_some_and(|b| b > latest) {
            return Err(invalid(
                "the ...Before date must be at least two minutes before the request",
            ));
        }
        let before = before.unwrap_or(latest);
        let page_size: usize = match get("maxResultsPerPage") {
            None => 100,
            Some(v) => match v.parse() {
                Ok(n @ 1..=100) => n,
                _ => return Err(invalid("maxResultsPerPage must be between 1 and 100")),
            },
        };
        if get("marketplaceIds")
            .is_some_and(|m| !m.split(',').any(|m| m == self.options.marketplace_id))
        {
            return Ok(json!({ "orders": [] }));
        }
        // A token is bound to every filter but the page size and the datasets.
        let binding: Vec<String> = query
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "maxResultsPerPage" | "includedData" | "paginationToken"
                )
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let binding = binding.join("&");
        let offset = match get("paginationToken") {
            None => 0,
            Some(token) => match token.split_once('|') {
                Some((offset, bound)) if bound == fingerprint(&binding) => offset
                    .parse()
                    .map_err(|_| invalid("invalid paginationToken"))?,
                _ => {
                    return Err(invalid(
                        "the paginationToken does not match the other parameters",
                    ));
                }
            },
        };
        let statuses: Option<Vec<&str>> =
            get("fulfillmentStatuses").map(|s| s.split(',').collect());
        let by: Option<Vec<&str>> = get("fulfilledBy").map(|s| s.split(',').collect());
        let after = created_after.or(updated_after).unwrap_or_default();
        let included: Vec<&str> =
            get("includedData").map_or_else(Vec::new, |s| s.split(',').collect());
        let matching: Vec<&SandboxOrder> = self
            .orders
            .iter()
            .filter(|o| {
                let at = if by_creation { o.created } else { o.updated };
                at >= after && at < before
            })
            .filter(|o| {
                statuses
                    .as_ref()
                    .is_none_or(|s| s.contains(&o.status.as_str()))
            })
            .filter(|o| by.as_ref().is_none_or(|b| b.contains(&fulfiller(o))))
            .filter(|_| !self.faults.hide_orders)
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(page_size)
            .map(|o| order_json(o, &included))
            .collect();
        let mut answer = json!({ "orders": page });
        let key = if by_creation {
            "createdBefore"
        } else {
            "lastUpdatedBefore"
        };
        answer[key] = json!(before.to_string());
        if offset + page_size < matching.len() {
            let token = format!("{}|{}", offset + page_size, fingerprint(&binding));
            answer["pagination"] = json!({ "nextToken": token });
        }
        Ok(answer)
    }

    pub fn get_order(&mut self, id: &str, query: &[(String, String)]) -> Answer {
        self.advance();
        let included: Vec<&str> = query
            .iter()
            .find(|(k, _)| k == "includedData")
            .map_or_else(Vec::new, |(_, v)| v.split(',').collect());
        match self.orders.iter().find(|o| o.id == id) {
            Some(order) => Ok(json!({ "order": order_json(order, &included) })),
            None => Err(Refusal(404, "NotFound", format!("no order {id}"))),
        }
    }

    /// `confirmShipment`, validated as Amazon does (protocol notes, section 10.5).
    pub fn confirm_shipment(&mut self, order_id: &str, body: &Value) -> Result<(), Refusal> {
        self.advance();
        let marketplace = self.options.marketplace_id.clone();
        let carriers = self.options.carriers.clone();
        let stamp = self.stamp();
        let text = |v: &Value, field: &str| -> Result<String, Refusal> {
            v.get(field)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("{field} is required and must be a string")))
        };
        if text(body, "marketplaceId")? != marketplace {
            return Err(invalid("marketplaceId is not the order's"));
        }
        let detail = body
            .get("packageDetail")
            .ok_or_else(|| invalid("packageDetail is required"))?;
        let reference = text(detail, "packageReferenceId")?;
        if !reference.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("packageReferenceId: only positive numeric values"));
        }
        let carrier = text(detail, "carrierCode")?;
        let carrier_name = detail
            .get("carrierName")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if carrier == crate::wire::OTHER_CARRIER {
            if carrier_name.as_deref().is_none_or(str::is_empty) {
                return Err(invalid("carrierName is required when carrierCode is Other"));
            }
        } else if !carriers.contains(&carrier) {
            return Err(invalid(format!(
                "carrierCode {carrier} is not a known carrier"
            )));
        }
        let tracking = text(detail, "trackingNumber")?;
        text(detail, "shipDate")?
            .parse::<Timestamp>()
            .map_err(|_| invalid("shipDate must be ISO 8601"))?;
        let items = detail
            .get("orderItems")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| invalid("orderItems must be a non-empty array"))?;
        let order = self
            .orders
            .iter_mut()
            .find(|o| o.id == order_id)
            .ok_or_else(|| Refusal(404, "NotFound", format!("no order {order_id}")))?;
        if order.packages.iter().any(|p| p.0 == reference) || order.status == "SHIPPED" {
            return Err(invalid(
                "Failed to create package due to not finding a matching package or order already fulfilled",
            ));
        }
        if !matches!(order.status.as_str(), "UNSHIPPED" | "PARTIALLY_SHIPPED") {
            return Err(invalid(format!("order {order_id} is {}", order.status)));
        }
        let mut shipping = Vec::new();
        for item in items {
            let id = text(item, "orderItemId")?;
            let quantity = item
                .get("quantity")
                .and_then(Value::as_u64)
                .filter(|q| *q > 0)
                .ok_or_else(|| invalid("quantity must be a positive integer"))?;
            let Some(at) = order.items.iter().position(|i| i.id == id && !i.cancelled) else {
                return Err(invalid(
                    "OrderItemId is invalid, please obtain the value through the getOrderItems API",
                ));
            };
            let left = order.items[at].quantity - order.items[at].shipped;
            if quantity > u64::from(left) {
                return Err(invalid(format!("item {id}: only {left} left to ship")));
            }
            shipping.push((at, quantity as u32));
        }
        for (at, quantity) in shipping {
            order.items[at].shipped += quantity;
        }
        order
            .packages
            .push((reference, carrier, carrier_name, tracking));
        let all = order
            .items
            .iter()
            .filter(|i| !i.cancelled)
            .all(|i| i.shipped == i.quantity);
        order.status = if all { "SHIPPED" } else { "PARTIALLY_SHIPPED" }.into();
        order.updated = stamp;
        Ok(())
    }

    // ----------------------------------------------------------------------- listings

    pub fn patch_listing(&mut self, seller: &str, sku: &str, body: &Value) -> Answer {
        if seller != self.options.seller_id {
            return Err(Refusal(
                403,
                "Unauthorized",
                "not this seller's listings".into(),
            ));
        }
        let quantity = match availability_quantity(body) {
            Ok(q) => q,
            Err(message) => {
                return Ok(json!({
                    "sku": sku, "status": "INVALID", "submissionId": format!("sub-{}", self.id()),
                    "issues": [{"code": "4000001", "message": message, "severity": "ERROR"}],
                }));
            }
        };
        let Some(listed) = self.listings.get_mut(sku) else {
            return Ok(json!({
                "sku": sku, "status": "INVALID", "submissionId": format!("sub-{}", self.id()),
                "issues": [{"code": "8541", "message": format!("SKU {sku} is not listed"), "severity": "ERROR"}],
            }));
        };
        *listed = quantity;
        Ok(
            json!({ "sku": sku, "status": "ACCEPTED", "submissionId": format!("sub-{}", self.id()), "issues": [] }),
        )
    }

    pub fn search_listings(&self, seller: &str) -> Answer {
        if seller != self.options.seller_id {
            return Err(Refusal(
                403,
                "Unauthorized",
                "not this seller's listings".into(),
            ));
        }
        let items: Vec<Value> = self
            .listings
            .iter()
            .map(|(sku, q)| json!({
                "sku": sku,
                "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": q}],
            }))
            .collect();
        Ok(json!({ "numberOfResults": items.len(), "items": items }))
    }

    // -------------------------------------------------------------------------- feeds

    pub fn create_document(&mut self, body: &Value) -> Answer {
        let Some(content_type) = body.get("contentType").and_then(Value::as_str) else {
            return Err(invalid("contentType is required"));
        };
        let id = format!("amzn1.tortuga.doc.{}", self.id());
        self.documents
            .insert(id.clone(), (content_type.to_owned(), None));
        Ok(json!({ "feedDocumentId": id, "url": format!("{}/uploads/{id}", self.base) }))
    }

    pub fn upload(
        &mut self,
        id: &str,
        content_type: Option<&str>,
        body: String,
    ) -> Result<(), Refusal> {
        let Some((expected, content)) = self.documents.get_mut(id) else {
            return Err(Refusal(403, "AccessDenied", "Request has expired".into()));
        };
        if content_type != Some(expected.as_str()) {
            return Err(Refusal(
                403,
                "SignatureDoesNotMatch",
                "content type differs from the document's".into(),
            ));
        }
        *content = Some(body);
        Ok(())
    }

    pub fn create_feed(&mut self, body: &Value) -> Answer {
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        let (Some(feed_type), Some(document_id)) =
            (field("feedType"), field("inputFeedDocumentId"))
        else {
            return Err(invalid("feedType and inputFeedDocumentId are required"));
        };
        let marketplaces = body.get("marketplaceIds").and_then(Value::as_array);
        if !marketplaces.is_some_and(|m| (1..=25).contains(&m.len())) {
            return Err(invalid("marketplaceIds must hold 1 to 25 ids"));
        }
        let Some((_, Some(content))) = self.documents.get(document_id) else {
            return Err(invalid("inputFeedDocumentId names no uploaded document"));
        };
        let content = content.clone();
        let id = format!("{}", 50_000 + self.id());
        self.feeds.push(SandboxFeed {
            id: id.clone(),
            feed_type: feed_type.to_owned(),
            document_id: document_id.to_owned(),
            status: "IN_QUEUE".into(),
            polls: 0,
            content,
            result_document_id: None,
        });
        Ok(json!({ "feedId": id }))
    }

    pub fn get_feed(&mut self, id: &str) -> Answer {
        let before_done = self.options.feed_polls_before_done;
        let fatal = self.faults.fatal_feeds;
        let Some(index) = self.feeds.iter().position(|f| f.id == id) else {
            return Err(Refusal(404, "NotFound", format!("no feed {id}")));
        };
        let feed = &mut self.feeds[index];
        feed.polls += 1;
        if feed.status == "IN_QUEUE" || feed.status == "IN_PROGRESS" {
            feed.status = if feed.polls <= before_done {
                "IN_PROGRESS".into()
            } else if fatal {
                "FATAL".into()
            } else {
                "DONE".into()
            };
            if feed.status == "DONE" {
                let feed = feed.clone();
                let report = self.process(&feed);
                let doc = format!("amzn1.tortuga.report.{}", self.id());
                self.documents
                    .insert(doc.clone(), ("text/plain".into(), Some(report)));
                self.feeds[index].result_document_id = Some(doc);
            }
        }
        let feed = &self.feeds[index];
        let mut answer = json!({
            "feedId": feed.id, "feedType": feed.feed_type, "processingStatus": feed.status,
            "createdTime": Timestamp::now().to_string(),
        });
        if let Some(doc) = &feed.result_document_id {
            answer["resultFeedDocumentId"] = json!(doc);
        }
        Ok(answer)
    }

    pub fn get_document(&self, id: &str) -> Answer {
        match self.documents.get(id) {
            Some((_, Some(_))) => {
                Ok(json!({ "feedDocumentId": id, "url": format!("{}/downloads/{id}", self.base) }))
            }
            _ => Err(Refusal(404, "NotFound", format!("no document {id}"))),
        }
    }

    pub fn download(&self, id: &str) -> Option<String> {
        self.documents.get(id).and_then(|(_, c)| c.clone())
    }

    /// Applies a processed feed; returns its processing report.
    fn process(&mut self, feed: &SandboxFeed) -> String {
        match feed.feed_type.as_str() {
            crate::feeds::LISTINGS_FEED => self.apply_listings(&feed.content),
            crate::decide::CANCEL_FEED => self.apply_acknowledgement(&feed.content),
            other => xml_report(&[format!("feed type {other} is not supported by the sandbox")]),
        }
    }

    fn apply_listings(&mut self, content: &str) -> String {
        let mut issues = Vec::new();
        let feed: Value = serde_json::from_str(content).unwrap_or(Value::Null);
        let messages = feed
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for message in &messages {
            let id = message.get("messageId").cloned().unwrap_or(Value::Null);
            let sku = message
                .get("sku")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let outcome = match availability_quantity(message) {
                Err(e) => Err(e),
                Ok(q) => match self.listings.get_mut(sku) {
                    Some(listed) => {
                        *listed = q;
                        Ok(())
                    }
                    None => Err(format!("SKU {sku} is not listed")),
                },
            };
            if let Err(message) = outcome {
                issues.push(json!({"messageId": id, "sku": sku, "code": "8541", "severity": "ERROR", "message": message}));
            }
        }
        let invalid = issues.len();
        json!({
            "header": {"sellerId": self.options.seller_id, "version": "2.0", "feedId": "0"},
            "issues": issues,
            "summary": {"errors": invalid, "warnings": 0, "messagesProcessed": messages.len(),
                        "messagesAccepted": messages.len() - invalid, "messagesInvalid": invalid},
        })
        .to_string()
    }

    fn apply_acknowledgement(&mut self, content: &str) -> String {
        let text = |tag: &str| between(content, &format!("<{tag}>"), &format!("</{tag}>"));
        let (Some(order_id), Some(status)) = (text("AmazonOrderID"), text("StatusCode")) else {
            return xml_report(&["AmazonOrderID and StatusCode are required".into()]);
        };
        if status != "Failure" {
            return xml_report(&[]);
        }
        let codes: Vec<String> = content
            .split("<AmazonOrderItemCode>")
            .skip(1)
            .filter_map(|rest| {
                rest.split_once("</AmazonOrderItemCode>")
                    .map(|(c, _)| c.to_owned())
            })
            .collect();
        let reason = text("CancelReason").unwrap_or_default();
        let stamp = self.stamp();
        let Some(order) = self.orders.iter_mut().find(|o| o.id == order_id) else {
            return xml_report(&[format!("order {order_id} not found")]);
        };
        if matches!(order.status.as_str(), "SHIPPED" | "CANCELLED") {
            return xml_report(&[format!("order {order_id} is {}", order.status)]);
        }
        let mut given_back = Vec::new();
        for item in order
            .items
            .iter_mut()
            .filter(|i| codes.is_empty() || codes.contains(&i.id))
        {
            if !item.cancelled {
                item.cancelled = true;
                given_back.push((item.sku.clone(), item.quantity));
            }
        }
        if order.items.iter().all(|i| i.cancelled) {
            order.status = "CANCELLED".into();
            order.cancelled = Some(("MERCHANT".into(), reason.to_owned()));
        }
        order.updated = stamp;
        for (sku, quantity) in given_back {
            if let Some(listed) = self.listings.get_mut(&sku) {
                *listed += quantity;
            }
        }
        xml_report(&[])
    }

    // ---------------------------------------------------------------------- messaging

    pub fn messaging_actions(&self, order_id: &str) -> Answer {
        let Some(order) = self.orders.iter().find(|o| o.id == order_id) else {
            return Err(Refusal(404, "NotFound", format!("no order {order_id}")));
        };
        let base = format!("/messaging/v1/orders/{order_id}");
        let mut actions = Vec::new();
        if order.status != "CANCELLED" && !order.fulfilled_by_amazon {
            for name in ["unexpectedProblem", "confirmOrderDetails"] {
                actions.push(json!({"href": format!("{base}/messages/{name}"), "name": name}));
            }
        }
        Ok(
            json!({ "_links": { "self": {"href": base}, "actions": actions }, "_embedded": {"actions": []} }),
        )
    }

    pub fn unexpected_problem(&mut self, order_id: &str, body: &Value) -> Answer {
        let allowed = self.messaging_actions(order_id)?;
        let offered = allowed["_links"]["actions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|l| l["name"] == "unexpectedProblem"));
        if !offered {
            return Err(invalid("unexpectedProblem is not allowed for this order"));
        }
        let Some(text) = body.get("text").and_then(Value::as_str) else {
            return Err(invalid("text is required"));
        };
        if let Some(why) = crate::messages::unfit(text) {
            return Err(invalid(why));
        }
        self.messages.push((order_id.to_owned(), text.to_owned()));
        Ok(json!({}))
    }
}

fn fulfiller(order: &SandboxOrder) -> &'static str {
    if order.fulfilled_by_amazon {
        "AMAZON"
    } else {
        "MERCHANT"
    }
}

/// The v2026-01-01 shape, each dataset only when asked for; no address while `PENDING`.
fn order_json(order: &SandboxOrder, included: &[&str]) -> Value {
    let currency = "EUR";
    let items: Vec<Value> = order
        .items
        .iter()
        .map(|item| {
            let mut value = json!({
                "orderItemId": item.id,
                "quantityOrdered": item.quantity,
                "product": {
                    "sellerSku": item.sku, "title": format!("Article {}", item.sku),
                    "price": {"unitPrice": {"amount": item.unit_price.to_string(), "currencyCode": currency}},
                },
            });
            if included.contains(&"CANCELLATION") {
                let mut cancellation = json!({});
                if item.buyer_cancel_requested {
                    cancellation["cancellationRequest"] = json!({"requester": "BUYER", "cancelReason": "NO_LONGER_NEEDED"});
                }
                if item.cancelled || order.status == "CANCELLED" {
                    let (by, reason) = order.cancelled.clone().unwrap_or(("MERCHANT".into(), "NoInventory".into()));
                    cancellation["cancellationExecution"] = json!({"cancelledBy": by, "cancelReason": reason});
                }
                value["cancellation"] = cancellation;
            }
            value
        })
        .collect();
    let mut value = json!({
        "orderId": order.id,
        "createdTime": order.created.to_string(),
        "lastUpdatedTime": order.updated.to_string(),
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": crate::FRANCE, "marketplaceName": "Amazon.fr"},
        "orderItems": items,
    });
    if included.contains(&"FULFILLMENT") {
        value["fulfillment"] = json!({
            "fulfillmentStatus": order.status,
            "fulfilledBy": fulfiller(order),
            "shipByWindow": {"latestDateTime": (order.created + Duration::from_secs(2 * 86_400)).to_string()},
        });
    }
    if included.contains(&"PACKAGES") {
        let packages: Vec<Value> = order
            .packages
            .iter()
            .map(|(reference, carrier, _, tracking)| {
                json!({"packageReferenceId": reference, "carrier": carrier,
                       "trackingNumber": tracking})
            })
            .collect();
        value["packages"] = json!(packages);
    }
    if included.contains(&"PROCEEDS") {
        let total: Decimal = order
            .items
            .iter()
            .map(|i| i.unit_price * Decimal::from(i.quantity))
            .sum();
        value["proceeds"] =
            json!({"grandTotal": {"amount": total.to_string(), "currencyCode": currency}});
    }
    if included.contains(&"RECIPIENT") && order.status != "PENDING" {
        value["recipient"] = json!({
            "deliveryAddress": {"name": "Camille Martin", "addressLine1": "1 rue de la Paix",
                                "city": "Paris", "postalCode": "75002", "countryCode": order.country},
            "deliveryPreference": {},
        });
    }
    value
}

/// The quantity a listings patch sets, if its shape is Amazon's.
fn availability_quantity(body: &Value) -> Result<u32, String> {
    if body
        .get("productType")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("productType is required".into());
    }
    let Some([patch]) = body
        .get("patches")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    else {
        return Err("one patch is expected".into());
    };
    if patch["op"] != "replace" || patch["path"] != "/attributes/fulfillment_availability" {
        return Err("The attributes are invalid".into());
    }
    let Some([value]) = patch["value"].as_array().map(Vec::as_slice) else {
        return Err("value must be an array of one object".into());
    };
    if value["fulfillment_channel_code"] != "DEFAULT" {
        return Err("fulfillment_channel_code must be DEFAULT".into());
    }
    value["quantity"]
        .as_u64()
        .and_then(|q| u32::try_from(q).ok())
        .ok_or_else(|| "quantity must be an integer >= 0".to_owned())
}

fn xml_report(errors: &[String]) -> String {
    let results: String = errors
        .iter()
        .map(|e| format!("<Result><MessageID>1</MessageID><ResultCode>Error</ResultCode><ResultDescription>{}</ResultDescription></Result>", quick_xml::escape::escape(e.as_str())))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AmazonEnvelope><Header><DocumentVersion>1.02</DocumentVersion></Header><MessageType>ProcessingReport</MessageType><Message><MessageID>1</MessageID><ProcessingReport><DocumentTransactionID>1</DocumentTransactionID><StatusCode>Complete</StatusCode><ProcessingSummary><MessagesProcessed>1</MessagesProcessed><MessagesSuccessful>{}</MessagesSuccessful><MessagesWithError>{}</MessagesWithError><MessagesWithWarning>0</MessagesWithWarning></ProcessingSummary>{results}</ProcessingReport></Message></AmazonEnvelope>",
        u32::from(errors.is_empty()),
        errors.len().min(1),
    )
}

/// The order an order-acknowledgement feed is about.
pub fn acknowledged_order(feed: &SandboxFeed) -> Option<&str> {
    (feed.feed_type == crate::decide::CANCEL_FEED)
        .then(|| between(&feed.content, "<AmazonOrderID>", "</AmazonOrderID>"))
        .flatten()
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn fingerprint(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Each operation's usage plan.
fn plan(operation: &str) -> Rate {
    match operation {
        "searchOrders" => limits::SEARCH_ORDERS,
        "getOrder" => limits::GET_ORDER,
        "confirmShipment" => limits::CONFIRM_SHIPMENT,
        "patchListingsItem" => limits::PATCH_LISTINGS_ITEM,
        "searchListingsItems" => limits::SEARCH_LISTINGS_ITEMS,
        "createFeedDocument" => limits::CREATE_FEED_DOCUMENT,
        "createFeed" => limits::CREATE_FEED,
        "getFeed" => limits::GET_FEED,
        "getFeedDocument" => limits::GET_FEED_DOCUMENT,
        _ => limits::MESSAGING,
    }
}
