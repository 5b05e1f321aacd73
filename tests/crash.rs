//! Crash consistency: the real daemon runs against both sandboxes while about a thousand
//! orders arrive on shared, scarce SKUs; it is killed with SIGKILL at seeded random moments
//! twenty times and restarted each time, then left to settle and stopped with SIGTERM.
//!
//! What DESIGN section 2 promises is then checked from the outside (what the marketplaces
//! received, as recorded by a proxy in front of each sandbox, and the sandboxes' own state)
//! and from the store:
//! - no order lost: every order placed is in `vigie orders --json`, decided or flagged;
//! - one decision per line: no line ever received two different decisions, no order was both
//!   accepted and refused, and the marketplace's final state is the store's decision;
//! - no oversell: per SKU, units of lines accepted on the marketplaces <= snapshot - buffer;
//! - one message per (order, event, destination): at most one customer message per order
//!   and event on each marketplace, exactly one for every outbox row 'sent';
//! - every send cut by a kill is 'uncertain' with a `notification_uncertain` alert, stored
//!   and delivered to the on-call webhook, and never re-sent.

mod common;
#[path = "common/recorder.rs"]
mod recorder;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Daemon, Setup, vigie};
use nix::sys::signal::Signal;
use recorder::{AlertSink, Hit, Recorder, Rng};
use rust_decimal::Decimal;
use vigie_fnac::sandbox::{self as fnac, FnacSandbox};
use vigie_mirakl::sandbox::{self as mirakl, MiraklSandbox, Tracking};

const SEED: u64 = 0x00C0_FFEE_2026;
const ORDERS: usize = 1000;
const KILLS: usize = 20;
/// Orders arrive one every this long while the daemon is being killed and restarted.
const ARRIVAL: Duration = Duration::from_millis(12);
const POLL: &str = "500ms";
const SAFETY_BUFFER: u32 = 1;
/// Answers to customer-message calls are held back this long after the marketplace took
/// the message, so kills often land while a send is in flight (and the message delivered).
const MESSAGE_LAG: Duration = Duration::from_millis(10);
/// How long the daemon gets, after the last restart, to decide everything, have every
/// decision confirmed by the marketplace and deliver every alert. Customer messages still
/// waiting then are left waiting: the checks below hold for every outbox state, and a
/// debug build sends only a few per second while re-reading a thousand orders each poll.
const SETTLE: Duration = Duration::from_secs(240);
/// The stock snapshot: a few deep SKUs, some shallow, some down to the last units, so
/// refusals and last-unit races across the two marketplaces happen.
const STOCK: [(&str, u32); 12] = [
    ("LAMP-01", 160),
    ("LAMP-02", 140),
    ("CHAIR-01", 120),
    ("TABLE-01", 100),
    ("RUG-01", 25),
    ("RUG-02", 20),
    ("SHELF-01", 15),
    ("MIRROR-01", 10),
    ("CLOCK-01", 3),
    ("VASE-01", 2),
    ("SOFA-01", 1),
    ("BED-01", 1),
];
const EVENTS: [&str; 6] = [
    "received",
    "delayed",
    "accepted",
    "shipped",
    "refused",
    "cancelled",
];

/// The event a French subject line announces (see config/templates/fr/*.subject.txt).
fn event_of_subject(subject: &str) -> Option<&'static str> {
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

#[derive(Clone)]
enum Planned {
    Mirakl(mirakl::OrderSpec),
    Fnac(fnac::OrderSpec),
}

