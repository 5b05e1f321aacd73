//! `vigie rules test CHANNEL:ORDER_ID` and `vigie rules replay`: today's rules (built-in and
//! the seller's own) tried on stored orders; nothing is written.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use serde::Serialize;
use vigie::config::{Environment, HumanDuration};
use vigie::domain::custom_rules::RuleOutcome;
use vigie::domain::judgment::Ruled;
use vigie::trial::{self, Replay, Tried};

use super::{Failure, open_store_to_read, order_name};

#[derive(clap::Subcommand)]
pub enum Command {
    /// What today's rules decide for a stored order, each rule with its result and the facts
    /// it read.
    Test {
        /// CHANNEL:ORDER_ID
        order: String,
        #[arg(long)]
        json: bool,
    },
    /// Today's rules over the orders judged within a window, against what was decided then.
    Replay {
        /// How far back (e.g. 24h, 7d, 30d).
        #[arg(long, default_value = "30d")]
        since: HumanDuration,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(path: &Path, env: &Environment, command: Command) -> Result<(), Failure> {
    let (config, store) = open_store_to_read(path, env)?;
    vigie::domain::custom_rules::check(&config.rules, &config.file)?;
    match command {
        Command::Test { order, json } => {
            let (channel, order_id) = order_name(&order)?;
            let tried = store
                .with(|conn| trial::test(conn, &config, channel, order_id))?
                .ok_or_else(|| anyhow!("no order {order} in the store"))?;
            let shown = Shown::of(&order, &tried);
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&shown).context("encoding")?
                )?;
            } else {
                print_test(&shown)?;
            }
        }
        Command::Replay { since, json } => {
            let since = jiff::Timestamp::now()
                .checked_sub(since.0)
                .context("--since reaches too far back")?;
            let replay = store.with(|conn| trial::replay(conn, &config, since))?;
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&replay).context("encoding")?
                )?;
            } else {
                print_replay(&replay)?;
            }
        }
    }
    Ok(())
}

/// `rules test --json`.
#[derive(Serialize)]
struct Shown {
    order: String,
    judged_at: String,
    /// The order is judged from what its judgement kept (else from today's ledger).
    from_judgement: bool,
    then: Option<Ruled>,
    built_in: Ruled,
    rules: Vec<ShownRule>,
    now: Ruled,
    facts: serde_json::Value,
}

#[derive(Serialize)]
struct ShownRule {
    #[serde(flatten)]
    outcome: RuleOutcome,
    /// Each fact the rule read, with its value.
    read: serde_json::Map<String, serde_json::Value>,
}

impl Shown {
    fn of(order: &str, tried: &Tried) -> Self {
        let judged = &tried.judged;
        let facts = serde_json::to_value(&judged.facts).unwrap_or_default();
        let rules = judged
            .custom
            .iter()
            .map(|outcome| ShownRule {
                read: outcome
                    .facts_read
                    .iter()
                    .map(|path| (path.clone(), fact(&facts, path)))
                    .collect(),
                outcome: outcome.clone(),
            })
            .collect();
        Self {
            order: order.to_owned(),
            judged_at: tried.judged_at.to_string(),
            from_judgement: tried.then.is_some(),
            then: tried.then.clone(),
            built_in: Ruled::from(&judged.built_in),
            rules,
            now: Ruled::from(&judged.verdict),
            facts,
        }
    }
}

/// The value at `path` (`order.total`) in the facts.
fn fact(facts: &serde_json::Value, path: &str) -> serde_json::Value {
    path.split('.')
        .try_fold(facts, |value, part| value.get(part))
        .cloned()
        .unwrap_or_default()
}

fn ruled(r: &Ruled) -> String {
    if r.reasons.is_empty() {
        r.action.as_str().to_owned()
    } else {
        format!("{} ({})", r.action.as_str(), r.reasons.join(", "))
    }
}

fn print_test(shown: &Shown) -> Result<(), Failure> {
    let source = if shown.from_judgement {
        "as judged then"
    } else {
        "never judged by the rules: on today's ledger, every line counted in stock"
    };
    outln!("{} at {} ({source})", shown.order, shown.judged_at)?;
    if let Some(then) = &shown.then {
        outln!("then:     {}", ruled(then))?;
    }
    outln!("built-in: {}", ruled(&shown.built_in))?;
    for rule in &shown.rules {
        let o = &rule.outcome;
        let result = match &o.error {
            Some(error) => format!("ERROR {error}"),
            None if o.matched => "matches".to_owned(),
            None => "no match".to_owned(),
        };
        outln!("rule {} ({}): {result}", o.code, o.action)?;
        outln!("    when {}", o.when)?;
        for (path, value) in &rule.read {
            outln!("    {path} = {value}")?;
        }
    }
    outln!("now:      {}", ruled(&shown.now))?;
    Ok(())
}

fn print_replay(replay: &Replay) -> Result<(), Failure> {
    let r = &replay.report;
    outln!(
        "since {}: {} orders judged again, {} unchanged, {} would change",
        replay.since,
        r.orders,
        r.unchanged,
        r.changed
    )?;
    if replay.not_replayable > 0 {
        outln!(
            "({} orders decided before vigie kept judgements are not replayed)",
            replay.not_replayable
        )?;
    }
    for change in &r.changes {
        outln!(
            "  {:>7} -> {:<7} {:>6}",
            change.from.as_str(),
            change.to.as_str(),
            change.orders
        )?;
        for e in &change.examples {
            outln!(
                "          e.g. {}: [{}] -> [{}]",
                e.order,
                e.then.join(", "),
                e.now.join(", ")
            )?;
        }
    }
    if !r.by_reason.is_empty() {
        outln!("by reason:")?;
        for reason in &r.by_reason {
            outln!("  {:<32} +{} -{}", reason.code, reason.gained, reason.lost)?;
        }
    }
    Ok(())
}
