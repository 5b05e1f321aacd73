//! `cargo bench --bench catalogue`: a big catalogue and the engine itself, on a real SQLite
//! store and through the daemon's own functions, with no marketplace in the way (issue 14,
//! items 5 and 6). Prints each figure next to its target; asserts nothing about speed.
//!
//! 1. a 100,000-SKU snapshot (CSV) read, parsed and applied, as the inventory watcher does;
//! 2. the first stock push to three channels recorded, as if each marketplace took it;
//! 3. the engine: 10,000 orders ingested, reserved, judged and persisted in polls of 100;
//! 4. the deltas those orders left, computed and recorded for the three channels;
//! 5. a push tick with nothing to send: the idle work of each channel every poll interval,
//!    computed, then skipped as the daemon does when nothing moved since;
//! 6. `vigie status` and `vigie orders --status flagged`, the real binary on that store.
//!
//! Peak RSS is this process's VmHWM, reset before each step (`/proc/self/clear_refs`), so it
//! counts what the process already holds (SQLite's page cache, the allocator) as a daemon would.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nix::sys::resource::{UsageWho, getrusage};
use rust_decimal::Decimal;
use vigie::config::{self, Config, Environment};
use vigie::pipeline::decide::Policy;
use vigie::pipeline::ingest::{self, Settings};
use vigie::pipeline::push::{self, NothingToSend, Offer};
use vigie::store::{self, Store, ledger_version, pushes};
use vigie_connector::{
    Address, Country, Customer, MarketplaceState, Money, Order, OrderBatch, OrderLine, OrderStatus,
};

const SKUS: usize = 100_000;
const ORDERS: usize = 10_000;
/// Orders per ingested batch: one poll's page.
const PER_POLL: usize = 100;
const CHANNELS: [&str; 3] = ["lm", "bq", "cf"];
/// Largest quantity a marketplace takes (Fnac's 9,999 is the smallest).
const MAX_QUANTITY: u32 = 9_999;
/// Runs of each command; the median is printed.
const RUNS: usize = 5;