/// Seeded orders: one or two distinct SKUs, 1 to 3 units, mostly shipped to France; one in
/// twenty to Germany, which the rules flag (country_not_allowed).
fn plan(rng: &mut Rng) -> Vec<Planned> {
    (0..ORDERS)
        .map(|_| {
            let flagged = rng.chance(0.05);
            let count = if rng.chance(0.25) { 2 } else { 1 };
            let mut lines: Vec<(&str, u32, Decimal)> = Vec::new();
            while lines.len() < count {
                // Deep SKUs are picked more often, scarce ones often enough to race.
                let sku = STOCK[rng.range(0, STOCK.len() as u64) as usize].0;
                if lines.iter().all(|(s, _, _)| *s != sku) {
                    let cents = rng.range(500, 9_000) as i64;
                    lines.push((sku, rng.range(1, 4) as u32, Decimal::new(cents, 2)));
                }
            }
            if rng.chance(0.55) {
                let mut spec =
                    mirakl::OrderSpec::new().country(if flagged { "DEU" } else { "FRA" });
                for (sku, qty, price) in lines {
                    spec = spec.line(sku, qty, price);
                }
                Planned::Mirakl(spec)
            } else {
                let mut spec = fnac::OrderSpec::new(
                    lines
                        .into_iter()
                        .map(|(sku, qty, price)| fnac::LineSpec::new(sku, qty, price))
                        .collect(),
                );
                if flagged {
                    spec.shipping_country = "DEU".into();
                }
                Planned::Fnac(spec)
            }
        })
        .collect()
}

struct World {
    mirakl: MiraklSandbox,
    fnac: FnacSandbox,
}

/// Places the planned orders at the arrival rate; every hundred orders, ships a fifth of the
/// accepted ones and has Fnac customers cancel some flagged (never accepted) orders.
async fn feed(world: Arc<World>, orders: Vec<Planned>, seed: u64) -> BTreeSet<String> {
    let mut rng = Rng::new(seed);
    let mut flagged_fnac = Vec::new();
    let mut cancelled = BTreeSet::new();
    for (i, order) in orders.into_iter().enumerate() {
        match order {
            Planned::Mirakl(spec) => {
                world.mirakl.add_order(spec);
            }
            Planned::Fnac(spec) => {
                let german = spec.shipping_country == "DEU";
                let id = world.fnac.add_order(spec);
                if german {
                    flagged_fnac.push(id);
                }
            }
        }
        if i % 100 == 99 {
            for order in world.mirakl.orders() {
                if order.state == "SHIPPING" && rng.chance(0.2) {
                    let tracking = Tracking {
                        tracking_number: format!("TRK{}", order.id),
                        carrier_code: Some("COL".into()),
                        carrier_name: Some("Colissimo".into()),
                        tracking_url: None,
                    };
                    world.mirakl.ship(&order.id, tracking).unwrap();
                }
            }
            for order in world.fnac.orders() {
                if order.state == "Accepted" && rng.chance(0.2) {
                    world
                        .fnac
                        .ship(&order.id, &format!("TRK{}", order.id), "COLISSIMO");
                }
            }
            for id in flagged_fnac.drain(..) {
                if rng.chance(0.5) {
                    world.fnac.cancel(&id);
                    cancelled.insert(id);
                }
            }
        }
        tokio::time::sleep(ARRIVAL).await;
    }
    cancelled
}

fn db(setup: &Setup) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_with_flags(
        setup.dir.path().join("state").join("vigie.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// What still keeps the run from being settled, or `None`.
fn unsettled(setup: &Setup, world: &World) -> Option<String> {
    let placed = (world.mirakl.orders().len() + world.fnac.orders().len()) as i64;
    let path = setup.dir.path().join("state").join("vigie.db");
    if !path.exists() {
        return Some("no database yet".into());
    }
    let conn = db(setup);
    let checks = [
        (
            "orders not yet seen",
            placed - count(&conn, "SELECT COUNT(*) FROM orders"),
        ),
        (
            "orders neither decided nor flagged",
            count(
                &conn,
                "SELECT COUNT(*) FROM orders o
                 WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.order_pk = o.id)
                   AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.order_pk = o.id)
                   AND o.status = 'awaiting_acceptance'",
            ),
        ),
        (
            "decisions not yet confirmed by the marketplace",
            count(
                &conn,
                "SELECT COUNT(*) FROM decisions WHERE outcome IS NULL",
            ),
        ),
        (
            "alerts owed to the webhook",
            count(
                &conn,
                "SELECT (SELECT COUNT(*) FROM alerts WHERE notice IS NOT NULL)
                      + (SELECT COUNT(*) FROM outbox
                         WHERE alert_id IS NOT NULL AND state IN ('pending', 'sending'))",
            ),
        ),
    ];
    let open: Vec<String> = checks
        .iter()
        .filter(|(_, n)| *n != 0)
        .map(|(what, n)| format!("{what}: {n}"))
        .collect();
    (!open.is_empty()).then(|| open.join(", "))
}

