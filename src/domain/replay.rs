//! `vigie rules replay`: today's rules over orders judged before, side by side with what was
//! decided then: how many would change, from which action to which, by reason code, with a
//! few examples. Pure: the caller reads the judgements and judges them again.

use std::collections::BTreeMap;

use serde::Serialize;

use super::judgment::{Action, Ruled};

/// Examples kept for each change of action.
const EXAMPLES: usize = 3;

/// One order judged again.
#[derive(Debug, Clone)]
pub struct Rejudged {
    /// `CHANNEL:ORDER_ID`.
    pub order: String,
    pub then: Ruled,
    pub now: Ruled,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Orders judged again.
    pub orders: usize,
    /// Of which today's rules decide as then (same action, same reasons).
    pub unchanged: usize,
    pub changed: usize,
    /// Each change of action (`accept -> flag`...; `flag -> flag` when only the reasons
    /// change), most frequent first.
    pub changes: Vec<Change>,
    /// Each reason code that appears or disappears, with how many orders.
    pub by_reason: Vec<ReasonChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub from: Action,
    pub to: Action,
    pub orders: usize,
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub order: String,
    pub then: Vec<String>,
    pub now: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonChange {
    pub code: String,
    /// Orders that would have this reason and did not.
    pub gained: usize,
    /// Orders that had this reason and would not.
    pub lost: usize,
}

/// Compares what was decided with what would be.
pub fn compare(orders: impl IntoIterator<Item = Rejudged>) -> Report {
    let mut report = Report::default();
    let mut changes: BTreeMap<(Action, Action), Change> = BTreeMap::new();
    let mut reasons: BTreeMap<String, ReasonChange> = BTreeMap::new();
    for order in orders {
        report.orders += 1;
        if order.then == order.now {
            report.unchanged += 1;
            continue;
        }
        report.changed += 1;
        let (from, to) = (order.then.action, order.now.action);
        let change = changes.entry((from, to)).or_insert_with(|| Change {
            from,
            to,
            orders: 0,
            examples: Vec::new(),
        });
        change.orders += 1;
        for (list, other, gained) in [
            (&order.now.reasons, &order.then.reasons, true),
            (&order.then.reasons, &order.now.reasons, false),
        ] {
            for code in list.iter().filter(|c| !other.contains(c)) {
                let counted = reasons.entry(code.clone()).or_insert_with(|| ReasonChange {
                    code: code.clone(),
                    gained: 0,
                    lost: 0,
                });
                if gained {
                    counted.gained += 1;
                } else {
                    counted.lost += 1;
                }
            }
        }
        if change.examples.len() < EXAMPLES {
            change.examples.push(Example {
                order: order.order,
                then: order.then.reasons,
                now: order.now.reasons,
            });
        }
    }
    report.changes = changes.into_values().collect();
    report.changes.sort_by_key(|c| std::cmp::Reverse(c.orders));
    report.by_reason = reasons.into_values().collect();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ruled(action: Action, reasons: &[&str]) -> Ruled {
        Ruled {
            action,
            reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    fn order(name: &str, then: Ruled, now: Ruled) -> Rejudged {
        Rejudged {
            order: name.to_owned(),
            then,
            now,
        }
    }

    #[test]
    fn changes_are_counted_by_action_and_by_reason() {
        let accept = ruled(Action::Accept, &[]);
        let big = ruled(Action::Flag, &["big"]);
        let report = compare([
            order("a:1", accept.clone(), accept.clone()),
            order("a:2", accept.clone(), big.clone()),
            order("a:3", accept.clone(), big.clone()),
            order("a:4", ruled(Action::Flag, &["sku_tag"]), accept.clone()),
            order("a:5", ruled(Action::Flag, &["sku_tag"]), big.clone()),
        ]);
        assert_eq!((report.orders, report.unchanged, report.changed), (5, 1, 4));
        let summary: Vec<_> = report
            .changes
            .iter()
            .map(|c| (c.from, c.to, c.orders))
            .collect();
        assert_eq!(
            summary,
            [
                (Action::Accept, Action::Flag, 2),
                (Action::Flag, Action::Accept, 1),
                (Action::Flag, Action::Flag, 1),
            ]
        );
        assert_eq!(report.changes[0].examples[1].order, "a:3");
        assert_eq!(
            report.by_reason,
            [
                ReasonChange {
                    code: "big".into(),
                    gained: 3,
                    lost: 0
                },
                ReasonChange {
                    code: "sku_tag".into(),
                    gained: 0,
                    lost: 2
                },
            ]
        );
    }
}
