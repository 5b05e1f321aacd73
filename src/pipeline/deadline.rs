//! `[rules] on_deadline`: an order still flagged or undecided once the chosen share of its
//! acceptance window is gone is decided by vigie, with reason `deadline`, rather than left to
//! expire (an expiry costs the seller's ranking as much as a refusal, and the customer waits).

use rusqlite::Connection;
use vigie_connector::Order;

use crate::config::{DeadlineAction, RulesConfig};
use crate::domain::rules::{LineStock, Reason};
use crate::domain::{deadlines, decision};
use crate::store::decisions::{self, Decision, Source};
use crate::store::reservations::{self, LineUnits, ReservationState};
use crate::store::stock::{self, Hold};
use crate::store::{self, flags, orders::StoredOrder};

/// Decides `order` if `[rules] on_deadline` says so by `elapsed` (share of its window gone).
/// Returns whether it did (reservations moved: channels need new quantities).
pub fn apply(
    conn: &Connection,
    rules: &RulesConfig,
    (stored, order): (&StoredOrder, &Order),
    elapsed: f64,
    partial_allowed: bool,
    safety_buffer: u32,
    now: &str,
) -> store::Result<bool> {
    let on_deadline = rules.on_deadline;
    if on_deadline.action == DeadlineAction::Nothing
        || elapsed < on_deadline.at.get()
        || decisions::is_decided(conn, stored.pk)?
    {
        return Ok(false);
    }
    let accepting = on_deadline.action == DeadlineAction::Accept;
    // Without any inventory nothing can be held; only a refusal needs none.
    if accepting && !stock::has_inventory(conn)? {
        return Ok(false);
    }
    let hold_more = accepting.then_some(safety_buffer);
    let lines = reserved_lines(conn, stored.pk, order, hold_more, now)?;
    let Some(verdict) = deadlines::verdict_at_deadline(on_deadline.action, &lines, partial_allowed)
    else {
        return Ok(false);
    };
    let mut refused = Vec::new();
    for ruling in decision::rulings(order, &verdict) {
        let mut reasons = ruling.reasons;
        if !reasons.contains(&Reason::Deadline.code()) {
            reasons.push(Reason::Deadline.code());
        }
        let decision = Decision {
            accept: ruling.accept,
            reasons: &reasons,
            source: Source::Rules,
            note: None,
        };
        decisions::record(conn, stored.pk, ruling.line_id, decision, now)?;
        if !ruling.accept {
            refused.push(ruling.line_id.to_owned());
        }
    }
    if !refused.is_empty() {
        reservations::settle(
            conn,
            stored.pk,
            Some(&refused),
            ReservationState::Released,
            now,
        )?;
    }
    flags::resolve(conn, stored.pk, now)?;
    Ok(true)
}

