//! Inventory sources against real files, a real SQLite store and a real HTTP server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::file::{Outcome, POLL, Watcher};
use super::snapshot::Snapshot;
use super::*;
use crate::config::HumanDuration;

/// Every SKU in the store as (sku, on hand, tags).
fn ledger(store: &Store) -> Vec<(String, i64, Vec<String>)> {
    store
        .with(|conn| {
            let mut rows = Vec::new();
            stock::show(conn, None, 0, |view| {
                rows.push((
                    view.sku.clone(),
                    view.on_hand,
                    stock::tags(conn, &view.sku)?,
                ));
                Ok::<_, crate::store::StoreError>(())
            })?;
            Ok(rows)
        })
        .unwrap()
}

fn row(sku: &str, on_hand: i64, tags: &[&str]) -> (String, i64, Vec<String>) {
    (
        sku.to_owned(),
        on_hand,
        tags.iter().map(|t| (*t).to_owned()).collect(),
    )
}

fn setup() -> (tempfile::TempDir, Store, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state")).unwrap();
    let file = dir.path().join("stock.csv");
    (dir, store, file)
}

fn csv_config(path: &Path) -> InventoryConfig {
    InventoryConfig {
        source: InventorySource::Csv,
        path: Some(path.to_owned()),
        ..InventoryConfig::default()
    }
}

/// Waits (on tokio's clock) until the change counter reaches `n`.
async fn applied(rx: &mut watch::Receiver<u64>, n: u64) {
    tokio::time::timeout(Duration::from_secs(600), rx.wait_for(|v| *v >= n))
        .await
        .unwrap_or_else(|_| panic!("snapshot {n} never applied"))
        .unwrap();
}

// Each version has a different length, so a same-second rewrite still changes the metadata.
const V1: &str = "sku,quantity,tags\nA,5,fragile\nB,2,\n";
const V2: &str = "sku,quantity,tags\r\nA,4,fragile|bulky\r\nC,10,\r\n";
const BAD: &str = "sku,quantity,tags\nA,1,\nB,lots,\nC,3,\n";
const V3: &str = "sku,quantity\nA,1\nB,1\nC,1\nD,1\n";

