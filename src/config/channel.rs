//! `[[channel]]`: the keys every channel has are read here; the rest of the table belongs to
//! the connector crate its `kind` names (see [`crate::registry`]), which reads it into its
//! own typed settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use config::{Map, Value, ValueKind};
use serde::{Deserialize, Deserializer};
use serde_path_to_error::Segment;
use vigie_connector::spec::{ChannelSettings, KeyError, PollingPolicy};

use super::bounds::{self, HOUR};
use super::secret::SecretKeys;
use super::{Deadline, HumanDuration, check_name, path_error, unknown_field};
use crate::registry::{self, Connector, PathError, Unreadable};
use crate::skumap::{LiveSkuMap, SkuMap};

#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    /// The `kind` that names its connector.
    pub kind: &'static str,
    pub poll_interval: Duration,
    pub acceptance_deadline: Deadline,
    /// When a parcel must leave, counted from the order's creation, for orders whose
    /// marketplace announces no shipping deadline (Fnac); `None`: such orders are not watched.
    pub shipping_deadline: Option<Deadline>,
    /// Accept the stocked lines of an order and refuse the rest, where the marketplace allows.
    pub partial_acceptance: bool,
    /// Units per SKU never offered on this channel (on top of the inventory's safety buffer).
    pub stock_buffer: u32,
    /// At most this many units per SKU offered on this channel.
    pub stock_cap: Option<u32>,
    /// Where the marketplace's SKUs differ from the inventory's: its file, followed while the
    /// daemon runs.
    pub sku_map: Option<LiveSkuMap>,
    /// The seller's carrier names and the marketplace's code for each (`carriers`).
    pub carriers: BTreeMap<String, String>,
    /// How the pipeline polls it: its marketplace's policy.
    pub polling: PollingPolicy,
    /// The connector's own settings, read and checked by its crate.
    pub settings: Arc<dyn ChannelSettings>,
}

impl ChannelConfig {
    /// The channel's SKU map as it is now (empty without `sku_map`: every SKU is the same on
    /// both sides).
    pub fn current_sku_map(&self) -> Arc<SkuMap> {
        self.sku_map
            .as_ref()
            .map_or_else(|| Arc::new(SkuMap::default()), LiveSkuMap::current)
    }

    /// The marketplace's code for the seller's carrier `name` (`carriers`, any case).
    pub fn carrier_code(&self, name: &str) -> Option<&str> {
        self.carriers
            .iter()
            .find(|(known, _)| known.trim().eq_ignore_ascii_case(name.trim()))
            .map(|(_, code)| code.as_str())
    }
}

/// The keys every channel has, whatever its marketplace.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonKeys {
    name: String,
    kind: Kind,
    poll_interval: Option<HumanDuration>,
    acceptance_deadline: Option<Deadline>,
    shipping_deadline: Option<Deadline>,
    #[serde(default)]
    partial_acceptance: bool,
    #[serde(default)]
    stock_buffer: u32,
    stock_cap: Option<u32>,
    sku_map: Option<PathBuf>,
    #[serde(default)]
    carriers: BTreeMap<String, String>,
}

/// A `kind` the registry knows.
struct Kind(&'static Connector);

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let kind = String::deserialize(deserializer)?;
        // Worded as when the kinds were an enum of this file, so the error reads the same.
        registry::find(&kind).map(Kind).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "enum Kind does not have variant constructor {kind}"
            ))
        })
    }
}

/// Reads the channel at `index` of the file; errors name the full key path.
pub(super) fn read(
    index: usize,
    table: Value,
    secrets: &SecretKeys,
) -> Result<ChannelConfig, KeyError> {
    let at = format!("channel[{index}]");
    let (common, own) = split(index, table);
    let common: CommonKeys =
        registry::in_place(registry::place(index, common)).map_err(|e| unreadable(e, &at))?;
    check_name(format!("{at}.name"), &common.name)?;
    // Checked before the connector's keys, so its defaults are known below.
    let poll_interval = bounds::optional("poll_interval", common.poll_interval, POLL_INTERVALS)
        .map_err(|e| e.under(&at))?;
    let deadline = |key: &str, value: Option<Deadline>| {
        value
            .map(|d| check_deadline(d).map_err(|m| KeyError::new(key, m).under(&at)))
            .transpose()
    };
    let acceptance_deadline = deadline("acceptance_deadline", common.acceptance_deadline)?;
    let shipping_deadline = deadline("shipping_deadline", common.shipping_deadline)?;
    // A relative path is read from the configuration file's directory, as secret files are.
    let sku_map = common
        .sku_map
        .map(|path| {
            let path = secrets.base_dir.join(path);
            LiveSkuMap::load(path.clone()).map_err(|message| {
                KeyError::new("sku_map", format!("{}: {message}", path.display())).under(&at)
            })
        })
        .transpose()?;
    let connector = common.kind.0;
    let settings = connector
        .read(registry::place(index, own), secrets)
        .map_err(|e| match e {
            Unreadable::Keys(e) => {
                foreign_key(connector, index, &e).unwrap_or_else(|| path_error(&e))
            }
            invalid => unreadable(invalid, &at),
        })?;
    let defaults = settings.defaults();
    Ok(ChannelConfig {
        name: common.name,
        kind: connector.kind,
        poll_interval: poll_interval.unwrap_or(defaults.poll_interval),
        acceptance_deadline: acceptance_deadline.unwrap_or(defaults.acceptance_deadline),
        shipping_deadline,
        partial_acceptance: common.partial_acceptance,
        stock_buffer: common.stock_buffer,
        stock_cap: common.stock_cap,
        sku_map,
        carriers: common.carriers,
        polling: defaults.polling,
        settings,
    })
}

