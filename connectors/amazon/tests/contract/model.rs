//! Amazon's own OpenAPI (Swagger 2.0) models, read from `shared/reference/amazon/` (never
//! copied into the repository), and a check of a request against them: the operation's path
//! and method, every query parameter declared (and the required ones present, enums
//! respected), and the JSON body valid against the declared schema.

use std::path::PathBuf;

use serde_json::Value;
use wiremock::Request;

/// `shared/reference/amazon`, found above the crate (the checkout's parent) or at
/// `$VIGIE_REFERENCE_DIR/amazon`; `None` on a machine that has no copy of the models.
pub fn reference_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("VIGIE_REFERENCE_DIR") {
        return Some(PathBuf::from(dir).join("amazon"));
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/reference/amazon"))
        .find(|dir| dir.is_dir())
}

/// A model file, or `None` (told once on standard error) where the models are not at hand:
/// then only each request's operation is checked, against [`OPERATIONS`].
pub fn load(relative: &str) -> Option<Value> {
    let Some(dir) = reference_dir() else {
        eprintln!(
            "Amazon's models are not above {}: requests are checked against the operations \
             vigie calls only (set VIGIE_REFERENCE_DIR to check them against the models)",
            env!("CARGO_MANIFEST_DIR")
        );
        return None;
    };
    let path = dir.join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Some(serde_json::from_str(&text).unwrap())
}

/// The operations vigie calls, as the models name them: what is checked of a request
/// where the models are not at hand.
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("get", "/orders/2026-01-01/orders", "searchOrders"),
    ("get", "/orders/2026-01-01/orders/{orderId}", "getOrder"),
    (
        "post",
        "/orders/v0/orders/{orderId}/shipmentConfirmation",
        "confirmShipment",
    ),
    (
        "patch",
        "/listings/2021-08-01/items/{sellerId}/{sku}",
        "patchListingsItem",
    ),
    (
        "get",
        "/listings/2021-08-01/items/{sellerId}",
        "searchListingsItems",
    ),
    ("post", "/feeds/2021-06-30/feeds", "createFeed"),
    ("get", "/feeds/2021-06-30/feeds/{feedId}", "getFeed"),
    ("post", "/feeds/2021-06-30/documents", "createFeedDocument"),
    (
        "get",
        "/feeds/2021-06-30/documents/{feedDocumentId}",
        "getFeedDocument",
    ),
    (
        "get",
        "/messaging/v1/orders/{amazonOrderId}",
        "getMessagingActionsForOrder",
    ),
    (
        "post",
        "/messaging/v1/orders/{amazonOrderId}/messages/unexpectedProblem",
        "createUnexpectedProblem",
    ),
];

pub struct Model {
    doc: Option<Value>,
}

pub const ORDERS: &str = "models/orders-api-model/orders_2026-01-01.json";
pub const ORDERS_V0: &str = "models/orders-api-model/ordersV0.json";
pub const LISTINGS: &str = "models/listings-items-api-model/listingsItems_2021-08-01.json";
pub const FEEDS: &str = "models/feeds-api-model/feeds_2021-06-30.json";
pub const MESSAGING: &str = "models/messaging-api-model/messaging.json";
pub const LISTINGS_FEED_SCHEMA: &str = "schemas/feeds/listings-feed-schema-v2.json";

impl Model {
    pub fn open(relative: &str) -> Self {
        Self {
            doc: load(relative),
        }
    }

