//! The invariants of DESIGN section 2 about customer messages: one per (order, event,
//! destination), and every send cut by a kill left 'uncertain', alerted, never re-sent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use vigie_testkit::Hit;

use crate::Life;
use crate::checks::Outcome;
use crate::common::count;
use crate::received::{event_of_subject, message_of};

/// (channel, order, event) of a customer message.
type MessageKey = (String, String, String);

/// Customer messages as the marketplaces and the outbox see them.
pub struct Messages {
    /// What each marketplace received, by (channel, order, event).
    pub delivered: BTreeMap<MessageKey, usize>,
    /// The outbox's marketplace route: (channel, order, event) -> (row id, state).
    pub outbox: BTreeMap<MessageKey, (i64, String)>,
    /// Outbox rows by state.
    pub states: BTreeMap<String, usize>,
}

/// One message per (order, event, destination): at most one customer message per order and
/// event on each marketplace, exactly one for every outbox row 'sent', none for a row that
/// was never sent, and none without an outbox row.
pub fn one_per_event(o: &Outcome) -> Messages {
    let mut delivered: BTreeMap<MessageKey, usize> = BTreeMap::new();
    for m in o.rig.markets.mirakl.messages() {
        let event = event_of_subject(&m.topic_value)
            .unwrap_or_else(|| panic!("unknown subject {:?}", m.topic_value));
        *delivered
            .entry(("lm".into(), m.order_id.clone(), event.into()))
            .or_default() += 1;
    }
    for m in o.rig.markets.fnac.messages() {
        let subject = m.description.lines().next().unwrap_or_default().to_owned();
        let event =
            event_of_subject(&subject).unwrap_or_else(|| panic!("unknown subject {subject:?}"));
        *delivered
            .entry(("fnac".into(), m.order_id.clone(), event.into()))
            .or_default() += 1;
    }
    let twice: Vec<_> = delivered.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "customer messages sent twice: {twice:?}");
    let outbox: BTreeMap<MessageKey, (i64, String)> = {
        let mut stmt = o
            .conn
            .prepare(
                "SELECT o.channel, o.order_id, x.event, x.id, x.state FROM outbox x
                 JOIN orders o ON o.id = x.order_pk
                 WHERE x.destination = 'marketplace' AND o.channel IN ('lm', 'fnac')",
            )
            .unwrap();
        stmt.query_map([], |r| {
            Ok(((r.get(0)?, r.get(1)?, r.get(2)?), (r.get(3)?, r.get(4)?)))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    // The graceful stop lets the send in flight finish: nothing is left 'sending'.
    assert_eq!(
        count(
            &o.conn,
            "SELECT COUNT(*) FROM outbox WHERE state = 'sending'"
        ),
        0,
        "rows left 'sending' after SIGTERM"
    );
    let mut states = BTreeMap::<String, usize>::new();
    for (key, (id, state)) in &outbox {
        *states.entry(state.clone()).or_default() += 1;
        let n = delivered.get(key).copied().unwrap_or(0);
        match state.as_str() {
            "sent" => assert_eq!(
                n, 1,
                "outbox row {id} {key:?} is sent, the marketplace has {n}"
            ),
            "uncertain" => assert!(n <= 1),
            other => assert_eq!(
                n, 0,
                "outbox row {id} {key:?} is {other}, yet the marketplace has {n}"
            ),
        }
    }
    for key in delivered.keys() {
        assert!(
            outbox.contains_key(key),
            "message {key:?} without an outbox row"
        );
    }
    Messages {
        delivered,
        outbox,
        states,
    }
}

/// What the kills did to sends in flight.
pub struct Interrupted {
    /// Kills that cut at least one customer-message request in flight.
    pub kills_interrupting: usize,
    /// Requests cut by a kill.
    pub requests: usize,
    /// Outbox rows left 'uncertain'.
    pub uncertain: usize,
    /// Of those, the ones the marketplace did receive.
    pub uncertain_delivered: usize,
    /// `notification_uncertain` alerts in the store.
    pub stored_alerts: usize,
    /// `notification_uncertain` alerts delivered to the on-call webhook.
    pub webhook_alerts: usize,
}

/// Every send cut by a kill is 'uncertain', and every uncertain row has a
/// `notification_uncertain` alert, stored and delivered to the on-call webhook.
pub fn interrupted_sends_are_uncertain(
    o: &Outcome,
    messages: &Messages,
    lives: &[Life],
) -> Interrupted {
    let stored_alerts: BTreeSet<String> = {
        let mut stmt = o
            .conn
            .prepare("SELECT dedup_key FROM alerts WHERE kind = 'notification_uncertain'")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let webhook_alerts: BTreeSet<String> = o
        .rig
        .alerts
        .of_kind("notification_uncertain")
        .iter()
        .map(|a| a["dedup_key"].as_str().unwrap_or_default().to_owned())
        .collect();
    let uncertain: Vec<(&MessageKey, i64)> = messages
        .outbox
        .iter()
        .filter(|(_, (_, s))| s == "uncertain")
        .map(|(k, (id, _))| (k, *id))
        .collect();
    for (key, id) in &uncertain {
        let dedup = format!("notification_uncertain:{id}");
        assert!(
            stored_alerts.contains(&dedup),
            "uncertain row {id} {key:?} has no alert in the store"
        );
        assert!(
            reached_on_call(&o.conn, &webhook_alerts, &dedup),
            "uncertain row {id} {key:?}: no notification_uncertain reached the on-call webhook"
        );
    }
    let (kills_interrupting, interrupted) = cut_by_kills(o, lives);
    for (channel, order, event) in &interrupted {
        let key = (channel.clone(), order.clone(), (*event).to_owned());
        let (id, state) = messages
            .outbox
            .get(&key)
            .unwrap_or_else(|| panic!("interrupted send {key:?} has no outbox row"));
        assert_eq!(
            state, "uncertain",
            "outbox row {id} {key:?} was cut by a kill but is {state}"
        );
    }
    Interrupted {
        kills_interrupting,
        requests: interrupted.len(),
        uncertain: uncertain.len(),
        uncertain_delivered: uncertain
            .iter()
            .filter(|(k, _)| messages.delivered.contains_key(*k))
            .count(),
        stored_alerts: stored_alerts.len(),
        webhook_alerts: webhook_alerts.len(),
    }
}

/// Customer-message requests the proxies saw cut by a kill (no answer had left when the
/// process died), and how many kills cut at least one.
fn cut_by_kills(o: &Outcome, lives: &[Life]) -> (usize, Vec<(String, String, &'static str)>) {
    let message_hits: Vec<&Hit> = o
        .mirakl_hits
        .iter()
        .chain(&o.fnac_hits)
        .filter(|h| matches!(h.endpoint().as_str(), "OR43" | "messages_update"))
        .collect();
    let mut kills_interrupting = 0;
    let mut interrupted = Vec::new();
    for (i, life) in lives.iter().enumerate() {
        let Some(killed) = life.killed else { continue };
        let next: Option<Instant> = lives.get(i + 1).map(|l| l.started);
        let cut: Vec<&&Hit> = message_hits
            .iter()
            .filter(|h| h.at >= life.started && next.is_none_or(|n| h.at < n))
            .filter(|h| h.done.is_none_or(|d| d >= killed))
            .collect();
        kills_interrupting += usize::from(!cut.is_empty());
        interrupted.extend(cut.into_iter().map(|h| message_of(h)));
    }
    (kills_interrupting, interrupted)
}

/// Whether the on-call webhook heard of alert `dedup`: directly, or, when a kill cut the send
/// of that notice too, through the `notification_uncertain` alert about it.
fn reached_on_call(conn: &rusqlite::Connection, received: &BTreeSet<String>, dedup: &str) -> bool {
    if received.contains(dedup) {
        return true;
    }
    let mut stmt = conn
        .prepare(
            "SELECT j.id FROM outbox j JOIN alerts a ON a.id = j.alert_id
             WHERE a.dedup_key = ?1 AND j.state = 'uncertain'",
        )
        .unwrap();
    let cut: Vec<i64> = stmt
        .query_map([dedup], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    cut.iter()
        .any(|job| reached_on_call(conn, received, &format!("notification_uncertain:{job}")))
}
