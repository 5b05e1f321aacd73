//! The Prometheus alert rules and the Grafana dashboard under `monitoring/`: the rules load and
//! fire as their own unit tests say (promtool), and every metric they read is one vigie
//! describes, so a renamed metric cannot silently blank a panel or mute an alert.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

const RULES: &str = include_str!("../monitoring/vigie.rules.yml");
const DASHBOARD: &str = include_str!("../monitoring/vigie.dashboard.json");
/// Where vigie describes each metric it exports (`# HELP`).
const DESCRIBED: &str = include_str!("../src/daemon/metric_help.rs");

fn monitoring() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/monitoring"))
}

#[test]
fn the_alert_rules_load_and_pass_their_unit_tests() {
    let dir = monitoring();
    for args in [
        ["check", "rules", "vigie.rules.yml"],
        ["test", "rules", "vigie.rules.test.yml"],
    ] {
        let output = common::promtool(dir, &args, "");
        assert!(
            output.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The `vigie_*` metric names a query text reads (`_sum`/`_count` of a summary are its own).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("vigie_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        names.insert(base.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn every_metric_the_rules_and_the_dashboard_read_is_one_vigie_exports() {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let exprs: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
        .map(|target| target["expr"].as_str().unwrap())
        .collect();
    assert!(exprs.len() >= 15, "{exprs:?}");
    let read = metric_names(&exprs.join("\n"))
        .into_iter()
        .chain(metric_names(RULES));
    let unknown: Vec<String> = read
        .filter(|name| !DESCRIBED.contains(&format!("\"{name}\"")))
        .collect();
    assert!(unknown.is_empty(), "not exported by vigie: {unknown:?}");
}
