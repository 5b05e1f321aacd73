//! The runs `vigie bench` makes: how many orders, at what pace, on which variant of
//! `config/demo.toml`.

use std::fmt::Write as _;
use std::time::Duration;

use super::Options;
use crate::demo::DEMO_CONFIG;

/// Articles in the benchmark's catalogue, each on both marketplaces.
pub(super) const SKUS: u64 = 100;

/// One run's shape.
pub(super) struct Scenario {
    pub title: &'static str,
    /// Each marketplace's poll interval, which bounds its time to accept (target: poll + 2 s).
    pub polls: [(&'static str, Duration); 2],
    pub what: String,
    pub orders: u64,
    /// Orders are placed evenly over this.
    pub place_over: Duration,
    /// Longest wait for the last orders to be accepted once all are placed.
    pub settle_limit: Duration,
    /// Wait after the last acceptance, for the last stock pushes.
    pub tail: Duration,
    /// After the tail, the longest wait for the customer messages still queued to leave;
    /// `None` stops without waiting for them.
    pub drain_limit: Option<Duration>,
    pub config: String,
}

impl Scenario {
    pub fn cadence(o: &Options) -> anyhow::Result<Self> {
        let text = published_limits(&[("leroymerlin", "1m"), ("fnac", "5m")])?;
        Ok(Self {
            title: "default cadence",
            polls: [
                ("Mirakl", Duration::from_secs(60)),
                ("Fnac", Duration::from_secs(300)),
            ],
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
            drain_limit: None,
            config: text,
        })
    }

    /// A few hundred orders in one minute, both channels polled every 5 s, the published
    /// limits: where batching (or its absence) shows.
    pub fn burst(o: &Options) -> anyhow::Result<Self> {
        let text = published_limits(&[("leroymerlin", "5s"), ("fnac", "5s")])?;
        Ok(Self {
            title: "burst",
            polls: [
                ("Mirakl", Duration::from_secs(5)),
                ("Fnac", Duration::from_secs(5)),
            ],
            what: format!(
                "{} orders placed over 1 min; poll 5 s on both channels; published limits",
                o.burst_orders
            ),
            orders: o.burst_orders,
            place_over: Duration::from_secs(60),
            settle_limit: Duration::from_secs(5 * 60),
            // Mirakl takes one stock import a minute.
            tail: Duration::from_secs(75),
            drain_limit: None,
            config: text,
        })
    }

    pub fn fast(o: &Options) -> anyhow::Result<Self> {
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
            polls: [("Mirakl", o.fast_poll), ("Fnac", o.fast_poll)],
            what: format!(
                "{} orders placed at {rate}/s; poll {} on both channels; limits raised",
                o.orders,
                humantime::format_duration(o.fast_poll)
            ),
            orders: o.orders,
            place_over: Duration::from_secs_f64(o.orders as f64 / f64::from(rate)),
            settle_limit: Duration::from_secs(180),
            tail: Duration::from_secs(3),
            drain_limit: Some(Duration::from_secs(5 * 60)),
            config: text,
        })
    }
}

/// `config/demo.toml` with the channels polled at the given intervals, and every limit (the
/// channels' and the messages') the published default.
fn published_limits(polls: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut text = DEMO_CONFIG.to_owned();
    for (channel, poll) in polls {
        let poll = format!("\"{poll}\"");
        text = set_key(
            &text,
            "[[channel]]",
            Some(channel),
            "poll_interval",
            Some(&poll),
        )?;
        text = set_key(&text, "[[channel]]", Some(channel), "limits", None)?;
    }
    text = set_key(&text, "[notify]", None, "limits", None)?;
    set_key(&text, "[notify]", None, "delayed_after", None)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::bench::Which;

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
        assert_eq!(
            text.matches("poll_interval = \"2s\"").count(),
            2,
            "the other channels keep theirs"
        );
        let text = set_key(&text, "[notify]", None, "limits", None).unwrap();
        assert!(!text.contains("marketplace_per_minute"));
        assert!(set_key(&text, "[notify]", None, "limits", None).is_err());
    }

    #[test]
    fn both_scenarios_make_valid_configurations() {
        let options = Options::small(Which::Both);
        let cadence = Scenario::cadence(&options).unwrap();
        assert!(cadence.config.contains("poll_interval = \"1m\""));
        assert!(cadence.config.contains("poll_interval = \"5m\""));
        assert!(!cadence.config.contains("per_minute"));
        let fast = Scenario::fast(&options).unwrap();
        assert!(fast.config.contains("poll_interval = \"250ms\""));
        assert_eq!(fast.place_over, Duration::from_secs(2));
        let burst = Scenario::burst(&options).unwrap();
        assert_eq!(burst.config.matches("poll_interval = \"5s\"").count(), 2);
        assert!(!burst.config.contains("per_minute"));
    }
}
