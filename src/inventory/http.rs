//! The inventory JSON endpoint (`source = "http"`), read every `interval`.
//!
//! The body is `[{"sku": "A-1", "quantity": 3, "tags": ["fragile"]}, ...]` or the same array
//! under `{"items": [...]}`; unknown fields are ignored. A failed request or a bad item leaves
//! the previous snapshot in force until the next successful read.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use url::Url;
use vigie_connector::{BodyLimit, read_capped};

use crate::store::Store;
use crate::store::stock::StockItem;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
/// The largest snapshot read: an item is about 50 bytes of JSON, so 64 MiB holds over a
/// million SKUs. Parsing costs about 19 times the body (1.2 GB of RSS measured for 63 MiB),
/// which the unit's `MemoryMax=2G` still holds.
pub const SNAPSHOT_LIMIT: BodyLimit = BodyLimit::new("inventory snapshot", 64 * 1024 * 1024);
/// Whole-request timeout in production.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client; `timeout` is `None` only in tests that pause tokio's clock, where any
/// timer would fire while the socket waits.
pub fn client(timeout: Option<Duration>) -> anyhow::Result<reqwest::Client> {
    let mut builder =
        reqwest::Client::builder().user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout).connect_timeout(timeout);
    }
    builder.build().context("cannot build the HTTP client")
}

/// Reads the endpoint once; an error names the URL (without its query, which may hold a
/// token) and what was wrong.
pub async fn fetch(client: &reqwest::Client, url: &Url) -> anyhow::Result<Vec<StockItem>> {
    let shown = redacted(url);
    let response = client
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("inventory endpoint {shown}: request failed"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("inventory endpoint {shown}: HTTP {status}");
    }
    let body = read_capped(response, SNAPSHOT_LIMIT)
        .await
        .with_context(|| format!("inventory endpoint {shown}"))?;
    parse(&body).with_context(|| format!("inventory endpoint {shown}"))
}

/// Polls `url` every `every` until `stop`, applying each good snapshot.
pub async fn run(
    client: reqwest::Client,
    url: Url,
    every: Duration,
    store: Store,
    changed: watch::Sender<u64>,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let result = tokio::select! {
            () = stop.cancelled() => return,
            result = fetch(&client, &url) => result,
        };
        let applied = match result {
            Ok(items) => super::apply(&store, items).await,
            Err(e) => Err(e),
        };
        match applied {
            Ok(count) => {
                tracing::info!(skus = count, "inventory snapshot applied from the endpoint");
                changed.send_modify(|n| *n += 1);
            }
            Err(e) => {
                tracing::error!("{e:#}; the previous inventory snapshot stays in force");
            }
        }
    }
}

#[derive(Deserialize)]
struct Item {
    sku: String,
    quantity: u32,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// Reads a whole body; `Ok` only if every item is valid. Errors name the item's index.
pub fn parse(body: &[u8]) -> anyhow::Result<Vec<StockItem>> {
    let shape = || anyhow::anyhow!(r#"expected an array of items or {{"items": [...]}}"#);
    let values =
        match serde_json::from_slice(body).map_err(|e| anyhow::anyhow!("not JSON ({e})"))? {
            Value::Array(values) => values,
            Value::Object(mut object) => match object.remove("items") {
                Some(Value::Array(values)) => values,
                _ => return Err(shape()),
            },
            _ => return Err(shape()),
        };
    let mut items = Vec::with_capacity(values.len());
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (index, value) in values.into_iter().enumerate() {
        let item: Item = serde_json::from_value(value).with_context(|| format!("item {index}"))?;
        let sku = item.sku.trim().to_owned();
        if sku.is_empty() {
            bail!("item {index}: empty SKU");
        }
        if let Some(first) = first_seen.insert(sku.clone(), index) {
            bail!("item {index}: SKU {sku:?} already appears as item {first}");
        }
        let mut tags: Vec<String> = Vec::new();
        for tag in item.tags.unwrap_or_default() {
            let tag = tag.trim();
            if !tag.is_empty() && !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        items.push(StockItem {
            sku,
            quantity: item.quantity,
            tags,
        });
    }
    Ok(items)
}

/// Scheme, host, port and path: query strings and user info often carry credentials.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_shapes() {
        let expected = vec![
            StockItem {
                sku: "A-1".into(),
                quantity: 3,
                tags: vec!["fragile".into()],
            },
            StockItem {
                sku: "B-2".into(),
                quantity: 0,
                tags: vec![],
            },
        ];
        let bare = br#"[{"sku": "A-1", "quantity": 3, "tags": ["fragile", " "]},
                         {"sku": "B-2", "quantity": 0, "name": "ignored", "tags": null}]"#;
        assert_eq!(parse(bare).unwrap(), expected);
        let wrapped = br#"{"items": [{"sku": "A-1", "quantity": 3, "tags": ["fragile"]},
                                     {"sku": "B-2", "quantity": 0}], "generated_at": "now"}"#;
        assert_eq!(parse(wrapped).unwrap(), expected);
        assert_eq!(parse(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn rejects_bad_bodies_naming_the_item() {
        let table: &[(&[u8], &str)] = &[
            (b"", "not JSON"),
            (b"<html>", "not JSON"),
            (br#"{"stock": []}"#, "expected an array"),
            (br#"[{"sku": "A", "quantity": -1}]"#, "item 0"),
            (br#"[{"sku": "A", "quantity": 1}, {"sku": "B"}]"#, "item 1"),
            (br#"[{"sku": "A", "quantity": 1.5}]"#, "item 0"),
            (br#"[{"sku": "A", "quantity": "3"}]"#, "item 0"),
            (br#"[{"sku": " ", "quantity": 3}]"#, "item 0: empty SKU"),
            (
                br#"[{"sku": "A", "quantity": 1}, {"sku": "A", "quantity": 2}]"#,
                r#"item 1: SKU "A" already appears as item 0"#,
            ),
        ];
        for (body, expected) in table {
            let error = format!("{:#}", parse(body).unwrap_err());
            assert!(
                error.contains(expected),
                "{}: {error}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[tokio::test]
    async fn a_snapshot_larger_than_the_cap_is_refused_unread() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url: Url = format!("http://{}/stock.json", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n[",
                SNAPSHOT_LIMIT.bytes + 1
            );
            let _ = socket.write_all(head.as_bytes()).await;
            // Holds the connection open, never sending the rest.
            let _ = socket.read(&mut request).await;
        });
        let error = fetch(&client(None).unwrap(), &url).await.unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            format!("inventory endpoint {url}: larger than 64 MiB")
        );
    }

    #[test]
    fn errors_do_not_show_credentials_in_the_url() {
        let url: Url = "https://user:pw@erp.example/stock.json?token=s3cret"
            .parse()
            .unwrap();
        assert_eq!(redacted(&url), "https://erp.example/stock.json");
    }
}
