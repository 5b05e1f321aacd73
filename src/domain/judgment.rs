//! One judgement of an order by every rule, the built-in ones then the seller's: what the
//! pipeline does when an order arrives, `vigie rules test` shows, and `rules replay` does
//! again from what was kept.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use vigie_connector::Order;

use super::custom_rules::{self, RuleOutcome};
use super::customer::CustomerFacts;
use super::facts::Facts;
use super::rules::{self, LineStock, Reason, Verdict};
use crate::config::RulesConfig;

/// What a judgement was made from, kept with what it decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// The order as the marketplace showed it then.
    pub order: Order,
    /// What the ledger found for each line then.
    pub lines: Vec<LineStock>,
    /// The channel and the marketplace allowed accepting some lines only.
    pub partial_allowed: bool,
    pub decided: Ruled,
}

/// A verdict as people and scripts read it: the action and its reason codes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ruled {
    pub action: Action,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Accept,
    /// Accept the lines in stock, refuse the others.
    Partial,
    Flag,
    Refuse,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Partial => "partial",
            Self::Flag => "flag",
            Self::Refuse => "refuse",
        }
    }
}

impl From<&Verdict> for Ruled {
    fn from(verdict: &Verdict) -> Self {
        let (action, reasons) = match verdict {
            Verdict::Accept => (Action::Accept, Vec::new()),
            Verdict::Partial { .. } => (Action::Partial, vec![Reason::InsufficientStock]),
            Verdict::Flag(reasons) => (Action::Flag, reasons.iter().copied().collect()),
            Verdict::Refuse(reasons) => (Action::Refuse, reasons.iter().copied().collect()),
        };
        Self {
            action,
            reasons: reasons.iter().map(|r| r.code().to_owned()).collect(),
        }
    }
}

/// One order to judge, with all it is judged from.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    pub channel: &'a str,
    pub order: &'a Order,
    pub lines: &'a [LineStock],
    pub partial_allowed: bool,
    pub customer: &'a CustomerFacts,
    pub judged_at: Timestamp,
}

/// Every rule's say on one order.
#[derive(Debug, Clone)]
pub struct Judged {
    /// What the seller's rules read.
    pub facts: Facts,
    /// What the built-in rules alone decide.
    pub built_in: Verdict,
    /// Each of the seller's rules, in the configuration's order.
    pub custom: Vec<RuleOutcome>,
    /// The verdict, the seller's rules heard.
    pub verdict: Verdict,
}

/// Judges the order of `case` with `rules`: the built-in rules on what the ledger found for
/// its lines, then the seller's rules on its facts (`now.hour` in `timezone`).
pub fn judge(rules: &RulesConfig, case: Case<'_>, timezone: &TimeZone) -> Judged {
    let facts = Facts::of(
        case.channel,
        case.order,
        case.lines,
        case.customer.clone(),
        case.judged_at,
        timezone,
    );
    let built_in = rules::judge(case.order, case.lines, rules, case.partial_allowed);
    let custom = custom_rules::evaluate(&rules.custom, &facts);
    let verdict = custom_rules::apply(&rules.custom, built_in.clone(), &custom);
    Judged {
        facts,
        built_in,
        custom,
        verdict,
    }
}