/// From a tenth of a second (sandboxes, the bench) to an hour.
const POLL_INTERVALS: std::ops::RangeInclusive<Duration> = Duration::from_millis(100)..=HOUR;
/// Acceptance windows marketplaces give: hours to a month.
const CALENDAR_DEADLINES: std::ops::RangeInclusive<Duration> =
    HOUR..=Duration::from_secs(30 * 86_400);
const MAX_WORKING_DAYS: u32 = 20;

fn check_deadline(deadline: Deadline) -> Result<Deadline, String> {
    match deadline {
        Deadline::Calendar(d) => HumanDuration(d)
            .within(CALENDAR_DEADLINES)
            .map(Deadline::Calendar),
        Deadline::WorkingDays(n) if n > MAX_WORKING_DAYS => Err(format!(
            "must be at most {MAX_WORKING_DAYS} working days, got {n}"
        )),
        working_days => Ok(working_days),
    }
}

fn unreadable(e: Unreadable, at: &str) -> KeyError {
    match e {
        Unreadable::Keys(e) => path_error(&e),
        Unreadable::Invalid(e) => e.under(at),
    }
}

/// Splits a channel's table into the keys every channel has and its connector's own.
fn split(index: usize, table: Value) -> (Value, Value) {
    let ValueKind::Table(keys) = table.kind else {
        // Not a table: reading the common keys says so.
        return (table, Value::new(None, ValueKind::Table(Map::new())));
    };
    let common = |placed| registry::in_place::<CommonKeys>(placed).map(drop);
    let (common, own): (Map<_, _>, Map<_, _>) = keys
        .into_iter()
        .partition(|(key, _)| knows(common, index, std::slice::from_ref(key)));
    (
        Value::new(None, ValueKind::Table(common)),
        Value::new(None, ValueKind::Table(own)),
    )
}

/// A key another connector reads: named as such, the way the configuration has always said
/// it (`partner_id` on a channel whose marketplace has no partner id).
fn foreign_key(connector: &Connector, index: usize, e: &PathError) -> Option<KeyError> {
    unknown_field(&e.inner().to_string())?;
    let path = keys_inside(e)?;
    registry::others(connector)
        .any(|other| knows(|placed| other.check(placed), index, &path))
        .then(|| {
            KeyError::new(
                e.path().to_string(),
                format!("is not a key of a {} channel", connector.kind),
            )
        })
}

/// Whether `check` reads the key at `path` of channel `index`: it does not only when it
/// stops at that very key saying it is unknown (any other outcome, even an error about its
/// value or about a key missing besides it, means it knows it).
fn knows(check: impl Fn(Value) -> Result<(), Unreadable>, index: usize, path: &[String]) -> bool {
    let mut probe = Value::new(None, ValueKind::Nil);
    for key in path.iter().rev() {
        let mut table = Map::new();
        table.insert(key.clone(), probe);
        probe = Value::new(None, ValueKind::Table(table));
    }
    match check(registry::place(index, probe)) {
        Err(Unreadable::Keys(e)) => {
            unknown_field(&e.inner().to_string()).is_none()
                || keys_inside(&e).as_deref() != Some(path)
        }
        _ => true,
    }
}

/// The keys of `e`'s path inside the channel's table (after `channel[i]`), if they are all
/// table keys.
fn keys_inside(e: &PathError) -> Option<Vec<String>> {
    e.path()
        .iter()
        .skip(2)
        .map(|segment| match segment {
            Segment::Map { key } => Some(key.clone()),
            _ => None,
        })
        .collect()
}
