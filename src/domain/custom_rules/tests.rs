use std::collections::BTreeSet;
use std::path::Path;

use super::*;
use crate::config::{Condition, RuleCode};

fn rule(code: &str, when: &str, action: RuleAction) -> CustomRule {
    CustomRule {
        code: RuleCode::try_from(code.to_owned()).unwrap(),
        when: Condition::try_from(when.to_owned()).unwrap(),
        action,
    }
}

fn holds(when: &str, facts: &Facts) -> Result<bool, String> {
    Condition::try_from(when.to_owned())
        .unwrap()
        .holds(&facts.value())
}

#[test]
fn an_expression_reads_each_fact() {
    let facts = Facts::sample();
    for when in [
        "order.total > 150",
        "order.currency == 'EUR'",
        "order.channel == 'sample'",
        "order.id is startingwith('SAMPLE')",
        "order.quantity == 3",
        "'fragile' in order.tags",
        "order.lines | length == 2",
        "order.lines[0].sku == 'PERC-18V' and order.lines[0].quantity == 1",
        "order.lines[1].unit_price < 10",
        "'bulky' in order.lines[0].tags",
        "order.lines | selectattr('quantity', 'gt', 1) | list | length == 1",
        "shipping.given and shipping.country == 'FR'",
        "shipping.postal_code is startingwith('20')",
        "shipping.city == 'Ajaccio'",
        "shipping.relay_point",
        "billing.country == 'FR' and billing.postal_code is none",
        "customer.known and customer.returning and not customer.first_order",
        "customer.orders_last_hour == 2 and customer.orders_last_day == 3",
        "customer.orders_last_year == 7",
        "customer.past_refusals == 1 and customer.past_cancellations == 1",
        "now.hour == 14 and now.weekday == 3",
    ] {
        assert_eq!(holds(when, &facts), Ok(true), "{when}");
    }
    assert_eq!(holds("order.total > 300", &facts), Ok(false));
}

#[test]
fn a_run_time_error_is_an_error_not_a_match() {
    let facts = Facts::sample();
    let err = holds("order.lines[5].sku == 'X'", &facts).unwrap_err();
    assert!(err.contains("column"), "{err}");
    // A fact that is none is no error: it is simply not what the rule looks for.
    let mut hidden = Facts::sample();
    hidden.shipping = Default::default();
    assert_eq!(
        holds("shipping.postal_code is startingwith('20')", &hidden),
        Ok(false)
    );
    let err = holds("order.total", &facts).unwrap_err();
    assert!(err.contains("not true or false"), "{err}");
    let err = holds("order.totl > 3", &facts).unwrap_err();
    assert!(err.contains("undefined"), "{err}");
}

#[test]
fn custom_rules_refuse_flag_or_leave_the_verdict() {
    let rules = [
        rule("big", "order.total > 150", RuleAction::Flag),
        rule(
            "corsica",
            "shipping.postal_code is startingwith('20')",
            RuleAction::Refuse,
        ),
        rule("night", "now.hour < 6", RuleAction::Flag),
    ];
    let facts = Facts::sample();
    let outcomes = evaluate(&rules, &facts);
    let matched: Vec<bool> = outcomes.iter().map(|o| o.matched).collect();
    assert_eq!(matched, [true, true, false]);
    assert_eq!(outcomes[1].facts_read, ["shipping.postal_code"]);
    let code = |c: &str| Reason::Custom(RuleCode::try_from(c.to_owned()).unwrap());
    assert_eq!(
        apply(&rules, Verdict::Accept, &outcomes),
        Verdict::Refuse(BTreeSet::from([code("corsica")]))
    );
    let short = Verdict::Refuse(BTreeSet::from([Reason::InsufficientStock]));
    assert_eq!(
        apply(&rules, short, &outcomes),
        Verdict::Refuse(BTreeSet::from([Reason::InsufficientStock, code("corsica")]))
    );

    let flag_only = &rules[..1];
    let outcomes = evaluate(flag_only, &facts);
    assert_eq!(
        apply(flag_only, Verdict::Accept, &outcomes),
        Verdict::Flag(BTreeSet::from([code("big")]))
    );
    let held = Verdict::Flag(BTreeSet::from([Reason::SkuTag]));
    assert_eq!(
        apply(flag_only, held, &outcomes),
        Verdict::Flag(BTreeSet::from([Reason::SkuTag, code("big")]))
    );
    let partial = Verdict::Partial {
        refused: vec!["l1".into()],
    };
    assert_eq!(
        apply(flag_only, partial, &outcomes),
        Verdict::Refuse(BTreeSet::from([Reason::InsufficientStock])),
        "as with the built-in rules, an order vigie cannot fill is refused"
    );
}

#[test]
fn a_rule_that_fails_holds_the_order_with_rule_error() {
    let rules = [rule(
        "third_line",
        "order.lines[2].sku == 'X'",
        RuleAction::Refuse,
    )];
    let facts = Facts::sample();
    let outcomes = evaluate(&rules, &facts);
    assert!(!outcomes[0].matched);
    assert!(outcomes[0].error.is_some());
    assert_eq!(
        apply(&rules, Verdict::Accept, &outcomes),
        Verdict::Flag(BTreeSet::from([Reason::RuleError]))
    );
}

#[test]
fn the_check_names_the_rule_and_the_position() {
    let file = Path::new("/etc/vigie/vigie.toml");
    let config = |rules: Vec<CustomRule>| RulesConfig {
        custom: rules,
        ..RulesConfig::default()
    };
    let ok = config(vec![rule("big", "order.total > 300", RuleAction::Flag)]);
    assert_eq!(check(&ok, file), Ok(()));

    let typo = config(vec![
        rule("big", "order.total > 300", RuleAction::Flag),
        rule(
            "first",
            "order.total > 3 and customer.firstorder",
            RuleAction::Flag,
        ),
    ]);
    let err = check(&typo, file).unwrap_err();
    assert_eq!(err.key, "rules.custom[1].when");
    assert!(err.message.contains("\"first\""), "{}", err.message);
    assert!(err.message.contains("column 21"), "{}", err.message);
    assert!(
        err.message.contains("customer.firstorder"),
        "{}",
        err.message
    );

    let taken = config(vec![rule(
        "total_above",
        "order.total > 1",
        RuleAction::Flag,
    )]);
    let err = check(&taken, file).unwrap_err();
    assert_eq!(err.key, "rules.custom[0].code", "a built-in code");

    let not_bool = config(vec![rule("amount", "order.total + 1", RuleAction::Flag)]);
    let err = check(&not_bool, file).unwrap_err();
    assert_eq!(err.key, "rules.custom[0].when");
    assert!(err.message.contains("not true or false"), "{}", err.message);
}