fn config(dir: &Path) -> Config {
    let mut text = format!("[daemon]\nstate_dir = \"{}\"\n", dir.display());
    for name in CHANNELS {
        text.push_str(&format!(
            "\n[[channel]]\nname = \"{name}\"\nkind = \"mirakl\"\n\
             base_url = \"http://127.0.0.1:1\"\napi_key = \"k\"\n"
        ));
    }
    text.push_str("\n[rules]\nflag_total_above = 500\n");
    std::fs::write(dir.join("vigie.toml"), &text).unwrap();
    config::parse(&text, &dir.join("vigie.toml"), &Environment::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn sku(i: usize) -> String {
    format!("SKU-{i:06}")
}

/// The snapshot: every SKU with `on_hand` units, one in ten tagged.
fn snapshot_csv(on_hand: impl Fn(usize) -> u32) -> String {
    let mut csv = String::from("sku,quantity,tags\n");
    for i in 0..SKUS {
        let tags = if i.is_multiple_of(10) { "fragile" } else { "" };
        csv.push_str(&format!("{},{},{tags}\n", sku(i), on_hand(i)));
    }
    csv
}

fn order(n: usize, created_at: Timestamp) -> Order {
    let state = MarketplaceState::new("WAITING_ACCEPTANCE", OrderStatus::AwaitingAcceptance);
    // Spread over the catalogue; one in twenty over the flag threshold.
    let price = Money::new(
        Decimal::from(if n.is_multiple_of(20) { 900 } else { 40 }),
        "EUR",
    );
    Order {
        id: format!("o{n}"),
        reference: format!("o{n}"),
        state: state.clone(),
        created_at,
        updated_at: created_at,
        acceptance_deadline: None,
        shipping_deadline: None,
        customer: Customer {
            first_name: Some(format!("First{}", n % 3000)),
            last_name: Some(format!("Last{}", n % 3000)),
            email: None,
            locale: None,
        },
        destination_hints: Default::default(),
        shipping_address: Some(Address {
            street: vec!["1 rue de la Paix".into()],
            postal_code: Some("75002".into()),
            city: Some("Paris".into()),
            country: Country::parse("FR"),
            ..Address::default()
        }),
        lines: vec![OrderLine {
            id: "l0".into(),
            sku: sku(n * 7919 % SKUS),
            title: None,
            quantity: 1 + (n % 2) as u32,
            price: price.clone(),
            state,
            cancellations: Vec::new(),
        }],
        total: price,
        shipment: None,
        incident: None,
    }
}

/// CPU time (user + system) of this process, or of its waited-for children.
fn cpu(who: UsageWho) -> Duration {
    let usage = getrusage(who).unwrap();
    let time = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    time(usage.user_time()) + time(usage.system_time())
}

fn reset_peak_rss() {
    // "5" resets VmHWM to the current RSS (proc(5)).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

/// Wall time, CPU time and peak RSS of one step of this process.
struct Step {
    wall: Duration,
    cpu: Duration,
    peak_rss_mib: f64,
}

fn step<R>(work: impl FnOnce() -> R) -> (R, Step) {
    reset_peak_rss();
    let (wall, cpu_before) = (Instant::now(), cpu(UsageWho::RUSAGE_SELF));
    let out = work();
    let step = Step {
        wall: wall.elapsed(),
        cpu: cpu(UsageWho::RUSAGE_SELF) - cpu_before,
        peak_rss_mib: peak_rss_mib(),
    };
    (out, step)
}

fn print(what: &str, s: &Step, target: &str) {
    println!(
        "{what}: {:.0} ms wall, {:.0} ms CPU, peak RSS {:.1} MiB (target {target})",
        s.wall.as_secs_f64() * 1e3,
        s.cpu.as_secs_f64() * 1e3,
        s.peak_rss_mib
    );
}

/// The inventory watcher's work on one version of the file.
fn apply_snapshot(store: &Store, path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    store
        .with(|conn| vigie::inventory::replace_with_csv(conn, &text))
        .unwrap()
        .unwrap()
}

/// What every channel of the bench is offered: the whole ledger.
fn offer(config: &Config) -> Offer {
    Offer {
        safety_buffer: config.inventory.safety_buffer,
        channel_buffer: 0,
        cap: None,
        sku_map: Default::default(),
    }
}

/// Each channel's pending quantities, computed and recorded as pushed; the number sent.
fn push_all(store: &Store, config: &Config) -> usize {
    let offer = offer(config);
    store
        .with(|conn| {
            let mut sent = 0;
            for (n, channel) in CHANNELS.iter().enumerate() {
                let changes = push::pending(conn, channel, &offer, MAX_QUANTITY)?;
                if changes.is_empty() {
                    continue;
                }
                let items: Vec<(String, u32)> =
                    changes.into_iter().map(|u| (u.sku, u.quantity)).collect();
                let tx = conn.transaction()?;
                let (now, first_look) = (store::now_text(), Timestamp::now());
                pushes::record(&tx, channel, &format!("t{n}"), &items, &now, first_look)?;
                tx.commit()?;
                sent += items.len();
            }
            Ok(sent)
        })
        .unwrap()
}

/// The engine: `ORDERS` orders over the channels, `PER_POLL` per committed batch.
fn ingest_orders(store: &Store, config: &Config) -> usize {
    let start: Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
    let mut decided = 0;
    for (poll, first) in (0..ORDERS).step_by(PER_POLL).enumerate() {
        let channel = &config.channels[poll % CHANNELS.len()];
        let sku_map = channel.current_sku_map();
        let settings = Settings {
            channel: &channel.name,
            config,
            policy: Policy {
                channel: &channel.name,
                rules: &config.rules,
                safety_buffer: config.inventory.safety_buffer,
                partial_acceptance: false,
                timezone: &config.daemon.timezone,
            },
            deadline: channel.acceptance_deadline,
            shipping_deadline: channel.shipping_deadline,
            sku_map: &sku_map,
            dry_run: false,
        };
        let batch = OrderBatch {
            orders: (first..first + PER_POLL)
                .map(|n| order(n, start + jiff::SignedDuration::from_secs(n as i64)))
                .collect(),
            ..OrderBatch::default()
        };
        let report = store
            .with(|conn| ingest::commit(conn, &settings, &batch, &[]))
            .unwrap();
        decided += report.accepted + report.refused + report.flagged;
    }
    decided
}

/// The real binary on the bench's store: median wall time and CPU time of `RUNS` runs.
fn command(config_path: &Path, args: &[&str]) -> (Duration, Duration) {
    let mut walls = Vec::new();
    let cpu_before = cpu(UsageWho::RUSAGE_CHILDREN);
    for _ in 0..RUNS {
        let began = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .arg("--config")
            .arg(config_path)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        walls.push(began.elapsed());
        assert!(status.success(), "vigie {args:?}: {status}");
    }
    walls.sort();
    let cpu = (cpu(UsageWho::RUSAGE_CHILDREN) - cpu_before) / RUNS as u32;
    (walls[RUNS / 2], cpu)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    if std::env::var_os("VIGIE_BENCH_KEEP").is_some() {
        println!("store kept in {}", dir.path().display());
    }
    let config = config(dir.path());
    let store = Store::open(dir.path()).unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "catalogue bench: {SKUS} SKUs, {ORDERS} orders on {} channels; load average {}",
        CHANNELS.len(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let first = dir.path().join("first.csv");
    let second = dir.path().join("second.csv");
    std::fs::write(&first, snapshot_csv(|_| 50)).unwrap();
    // The next day's file: one SKU in ten moved.
    std::fs::write(&second, snapshot_csv(|i| if i % 10 == 3 { 49 } else { 50 })).unwrap();

    let (count, s) = step(|| apply_snapshot(&store, &first));
    assert_eq!(count, SKUS);
    print("snapshot, first load", &s, "<= 2 s");
    let (_, s) = step(|| apply_snapshot(&store, &second));
    print("snapshot, next version", &s, "<= 2 s");

    let (sent, s) = step(|| push_all(&store, &config));
    print(
        &format!("first push, {sent} quantities to 3 channels"),
        &s,
        "-",
    );

    let (decided, s) = step(|| ingest_orders(&store, &config));
    print(&format!("engine, {decided} orders decided"), &s, "-");
    println!(
        "engine: {:.0} orders/s of CPU, {:.0} orders/s of wall time (target >= 1,000)",
        ORDERS as f64 / s.cpu.as_secs_f64(),
        ORDERS as f64 / s.wall.as_secs_f64()
    );

    let (sent, s) = step(|| push_all(&store, &config));
    print(
        &format!("stock push of the deltas, {sent} quantities to 3 channels"),
        &s,
        "<= 1 s of CPU",
    );

    // What each push tick costs when nothing moved: the daemon's idle work per channel.
    let version = store.with(|c| ledger_version::current(c)).unwrap();
    let (sent, s) = step(|| push_all(&store, &config));
    assert_eq!(sent, 0);
    let per_channel = s.cpu.as_secs_f64() / CHANNELS.len() as f64;
    print(
        "push tick with nothing to send, computed, 3 channels",
        &s,
        "-",
    );
    println!(
        "idle, computing each tick: {:.0} ms of CPU per channel and tick; ten channels ticking \
         each minute: {:.2} % of a core",
        per_channel * 1e3,
        per_channel * 10.0 * 100.0 / 60.0
    );
    // The daemon's tick after that computation found nothing: it reads the ledger's version
    // and stops there (`push::push`). Too quick for one to show: the mean of many.
    let settled = NothingToSend::default();
    settled.remember(version, offer(&config));
    const TICKS: u32 = 10_000;
    let (skipped, s) = step(|| {
        (0..TICKS)
            .filter(|_| {
                let now = store.with(|c| ledger_version::current(c)).unwrap();
                settled.holds(now, &offer(&config))
            })
            .count()
    });
    assert_eq!(skipped, TICKS as usize);
    let per_tick = s.cpu.as_secs_f64() / f64::from(TICKS);
    println!(
        "idle, nothing moved: {:.1} µs of CPU per channel and tick; ten channels ticking each \
         minute: {:.4} % of a core (target < 0.5 %)",
        per_tick * 1e6,
        per_tick * 10.0 * 100.0 / 60.0
    );

    let config_path = dir.path().join("vigie.toml");
    for args in [&["status"][..], &["orders", "--status", "flagged"]] {
        let (wall, cpu) = command(&config_path, args);
        println!(
            "vigie {}: {:.0} ms wall, {:.0} ms CPU, median of {RUNS} (target <= 100 ms)",
            args.join(" "),
            wall.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e3
        );
    }
    if std::env::var_os("VIGIE_BENCH_KEEP").is_some() {
        let _ = dir.keep();
    }
}
