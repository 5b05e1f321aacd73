//! `vigie bench`: the demo's machinery (both sandboxes, the sinks, the daemon as a child
//! process on a variant of `config/demo.toml`) under a stream of ordinary orders, run at the
//! marketplaces' default cadence and at the fastest the configuration allows. Prints figures
//! as a markdown table; it asserts nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use jiff::Timestamp;
use rusqlite::Connection;
use tokio::time::Instant;

use super::{DEMO_CONFIG, Rig, open_store, report, scenario, start_daemon, stop_daemon};
use crate::config::{self, Environment};
use crate::store;

/// Which runs `vigie bench` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    Both,
    /// The published limits and default poll intervals (1 min Mirakl, 5 min Fnac).
    Cadence,
    /// Limits raised, poll intervals short.
    Fast,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub which: Which,
    /// Orders in the fastest run.
    pub orders: u64,
    /// Orders placed per second in the fastest run.
    pub rate: u32,
    /// Orders in the default-cadence run, placed evenly over `cadence_minutes`.
    pub cadence_orders: u64,
    pub cadence_minutes: u64,
    /// Poll interval of both channels in the fastest run.
    pub fast_poll: Duration,
    pub out: Option<PathBuf>,
    pub keep: bool,
}

/// Articles in the benchmark's catalogue, each on both marketplaces.
const SKUS: u64 = 100;

/// One run's shape.
struct Scenario {
    title: &'static str,
    what: String,
    orders: u64,
    /// Orders are placed evenly over this.
    place_over: Duration,
    /// Longest wait for the last orders to be accepted once all are placed.
    settle_limit: Duration,
    /// Wait after the last acceptance, for the last stock pushes.
    tail: Duration,
    config: String,
}

impl Scenario {
    fn cadence(o: &Options) -> anyhow::Result<Self> {
        let mut text = DEMO_CONFIG.to_owned();
        for (channel, poll) in [("leroymerlin", "\"1m\""), ("fnac", "\"5m\"")] {
            text = set_key(
                &text,
                "[[channel]]",
                Some(channel),
                "poll_interval",
                Some(poll),
            )?;
            text = set_key(&text, "[[channel]]", Some(channel), "limits", None)?;
        }
        text = set_key(&text, "[notify]", None, "limits", None)?;
        text = set_key(&text, "[notify]", None, "delayed_after", None)?;
        Ok(Self {
            title: "default cadence",
            what: format!(
                "{} orders placed over {} min; poll 1 min Mirakl, 5 min Fnac; published limits \
                 (OR11 and STO01 1/min, STO02 every 15 s, Fnac 60 requests/min)",
                o.cadence_orders, o.cadence_minutes
            ),
            orders: o.cadence_orders,
            place_over: Duration::from_secs(60 * o.cadence_minutes),
            // One Fnac poll interval and the time to act on it.
            settle_limit: Duration::from_secs(8 * 60),
            tail: Duration::from_secs(75),
            config: text,
        })
    }

    fn fast(o: &Options) -> anyhow::Result<Self> {
        let poll = format!("\"{}\"", humantime::format_duration(o.fast_poll));
        let mut text = DEMO_CONFIG.to_owned();
        for channel in ["leroymerlin", "fnac"] {
            text = set_key(
                &text,
                "[[channel]]",
                Some(channel),
                "poll_interval",
                Some(&poll),
            )?;
        }
        text = set_key(
            &text,
            "[[channel]]",
            Some("leroymerlin"),
            "limits",
            Some(
                "{ orders_per_minute = 600000, stock_imports_per_minute = 600000, \
                 stock_status_every = \"100ms\" }",
            ),
        )?;
        text = set_key(
            &text,
            "[[channel]]",
            Some("fnac"),
            "limits",
            Some("{ requests_per_minute = 600000 }"),
        )?;
        text = set_key(
            &text,
            "[notify]",
            None,
            "limits",
            Some(
                "{ marketplace_per_minute = 600000, email_per_minute = 600000, \
                 webhook_per_minute = 600000 }",
            ),
        )?;
        text = set_key(&text, "[notify]", None, "delayed_after", None)?;
        let rate = o.rate.max(1);
        Ok(Self {
            title: "fastest allowed",
            what: format!(
                "{} orders placed at {rate}/s; poll {} on both channels; limits raised",
                o.orders,
                humantime::format_duration(o.fast_poll)
            ),
            orders: o.orders,
            place_over: Duration::from_secs_f64(o.orders as f64 / f64::from(rate)),
            settle_limit: Duration::from_secs(180),
            tail: Duration::from_secs(3),
            config: text,
        })
    }
}

