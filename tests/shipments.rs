//! Parcels end to end, the real binary against both sandboxes: `vigie ship` records a parcel,
//! the daemon confirms it to the marketplace once, the customer hears `shipped` once, and the
//! ledger lets the units go once the marketplace says the order shipped. Bad input changes
//! nothing and exits 1 naming what is wrong.

mod common;

use std::path::Path;
use std::process::Output;

use common::{Daemon, Setup, vigie};
use nix::sys::signal::Signal;
use rust_decimal::Decimal;
use serde_json::Value;
use vigie_fnac::sandbox::{self as fnac, FnacSandbox};
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};
use vigie_testkit::Recorder;

fn mirakl_channel(sandbox: &MiraklSandbox, extra: &str) -> String {
    format!(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\nshop_id = {}\n\
         limits = {{ orders_per_minute = 600, stock_imports_per_minute = 600 }}\n{extra}\n\
         [notify.channel.lm]\nevents = [\"shipped\"]\nroutes = [\"marketplace\"]\n",
        sandbox.base_url(),
        sandbox.api_key(),
        sandbox.shop_id()
    )
}

fn fnac_channel(sandbox: &FnacSandbox) -> String {
    format!(
        "[[channel]]\nname = \"fnac\"\nkind = \"fnac\"\nbase_url = \"{}\"\npartner_id = \"{}\"\nshop_id = \"{}\"\n\
         key = \"{}\"\nlimits = {{ requests_per_minute = 6000 }}\n",
        sandbox.base_url(),
        sandbox.partner_id(),
        sandbox.shop_id(),
        sandbox.key()
    )
}

/// Runs `vigie` and returns its output, whatever its exit code.
async fn try_vigie(config: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .output()
        .await
        .unwrap()
}

async fn order_json(config: &Path, id: &str) -> Value {
    let out = vigie(config, &["orders", "--json"]).await;
    let orders: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    orders
        .into_iter()
        .find(|o| o["order_id"] == id)
        .unwrap_or_else(|| panic!("no order {id}"))
}

/// The state of each parcel in an order's `orders --json` view.
fn shipment_states(view: &Value) -> Vec<&str> {
    view["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect()
}

async fn on_hand(config: &Path, sku: &str) -> i64 {
    let out = vigie(config, &["stock", "show", sku, "--json"]).await;
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows[0]["on_hand"].as_i64().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn mirakl_accepted() -> (MiraklSandbox, String) {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    sandbox.set_quantity("SKU-A", 5);
    sandbox.set_quantity("SKU-B", 5);
    let id = sandbox.add_order(OrderSpec::new().line("SKU-A", 2, Decimal::new(20, 0)).line(
        "SKU-B",
        1,
        Decimal::new(30, 0),
    ));
    (sandbox, id)
}

async fn stocked(setup: &Setup) {
    vigie(&setup.config, &["stock", "set", "SKU-A", "5"]).await;
    vigie(&setup.config, &["stock", "set", "SKU-B", "5"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mirakl_order_ships_in_two_parcels_confirmed_once_each() {
    let (sandbox, id) = mirakl_accepted().await;
    let setup = Setup::new(&mirakl_channel(&sandbox, ""));
    stocked(&setup).await;
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.order(&id).unwrap().state, "SHIPPING");
    let lines: Vec<String> = sandbox
        .order(&id)
        .unwrap()
        .lines
        .iter()
        .map(|l| l.id.clone())
        .collect();
    let order = format!("lm:{id}");

    // First parcel: one unit of the first line. Given twice, recorded once.
    let first = [
        "ship",
        &order,
        "--carrier",
        "Colissimo",
        "--tracking",
        "6A001",
    ];
    let part = format!("{}=1", lines[0]);
    let mut args = first.to_vec();
    args.extend(["--line", &part]);
    let out = vigie(&setup.config, &args).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("recorded"));
    let again = vigie(&setup.config, &args).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("already recorded"));
    let pending = order_json(&setup.config, &id).await;
    assert_eq!(
        pending["shipments"].as_array().unwrap().len(),
        1,
        "{pending:#}"
    );
    assert_eq!(pending["shipments"][0]["state"], "pending");

    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.request_count("OR23"), 1);
    assert_eq!(sandbox.request_count("OR24"), 0, "units are left to ship");
    let shipped = sandbox.order(&id).unwrap();
    assert_eq!(shipped.state, "SHIPPING");
    let tracking = shipped.tracking.unwrap();
    assert_eq!(tracking.tracking_number, "6A001");
    assert_eq!(
        tracking.carrier_code.as_deref(),
        Some("COLISSIMO"),
        "SH21 lists it"
    );
    let view = order_json(&setup.config, &id).await;
    assert_eq!(view["shipments"][0]["state"], "confirmed", "{view:#}");
    assert_eq!(
        view["shipments"][0]["lines"],
        serde_json::json!([{"line_id": lines[0], "quantity": 1}])
    );
    let messages = sandbox.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(messages[0].body.contains("6A001"), "{}", messages[0].body);

    // The rest, with a carrier the operator does not list: sent by name, then OR24.
    vigie(
        &setup.config,
        &[
            "ship",
            &order,
            "--carrier",
            "Coursier Dupont",
            "--tracking",
            "CD-9",
            "--tracking-url",
            "https://dupont.example/CD-9",
        ],
    )
    .await;
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.request_count("OR24"), 1);
    let done = sandbox.order(&id).unwrap();
    assert_eq!(done.state, "SHIPPED");
    let tracking = done.tracking.unwrap();
    assert_eq!(
        (
            tracking.carrier_name.as_deref(),
            tracking.tracking_url.as_deref()
        ),
        (Some("Coursier Dupont"), Some("https://dupont.example/CD-9"))
    );
    // The second parcel is a second `shipped`, with its own carrier and tracking.
    let messages = sandbox.messages();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[1].body.contains("CD-9"), "{}", messages[1].body);
    // The next poll reads SHIPPED: the units leave the ledger, and nobody hears it again.
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.messages().len(), 2, "{:#?}", sandbox.messages());
    assert_eq!(on_hand(&setup.config, "SKU-A").await, 3);
    assert_eq!(on_hand(&setup.config, "SKU-B").await, 4);
    let view = order_json(&setup.config, &id).await;
    assert_eq!(
        shipment_states(&view),
        ["confirmed", "confirmed"],
        "{view:#}"
    );
    assert_eq!(sandbox.request_count("OR23"), 2, "each parcel sent once");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parcels_change_nothing_and_exit_1_naming_the_fault() {
    let (sandbox, id) = mirakl_accepted().await;
    let setup = Setup::new(&mirakl_channel(&sandbox, ""));
    stocked(&setup).await;
    vigie(&setup.config, &["run", "--once"]).await;
    let line = sandbox.order(&id).unwrap().lines[0].id.clone();
    let order = format!("lm:{id}");
    let too_many = format!("{line}=3");
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["ship", "lm:NOPE-1", "--carrier", "UPS", "--tracking", "1"],
            "no order lm:NOPE-1",
        ),
        (
            vec![
                "ship",
                &order,
                "--carrier",
                "UPS",
                "--tracking",
                "1",
                "--line",
                "L-404",
            ],
            "no line L-404",
        ),
        (
            vec![
                "ship",
                &order,
                "--carrier",
                "UPS",
                "--tracking",
                "1",
                "--line",
                &too_many,
            ],
            "3 units asked, 2 left",
        ),
        (
            vec!["ship", &order, "--carrier", "UPS", "--tracking", " "],
            "tracking number is empty",
        ),
    ];
    for (args, says) in cases {
        let out = try_vigie(&setup.config, &args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
    let view = order_json(&setup.config, &id).await;
    assert_eq!(view["shipments"], serde_json::json!([]), "nothing applied");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parcel_the_marketplace_refuses_raises_shipment_rejected_in_its_words() {
    let (sandbox, id) = mirakl_accepted().await;
    // The seller's table maps to a code the operator does not have.
    let setup = Setup::new(&mirakl_channel(
        &sandbox,
        "carriers = { \"Colissimo\" = \"NOPE\" }",
    ));
    stocked(&setup).await;
    vigie(&setup.config, &["run", "--once"]).await;
    let order = format!("lm:{id}");
    vigie(
        &setup.config,
        &["ship", &order, "--carrier", "Colissimo", "--tracking", "X1"],
    )
    .await;
    vigie(&setup.config, &["run", "--once"]).await;
    let view = order_json(&setup.config, &id).await;
    assert_eq!(view["shipments"][0]["state"], "rejected", "{view:#}");
    let db = setup.database().unwrap();
    let text: String = db
        .query_row(
            "SELECT message FROM alerts WHERE kind = 'shipment_rejected'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(text.contains("The carrier NOPE does not exist"), "{text}");
    assert!(text.contains("X1"), "{text}");
    // Not sent again at the next cycle.
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.request_count("OR23"), 1);

    // The seller fixes the table and gives the same parcel again: a new parcel, confirmed.
    setup.write(&mirakl_channel(
        &sandbox,
        "carriers = { \"Colissimo\" = \"COLISSIMO\" }",
    ));
    let out = vigie(
        &setup.config,
        &["ship", &order, "--carrier", "Colissimo", "--tracking", "X1"],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("parcel X1 recorded"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    vigie(&setup.config, &["run", "--once"]).await;
    let view = order_json(&setup.config, &id).await;
    assert_eq!(
        shipment_states(&view),
        ["rejected", "confirmed"],
        "{view:#}"
    );
    assert_eq!(sandbox.order(&id).unwrap().state, "SHIPPED");
}

/// A Fnac sandbox with an order of two units of one line, which one cycle of vigie accepted.
async fn fnac_order_of_two_accepted() -> (FnacSandbox, Setup, String) {
    let sandbox = FnacSandbox::start(fnac::SandboxOptions::default())
        .await
        .unwrap();
    sandbox.set_quantity("SKU-A", 5);
    let id = sandbox.add_order(fnac::OrderSpec::new(vec![fnac::LineSpec::new(
        "SKU-A",
        2,
        Decimal::new(20, 0),
    )]));
    let setup = Setup::new(&fnac_channel(&sandbox));
    vigie(&setup.config, &["stock", "set", "SKU-A", "5"]).await;
    vigie(&setup.config, &["run", "--once"]).await;
    (sandbox, setup, id)
}

/// Fnac's `confirm_to_send` ships whole lines: a part of a line is refused at `vigie ship`,
/// naming it, and nothing is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_part_of_a_line_is_refused_on_a_channel_that_ships_whole_lines() {
    let (_sandbox, setup, id) = fnac_order_of_two_accepted().await;
    let order = format!("fnac:{id}");
    let out = try_vigie(
        &setup.config,
        &[
            "ship",
            &order,
            "--carrier",
            "Colissimo",
            "--tracking",
            "6A78",
            "--line",
            "1=1",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 1: channel fnac ships whole lines only: 1 of its 2 unit(s)"),
        "{}",
        stderr(&out)
    );
    let view = order_json(&setup.config, &id).await;
    assert_eq!(view["shipments"], serde_json::json!([]), "nothing applied");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fnac_parcel_waits_for_the_debit_then_ships_its_lines() {
    let (sandbox, setup, id) = fnac_order_of_two_accepted().await;
    let order = format!("fnac:{id}");

    // Fnac takes only the carriers carriers_query lists.
    let out = try_vigie(
        &setup.config,
        &["ship", &order, "--carrier", "Dupont", "--tracking", "1"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown carrier \"Dupont\""),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("SOCOLISSIMO"), "{}", stderr(&out));

    vigie(
        &setup.config,
        &[
            "ship",
            &order,
            "--carrier",
            "Colissimo",
            "--tracking",
            "6A77",
        ],
    )
    .await;
    // Accepted but not debited yet: Fnac refuses the shipment (ERR_003); the parcel waits.
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(
        order_json(&setup.config, &id).await["shipments"][0]["state"],
        "pending"
    );
    assert!(sandbox.debit(&id));
    vigie(&setup.config, &["run", "--once"]).await;
    let view = sandbox.order(&id).unwrap();
    assert_eq!(view.state, "Shipped", "{view:?}");
    assert_eq!(
        order_json(&setup.config, &id).await["shipments"][0]["state"],
        "confirmed"
    );
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(on_hand(&setup.config, "SKU-A").await, 3);
}

/// Polls `condition` until it holds, failing after [`PATIENCE`](common::PATIENCE).
fn wait_until(what: &str, daemon: &Daemon, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened; the daemon's log:\n{}",
            daemon.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn parcel_states(setup: &Setup) -> Vec<String> {
    let Some(db) = setup.database() else {
        return Vec::new();
    };
    let mut stmt = db
        .prepare("SELECT state FROM shipments ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The daemon is killed while the marketplace holds its answer to OR24 (it did validate the
/// shipment): the parcel stays committed and pending, and the restarted daemon learns from
/// Mirakl's "invalid state" answer and the order re-read that it shipped. Nothing is
/// confirmed twice or lost; the customer hears `shipped` once.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_the_commit_and_the_answer_confirms_the_parcel_once() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    sandbox.set_quantity("SKU-A", 5);
    let id = sandbox.add_order(OrderSpec::new().line("SKU-A", 1, Decimal::new(20, 0)));
    let proxy = Recorder::start(&sandbox.base_url()).await.unwrap();
    let channel = format!(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\nshop_id = {}\n\
         poll_interval = \"200ms\"\nlimits = {{ orders_per_minute = 6000, stock_imports_per_minute = 600 }}\n\
         [notify.channel.lm]\nevents = [\"shipped\"]\nroutes = [\"marketplace\"]\n",
        proxy.url("/"),
        sandbox.api_key(),
        sandbox.shop_id()
    );
    let setup = Setup::new(&channel);
    vigie(&setup.config, &["stock", "set", "SKU-A", "5"]).await;
    vigie(&setup.config, &["run", "--once"]).await;
    let order = format!("lm:{id}");
    vigie(
        &setup.config,
        &["ship", &order, "--carrier", "UPS", "--tracking", "1Z9"],
    )
    .await;
    proxy.slow_down("OR24", std::time::Duration::from_secs(120));

    let mut daemon = Daemon::start(&setup.config, &["run"], &[]);
    wait_until("OR24", &daemon, || !proxy.hits_to("OR24").is_empty());
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    assert_eq!(
        sandbox.order(&id).unwrap().state,
        "SHIPPED",
        "Mirakl took it"
    );
    assert_eq!(parcel_states(&setup), ["pending"], "committed, unconfirmed");

    let mut daemon = Daemon::start(&setup.config, &["run"], &[]);
    wait_until("the parcel's confirmation", &daemon, || {
        parcel_states(&setup) == ["confirmed"]
    });
    wait_until("the shipped message", &daemon, || {
        sandbox.messages().len() == 1
    });
    daemon.signal(Signal::SIGTERM);
    daemon.wait();
    assert_eq!(
        proxy.hits_to("OR24").len(),
        1,
        "the shipment validated once"
    );
    assert_eq!(sandbox.messages().len(), 1, "{:#?}", sandbox.messages());
    assert_eq!(parcel_states(&setup), ["confirmed"]);
}

/// The watched drop: a file with a bad row applies nothing, is kept, and an alert names it
/// and the line; saved again fixed, its parcels (two rows of one parcel here) are recorded
/// once and confirmed like any other.
#[tokio::test(flavor = "multi_thread")]
async fn the_csv_drop_is_applied_whole_or_not_at_all() {
    let (sandbox, id) = mirakl_accepted().await;
    let lines: Vec<String> = sandbox
        .order(&id)
        .unwrap()
        .lines
        .iter()
        .map(|l| l.id.clone())
        .collect();
    let drop = tempfile::tempdir().unwrap();
    let csv = drop.path().join("shipments.csv");
    let channel = mirakl_channel(&sandbox, "poll_interval = \"200ms\"");
    let setup = Setup::new(&format!(
        "{channel}\n[shipments]\npath = \"{}\"\n",
        csv.display()
    ));
    stocked(&setup).await;
    vigie(&setup.config, &["run", "--once"]).await;

    let header = "channel,order_id,carrier,tracking_number,tracking_url,line_id,quantity\n";
    let bad = format!(
        "{header}lm,{id},UPS,1Z1,,{},2\nlm,{id},UPS,1Z1,,{},5\n",
        lines[0], lines[1]
    );
    std::fs::write(&csv, &bad).unwrap();
    let mut daemon = Daemon::start(&setup.config, &["run"], &[]);
    let alert = || -> Option<String> {
        setup
            .database()?
            .query_row(
                "SELECT message FROM alerts WHERE kind = 'shipments_file_invalid'",
                [],
                |r| r.get(0),
            )
            .ok()
    };
    wait_until("the shipments_file_invalid alert", &daemon, || {
        alert().is_some()
    });
    let text = alert().unwrap();
    assert!(text.contains(&csv.display().to_string()), "{text}");
    assert!(
        text.contains("line 3") && text.contains("5 units asked, 1 left"),
        "{text}"
    );
    assert!(parcel_states(&setup).is_empty(), "nothing applied");
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        bad,
        "the file is kept"
    );

    let good = format!(
        "{header}lm,{id},UPS,1Z1,,{},2\nlm,{id},UPS,1Z1,,{},1\n",
        lines[0], lines[1]
    );
    std::fs::write(&csv, good).unwrap();
    wait_until("the parcel's confirmation", &daemon, || {
        parcel_states(&setup) == ["confirmed"]
    });
    daemon.signal(Signal::SIGTERM);
    daemon.wait();
    assert_eq!(sandbox.order(&id).unwrap().state, "SHIPPED");
    assert_eq!(sandbox.request_count("OR24"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seller_cancels_units_on_mirakl_then_the_rest_of_the_order() {
    let (sandbox, id) = mirakl_accepted().await;
    let setup = Setup::new(&mirakl_channel(&sandbox, ""));
    stocked(&setup).await;
    vigie(&setup.config, &["run", "--once"]).await;
    let lines: Vec<String> = sandbox
        .order(&id)
        .unwrap()
        .lines
        .iter()
        .map(|l| l.id.clone())
        .collect();
    let order = format!("lm:{id}");
    let one = format!("{}=1", lines[0]);
    let cancel = ["cancel", &order, "--reason", "NO_STOCK", "--line", &one];
    vigie(&setup.config, &cancel).await;
    let again = vigie(&setup.config, &cancel).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("already recorded"));
    let out = try_vigie(
        &setup.config,
        &[
            "cancel",
            &order,
            "--reason",
            "NO_STOCK",
            "--line",
            &format!("{}=2", lines[0]),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("2 units asked, 1 left"),
        "{}",
        stderr(&out)
    );

    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.request_count("OR30"), 1);
    let taken: u32 = sandbox.order(&id).unwrap().lines[0]
        .taken_back
        .iter()
        .map(|t| t.quantity)
        .sum();
    assert_eq!(taken, 1);
    // The rest of the order: OR29.
    vigie(&setup.config, &["cancel", &order, "--reason", "NO_STOCK"]).await;
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.request_count("OR29"), 1);
    assert_eq!(sandbox.order(&id).unwrap().state, "CANCELED");
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(
        sandbox.request_count("OR30") + sandbox.request_count("OR29"),
        2,
        "each sent once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fnac_cancel_is_a_refund_with_an_xsd_reason_and_a_bad_reason_is_alerted() {
    let sandbox = FnacSandbox::start(fnac::SandboxOptions::default())
        .await
        .unwrap();
    sandbox.set_quantity("SKU-A", 5);
    let id = sandbox.add_order(fnac::OrderSpec::new(vec![
        fnac::LineSpec::new("SKU-A", 1, Decimal::new(20, 0)),
        fnac::LineSpec::new("SKU-A", 1, Decimal::new(20, 0)),
    ]));
    let setup = Setup::new(&fnac_channel(&sandbox));
    vigie(&setup.config, &["stock", "set", "SKU-A", "5"]).await;
    vigie(&setup.config, &["run", "--once"]).await;
    let order = format!("fnac:{id}");
    vigie(
        &setup.config,
        &["cancel", &order, "--reason", "out_of_luck", "--line", "1"],
    )
    .await;
    vigie(
        &setup.config,
        &["cancel", &order, "--reason", "no_stock", "--line", "2"],
    )
    .await;
    vigie(&setup.config, &["run", "--once"]).await;
    let states: Vec<String> = sandbox
        .order(&id)
        .unwrap()
        .lines
        .iter()
        .map(|l| l.state.clone())
        .collect();
    assert_eq!(states, ["Accepted", "Refunded"]);
    let db = setup.database().unwrap();
    let text: String = db
        .query_row(
            "SELECT message FROM alerts WHERE kind = 'seller_cancel_rejected'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        text.contains("out_of_luck") && text.contains("no_stock"),
        "{text}"
    );
}

/// The daemon is killed while Mirakl holds its answer to OR30 (it did cancel the unit): the
/// restarted daemon re-reads the order, sees the unit cancelled, and does not send OR30 again
/// (a second OR30 would cancel a second unit).
#[tokio::test(flavor = "multi_thread")]
async fn a_cancellation_cut_by_a_crash_is_checked_on_the_order_not_sent_again() {
    let (sandbox, id) = mirakl_accepted().await;
    let proxy = Recorder::start(&sandbox.base_url()).await.unwrap();
    let channel = format!(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\nshop_id = {}\n\
         poll_interval = \"200ms\"\nlimits = {{ orders_per_minute = 6000, stock_imports_per_minute = 600 }}\n",
        proxy.url("/"),
        sandbox.api_key(),
        sandbox.shop_id()
    );
    let setup = Setup::new(&channel);
    stocked(&setup).await;
    vigie(&setup.config, &["run", "--once"]).await;
    let line = sandbox.order(&id).unwrap().lines[0].id.clone();
    let one = format!("{line}=1");
    let order = format!("lm:{id}");
    vigie(
        &setup.config,
        &["cancel", &order, "--reason", "NO_STOCK", "--line", &one],
    )
    .await;
    proxy.slow_down("OR30", std::time::Duration::from_secs(120));

    let mut daemon = Daemon::start(&setup.config, &["run"], &[]);
    wait_until("OR30", &daemon, || !proxy.hits_to("OR30").is_empty());
    daemon.signal(Signal::SIGKILL);
    daemon.wait();
    let cancelled = || -> u32 {
        sandbox.order(&id).unwrap().lines[0]
            .taken_back
            .iter()
            .map(|t| t.quantity)
            .sum()
    };
    assert_eq!(cancelled(), 1, "Mirakl took it");

    let cancel_state = || -> Option<String> {
        setup
            .database()?
            .query_row("SELECT state FROM seller_cancels", [], |r| r.get(0))
            .ok()
    };
    let mut daemon = Daemon::start(&setup.config, &["run"], &[]);
    wait_until("the cancellation's confirmation", &daemon, || {
        cancel_state().as_deref() == Some("confirmed")
    });
    daemon.signal(Signal::SIGTERM);
    daemon.wait();
    assert_eq!(proxy.hits_to("OR30").len(), 1, "sent once");
    assert_eq!(cancelled(), 1, "one unit cancelled");
}