/// Whether each line holds its units: those the order already holds (judged before), and with
/// `hold_more` (the safety buffer) the others if the stock now allows (a flagged order short
/// of stock may have been restocked since).
fn reserved_lines(
    conn: &Connection,
    order_pk: i64,
    order: &Order,
    hold_more: Option<u32>,
    now: &str,
) -> store::Result<Vec<LineStock>> {
    let held: Vec<String> = reservations::of_order(conn, order_pk)?
        .into_iter()
        .filter(|r| r.state == ReservationState::Held)
        .map(|r| r.line_id)
        .collect();
    let mut lines = Vec::with_capacity(order.lines.len());
    for line in &order.lines {
        let reserved = held.contains(&line.id)
            || match hold_more {
                Some(buffer) => {
                    let units = LineUnits::of(order_pk, line);
                    stock::hold_if_available(conn, units, buffer, now)? == Hold::Held
                }
                None => false,
            };
        lines.push(LineStock {
            line_id: line.id.clone(),
            reserved,
            // Only the rules read these: at the deadline an unlisted SKU is simply short.
            known: true,
            tags: Vec::new(),
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Config, Environment};
    use crate::domain::test_orders;
    use crate::pipeline::decide::{self, Policy};
    use crate::store::stock::StockItem;
    use crate::store::{Store, orders};

    /// A Mirakl channel whose orders above 1 EUR are flagged, with `on_deadline` as given.
    fn config(on_deadline: &str) -> Config {
        let text = format!(
            r#"
            [[channel]]
            name = "lm"
            kind = "mirakl"
            base_url = "https://x.example"
            api_key = "k"
            [rules]
            flag_total_above = 1
            on_insufficient_stock = "flag"
            on_deadline = {on_deadline}
            "#
        );
        crate::config::parse(
            &text,
            Path::new("/etc/vigie/vigie.toml"),
            &Environment::default(),
        )
        .unwrap()
    }

    /// What `apply` decided at each share of the window, line by line: (line, accept, reasons),
    /// and the reservations left, for an order of `lines` over `stock`, flagged when first judged.
    struct Run {
        decided: Vec<bool>,
        decisions: Vec<(String, bool, Vec<String>)>,
        reservations: Vec<(String, ReservationState)>,
        flagged: bool,
    }

    fn run(
        config: &Config,
        stock: &[(&str, u32)],
        lines: &[(&str, u32)],
        at: &[f64],
        partial: bool,
    ) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let order = test_orders::order(lines, 50, None);
        let now = store::now_text();
        store
            .with(|c| {
                let tx = c.transaction()?;
                for (sku, quantity) in stock {
                    let item = StockItem {
                        sku: (*sku).into(),
                        quantity: *quantity,
                        tags: vec![],
                    };
                    stock::set(&tx, &item, &now)?;
                }
                let (pk, _) = orders::ingest(&tx, "lm", &order, Default::default(), &now)?;
                let policy = Policy {
                    channel: "lm",
                    timezone: &jiff::tz::TimeZone::UTC,
                    rules: &config.rules,
                    safety_buffer: 0,
                    partial_acceptance: partial,
                };
                decide::apply(&tx, &policy, pk, &order, &now)?;
                tx.commit()?;
                Ok(())
            })
            .unwrap();
        let flagged = orders::OrderFilter {
            status: Some("flagged".into()),
            channel: None,
            order_id: None,
        };
        store
            .with(|c| {
                let stored = orders::find(c, "lm", "o1")?.unwrap();
                assert!(
                    flags::was_flagged(c, stored.pk)?,
                    "the order starts flagged"
                );
                let mut decided = Vec::new();
                for elapsed in at {
                    decided.push(apply(
                        c,
                        &config.rules,
                        (&stored, &order),
                        *elapsed,
                        partial,
                        0,
                        &now,
                    )?);
                }
                Ok(Run {
                    decided,
                    decisions: decisions::of_order(c, stored.pk)?
                        .into_iter()
                        .map(|d| (d.line_id, d.accept, d.reasons))
                        .collect(),
                    reservations: reservations::of_order(c, stored.pk)?
                        .into_iter()
                        .map(|r| (r.line_id, r.state))
                        .collect(),
                    flagged: !orders::list(c, &flagged)?.is_empty(),
                })
            })
            .unwrap()
    }

    fn line(id: &str, accept: bool, reasons: &[&str]) -> (String, bool, Vec<String>) {
        (
            id.into(),
            accept,
            reasons.iter().map(|r| r.to_string()).collect(),
        )
    }

    #[test]
    fn nothing_is_the_default_and_leaves_the_order_to_a_human() {
        let run = run(&config("{}"), &[("A", 5)], &[("A", 1)], &[0.9, 1.5], true);
        assert_eq!(run.decided, [false, false]);
        assert!(run.decisions.is_empty());
        assert!(run.flagged);
    }

    #[test]
    fn accept_at_the_chosen_share_of_the_window_once() {
        let config = config(r#"{ at = 0.8, action = "accept" }"#);
        let run = run(
            &config,
            &[("A", 5), ("B", 5)],
            &[("A", 1), ("B", 2)],
            &[0.79, 0.8, 0.9],
            false,
        );
        assert_eq!(run.decided, [false, true, false]);
        assert_eq!(
            run.decisions,
            [
                line("l0", true, &["deadline"]),
                line("l1", true, &["deadline"])
            ]
        );
        assert!(!run.flagged, "no longer waits for a human");
        assert!(
            run.reservations
                .iter()
                .all(|(_, s)| *s == ReservationState::Held)
        );
    }

    #[test]
    fn accept_never_oversells_a_line_short_of_stock() {
        let config = config(r#"{ at = 0.5, action = "accept" }"#);
        let stock = [("A", 5), ("B", 1)];
        let lines = [("A", 1), ("B", 2)];

        let partial = run(&config, &stock, &lines, &[0.5], true);
        assert_eq!(
            partial.decisions,
            [
                line("l0", true, &["deadline"]),
                line("l1", false, &["insufficient_stock", "deadline"])
            ]
        );
        assert_eq!(
            partial.reservations,
            [("l0".to_string(), ReservationState::Held)]
        );

        let whole = run(&config, &stock, &lines, &[0.5], false);
        let refused = &["insufficient_stock", "deadline"];
        assert_eq!(
            whole.decisions,
            [line("l0", false, refused), line("l1", false, refused)]
        );
        assert_eq!(
            whole.reservations,
            [("l0".to_string(), ReservationState::Released)]
        );
    }

    #[test]
    fn refuse_releases_what_the_order_held() {
        let config = config(r#"{ at = 0.8, action = "refuse" }"#);
        let run = run(&config, &[("A", 5)], &[("A", 2)], &[0.8], true);
        assert_eq!(run.decisions, [line("l0", false, &["deadline"])]);
        assert_eq!(
            run.reservations,
            [("l0".to_string(), ReservationState::Released)]
        );
        assert!(!run.flagged);
    }
}
