//! `vigie report`: each channel's KPIs over a window (default the last 7 days), against the
//! window of the same length just before it, with the time-to-accept distribution.

use std::path::Path;

use anyhow::Context as _;
use jiff::Timestamp;
use serde::Serialize;
use vigie::config::{Environment, HumanDuration};
use vigie::store::kpis::{self, Bucket, Kpis, Window, shown_duration};
use vigie::store::time_text;

use super::{Failure, open_store_to_read};

#[derive(clap::Args)]
pub struct Args {
    /// How far back: the orders created on the marketplace since then (e.g. 24h, 7d, 30d).
    #[arg(long, default_value = "7d")]
    since: HumanDuration,
    /// Only this channel.
    #[arg(long)]
    channel: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    since: String,
    until: String,
    channels: Vec<ChannelReport>,
}

#[derive(Serialize)]
struct ChannelReport {
    name: String,
    kind: &'static str,
    kpis: Kpis,
    /// The same figures over the window of the same length just before.
    previous: Kpis,
    time_to_accept: Vec<Bucket>,
}

pub fn run(path: &Path, env: &Environment, args: Args) -> Result<(), Failure> {
    let (config, store) = open_store_to_read(path, env)?;
    if let Some(name) = &args.channel
        && !config.channels.iter().any(|c| &c.name == name)
    {
        return Err(anyhow::anyhow!("no channel named {name:?} in the configuration").into());
    }
    let now = Timestamp::now();
    let window = Window {
        since: now
            .checked_sub(args.since.0)
            .context("--since reaches too far back")?,
        until: now,
    };
    let channels = store.with(|conn| {
        config
            .channels
            .iter()
            .filter(|c| args.channel.as_ref().is_none_or(|name| &c.name == name))
            .map(|c| {
                Ok(ChannelReport {
                    name: c.name.clone(),
                    kind: c.kind,
                    kpis: kpis::of_channel(conn, &c.name, window, now)?,
                    previous: kpis::of_channel(conn, &c.name, window.previous(), now)?,
                    time_to_accept: kpis::time_to_accept_distribution(conn, &c.name, window)?,
                })
            })
            .collect::<vigie::store::Result<Vec<_>>>()
    })?;
    let report = Report {
        since: time_text(window.since),
        until: time_text(window.until),
        channels,
    };
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).context("encoding the report")?
        )?;
    } else {
        print(&report, &args.since)?;
    }
    Ok(())
}

fn print(report: &Report, length: &HumanDuration) -> Result<(), Failure> {
    let length = humantime::format_duration(length.0);
    outln!(
        "orders created from {} to {} ({length}), compared with as long a time before",
        report.since,
        report.until
    )?;
    for c in &report.channels {
        let (now, before) = (&c.kpis, &c.previous);
        outln!("\nchannel {} ({})", c.name, c.kind)?;
        outln!(
            "  {:<26} {:>10} {:>10} {:>10}",
            "",
            "now",
            "before",
            "change"
        )?;
        for (label, now, before) in [
            ("received", now.received, before.received),
            ("accepted", now.accepted, before.accepted),
            ("refused", now.refused, before.refused),
            ("flagged", now.flagged, before.flagged),
            (
                "decided elsewhere",
                now.decided_elsewhere,
                before.decided_elsewhere,
            ),
            ("expired", now.expired, before.expired),
            (
                "cancelled by the customer",
                now.cancelled_by_customer,
                before.cancelled_by_customer,
            ),
        ] {
            outln!(
                "  {label:<26} {now:>10} {before:>10} {:>10}",
                format!("{:+}", now - before)
            )?;
        }
        for (label, now, before) in [
            (
                "acceptance rate",
                now.acceptance_rate,
                before.acceptance_rate,
            ),
            (
                "cancellation rate",
                now.cancellation_rate,
                before.cancellation_rate,
            ),
        ] {
            let rate = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{:.1} %", r * 100.0));
            let change = match (now, before) {
                (Some(n), Some(b)) => format!("{:+.1} pts", (n - b) * 100.0),
                _ => "-".to_owned(),
            };
            outln!(
                "  {label:<26} {:>10} {:>10} {change:>10}",
                rate(now),
                rate(before)
            )?;
        }
        let (t, b) = (&now.time_to_accept_seconds, &before.time_to_accept_seconds);
        for (label, now, before) in [
            ("time to accept, mean", t.mean, b.mean),
            ("time to accept, p50", t.p50, b.p50),
            ("time to accept, p90", t.p90, b.p90),
            ("time to accept, p99", t.p99, b.p99),
        ] {
            let shown = |s: Option<f64>| s.map_or("-".to_owned(), shown_duration);
            let change = match (now, before) {
                (Some(n), Some(b)) if b > 0.0 => format!("{:+.1} %", (n - b) / b * 100.0),
                _ => "-".to_owned(),
            };
            outln!(
                "  {label:<26} {:>10} {:>10} {change:>10}",
                shown(now),
                shown(before)
            )?;
        }
        outln!("  time to accept, distribution:")?;
        let most = c
            .time_to_accept
            .iter()
            .map(|b| b.orders.unsigned_abs())
            .max()
            .unwrap_or(0);
        for bucket in &c.time_to_accept {
            let label = bucket.below_seconds.map_or_else(
                || "longer".to_owned(),
                |s| format!("< {}", shown_duration(s as f64)),
            );
            // A bar of up to 40 characters, scaled to the fullest bucket.
            let bar = "#".repeat(if most == 0 {
                0
            } else {
                (bucket.orders.unsigned_abs() * 40).div_ceil(most) as usize
            });
            let line = format!("    {label:<10} {:>8}  {bar}", bucket.orders);
            outln!("{}", line.trim_end())?;
        }
    }
    Ok(())
}
