//! The markdown table `vigie bench` prints: where the figures were measured, then one
//! column per run.

use std::fmt::Write as _;

use jiff::Timestamp;
use vigie_testkit::stats::percentile;

use super::measure::Figures;
use super::scenarios::Scenario;

/// Where the figures were measured.
pub(super) struct Machine {
    date: String,
    cores: usize,
    cpu: String,
    rustc: String,
    load_before: String,
}

impl Machine {
    pub async fn probe() -> Self {
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

/// Where and when, and the load before and after.
fn heading(machine: &Machine) -> String {
    format!(
        "vigie bench, {}: {} cores, {}, {}; load average {} before, {} after\n",
        machine.date,
        machine.cores,
        machine.cpu,
        machine.rustc,
        machine.load_before,
        load_average()
    )
}

/// A run whose figures are ready-made `rows` (figure, measured, target).
pub(super) fn targets(machine: &Machine, what: &str, rows: &[String]) -> String {
    let mut out = heading(machine);
    let _ = writeln!(out, "\n- {what}\n\n| | measured | target |\n|---|---|---|");
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    out
}

pub(super) fn render(machine: &Machine, results: &[(Scenario, Figures)]) -> String {
    let mut out = heading(machine);
    let _ = writeln!(out);
    for (s, _) in results {
        let _ = writeln!(out, "- {}: {}", s.title, s.what);
    }
    let _ = writeln!(out);
    let mut header = String::from("| | target |");
    let mut rule = String::from("|---|---|");
    for (s, _) in results {
        let _ = write!(header, " {} |", s.title);
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let mut row = |label: &str, target: &str, cell: &dyn Fn(&Scenario, &Figures) -> String| {
        let mut line = format!("| {label} | {target} |");
        for (s, f) in results {
            let _ = write!(line, " {} |", cell(s, f));
        }
        let _ = writeln!(out, "{line}");
    };
    row("orders accepted / placed", "all", &|_, f| {
        format!("{} / {}", f.accepted, f.placed)
    });
    row(
        "orders per second (first placed to last accepted)",
        "",
        &|_, f| {
            if f.span_secs > 0.0 {
                format!("{:.1}", f.accepted as f64 / f.span_secs)
            } else {
                "-".into()
            }
        },
    );
    row("time to accept, p50 / p99", "", &|_, f| {
        pair(&f.accept_waits.all, " s")
    });
    for label in ["Mirakl", "Fnac", "Amazon"] {
        row(
            &format!("- {label} orders{}", reserved_when_seen(label)),
            "p99 <= poll interval + 2 s",
            &|s, f| {
                let mut cell = pair(f.accept_waits.of(label), " s");
                if let Some((_, poll)) = s.polls.iter().find(|(m, _)| *m == label) {
                    let _ = write!(cell, " (<= {:.0} s)", poll.as_secs_f64() + 2.0);
                }
                cell
            },
        );
    }
    for (label, target) in [("Mirakl", "<= 1.05"), ("Fnac", "<= 0.1")] {
        row(
            &format!("API calls per accepted order, {label}: orders and stock (+ messages)"),
            target,
            &|_, f| match f.calls.get(label) {
                Some(&(calls, messages, accepted)) if accepted > 0 => format!(
                    "{:.2} (+ {:.2})",
                    calls.saturating_sub(messages) as f64 / accepted as f64,
                    messages as f64 / accepted as f64
                ),
                _ => "-".into(),
            },
        );
    }
    for label in ["Mirakl", "Fnac"] {
        row(&format!("- {label} calls by operation"), "", &|_, f| {
            f.operations.get(label).cloned().unwrap_or_default()
        });
    }
    row(
        "customer messages sent / still queued at the end",
        "queue drained as the limits allow",
        &|_, f| format!("{} / {}", f.messages.sent, f.messages.queued),
    );
    row("customer messages sent per second", "", &|_, f| {
        if f.wall_secs > 0.0 {
            format!("{:.1}", f.messages.sent as f64 / f.wall_secs)
        } else {
            "-".into()
        }
    });
    row(
        "- queue drained after the orders' tail",
        "as the limits allow",
        &|_, f| match f.drained {
            None => "not waited for".into(),
            Some(d) if d.emptied => format!("in {:.0} s", d.secs),
            Some(d) => format!("not in {:.0} s (the bench's limit)", d.secs),
        },
    );
    let mut lanes: Vec<&str> = results
        .iter()
        .flat_map(|(_, f)| f.lanes.iter().map(|l| l.lane.as_str()))
        .collect();
    lanes.sort_unstable();
    lanes.dedup();
    for lane in lanes {
        row(
            &format!("- lane {lane}: sent / queued, per second"),
            "",
            &|_, f| match f.lanes.iter().find(|l| l.lane == lane) {
                Some(l) => match l.busy_secs.filter(|s| *s > 0.0) {
                    Some(secs) => {
                        format!("{} / {}, {:.1}/s", l.sent, l.queued, l.sent as f64 / secs)
                    }
                    None => format!("{} / {}", l.sent, l.queued),
                },
                None => "-".into(),
            },
        );
    }
    row(
        "stock propagation to the other channel, p50 / p99",
        "p99 <= 60 s at the default cadence",
        &|_, f| {
            let mut cell = pair(&f.propagation.all, " s");
            if f.unpropagated > 0 {
                let _ = write!(
                    cell,
                    " ({} lines not propagated by the end)",
                    f.unpropagated
                );
            }
            cell
        },
    );
    for (from, to) in [
        ("Mirakl", "Fnac"),
        ("Fnac", "Mirakl"),
        ("Amazon", "Mirakl and Fnac"),
    ] {
        row(&format!("- {from} order to {to}"), "", &|_, f| {
            format!(
                "{} (from vigie's read: {})",
                pair(f.propagation.of(from), " s"),
                pair(f.propagation_after_read.of(from), " s")
            )
        });
    }
    for from in ["Mirakl", "Amazon"] {
        row(
            &format!("- {from} order, from vigie's read to Fnac: behind open batches / after"),
            "",
            &|_, f| {
                format!(
                    "{} / {}",
                    pair(f.to_fnac_behind_batch.of(from), " s"),
                    pair(f.to_fnac_after_batch.of(from), " s")
                )
            },
        );
    }
    row("peak RSS of the daemon", "", &|_, f| {
        f.usage
            .peak_rss_kib
            .map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
    });
    row(
        "daemon CPU per 1,000 orders",
        "",
        &|_, f| match f.usage.cpu_secs {
            Some(cpu) if f.decided > 0 => format!(
                "{:.2} s ({cpu:.1} s in all)",
                cpu * 1000.0 / f.decided as f64
            ),
            _ => "-".into(),
        },
    );
    row("wall time", "", &|_, f| format!("{:.0} s", f.wall_secs));
    out
}

/// Amazon has no acceptance step: its orders' wait is to the reservation.
fn reserved_when_seen(market: &str) -> &'static str {
    if market == "Amazon" {
        " (to the reservation)"
    } else {
        ""
    }
}

/// "p50 / p99" of sorted values.
fn pair(sorted: &[f64], unit: &str) -> String {
    match (percentile(sorted, 0.5), percentile(sorted, 0.99)) {
        (Some(p50), Some(p99)) => format!("{p50:.2}{unit} / {p99:.2}{unit}"),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::demo::bench::{Options, Which};

    #[test]
    fn the_table_has_amazon_rows() {
        let machine = Machine {
            date: "today".into(),
            cores: 2,
            cpu: "cpu".into(),
            rustc: "rustc".into(),
            load_before: "0".into(),
        };
        let options = Options::small(Which::Cadence);
        let scenario = Scenario::cadence(&options).unwrap();
        let table = render(&machine, &[(scenario, Figures::default())]);
        assert!(
            table.contains("| - Amazon orders (to the reservation) |"),
            "{table}"
        );
        assert!(
            table.contains("| - Amazon order to Mirakl and Fnac |"),
            "{table}"
        );
    }
}
