//! What the marketplaces received, read back from the recording proxies: the decisions sent
//! for each line and the customer message each request carried.

use vigie_testkit::Hit;

/// The event a French subject line announces (see config/templates/fr/*.subject.txt).
pub fn event_of_subject(subject: &str) -> Option<&'static str> {
    let s = subject.to_lowercase();
    [
        ("bien re", "received"),
        ("plus de temps", "delayed"),
        ("est confirm", "accepted"),
        ("est en route", "shipped"),
        ("pas pu", "refused"),
        ("annul", "cancelled"),
    ]
    .into_iter()
    .find(|(needle, _)| s.contains(needle))
    .map(|(_, event)| event)
}

/// One decision as a marketplace received it: (channel, order, line) -> accepted.
pub type Sent = Vec<((String, String, String), bool)>;

pub fn mirakl_decisions(hits: &[Hit]) -> Sent {
    let mut sent = Vec::new();
    for hit in hits.iter().filter(|h| h.endpoint() == "OR21") {
        let order = mirakl_order(hit);
        let body: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
        for line in body["order_lines"].as_array().unwrap() {
            sent.push((
                (
                    "lm".to_owned(),
                    order.clone(),
                    line["id"].as_str().unwrap().to_owned(),
                ),
                line["accepted"].as_bool().unwrap(),
            ));
        }
    }
    sent
}

/// The text of the first `<name>` element in `xml`, CDATA unwrapped.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    let text = xml[start..end].trim();
    Some(
        text.strip_prefix("<![CDATA[")
            .and_then(|t| t.strip_suffix("]]>"))
            .unwrap_or(text),
    )
}

/// The value of the first `name="..."` attribute in `xml` (a whole word: `id` is not
/// `partner_id`).
fn attribute<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = if xml.starts_with(&key) {
        key.len()
    } else {
        xml.find(&format!(" {key}"))? + 1 + key.len()
    };
    let end = start + xml[start..].find('"')?;
    Some(&xml[start..end])
}

pub fn fnac_decisions(hits: &[Hit]) -> Sent {
    let mut sent = Vec::new();
    for hit in hits.iter().filter(|h| h.endpoint() == "orders_update") {
        let xml = hit.body_text();
        for order in xml.split("<order ").skip(1) {
            let id = attribute(order, "order_id").unwrap().to_owned();
            for detail in order.split("<order_detail>").skip(1) {
                let line = element(detail, "order_detail_id").unwrap().to_owned();
                let action = element(detail, "action").unwrap();
                sent.push((
                    ("fnac".to_owned(), id.clone(), line),
                    match action {
                        "Accepted" => true,
                        "Refused" => false,
                        other => panic!("unexpected Fnac line action {other:?} in {xml}"),
                    },
                ));
            }
        }
    }
    sent
}

/// The (channel, order, event) a customer-message request was about.
pub fn message_of(hit: &Hit) -> (String, String, &'static str) {
    let text = hit.body_text();
    if hit.endpoint() == "OR43" {
        let order = mirakl_order(hit);
        let start = text.find("{").unwrap();
        let end = text.rfind('}').unwrap();
        let input: serde_json::Value = serde_json::from_str(&text[start..=end]).unwrap();
        let subject = input["topic"]["value"].as_str().unwrap();
        let event = event_of_subject(subject).unwrap_or_else(|| panic!("subject {subject:?}"));
        ("lm".to_owned(), order, event)
    } else {
        let order = attribute(&text, "id").unwrap().to_owned();
        let description = element(&text, "message_description").unwrap();
        let subject = description.lines().next().unwrap_or_default();
        let event = event_of_subject(subject).unwrap_or_else(|| panic!("subject {subject:?}"));
        ("fnac".to_owned(), order, event)
    }
}

/// The order id in a Mirakl `/api/orders/{id}/...` path.
fn mirakl_order(hit: &Hit) -> String {
    hit.path
        .trim_matches('/')
        .split('/')
        .nth(2)
        .unwrap()
        .to_owned()
}
