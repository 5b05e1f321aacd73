//! What a verdict and the marketplace's picture of an order mean line by line. Pure: the
//! pipeline carries it out against the store.

use std::collections::BTreeSet;

use vigie_connector::{Order, OrderLine, OrderStatus};

use super::rules::{Reason, Verdict};

/// vigie's decision for one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRuling<'a> {
    pub line_id: &'a str,
    pub accept: bool,
    /// Rule codes behind it (`insufficient_stock`...).
    pub reasons: Vec<&'static str>,
}

/// One decision per line as `verdict` implies; none while a human must decide.
pub fn rulings<'a>(order: &'a Order, verdict: &Verdict) -> Vec<LineRuling<'a>> {
    let ruling = |line: &'a OrderLine, accept: bool, reasons: &[&'static str]| LineRuling {
        line_id: &line.id,
        accept,
        reasons: reasons.to_vec(),
    };
    let lines = order.lines.iter();
    match verdict {
        Verdict::Accept => lines.map(|l| ruling(l, true, &[])).collect(),
        Verdict::Partial { refused } => lines
            .map(|l| {
                if refused.contains(&l.id) {
                    ruling(l, false, &[Reason::InsufficientStock.code()])
                } else {
                    ruling(l, true, &[])
                }
            })
            .collect(),
        Verdict::Refuse(reasons) => {
            let codes = codes(reasons);
            lines.map(|l| ruling(l, false, &codes)).collect()
        }
        Verdict::Flag(_) => Vec::new(),
    }
}

/// The reasons' codes, in order.
pub fn codes(reasons: &BTreeSet<Reason>) -> Vec<&'static str> {
    reasons.iter().map(|r| r.code()).collect()
}

/// Whether the marketplace still counts the line (it has not refused, cancelled or refunded
/// it).
pub fn is_live(line: &OrderLine) -> bool {
    !matches!(
        line.state.status,
        OrderStatus::Refused | OrderStatus::Cancelled | OrderStatus::Refunded
    )
}

/// Lines the marketplace has not refused, cancelled or refunded.
pub fn live_lines(order: &Order) -> impl Iterator<Item = &OrderLine> {
    order.lines.iter().filter(|l| is_live(l))
}

/// Ids of the lines the marketplace refused, cancelled or refunded.
pub fn dead_line_ids(order: &Order) -> Vec<String> {
    order
        .lines
        .iter()
        .filter(|l| !is_live(l))
        .map(|l| l.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use vigie_connector::MarketplaceState;

    use super::*;
    use crate::domain::test_orders::order;

    fn summary(rulings: Vec<LineRuling<'_>>) -> Vec<(&str, bool, Vec<&str>)> {
        rulings
            .into_iter()
            .map(|l| (l.line_id, l.accept, l.reasons))
            .collect()
    }

    #[test]
    fn each_verdict_decides_every_line_or_none() {
        let order = order(&[("A", 1), ("B", 1)], 2, None);
        assert_eq!(
            summary(rulings(&order, &Verdict::Accept)),
            [("l0", true, vec![]), ("l1", true, vec![])]
        );
        let partial = Verdict::Partial {
            refused: vec!["l1".into()],
        };
        assert_eq!(
            summary(rulings(&order, &partial)),
            [
                ("l0", true, vec![]),
                ("l1", false, vec!["insufficient_stock"])
            ]
        );
        let refuse = Verdict::Refuse(BTreeSet::from([Reason::TotalAbove, Reason::SkuTag]));
        assert_eq!(
            summary(rulings(&order, &refuse)),
            [
                ("l0", false, vec!["total_above", "sku_tag"]),
                ("l1", false, vec!["total_above", "sku_tag"])
            ]
        );
        let flag = Verdict::Flag(BTreeSet::from([Reason::SkuTag]));
        assert!(rulings(&order, &flag).is_empty());
    }

    #[test]
    fn refused_and_cancelled_lines_are_dead() {
        let mut order = order(&[("A", 1), ("B", 1), ("C", 1)], 3, None);
        order.lines[1].state = MarketplaceState::new("REFUSED", OrderStatus::Refused);
        order.lines[2].state = MarketplaceState::new("CANCELED", OrderStatus::Cancelled);
        let live: Vec<&str> = live_lines(&order).map(|l| l.id.as_str()).collect();
        assert_eq!(live, ["l0"]);
        assert_eq!(dead_line_ids(&order), ["l1", "l2"]);
    }
}