#[tokio::test]
async fn watcher_applies_changes_and_keeps_the_snapshot_when_a_row_is_bad() {
    let (_dir, store, file) = setup();
    std::fs::write(&file, V1).unwrap();
    let mut watcher = Watcher::new(file.clone(), Snapshot::new(store.clone(), None));
    assert_eq!(watcher.load_now().await, Outcome::Applied(2));
    assert_eq!(
        ledger(&store),
        [row("A", 5, &["fragile"]), row("B", 2, &[])]
    );
    assert_eq!(watcher.check().await, Outcome::Unchanged);

    // A new version is applied once it has stayed the same for a tick; B leaves the snapshot.
    std::fs::write(&file, V2).unwrap();
    assert_eq!(watcher.check().await, Outcome::Settling);
    assert_eq!(watcher.check().await, Outcome::Applied(2));
    let v2 = [
        row("A", 4, &["fragile", "bulky"]),
        row("B", 0, &[]),
        row("C", 10, &[]),
    ];
    assert_eq!(ledger(&store), v2);

    // A bad row rejects the whole file, naming the line; nothing of it is applied.
    std::fs::write(&file, BAD).unwrap();
    assert_eq!(watcher.check().await, Outcome::Settling);
    let Outcome::Rejected(message) = watcher.check().await else {
        panic!("the bad file was not rejected");
    };
    assert_eq!(message, r#"line 3: quantity "lots" is not a whole number"#);
    assert_eq!(ledger(&store), v2);
    // Reported once, not every tick.
    assert_eq!(watcher.check().await, Outcome::Unchanged);

    // Fixing the file applies it.
    std::fs::write(&file, V3).unwrap();
    assert_eq!(watcher.check().await, Outcome::Settling);
    assert_eq!(watcher.check().await, Outcome::Applied(4));
    assert_eq!(ledger(&store).len(), 4);
}

#[tokio::test]
async fn a_version_still_changing_is_not_applied() {
    let (_dir, store, file) = setup();
    std::fs::write(&file, V1).unwrap();
    let mut watcher = Watcher::new(file.clone(), Snapshot::new(store.clone(), None));
    watcher.load_now().await;
    // Half of V2 on one tick, all of it on the next: only the settled whole is applied.
    std::fs::write(&file, &V2[..30]).unwrap();
    assert_eq!(watcher.check().await, Outcome::Settling);
    std::fs::write(&file, V2).unwrap();
    assert_eq!(watcher.check().await, Outcome::Settling);
    assert_eq!(ledger(&store)[0], row("A", 5, &["fragile"]));
    assert_eq!(watcher.check().await, Outcome::Applied(2));
    assert_eq!(ledger(&store)[0], row("A", 4, &["fragile", "bulky"]));
}

#[tokio::test(start_paused = true)]
async fn spawned_watcher_follows_the_file_on_its_interval() {
    let (_dir, store, file) = setup();
    std::fs::write(&file, V1).unwrap();
    let (tx, mut rx) = watch::channel(0);
    let stop = CancellationToken::new();
    let task = spawn(csv_config(&file), store.clone(), tx, stop.clone());

    applied(&mut rx, 1).await;
    assert_eq!(ledger(&store).len(), 2);

    let written = Instant::now();
    std::fs::write(&file, V2).unwrap();
    applied(&mut rx, 2).await;
    // Seen on one tick, applied on the next once unchanged.
    assert!(written.elapsed() >= POLL);
    assert_eq!(ledger(&store)[2], row("C", 10, &[]));

    // A bad version: several ticks later the previous snapshot is still in force.
    std::fs::write(&file, BAD).unwrap();
    tokio::time::sleep(POLL * 5).await;
    assert_eq!(*rx.borrow(), 2);
    assert_eq!(ledger(&store)[2], row("C", 10, &[]));

    std::fs::write(&file, V3).unwrap();
    applied(&mut rx, 3).await;
    assert_eq!(ledger(&store)[3], row("D", 1, &[]));

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the watcher stops when told")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_missing_file_at_start_up_is_waited_for() {
    let (_dir, store, file) = setup();
    let (tx, mut rx) = watch::channel(0);
    let stop = CancellationToken::new();
    let task = spawn(csv_config(&file), store.clone(), tx, stop.clone());
    tokio::time::sleep(POLL * 3).await;
    assert!(
        !task.is_finished(),
        "a missing file must not end the watcher"
    );
    assert!(ledger(&store).is_empty());

    std::fs::write(&file, V1).unwrap();
    applied(&mut rx, 1).await;
    assert_eq!(ledger(&store).len(), 2);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn load_once_reads_each_source() {
    let (_dir, store, file) = setup();
    assert_eq!(
        load_once(&InventoryConfig::default(), &store)
            .await
            .unwrap(),
        None
    );

    let missing = load_once(&csv_config(&file), &store).await.unwrap_err();
    assert!(format!("{missing:#}").contains("stock.csv"), "{missing:#}");

    std::fs::write(&file, BAD).unwrap();
    let bad = format!(
        "{:#}",
        load_once(&csv_config(&file), &store).await.unwrap_err()
    );
    assert!(bad.contains("stock.csv") && bad.contains("line 3"), "{bad}");
    assert!(ledger(&store).is_empty());

    std::fs::write(&file, V1).unwrap();
    assert_eq!(
        load_once(&csv_config(&file), &store).await.unwrap(),
        Some(2)
    );
    assert_eq!(ledger(&store).len(), 2);
}

#[tokio::test]
async fn import_file_is_all_or_nothing() {
    let (_dir, store, file) = setup();
    std::fs::write(&file, V1).unwrap();
    assert_eq!(import_file(&store, &file).unwrap(), 2);
    std::fs::write(&file, BAD).unwrap();
    let error = format!("{:#}", import_file(&store, &file).unwrap_err());
    assert!(error.contains("stock.csv: line 3: "), "{error}");
    assert_eq!(
        ledger(&store),
        [row("A", 5, &["fragile"]), row("B", 2, &[])]
    );
}

/// The rows are written as they are read: a repeat found after thousands of rows were written
/// still leaves the previous snapshot whole, and names both lines.
#[tokio::test]
async fn a_bad_row_after_many_written_ones_changes_nothing() {
    let (_dir, store, file) = setup();
    std::fs::write(&file, V1).unwrap();
    import_file(&store, &file).unwrap();
    let mut text = String::from("sku,quantity\n");
    for i in 0..5_000 {
        text.push_str(&format!("N-{i},{i}\n"));
    }
    text.push_str("N-17,1\n");
    std::fs::write(&file, text).unwrap();
    let error = format!("{:#}", import_file(&store, &file).unwrap_err());
    assert!(
        error.contains(r#"line 5002: SKU "N-17" already appears on line 19"#),
        "{error}"
    );
    assert_eq!(
        ledger(&store),
        [row("A", 5, &["fragile"]), row("B", 2, &[])]
    );
}

const GOOD_JSON: &str =
    r#"[{"sku": "A", "quantity": 3, "tags": ["fragile"]}, {"sku": "B", "quantity": 1}]"#;
const BAD_JSON: &str = r#"{"items": [{"sku": "A", "quantity": 9}, {"sku": "B", "quantity": -2}]}"#;
const GOOD_JSON_2: &str = r#"{"items": [{"sku": "C", "quantity": 7}]}"#;

async fn serve(server: &MockServer, status: u16, body: &'static str) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/stock.json"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(server)
        .await;
}

fn http_config(server: &MockServer) -> InventoryConfig {
    InventoryConfig {
        source: InventorySource::Http,
        url: Some(format!("{}/stock.json", server.uri()).parse().unwrap()),
        interval: Some(HumanDuration(Duration::from_secs(60))),
        ..InventoryConfig::default()
    }
}

#[tokio::test]
async fn load_once_from_the_endpoint_is_all_or_nothing() {
    let server = MockServer::start().await;
    let (_dir, store, _) = setup();
    serve(&server, 200, GOOD_JSON).await;
    assert_eq!(
        load_once(&http_config(&server), &store).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        ledger(&store),
        [row("A", 3, &["fragile"]), row("B", 1, &[])]
    );

    serve(&server, 200, BAD_JSON).await;
    let error = format!(
        "{:#}",
        load_once(&http_config(&server), &store).await.unwrap_err()
    );
    assert!(
        error.contains("/stock.json") && error.contains("item 1"),
        "{error}"
    );
    serve(&server, 503, "busy").await;
    let error = format!(
        "{:#}",
        load_once(&http_config(&server), &store).await.unwrap_err()
    );
    assert!(error.contains("503"), "{error}");
    assert_eq!(ledger(&store)[0], row("A", 3, &["fragile"]));
}

/// Real time here: with tokio's clock paused, any timer in the test would fire while the
/// poller waits on its socket.
#[tokio::test]
async fn the_endpoint_is_polled_on_its_interval_and_bad_bodies_are_ignored() {
    let server = MockServer::start().await;
    let (_dir, store, _) = setup();
    serve(&server, 200, GOOD_JSON).await;
    let url = http_config(&server).url.unwrap();
    let every = Duration::from_millis(200);
    let (tx, mut rx) = watch::channel(0);
    let stop = CancellationToken::new();
    let client = http::client(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let task = tokio::spawn(http::run(
        client,
        url,
        every,
        store.clone(),
        tx,
        stop.clone(),
    ));
    let limit = Duration::from_secs(10);
    tokio::time::timeout(limit, rx.wait_for(|n| *n >= 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ledger(&store).len(), 2);

    serve(&server, 200, BAD_JSON).await;
    // `reset` cleared the request log: one request now is a read of the bad body.
    let bad_read = async {
        while server.received_requests().await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(limit, bad_read).await.unwrap();
    serve(&server, 200, GOOD_JSON_2).await;
    tokio::time::timeout(limit, rx.wait_for(|n| *n >= 2))
        .await
        .unwrap()
        .unwrap();
    // Had the bad body been applied, this second snapshot would be it.
    assert_eq!(
        ledger(&store),
        [
            row("A", 0, &["fragile"]),
            row("B", 0, &[]),
            row("C", 7, &[])
        ]
    );
    // Three reads at least: good, bad, good, one interval apart.
    assert!(started.elapsed() >= every * 2);

    stop.cancel();
    tokio::time::timeout(limit, task).await.unwrap().unwrap();
}