/// `text` with `key` set to `value` (or removed) in the one block under `header` (and, for
/// `[[channel]]`, named `name`). Exactly one such line must exist.
fn set_key(
    text: &str,
    header: &str,
    name: Option<&str>,
    key: &str,
    value: Option<&str>,
) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut section = "";
    let mut block_name: Option<String> = None;
    let mut found = 0;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed;
            block_name = None;
        } else if let Some(n) = trimmed.strip_prefix("name = ") {
            block_name = Some(n.trim_matches('"').to_owned());
        }
        let here = section == header && name.is_none_or(|n| block_name.as_deref() == Some(n));
        if here && trimmed.starts_with(&format!("{key} =")) {
            found += 1;
            if let Some(value) = value {
                let _ = writeln!(out, "{key} = {value}");
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    anyhow::ensure!(
        found == 1,
        "config/demo.toml: expected one `{key}` under {header} {name:?}, found {found}"
    );
    Ok(out)
}

/// Figures from one run.
#[derive(Debug, Default)]
struct Figures {
    placed: u64,
    accepted: usize,
    decided: u64,
    /// From the first order placed to the last one accepted.
    span_secs: f64,
    wall_secs: f64,
    accept_waits: Vec<f64>,
    /// Time to accept by marketplace ("Mirakl", "Fnac").
    accept_waits_by: BTreeMap<&'static str, Vec<f64>>,
    propagation: Vec<f64>,
    /// Propagation by the marketplace the order came from.
    propagation_from: BTreeMap<&'static str, Vec<f64>>,
    /// Accepted order lines whose SKU never reached the other channel after the order.
    unpropagated: usize,
    /// Per marketplace: (all calls, of which customer messages, accepted orders).
    calls: BTreeMap<&'static str, (u64, u64, usize)>,
    messages_sent: u64,
    messages_queued: u64,
    peak_rss_kib: Option<u64>,
    cpu_secs: Option<f64>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let machine = Machine::probe().await;
    let mut runs = Vec::new();
    if matches!(options.which, Which::Both | Which::Cadence) {
        runs.push(Scenario::cadence(&options)?);
    }
    if matches!(options.which, Which::Both | Which::Fast) {
        runs.push(Scenario::fast(&options)?);
    }
    let mut results = Vec::new();
    for scenario in runs {
        println!("vigie bench: {}: {}", scenario.title, scenario.what);
        let dir = tempfile::Builder::new().prefix("vigie-bench-").tempdir()?;
        let figures = run_in(dir.path(), &scenario).await;
        if options.keep {
            println!("  kept {}", dir.keep().display());
        }
        results.push((scenario, figures?));
    }
    let table = render(&machine, &results);
    println!("\n{table}");
    if let Some(out) = &options.out {
        std::fs::write(out, &table).with_context(|| format!("cannot write {}", out.display()))?;
        println!("written to {}", out.display());
    }
    Ok(())
}

async fn run_in(dir: &Path, scenario: &Scenario) -> anyhow::Result<Figures> {
    let rig = Rig::start().await?;
    let on_hand = u32::try_from((3 * scenario.orders / SKUS).max(1000)).unwrap_or(u32::MAX);
    let skus: Vec<String> = (0..SKUS).map(|i| format!("BENCH-{i:03}")).collect();
    scenario::offer_on_marketplaces(
        &rig.mirakl,
        &rig.fnac,
        skus.iter().map(|s| (s.as_str(), on_hand)),
    );
    let stock = dir.join("stock.csv");
    std::fs::write(
        &stock,
        scenario::stock_csv_of(skus.iter().map(|s| (s.as_str(), on_hand, ""))),
    )?;
    let state = dir.join("state");
    let config_path = dir.join("vigie.toml");
    std::fs::write(&config_path, rig.config(&scenario.config, &state, &stock))?;
    config::load(&config_path, &Environment::default()).context("the bench configuration")?;

    let log = dir.join("vigie.log");
    let mut daemon = start_daemon(&config_path, &log)?;
    let pid = daemon.id().context("the daemon has no pid")?;
    let started = Instant::now();
    let store = open_store(&mut daemon, &state, &log).await?;
    // Orders placed before the inventory is loaded would be refused for want of stock.
    loop {
        let loaded = store
            .call(|conn| {
                Ok(conn.query_row("SELECT COUNT(*) FROM stock", [], |r| r.get::<_, i64>(0))?)
            })
            .await?;
        if u64::try_from(loaded).unwrap_or(0) >= SKUS {
            break;
        }
        if let Some(status) = daemon.try_wait()? {
            anyhow::bail!("the daemon stopped ({status}); see {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut rng = scenario::Rng::new();
    let mut placed = 0u64;
    let mut fnac_seen = 0usize;
    // When the driver saw each Fnac offers_update (the sandbox does not stamp them).
    let mut fnac_pushes: HashMap<String, Vec<Timestamp>> = HashMap::new();
    let every = scenario.place_over.as_secs_f64() / scenario.orders.max(1) as f64;
    let first_order = Instant::now();
    let mut next_ship = first_order + Duration::from_secs(3);
    let mut next_print = first_order;
    let mut settle_deadline = None;
    let mut settled_at = None;
    loop {
        let now = Instant::now();
        let due = ((now.duration_since(first_order).as_secs_f64() / every) as u64 + 1)
            .min(scenario.orders);
        while placed < due {
            let (first, last) =
                scenario::CUSTOMERS[rng.next(scenario::CUSTOMERS.len() as u64) as usize];
            let sku = &skus[rng.next(SKUS) as usize];
            let quantity = 1 + rng.next(2) as u32;
            if rng.next(2) == 0 {
                rig.mirakl
                    .add_order(scenario::mirakl_spec(sku, quantity, first, last, "FRA"));
            } else {
                rig.fnac
                    .add_order(scenario::fnac_spec(sku, quantity, first, last, "FRA"));
            }
            placed += 1;
        }
        if now >= next_ship {
            scenario::ship_accepted(&rig.mirakl, &rig.fnac);
            next_ship = now + Duration::from_secs(3);
        }
        let updates = rig.fnac.offers_updates();
        let seen_at = Timestamp::now();
        for update in &updates[fnac_seen.min(updates.len())..] {
            for offer in &update.offers {
                fnac_pushes
                    .entry(offer.sku.clone())
                    .or_default()
                    .push(seen_at);
            }
        }
        fnac_seen = updates.len();

        let (seen, settled, accepted) = store.call(|conn| Ok(counts(conn)?)).await?;
        if now >= next_print {
            println!(
                "  [{:>4}s] placed {placed:>5}/{} | seen {seen:>5} | accepted {accepted:>5}",
                started.elapsed().as_secs(),
                scenario.orders
            );
            next_print = now + Duration::from_secs(10);
        }
        if let Some(status) = daemon.try_wait()? {
            anyhow::bail!("the daemon stopped ({status}); see {}", log.display());
        }
        if placed >= scenario.orders {
            let deadline = *settle_deadline.get_or_insert(now + scenario.settle_limit);
            if settled_at.is_none() && ((seen >= placed && settled >= seen) || now >= deadline) {
                settled_at = Some(now);
            }
            if settled_at.is_some_and(|at| now >= at + scenario.tail) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall_secs = started.elapsed().as_secs_f64();
    let peak_rss_kib = peak_rss_kib(pid);
    let cpu_secs = cpu_secs(pid).await;
    stop_daemon(&mut daemon).await?;

    let outside = report::Outside::gather(&rig.mirakl, &rig.fnac);
    let mut created: HashMap<String, Timestamp> = HashMap::new();
    // When Mirakl received the OR21 that accepted the order; vigie records the confirmation
    // only at its next OR11 poll.
    let mut mirakl_accepted: HashMap<String, Timestamp> = HashMap::new();
    for o in rig.mirakl.orders() {
        if let Some(at) = o.accepted_at {
            mirakl_accepted.insert(o.id.clone(), at);
        }
        created.insert(o.id, o.created_at);
    }
    for o in rig.fnac.orders() {
        created.insert(o.id, o.created_at);
    }
    let mut mirakl_pushes: HashMap<String, Vec<Timestamp>> = HashMap::new();
    for import in rig.mirakl.stock_imports() {
        for line in import.lines {
            mirakl_pushes
                .entry(line.sku)
                .or_default()
                .push(import.created_at);
        }
    }
    for times in mirakl_pushes.values_mut().chain(fnac_pushes.values_mut()) {
        times.sort();
    }
    let rows = store.call(|conn| accepted_lines(conn)).await?;
    let decided = store.call(|conn| Ok(counts(conn)?)).await?.1;

    let mut figures = Figures {
        placed,
        decided,
        wall_secs,
        peak_rss_kib,
        cpu_secs,
        ..Figures::default()
    };
    let mut accepted_per_channel: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_created: Option<Timestamp> = None;
    let mut last_accepted: Option<Timestamp> = None;
    let mut waited: HashSet<&str> = HashSet::new();
    for row in &rows {
        let Some(&placed_at) = created.get(&row.order_id) else {
            continue;
        };
        let market = if row.channel == "fnac" {
            "Fnac"
        } else {
            "Mirakl"
        };
        if waited.insert(&row.order_id) {
            *accepted_per_channel.entry(row.channel.clone()).or_default() += 1;
            // Fnac answers orders_update with the outcome, so vigie's confirmation is the
            // marketplace's acceptance there.
            let accepted_at = mirakl_accepted
                .get(&row.order_id)
                .copied()
                .unwrap_or(row.confirmed_at);
            let wait = seconds(placed_at, accepted_at);
            figures.accept_waits.push(wait);
            figures
                .accept_waits_by
                .entry(market)
                .or_default()
                .push(wait);
            first_created = Some(first_created.map_or(placed_at, |t| t.min(placed_at)));
            last_accepted =
                Some(last_accepted.map_or(row.confirmed_at, |t| t.max(row.confirmed_at)));
        }
        let other = if row.channel == "fnac" {
            &mirakl_pushes
        } else {
            &fnac_pushes
        };
        match first_at_or_after(other.get(&row.sku), row.seen_at) {
            Some(at) => {
                let delay = seconds(placed_at, at);
                figures.propagation.push(delay);
                figures
                    .propagation_from
                    .entry(market)
                    .or_default()
                    .push(delay);
            }
            None => figures.unpropagated += 1,
        }
    }
    figures.accepted = waited.len();
    if let (Some(first), Some(last)) = (first_created, last_accepted) {
        figures.span_secs = seconds(first, last);
    }
    for values in [&mut figures.accept_waits, &mut figures.propagation]
        .into_iter()
        .chain(figures.accept_waits_by.values_mut())
        .chain(figures.propagation_from.values_mut())
    {
        values.sort_by(f64::total_cmp);
    }
    for (label, channel, calls, messages) in [
        (
            "Mirakl",
            "leroymerlin",
            outside.mirakl_calls,
            rig.mirakl.request_count("OR43"),
        ),
        (
            "Fnac",
            "fnac",
            outside.fnac_calls,
            rig.fnac.requests("messages_update"),
        ),
    ] {
        let accepted = accepted_per_channel.get(channel).copied().unwrap_or(0);
        figures.calls.insert(label, (calls, messages, accepted));
    }
    (figures.messages_sent, figures.messages_queued) = store.call(|conn| Ok(outbox(conn)?)).await?;
    Ok(figures)
}

fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64().max(0.0)
}

/// The first of the `sorted` times at or after `at`.
fn first_at_or_after(sorted: Option<&Vec<Timestamp>>, at: Timestamp) -> Option<Timestamp> {
    let sorted = sorted?;
    let i = sorted.partition_point(|t| *t < at);
    sorted.get(i).copied()
}

/// (orders seen, orders whose decision the marketplace settled, orders accepted and confirmed)
fn counts(conn: &Connection) -> rusqlite::Result<(u64, u64, u64)> {
    let (seen, settled, accepted): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM orders),
                (SELECT COUNT(DISTINCT order_pk) FROM decisions WHERE outcome IS NOT NULL),
                (SELECT COUNT(DISTINCT order_pk) FROM decisions
                  WHERE accept = 1 AND outcome = 'confirmed')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok((n(seen), n(settled), n(accepted)))
}

/// Customer messages and webhooks (sent, still pending or sending).
fn outbox(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    let (sent, queued): (i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(state = 'sent'), 0),
                COALESCE(SUM(state IN ('pending', 'sending')), 0)
         FROM outbox WHERE order_pk IS NOT NULL",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((
        u64::try_from(sent).unwrap_or(0),
        u64::try_from(queued).unwrap_or(0),
    ))
}

struct AcceptedLine {
    channel: String,
    order_id: String,
    sku: String,
    /// When vigie first saw the order (and reserved its units).
    seen_at: Timestamp,
    /// When the marketplace confirmed the acceptance.
    confirmed_at: Timestamp,
}

fn accepted_lines(conn: &Connection) -> store::Result<Vec<AcceptedLine>> {
    let mut stmt = conn.prepare(
        "SELECT o.channel, o.order_id, l.sku, o.first_seen_at, d.outcome_at
         FROM decisions d
         JOIN orders o ON o.id = d.order_pk
         JOIN order_lines l ON l.order_pk = d.order_pk AND l.line_id = d.line_id
         WHERE d.accept = 1 AND d.outcome = 'confirmed'",
    )?;
    let rows: Vec<(String, String, String, String, String)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(channel, order_id, sku, seen, confirmed)| {
            Some(AcceptedLine {
                channel,
                order_id,
                sku,
                seen_at: seen.parse().ok()?,
                confirmed_at: confirmed.parse().ok()?,
            })
        })
        .collect())
}

