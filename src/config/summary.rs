//! The human summary `vigie check-config` prints. Secrets never appear in it: connectors show
//! their keys as `[redacted]`, and webhook URLs appear only by host, since Slack-style URLs
//! embed their token.

use std::fmt::{self, Display, Formatter};

use url::Url;

use super::{Config, InsufficientStock, InventorySource};

impl Display for Config {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let d = &self.daemon;
        writeln!(f, "configuration {} is valid", self.file.display())?;
        writeln!(
            f,
            "daemon: state_dir {}, status on {}, time zone {}, shop {:?}, log {:?}, shutdown grace {}s, waits at most {}{}",
            d.state_dir.display(),
            d.status_listen,
            d.timezone.iana_name().unwrap_or("(fixed offset)"),
            d.shop_name,
            d.log,
            d.shutdown_grace.as_secs(),
            humantime::format_duration(d.max_retry_wait),
            if d.dry_run { ", DRY RUN" } else { "" },
        )?;
        if self.channels.is_empty() {
            writeln!(f, "channels: none")?;
        }
        for c in &self.channels {
            writeln!(
                f,
                "channel {} ({}): poll every {}, acceptance deadline {}{}, {}",
                c.name,
                c.kind,
                humantime::format_duration(c.poll_interval),
                c.acceptance_deadline,
                c.shipping_deadline
                    .map(|d| format!(", shipping deadline {d}"))
                    .unwrap_or_default(),
                c.settings.summary(),
            )?;
        }
        let inv = &self.inventory;
        match inv.source {
            InventorySource::Csv => write!(
                f,
                "inventory: CSV file {}",
                inv.path
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display()
            )?,
            InventorySource::Http => write!(
                f,
                "inventory: JSON endpoint {}",
                inv.url.as_ref().map(host_only).unwrap_or_default()
            )?,
            InventorySource::Manual => write!(f, "inventory: manual (vigie stock set/import)")?,
        }
        writeln!(f, ", safety buffer {}", inv.safety_buffer)?;
        let r = &self.rules;
        let on_short = match r.on_insufficient_stock {
            InsufficientStock::Refuse => "refuse",
            InsufficientStock::Flag => "flag",
        };
        write!(f, "rules: insufficient stock -> {on_short}")?;
        if let Some(total) = r.flag_total_above {
            write!(f, ", flag totals above {total}")?;
        }
        if let Some(quantity) = r.flag_quantity_above {
            write!(f, ", flag line quantities above {quantity}")?;
        }
        if let Some(countries) = &r.allowed_countries {
            let list: Vec<&str> = countries.iter().map(|c| c.alpha2()).collect();
            write!(f, ", ship only to {}", list.join(" "))?;
        }
        if !r.flag_sku_tags.is_empty() {
            write!(f, ", flag SKU tags {}", r.flag_sku_tags.join(" "))?;
        }
        writeln!(f)?;
        for rule in &r.custom {
            writeln!(
                f,
                "rule {}: {} when {}",
                rule.code,
                rule.action.as_str(),
                rule.when.text()
            )?;
        }
        let hooks: Vec<String> = self
            .alerts
            .webhook
            .iter()
            .map(|w| format!("{:?} to {}", w.format, host_only(&w.url)))
            .collect();
        writeln!(
            f,
            "alerts: {}",
            if hooks.is_empty() {
                "no webhook (alerts are only logged)".to_owned()
            } else {
                hooks.join(", ")
            }
        )
    }
}

/// `https://hooks.slack.com/…`: enough to recognise the target, nothing of its token.
fn host_only(url: &Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let rest = if url.path() != "/" || url.query().is_some() {
        "/…"
    } else {
        ""
    };
    format!(
        "{}://{}{port}{rest}",
        url.scheme(),
        url.host_str().unwrap_or("")
    )
}