    /// The operation id `request` calls, once its shape is checked against the model.
    #[track_caller]
    pub fn check(&self, request: &Request) -> String {
        let path = request.url.path();
        let method = request.method.as_str().to_ascii_lowercase();
        let Some(doc) = &self.doc else {
            return OPERATIONS
                .iter()
                .find(|(m, template, _)| *m == method && matches_template(template, path))
                .map(|(_, _, id)| (*id).to_owned())
                .unwrap_or_else(|| panic!("{method} {path} is no operation vigie calls"));
        };
        let (template, item) = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(template, item)| {
                matches_template(template, path) && item.get(&method).is_some()
            })
            .unwrap_or_else(|| panic!("{method} {path} is no operation of the model"));
        let operation = &item[&method];
        let id = operation["operationId"].as_str().unwrap().to_owned();
        assert_ne!(
            operation["deprecated"],
            Value::Bool(true),
            "{id} is deprecated"
        );
        let params: Vec<Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(operation["parameters"].as_array().into_iter().flatten())
            .map(|p| self.resolve(p).clone())
            .collect();
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        for (name, value) in &query {
            let declared = params
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == name.as_str())
                .unwrap_or_else(|| panic!("{id}: query parameter {name} is not in the model"));
            let values: Vec<&str> = if declared["type"] == "array" {
                value.split(',').collect()
            } else {
                vec![value.as_str()]
            };
            let allowed = declared["items"]["enum"]
                .as_array()
                .or(declared["enum"].as_array());
            for v in values {
                if let Some(allowed) = allowed {
                    assert!(
                        allowed.iter().any(|a| a == v),
                        "{id}: {name}={v} not in {allowed:?}"
                    );
                }
                if declared["type"] == "integer" {
                    let n: i64 = v
                        .parse()
                        .unwrap_or_else(|_| panic!("{id}: {name} is an integer"));
                    if let Some(min) = declared["minimum"].as_i64() {
                        assert!(n >= min, "{id}: {name} below {min}");
                    }
                    if let Some(max) = declared["maximum"].as_i64() {
                        assert!(n <= max, "{id}: {name} above {max}");
                    }
                }
            }
        }
        for p in &params {
            let name = p["name"].as_str().unwrap();
            if p["required"] == true && p["in"] == "query" {
                assert!(
                    query.iter().any(|(k, _)| k == name),
                    "{id}: {name} is required"
                );
            }
        }
        match params.iter().find(|p| p["in"] == "body") {
            Some(body) => {
                let value: Value = serde_json::from_slice(&request.body)
                    .unwrap_or_else(|e| panic!("{id}: the body is not JSON: {e}"));
                self.validate(&body["schema"], &value, &id);
            }
            None => assert!(request.body.is_empty(), "{id} takes no body"),
        }
        let _ = template;
        id
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) if reference.starts_with("#/") => {
                let pointer = &reference[1..];
                self.resolve(
                    self.doc
                        .as_ref()
                        .and_then(|doc| doc.pointer(pointer))
                        .unwrap_or_else(|| panic!("{reference}")),
                )
            }
            _ => value,
        }
    }

    /// `value` against a JSON schema of the model (or a schema document itself).
    #[track_caller]
    pub fn validate(&self, schema: &Value, value: &Value, at: &str) {
        let schema = self.resolve(schema);
        for key in ["allOf"] {
            for part in schema[key].as_array().into_iter().flatten() {
                self.validate(part, value, at);
            }
        }
        if let Some(allowed) = schema["enum"].as_array() {
            assert!(allowed.contains(value), "{at}: {value} not in {allowed:?}");
        }
        match schema["type"].as_str() {
            Some("object") => assert!(value.is_object(), "{at}: {value} is not an object"),
            Some("array") => assert!(value.is_array(), "{at}: {value} is not an array"),
            Some("string") => assert!(value.is_string(), "{at}: {value} is not a string"),
            Some("integer") => assert!(
                value.is_i64() || value.is_u64(),
                "{at}: {value} is not an integer"
            ),
            Some("number") => assert!(value.is_number(), "{at}: {value} is not a number"),
            Some("boolean") => assert!(value.is_boolean(), "{at}: {value} is not a boolean"),
            _ => {}
        }
        if let Some(text) = value.as_str() {
            let chars = text.chars().count() as u64;
            if let Some(min) = schema["minLength"].as_u64() {
                assert!(chars >= min, "{at}: shorter than {min}");
            }
            if let Some(max) = schema["maxLength"].as_u64() {
                assert!(chars <= max, "{at}: longer than {max}");
            }
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = schema["minimum"].as_f64() {
                assert!(n >= min, "{at}: {n} below {min}");
            }
            if let Some(max) = schema["maximum"].as_f64() {
                assert!(n <= max, "{at}: {n} above {max}");
            }
        }
        if let Some(items) = value.as_array() {
            if let Some(min) = schema["minItems"].as_u64() {
                assert!(items.len() as u64 >= min, "{at}: fewer than {min} items");
            }
            if let Some(max) = schema["maxItems"].as_u64() {
                assert!(items.len() as u64 <= max, "{at}: more than {max} items");
            }
            if schema.get("items").is_some() {
                for (i, item) in items.iter().enumerate() {
                    self.validate(&schema["items"], item, &format!("{at}[{i}]"));
                }
            }
        }
        if let Some(object) = value.as_object() {
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                assert!(object.contains_key(name), "{at}: {name} is required");
            }
            let properties = schema["properties"].as_object();
            for (name, field) in object {
                match properties.and_then(|p| p.get(name)) {
                    Some(property) => self.validate(property, field, &format!("{at}.{name}")),
                    None => assert_ne!(
                        schema["additionalProperties"],
                        Value::Bool(false),
                        "{at}: {name} is not in the schema"
                    ),
                }
            }
        }
    }
}

/// `/orders/2026-01-01/orders/{orderId}` matches `/orders/2026-01-01/orders/407-1-2`.
fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}