/// Whether the on-call webhook heard of alert `dedup`: directly, or, when a kill cut the send
/// of that notice too, through the `notification_uncertain` alert about it.
fn reached_on_call(conn: &rusqlite::Connection, received: &BTreeSet<String>, dedup: &str) -> bool {
    if received.contains(dedup) {
        return true;
    }
    let mut stmt = conn
        .prepare(
            "SELECT j.id FROM outbox j JOIN alerts a ON a.id = j.alert_id
             WHERE a.dedup_key = ?1 AND j.state = 'uncertain'",
        )
        .unwrap();
    let cut: Vec<i64> = stmt
        .query_map([dedup], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    cut.iter()
        .any(|job| reached_on_call(conn, received, &format!("notification_uncertain:{job}")))
}

/// The outbox by state and destination, with the soonest retry and a last error.
fn outbox_summary(setup: &Setup) -> String {
    let conn = db(setup);
    let mut stmt = conn
        .prepare(
            "SELECT state, destination, COUNT(*), MIN(next_attempt_at), MAX(last_error)
             FROM outbox GROUP BY state, destination",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(format!(
            "{}/{}: {} (next {:?}, error {:?})",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect::<Vec<_>>()
    .join("; ")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// (channel, order, line).
type LineKey = (String, String, String);
/// A line as the marketplace holds it: sku, quantity, accepted there, its raw state.
type MarketLine = (String, u32, bool, String);

/// One decision as a marketplace received it: (channel, order, line) -> accepted.
type Sent = Vec<((String, String, String), bool)>;

fn mirakl_decisions(hits: &[Hit]) -> Sent {
    let mut sent = Vec::new();
    for hit in hits.iter().filter(|h| h.endpoint() == "OR21") {
        let order = hit
            .path
            .trim_matches('/')
            .split('/')
            .nth(2)
            .unwrap()
            .to_owned();
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

fn fnac_decisions(hits: &[Hit]) -> Sent {
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
fn message_of(hit: &Hit) -> (String, String, &'static str) {
    let text = hit.body_text();
    if hit.endpoint() == "OR43" {
        let order = hit
            .path
            .trim_matches('/')
            .split('/')
            .nth(2)
            .unwrap()
            .to_owned();
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

fn config(
    mirakl: &MiraklSandbox,
    mirakl_proxy: &Recorder,
    fnac: &FnacSandbox,
    fnac_proxy: &Recorder,
    alerts: &AlertSink,
) -> String {
    let events = EVENTS.map(|e| format!("\"{e}\"")).join(", ");
    format!(
        r#"
[[channel]]
name = "lm"
kind = "mirakl"
base_url = "{mirakl_url}"
api_key = "{mirakl_key}"
shop_id = {mirakl_shop}
poll_interval = "{POLL}"
limits = {{ orders_per_minute = 6000, stock_imports_per_minute = 6000, stock_status_every = "100ms" }}

[[channel]]
name = "fnac"
kind = "fnac"
base_url = "{fnac_url}"
partner_id = "{partner}"
shop_id = "{fnac_shop}"
key = "{fnac_key}"
poll_interval = "{POLL}"
limits = {{ requests_per_minute = 60000 }}

[inventory]
source = "manual"
safety_buffer = {SAFETY_BUFFER}

[rules]
on_insufficient_stock = "refuse"
allowed_countries = ["FR", "BE"]

[[alerts.webhook]]
url = "{alerts_url}"
format = "generic"

[notify]
locale = "fr"
delayed_after = "4s"
limits = {{ marketplace_per_minute = 60000, email_per_minute = 60000, webhook_per_minute = 60000 }}

[notify.channel.lm]
events = [{events}]
routes = ["marketplace"]

[notify.channel.fnac]
events = [{events}]
routes = ["marketplace"]
"#,
        mirakl_url = mirakl_proxy.url("/"),
        mirakl_key = mirakl.api_key(),
        mirakl_shop = mirakl.shop_id(),
        fnac_url = fnac_proxy.url("/api.php"),
        partner = fnac.partner_id(),
        fnac_shop = fnac.shop_id(),
        fnac_key = fnac.key(),
        alerts_url = alerts.url(),
    )
}

/// One run of the daemon: when it started and, if it was killed, when.
struct Life {
    started: Instant,
    killed: Option<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_twenty_sigkills_lose_and_duplicate_nothing() {
    let began = Instant::now();
    let mut rng = Rng::new(SEED);
    let world = Arc::new(World {
        mirakl: MiraklSandbox::start(mirakl::SandboxOptions {
            seed: SEED,
            ..Default::default()
        })
        .await
        .unwrap(),
        fnac: FnacSandbox::start(fnac::SandboxOptions {
            seed: SEED,
            ..Default::default()
        })
        .await
        .unwrap(),
    });
    let mirakl_proxy = Recorder::start(&world.mirakl.base_url()).await;
    let fnac_proxy = Recorder::start(&world.fnac.base_url()).await;
    mirakl_proxy.slow_down("OR43", MESSAGE_LAG);
    fnac_proxy.slow_down("messages_update", MESSAGE_LAG);
    let alerts = AlertSink::start().await;
    for (sku, qty) in STOCK {
        world.mirakl.set_quantity(sku, qty);
        world.fnac.set_quantity(sku, qty);
    }
    let setup = Setup::new(&config(
        &world.mirakl,
        &mirakl_proxy,
        &world.fnac,
        &fnac_proxy,
        &alerts,
    ));
    let csv = setup.dir.path().join("stock.csv");
    let mut text = "sku,quantity\n".to_owned();
    for (sku, qty) in STOCK {
        text += &format!("{sku},{qty}\n");
    }
    std::fs::write(&csv, text).unwrap();
    vigie(&setup.config, &["stock", "import", csv.to_str().unwrap()]).await;

    let orders = plan(&mut rng);
    let feeder = tokio::spawn(feed(world.clone(), orders, rng.next_u64()));
    let log = setup.dir.path().join("daemon.log");

    // Twenty lives cut short by SIGKILL at a random moment, then one left to settle.
    let mut lives = Vec::new();
    for _ in 0..KILLS {
        let started = Instant::now();
        let mut daemon = Daemon::start_appending(&setup.config, &["run"], &[], &log);
        tokio::time::sleep(Duration::from_millis(rng.range(50, 1_000))).await;
        assert!(
            daemon.is_running(),
            "vigie exited on its own:\n{}",
            daemon.log()
        );
        let killed = Instant::now();
        daemon.signal(Signal::SIGKILL);
        daemon.wait();
        lives.push(Life {
            started,
            killed: Some(killed),
        });
    }
    let killing_done = began.elapsed();
    eprintln!("[{:>5.1}s] {KILLS} kills done", killing_done.as_secs_f64());
    lives.push(Life {
        started: Instant::now(),
        killed: None,
    });
    let mut daemon = Daemon::start_appending(&setup.config, &["run"], &[], &log);
    let cancelled = feeder.await.unwrap();
    let feeding_done = began.elapsed();

    let deadline = Instant::now() + SETTLE;
    let mut last_report = Instant::now();
    while let Some(what) = unsettled(&setup, &world) {
        assert!(
            daemon.is_running(),
            "vigie exited on its own:\n{}",
            daemon.log()
        );
        assert!(
            Instant::now() < deadline,
            "not settled after {SETTLE:?}: {what}; outbox: {}; log tail:\n{}",
            outbox_summary(&setup),
            tail(&daemon.log(), 40)
        );
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "[{:>5.1}s] waiting: {what}; outbox {}",
                began.elapsed().as_secs_f64(),
                outbox_summary(&setup)
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settled = began.elapsed();
    daemon.signal(Signal::SIGTERM);
    let status = daemon.wait();
    assert!(status.success(), "SIGTERM exit {status:?}");

    // ---- No order lost ------------------------------------------------------------------
    let listed: Vec<serde_json::Value> =
        serde_json::from_slice(&vigie(&setup.config, &["orders", "--json"]).await.stdout).unwrap();
    let by_key: HashMap<(String, String), &serde_json::Value> = listed
        .iter()
        .map(|o| {
            (
                (
                    o["channel"].as_str().unwrap().to_owned(),
                    o["order_id"].as_str().unwrap().to_owned(),
                ),
                o,
            )
        })
        .collect();
    let mirakl_orders = world.mirakl.orders();
    let fnac_orders = world.fnac.orders();
    assert_eq!(mirakl_orders.len() + fnac_orders.len(), ORDERS);
    assert_eq!(listed.len(), ORDERS, "orders listed vs placed");
    let mut market_lines: BTreeMap<LineKey, MarketLine> = BTreeMap::new();
    for o in &mirakl_orders {
        assert!(
            by_key.contains_key(&("lm".to_owned(), o.id.clone())),
            "Mirakl order {} lost",
            o.id
        );
        for l in &o.lines {
            let accepted = matches!(l.state.as_str(), "SHIPPING" | "SHIPPED");
            market_lines.insert(
                ("lm".into(), o.id.clone(), l.id.clone()),
                (l.sku.clone(), l.quantity, accepted, l.state.clone()),
            );
        }
    }
    for o in &fnac_orders {
        assert!(
            by_key.contains_key(&("fnac".to_owned(), o.id.clone())),
            "Fnac order {} lost",
            o.id
        );
        for l in &o.lines {
            let accepted = matches!(l.state.as_str(), "Accepted" | "ToShip" | "Shipped");
            market_lines.insert(
                ("fnac".into(), o.id.clone(), l.id.clone()),
                (l.sku.clone(), l.quantity, accepted, l.state.clone()),
            );
        }
    }
    let mut decided = BTreeMap::<&str, usize>::new();
    for o in &listed {
        let decision = o["decision"].as_str();
        let cancelled_first = o["channel"] == "fnac"
            && cancelled.contains(o["order_id"].as_str().unwrap())
            && decision.is_none();
        assert!(
            decision.is_some() || cancelled_first,
            "order neither decided nor flagged: {o:#}"
        );
        *decided
            .entry(decision.unwrap_or("none (cancelled)"))
            .or_default() += 1;
    }

    // ---- One decision per line, on the marketplace too ---------------------------------
    let mirakl_hits = mirakl_proxy.hits();
    let fnac_hits = fnac_proxy.hits();
    let mut sent: BTreeMap<(String, String, String), BTreeSet<bool>> = BTreeMap::new();
    let mirakl_sent = mirakl_decisions(&mirakl_hits);
    let fnac_sent = fnac_decisions(&fnac_hits);
    for (key, accepted) in mirakl_sent.iter().chain(&fnac_sent) {
        sent.entry(key.clone()).or_default().insert(*accepted);
    }
    let contradicted: Vec<_> = sent.iter().filter(|(_, d)| d.len() > 1).collect();
    assert!(
        contradicted.is_empty(),
        "lines that received both an acceptance and a refusal: {contradicted:?}"
    );
    let mut per_order: BTreeMap<(String, String), BTreeSet<bool>> = BTreeMap::new();
    for ((channel, order, _), decisions) in &sent {
        per_order
            .entry((channel.clone(), order.clone()))
            .or_default()
            .extend(decisions);
    }
    let both: Vec<_> = per_order.iter().filter(|(_, d)| d.len() > 1).collect();
    assert!(
        both.is_empty(),
        "orders both accepted and refused (partial acceptance is off): {both:?}"
    );
    let or21_calls = mirakl_hits
        .iter()
        .filter(|h| h.endpoint() == "OR21")
        .count();
    let or21_orders = mirakl_sent
        .iter()
        .map(|((_, o, _), _)| o)
        .collect::<BTreeSet<_>>()
        .len();
    let or21_invalid_state = mirakl_hits
        .iter()
        .filter(|h| h.endpoint() == "OR21" && h.status == Some(400))
        .count();
    let fnac_update_calls = fnac_hits
        .iter()
        .filter(|h| h.endpoint() == "orders_update")
        .count();
    // The store's decision per line is what the marketplace holds.
    for o in &listed {
        let channel = o["channel"].as_str().unwrap();
        let order = o["order_id"].as_str().unwrap();
        for line in o["lines"].as_array().unwrap() {
            let key = (
                channel.to_owned(),
                order.to_owned(),
                line["line_id"].as_str().unwrap().to_owned(),
            );
            let (sku, _, accepted_there, state) = market_lines
                .get(&key)
                .unwrap_or_else(|| panic!("line {key:?} unknown to the marketplace"));
            assert_eq!(line["sku"].as_str(), Some(sku.as_str()));
            match line["accepted"].as_bool() {
                Some(accepted) => {
                    assert_eq!(
                        accepted, *accepted_there,
                        "{key:?}: the store says accepted={accepted}, the marketplace has {state}"
                    );
                    if let Some(decisions) = sent.get(&key) {
                        assert!(decisions.contains(&accepted), "{key:?}: sent {decisions:?}");
                    }
                }
                None => assert!(
                    !accepted_there,
                    "{key:?} accepted on the marketplace ({state}) but undecided in the store"
                ),
            }
        }
    }

    // ---- No oversell ---------------------------------------------------------------------
    let mut sold: BTreeMap<&str, u32> = BTreeMap::new();
    for (sku, qty, accepted, _) in market_lines.values() {
        if *accepted {
            *sold.entry(sku.as_str()).or_default() += qty;
        }
    }
    for (sku, snapshot) in STOCK {
        let sold = sold.get(sku).copied().unwrap_or(0);
        assert!(
            sold <= snapshot - SAFETY_BUFFER,
            "{sku} oversold: {sold} units accepted on the marketplaces, snapshot {snapshot}, buffer {SAFETY_BUFFER}"
        );
    }
    let conn = db(&setup);
    let store_sold: BTreeMap<String, i64> = {
        let mut stmt = conn
            .prepare(
                "SELECT l.sku, SUM(l.quantity) FROM decisions d
                 JOIN order_lines l ON l.order_pk = d.order_pk AND l.line_id = d.line_id
                 WHERE d.accept = 1 GROUP BY l.sku",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for (sku, snapshot) in STOCK {
        let sold = store_sold.get(sku).copied().unwrap_or(0);
        assert!(
            sold <= i64::from(snapshot - SAFETY_BUFFER),
            "{sku}: the store accepted {sold} units, snapshot {snapshot}, buffer {SAFETY_BUFFER}"
        );
    }

    // ---- One message per (order, event, destination) ----------------------------------
    // What each marketplace received, by (channel, order, event).
    let mut delivered: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for m in world.mirakl.messages() {
        let event = event_of_subject(&m.topic_value)
            .unwrap_or_else(|| panic!("unknown subject {:?}", m.topic_value));
        *delivered
            .entry(("lm".into(), m.order_id.clone(), event.into()))
            .or_default() += 1;
    }
    for m in world.fnac.messages() {
        let subject = m.description.lines().next().unwrap_or_default().to_owned();
        let event =
            event_of_subject(&subject).unwrap_or_else(|| panic!("unknown subject {subject:?}"));
        *delivered
            .entry(("fnac".into(), m.order_id.clone(), event.into()))
            .or_default() += 1;
    }
    let twice: Vec<_> = delivered.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "customer messages sent twice: {twice:?}");
    // The outbox's view: (channel, order, event) -> (row id, state).
    let outbox: BTreeMap<(String, String, String), (i64, String)> = {
        let mut stmt = conn
            .prepare(
                "SELECT o.channel, o.order_id, x.event, x.id, x.state FROM outbox x
                 JOIN orders o ON o.id = x.order_pk WHERE x.destination = 'marketplace'",
            )
            .unwrap();
        stmt.query_map([], |r| {
            Ok(((r.get(0)?, r.get(1)?, r.get(2)?), (r.get(3)?, r.get(4)?)))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    // The graceful stop lets the send in flight finish: nothing is left 'sending'.
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM outbox WHERE state = 'sending'"),
        0,
        "rows left 'sending' after SIGTERM"
    );
    let mut states = BTreeMap::<&str, usize>::new();
    for (key, (id, state)) in &outbox {
        *states.entry(state.as_str()).or_default() += 1;
        let n = delivered.get(key).copied().unwrap_or(0);
        match state.as_str() {
            "sent" => assert_eq!(
                n, 1,
                "outbox row {id} {key:?} is sent, the marketplace has {n}"
            ),
            "uncertain" => assert!(n <= 1),
            other => assert_eq!(
                n, 0,
                "outbox row {id} {key:?} is {other}, yet the marketplace has {n}"
            ),
        }
    }
    for key in delivered.keys() {
        assert!(
            outbox.contains_key(key),
            "message {key:?} without an outbox row"
        );
    }

    // ---- Every interrupted send is uncertain and alerted ---------------------------------
    let stored_alerts: BTreeSet<String> = {
        let mut stmt = conn
            .prepare("SELECT dedup_key FROM alerts WHERE kind = 'notification_uncertain'")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let webhook_alerts: BTreeSet<String> = alerts
        .of_kind("notification_uncertain")
        .iter()
        .map(|a| a["dedup_key"].as_str().unwrap_or_default().to_owned())
        .collect();
    let uncertain: Vec<(&(String, String, String), i64)> = outbox
        .iter()
        .filter(|(_, (_, s))| s == "uncertain")
        .map(|(k, (id, _))| (k, *id))
        .collect();
    for (key, id) in &uncertain {
        let dedup = format!("notification_uncertain:{id}");
        assert!(
            stored_alerts.contains(&dedup),
            "uncertain row {id} {key:?} has no alert in the store"
        );
        assert!(
            reached_on_call(&conn, &webhook_alerts, &dedup),
            "uncertain row {id} {key:?}: no notification_uncertain reached the on-call webhook"
        );
    }
    // Sends the proxy saw cut by a kill (no answer had left when the process died).
    let message_hits: Vec<&Hit> = mirakl_hits
        .iter()
        .chain(&fnac_hits)
        .filter(|h| matches!(h.endpoint().as_str(), "OR43" | "messages_update"))
        .collect();
    let mut kills_interrupting = 0;
    let mut interrupted = Vec::new();
    for (i, life) in lives.iter().enumerate() {
        let Some(killed) = life.killed else { continue };
        let next = lives.get(i + 1).map(|l| l.started);
        let cut: Vec<&&Hit> = message_hits
            .iter()
            .filter(|h| h.at >= life.started && next.is_none_or(|n| h.at < n))
            .filter(|h| h.done.is_none_or(|d| d >= killed))
            .collect();
        kills_interrupting += usize::from(!cut.is_empty());
        interrupted.extend(cut.into_iter().map(|h| message_of(h)));
    }
    for (channel, order, event) in &interrupted {
        let key = (channel.clone(), order.clone(), (*event).to_owned());
        let (id, state) = outbox
            .get(&key)
            .unwrap_or_else(|| panic!("interrupted send {key:?} has no outbox row"));
        assert_eq!(
            state, "uncertain",
            "outbox row {id} {key:?} was cut by a kill but is {state}"
        );
    }
    let uncertain_delivered = uncertain
        .iter()
        .filter(|(k, _)| delivered.contains_key(*k))
        .count();

    println!(
        "crash test figures: {ORDERS} orders, {KILLS} SIGKILLs in {:.1}s, feeding done at {:.1}s, \
         settled at {:.1}s, total {:.1}s",
        killing_done.as_secs_f64(),
        feeding_done.as_secs_f64(),
        settled.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
    println!("  decisions: {decided:?}");
    println!(
        "  marketplace decisions: OR21 calls {or21_calls} for {or21_orders} orders \
         ({or21_invalid_state} answered 400), Fnac orders_update calls {fnac_update_calls}"
    );
    println!("  units sold per SKU: {sold:?}");
    println!("  outbox (marketplace route) by state: {states:?}");
    println!(
        "  kills that cut a send in flight at the marketplace: {kills_interrupting}/{KILLS}; \
         requests cut: {}; uncertain rows: {} ({} of them actually delivered); \
         notification_uncertain alerts: {} stored, {} delivered to the webhook",
        interrupted.len(),
        uncertain.len(),
        uncertain_delivered,
        stored_alerts.len(),
        webhook_alerts.len()
    );
    assert!(
        !uncertain.is_empty(),
        "no kill interrupted a send: the uncertain path was not exercised"
    );
}
