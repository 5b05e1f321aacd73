//! `vigie bench --scenario idle`: ten channels at their default cadence and no order at all.
//! The daemon's CPU is read over a quiet window after the first polls and pushes, and
//! printed next to the target (issue 14: idle CPU < 0.5 %).

use std::time::Duration;

use anyhow::Context as _;

use super::measure::Usage;
use super::run::wait_for_inventory;
use super::scenarios::SKUS;
use crate::demo::DEMO_CONFIG;
use crate::demo::rig::{Daemon, Rig};
use crate::demo::write_config;

/// Channels the daemon runs: the demo's three, then copies of them under other names.
const CHANNELS: usize = 10;
/// Long enough for every channel's first import, first poll and first push.
const WARM_UP: Duration = Duration::from_secs(90);
/// One Fnac poll interval (the longest default), so every channel polls in it.
const WINDOW: Duration = Duration::from_secs(5 * 60);

pub(super) fn what() -> String {
    format!(
        "{CHANNELS} channels at their default cadence and published limits, no order; CPU read \
         over {} min after {} s of warm-up",
        WINDOW.as_secs() / 60,
        WARM_UP.as_secs()
    )
}

/// The daemon's idle CPU, as a share of one core, and its peak RSS; one line each.
pub(super) async fn run_in(dir: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let rig = Rig::start().await?;
    let skus: Vec<String> = (0..SKUS).map(|i| format!("BENCH-{i:03}")).collect();
    rig.markets.offer(skus.iter().map(|s| (s.as_str(), 1000)));
    let stock = dir.join("stock.csv");
    std::fs::write(
        &stock,
        vigie_testkit::stock_csv(skus.iter().map(|s| (s.as_str(), 1000, ""))),
    )?;
    let config = write_config(dir, &rig, &ten_channels(DEMO_CONFIG), &stock)
        .context("the idle bench configuration")?;
    let mut daemon = Daemon::start(&config, &dir.join("state"), &dir.join("vigie.log")).await?;
    wait_for_inventory(&mut daemon).await?;
    tokio::time::sleep(WARM_UP).await;
    daemon.check_running()?;
    let before = Usage::of(daemon.pid()).await;
    tokio::time::sleep(WINDOW).await;
    daemon.check_running()?;
    let after = Usage::of(daemon.pid()).await;
    daemon.stop().await?;
    let share = match (before.cpu_secs, after.cpu_secs) {
        (Some(b), Some(a)) => format!("{:.3} %", (a - b) * 100.0 / WINDOW.as_secs_f64()),
        _ => "-".into(),
    };
    let rss = after
        .peak_rss_kib
        .map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    Ok(vec![
        format!("| idle CPU of the daemon, {CHANNELS} channels | {share} | < 0.5 % |"),
        format!("| peak RSS of the daemon | {rss} | - |"),
    ])
}

/// `config` (the demo's) with each channel at its default poll interval and published
/// limits, and copies of its channels (named `NAME-2`, `NAME-3`...) up to [`CHANNELS`].
fn ten_channels(config: &str) -> String {
    let mut head = String::new();
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    let mut tail = String::new();
    for line in config.lines() {
        let trimmed = line.trim();
        if trimmed == "[[channel]]" {
            blocks.push(Vec::new());
        } else if trimmed.starts_with('[') && !blocks.is_empty() {
            tail.push_str(line);
            tail.push('\n');
            continue;
        }
        if !tail.is_empty() {
            tail.push_str(line);
            tail.push('\n');
        } else if let Some(block) = blocks.last_mut() {
            let default = ["poll_interval", "limits", "#"]
                .iter()
                .any(|key| trimmed.starts_with(key));
            if !default {
                block.push(line);
            }
        } else {
            head.push_str(line);
            head.push('\n');
        }
    }
    let mut out = head;
    for copy in 0..CHANNELS {
        let Some(block) = blocks.get(copy % blocks.len().max(1)) else {
            break;
        };
        let suffix = copy / blocks.len();
        for line in block {
            match line.trim().strip_prefix("name = ") {
                Some(name) if suffix > 0 => {
                    let name = name.trim_matches('"');
                    out.push_str(&format!("name = \"{name}-{}\"\n", suffix + 1));
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    }
    out.push_str(&tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_channels_at_their_defaults() {
        let text = ten_channels(DEMO_CONFIG);
        assert_eq!(text.matches("[[channel]]").count(), CHANNELS);
        assert!(!text.contains("poll_interval"));
        assert!(!text.contains("orders_per_minute"));
        assert!(text.contains("name = \"leroymerlin-4\""));
        assert!(text.contains("name = \"amazon-fr-3\""));
        assert!(text.contains("[notify.channel.fnac]"));
    }
}
