//! The seller's own rules (`[[rules.custom]]`) over an order's facts, judged after the
//! built-in rules: what each made of the order, and how that changes the built-in verdict.

use std::collections::BTreeSet;

use serde::Serialize;

use super::facts::Facts;
use super::rules::{Reason, Verdict};
use crate::config::{ConfigError, CustomRule, RuleAction, RulesConfig};

/// What one rule made of one order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleOutcome {
    pub code: &'static str,
    pub action: &'static str,
    pub when: String,
    pub matched: bool,
    /// Why the expression could not be evaluated; the order is then held with `rule_error`.
    pub error: Option<String>,
    /// The facts the expression reads, as `order.total`.
    pub facts_read: Vec<String>,
}

/// Each rule's outcome on `facts`, in the configuration's order.
pub fn evaluate(rules: &[CustomRule], facts: &Facts) -> Vec<RuleOutcome> {
    let value = facts.value();
    rules
        .iter()
        .map(|rule| {
            let holds = rule.when.holds(&value);
            RuleOutcome {
                code: rule.code.as_str(),
                action: rule.action.as_str(),
                when: rule.when.text().to_owned(),
                matched: holds.as_ref().is_ok_and(|h| *h),
                error: holds.err(),
                facts_read: rule.when.facts_read().to_vec(),
            }
        })
        .collect()
}

/// The built-in `verdict` once the seller's rules are heard: a matching `refuse` rule refuses
/// the order; a matching `flag` rule, or a rule that failed, holds it for a human, unless the
/// built-in rules refuse it (an order vigie cannot fill is refused whatever a human might
/// look at, as the built-in rules do).
pub fn apply(rules: &[CustomRule], verdict: Verdict, outcomes: &[RuleOutcome]) -> Verdict {
    let matched = |action: RuleAction| -> BTreeSet<Reason> {
        rules
            .iter()
            .zip(outcomes)
            .filter(|(rule, outcome)| rule.action == action && outcome.matched)
            .map(|(rule, _)| Reason::Custom(rule.code))
            .collect()
    };
    let refusals = matched(RuleAction::Refuse);
    let mut flags = matched(RuleAction::Flag);
    if outcomes.iter().any(|o| o.error.is_some()) {
        flags.insert(Reason::RuleError);
    }
    if !refusals.is_empty() {
        return match verdict {
            Verdict::Refuse(mut reasons) => {
                reasons.extend(refusals);
                Verdict::Refuse(reasons)
            }
            _ => Verdict::Refuse(refusals),
        };
    }
    if flags.is_empty() {
        return verdict;
    }
    match verdict {
        Verdict::Accept => Verdict::Flag(flags),
        Verdict::Flag(mut reasons) => {
            reasons.extend(flags);
            Verdict::Flag(reasons)
        }
        Verdict::Partial { .. } => Verdict::Refuse(BTreeSet::from([Reason::InsufficientStock])),
        refuse @ Verdict::Refuse(_) => refuse,
    }
}

/// `check-config` and `run`: every rule evaluates to true or false on a sample order with
/// every fact given, reads only facts that exist, and takes a code of its own.
pub fn check(rules: &RulesConfig, file: &std::path::Path) -> Result<(), ConfigError> {
    let sample = Facts::sample();
    let known = sample.value();
    for (index, rule) in rules.custom.iter().enumerate() {
        let error = |key: &str, message: String| ConfigError {
            file: file.to_path_buf(),
            key: format!("rules.custom[{index}].{key}"),
            message: format!("rule {:?}: {message}", rule.code.as_str()),
        };
        let code = rule.code.as_str();
        if Reason::BUILT_IN.iter().any(|r| r.code() == code) {
            return Err(error("code", "is a built-in reason code".to_owned()));
        }
        for fact in rule.when.facts_read() {
            if !has_path(&known, fact) {
                let text = rule.when.text();
                let column = text
                    .find(fact.as_str())
                    .map_or(0, |at| text[..at].chars().count())
                    + 1;
                return Err(error(
                    "when",
                    format!(
                        "at column {column}: no fact {fact:?} (README \"Your own rules\" lists them)"
                    ),
                ));
            }
        }
        if let Err(message) = rule.when.holds(&known) {
            return Err(error("when", format!("on a sample order: {message}")));
        }
    }
    Ok(())
}

/// Whether `path` (`customer.first_order`) names a fact.
pub fn has_path(facts: &minijinja::Value, path: &str) -> bool {
    let mut value = facts.clone();
    for part in path.split('.') {
        match value.get_attr(part) {
            Ok(inner) if !inner.is_undefined() => value = inner,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests;