/// VmHWM of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User and system CPU time of a live process (all its threads), in seconds.
async fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are space-separated.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12th and 13th after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks().await)
}

async fn clock_ticks() -> f64 {
    let out = tokio::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .await;
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        // USER_HZ is 100 on every Linux architecture vigie targets.
        .unwrap_or(100.0)
}

/// Where the figures were measured.
struct Machine {
    date: String,
    cores: usize,
    cpu: String,
    rustc: String,
    load_before: String,
}

impl Machine {
    async fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
        let rustc = tokio::process::Command::new("rustc")
            .arg("--version")
            .output()
            .await
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map_or_else(|| "rustc not found".to_owned(), |s| s.trim().to_owned());
        Self {
            date: Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            rustc,
            load_before: load_average(),
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn render(machine: &Machine, results: &[(Scenario, Figures)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "vigie bench, {}: {} cores, {}, {}; load average {} before, {} after",
        machine.date,
        machine.cores,
        machine.cpu,
        machine.rustc,
        machine.load_before,
        load_average()
    );
    let _ = writeln!(out);
    for (s, _) in results {
        let _ = writeln!(out, "- {}: {}", s.title, s.what);
    }
    let _ = writeln!(out);
    let mut header = String::from("| |");
    let mut rule = String::from("|---|");
    for (s, _) in results {
        let _ = write!(header, " {} |", s.title);
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let mut row = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        let mut line = format!("| {label} |");
        for (_, f) in results {
            let _ = write!(line, " {} |", cell(f));
        }
        let _ = writeln!(out, "{line}");
    };
    row("orders accepted / placed", &|f| {
        format!("{} / {}", f.accepted, f.placed)
    });
    row("orders per second (first placed to last accepted)", &|f| {
        if f.span_secs > 0.0 {
            format!("{:.1}", f.accepted as f64 / f.span_secs)
        } else {
            "-".into()
        }
    });
    row("time to accept, p50 / p99", &|f| {
        pair(&f.accept_waits, " s")
    });
    for label in ["Mirakl", "Fnac"] {
        row(&format!("- {label} orders"), &|f| {
            pair(
                f.accept_waits_by.get(label).map_or(&[], Vec::as_slice),
                " s",
            )
        });
    }
    for label in ["Mirakl", "Fnac"] {
        row(
            &format!("API calls per accepted order, {label}: orders and stock (+ messages)"),
            &|f| match f.calls.get(label) {
                Some(&(calls, messages, accepted)) if accepted > 0 => format!(
                    "{:.2} (+ {:.2})",
                    (calls - messages) as f64 / accepted as f64,
                    messages as f64 / accepted as f64
                ),
                _ => "-".into(),
            },
        );
    }
    row("customer messages sent / still queued at the end", &|f| {
        format!("{} / {}", f.messages_sent, f.messages_queued)
    });
    row("stock propagation to the other channel, p50 / p99", &|f| {
        let mut cell = pair(&f.propagation, " s");
        if f.unpropagated > 0 {
            let _ = write!(
                cell,
                " ({} lines not propagated by the end)",
                f.unpropagated
            );
        }
        cell
    });
    for (from, to) in [("Mirakl", "Fnac"), ("Fnac", "Mirakl")] {
        row(&format!("- {from} order to {to}"), &|f| {
            pair(
                f.propagation_from.get(from).map_or(&[], Vec::as_slice),
                " s",
            )
        });
    }
    row("peak RSS of the daemon", &|f| {
        f.peak_rss_kib
            .map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
    });
    row("daemon CPU per 1,000 orders", &|f| match f.cpu_secs {
        Some(cpu) if f.decided > 0 => format!(
            "{:.2} s ({cpu:.1} s in all)",
            cpu * 1000.0 / f.decided as f64
        ),
        _ => "-".into(),
    });
    row("wall time", &|f| format!("{:.0} s", f.wall_secs));
    out
}

/// "p50 / p99" of sorted values.
fn pair(sorted: &[f64], unit: &str) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    format!(
        "{:.2}{unit} / {:.2}{unit}",
        report::percentile(sorted, 0.5),
        report::percentile(sorted, 0.99)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_key_changes_one_channel_only() {
        let text = set_key(
            DEMO_CONFIG,
            "[[channel]]",
            Some("fnac"),
            "poll_interval",
            Some("\"5m\""),
        )
        .unwrap();
        assert!(text.contains("poll_interval = \"5m\""));
        assert_eq!(text.matches("poll_interval = \"2s\"").count(), 1);
        let text = set_key(&text, "[notify]", None, "limits", None).unwrap();
        assert!(!text.contains("marketplace_per_minute"));
        assert!(set_key(&text, "[notify]", None, "limits", None).is_err());
    }

    #[test]
    fn pushes_after_the_reservation() {
        let t = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        let pushes = vec![t(1), t(5), t(9)];
        assert_eq!(first_at_or_after(Some(&pushes), t(5)), Some(t(5)));
        assert_eq!(first_at_or_after(Some(&pushes), t(6)), Some(t(9)));
        assert_eq!(first_at_or_after(Some(&pushes), t(10)), None);
        assert_eq!(first_at_or_after(None, t(0)), None);
    }

    #[test]
    fn both_scenarios_make_valid_configurations() {
        let options = Options {
            which: Which::Both,
            orders: 10,
            rate: 5,
            cadence_orders: 4,
            cadence_minutes: 1,
            fast_poll: Duration::from_millis(250),
            out: None,
            keep: false,
        };
        let cadence = Scenario::cadence(&options).unwrap();
        assert!(cadence.config.contains("poll_interval = \"1m\""));
        assert!(cadence.config.contains("poll_interval = \"5m\""));
        assert!(!cadence.config.contains("per_minute"));
        let fast = Scenario::fast(&options).unwrap();
        assert!(fast.config.contains("poll_interval = \"250ms\""));
        assert_eq!(fast.place_over, Duration::from_secs(2));
    }
}
