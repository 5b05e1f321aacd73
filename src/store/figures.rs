//! Figures `vigie demo` and `vigie bench` read from the daemon's database, while it runs and
//! once it stopped: how far the orders went, how far the outbox went, and when each accepted
//! order was placed, seen and confirmed.

use jiff::Timestamp;
use rusqlite::{Connection, Row, params};

use super::decisions::Outcome;
use super::outbox::DeliveryState;
use super::state::StoredState;
use super::{Result, StoreError};

/// Orders seen so far, and how many of them the marketplaces settled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderCounts {
    pub seen: u64,
    /// Orders with a decision whose outcome the marketplace reported.
    pub settled: u64,
    /// Orders accepted, the acceptance confirmed by the marketplace.
    pub accepted: u64,
}

pub fn order_counts(conn: &Connection) -> Result<OrderCounts> {
    let (seen, settled, accepted) = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM orders),
                (SELECT COUNT(DISTINCT order_pk) FROM decisions WHERE outcome IS NOT NULL),
                (SELECT COUNT(DISTINCT order_pk) FROM decisions
                  WHERE accept = 1 AND outcome = ?1)",
        [Outcome::Confirmed.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(OrderCounts {
        seen: count(seen)?,
        settled: count(settled)?,
        accepted: count(accepted)?,
    })
}

/// SKUs in the inventory.
pub fn stock_items(conn: &Connection) -> Result<u64> {
    count(conn.query_row("SELECT COUNT(*) FROM stock", [], |r| r.get(0))?)
}

/// Customer messages and seller webhooks in the outbox (its on-call notices aside).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub sent: u64,
    /// Still to send, or being sent.
    pub queued: u64,
}

pub fn outbox_counts(conn: &Connection) -> Result<OutboxCounts> {
    let (sent, queued) = conn.query_row(
        "SELECT COALESCE(SUM(state = ?1), 0), COALESCE(SUM(state IN (?2, ?3)), 0)
         FROM outbox WHERE order_pk IS NOT NULL",
        params![
            DeliveryState::Sent,
            DeliveryState::Pending,
            DeliveryState::Sending
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(OutboxCounts {
        sent: count(sent)?,
        queued: count(queued)?,
    })
}

/// One outbox lane's customer messages or seller webhooks: a channel's marketplace messages
/// (`marketplace:CHANNEL`), `email`, `webhook` or `events`.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneCounts {
    pub lane: String,
    pub sent: u64,
    pub queued: u64,
    /// From the lane's first job queued to its last sent, when it sent any.
    pub busy_secs: Option<f64>,
}

/// Every lane that has had a job about an order, by name.
pub fn lane_counts(conn: &Connection) -> Result<Vec<LaneCounts>> {
    let mut stmt = conn.prepare(
        "SELECT lane, COALESCE(SUM(state = ?1), 0), COALESCE(SUM(state IN (?2, ?3)), 0),
                MIN(created_at), MAX(sent_at)
         FROM outbox WHERE order_pk IS NOT NULL
         GROUP BY lane ORDER BY lane",
    )?;
    let rows: Vec<(String, i64, i64, String, Option<String>)> = stmt
        .query_map(
            params![
                DeliveryState::Sent,
                DeliveryState::Pending,
                DeliveryState::Sending
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(lane, sent, queued, first, last)| {
            let what = format!("lane {lane}");
            let busy_secs = match last {
                Some(last) => {
                    let (first, last) = (time(&what, &first)?, time(&what, &last)?);
                    Some(last.duration_since(first).as_secs_f64())
                }
                None => None,
            };
            Ok(LaneCounts {
                lane,
                sent: count(sent)?,
                queued: count(queued)?,
                busy_secs,
            })
        })
        .collect()
}

/// Messages sent for one event through one route (`marketplace`, `email`, `webhook`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessages {
    pub event: String,
    pub destination: String,
    pub count: u64,
}

/// Messages about orders sent, by event and route, in that order.
pub fn sent_messages(conn: &Connection) -> Result<Vec<SentMessages>> {
    let mut stmt = conn.prepare(
        "SELECT event, destination, COUNT(*) FROM outbox
         WHERE state = ?1 AND order_pk IS NOT NULL
         GROUP BY event, destination ORDER BY event, destination",
    )?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map([DeliveryState::Sent], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(event, destination, n)| {
            Ok(SentMessages {
                event,
                destination,
                count: count(n)?,
            })
        })
        .collect()
}

/// An accepted order: when the marketplace created it and when it confirmed vigie's
/// acceptance (the first line confirmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acceptance {
    pub placed_at: Timestamp,
    pub confirmed_at: Timestamp,
}

/// Every order accepted and confirmed.
pub fn acceptances(conn: &Connection) -> Result<Vec<Acceptance>> {
    let mut stmt = conn.prepare(
        "SELECT 'order ' || o.channel || ':' || o.order_id, o.created_at, MIN(d.outcome_at)
         FROM orders o
         JOIN decisions d ON d.order_pk = o.id
         WHERE d.accept = 1 AND d.outcome = ?1 GROUP BY o.id",
    )?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([Outcome::Confirmed.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.iter()
        .map(|(order, placed, confirmed)| {
            Ok(Acceptance {
                placed_at: time(order, placed)?,
                confirmed_at: time(order, confirmed)?,
            })
        })
        .collect()
}

/// An order line accepted and confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedLine {
    pub channel: String,
    pub order_id: String,
    pub sku: String,
    /// When vigie first saw the order (and reserved its units).
    pub seen_at: Timestamp,
    /// When the marketplace confirmed the acceptance.
    pub confirmed_at: Timestamp,
}

pub fn accepted_lines(conn: &Connection) -> Result<Vec<AcceptedLine>> {
    let mut stmt = conn.prepare(
        "SELECT o.channel, o.order_id, l.sku, o.first_seen_at, d.outcome_at
         FROM decisions d
         JOIN orders o ON o.id = d.order_pk
         JOIN order_lines l ON l.order_pk = d.order_pk AND l.line_id = d.line_id
         WHERE d.accept = 1 AND d.outcome = ?1",
    )?;
    let rows: Vec<[String; 5]> = stmt
        .query_map([Outcome::Confirmed.as_str()], five)?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|[channel, order_id, sku, seen, confirmed]| {
            let order = format!("order {channel}:{order_id}");
            Ok(AcceptedLine {
                seen_at: time(&order, &seen)?,
                confirmed_at: time(&order, &confirmed)?,
                channel,
                order_id,
                sku,
            })
        })
        .collect()
}

fn five(r: &Row<'_>) -> rusqlite::Result<[String; 5]> {
    Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
}

/// A stored time of `what` (e.g. "order lm:A-1").
fn time(what: &str, text: &str) -> Result<Timestamp> {
    text.parse()
        .map_err(|e| StoreError::Data(format!("{what}: stored time {text:?}: {e}")))
}

fn count(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::Data(format!("a count of {n}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn an_empty_database_counts_zero() {
        let (_dir, store) = store();
        store
            .with(|conn| {
                assert_eq!(order_counts(conn)?, OrderCounts::default());
                assert_eq!(outbox_counts(conn)?, OutboxCounts::default());
                assert_eq!(stock_items(conn)?, 0);
                assert!(sent_messages(conn)?.is_empty());
                assert!(acceptances(conn)?.is_empty());
                assert!(accepted_lines(conn)?.is_empty());
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn reads_back_an_accepted_order_and_its_messages() {
        let (_dir, store) = store();
        store
            .with(|conn| {
                conn.execute_batch(
                    "INSERT INTO orders (id, channel, order_id, reference, marketplace_state,
                        status, created_at, updated_at, first_seen_at, total_amount, currency,
                        payload)
                     VALUES (1, 'lm', 'A-1', 'R', 'SHIPPING', 'accepted',
                        '2026-11-20T09:00:00Z', '2026-11-20T09:00:00Z', '2026-11-20T09:00:02Z',
                        '10', 'EUR', '{}'),
                        (2, 'lm', 'A-2', 'R', 'WAITING_ACCEPTANCE', 'awaiting_acceptance',
                        '2026-11-20T09:00:00Z', '2026-11-20T09:00:00Z', '2026-11-20T09:00:02Z',
                        '10', 'EUR', '{}');
                     INSERT INTO order_lines VALUES (1, '1', 'LAMP', 1, 'SHIPPING', 'accepted');
                     INSERT INTO decisions (order_pk, line_id, accept, source, decided_at,
                        outcome, outcome_at)
                     VALUES (1, '1', 1, 'rules', '2026-11-20T09:00:03Z', 'confirmed',
                        '2026-11-20T09:00:05Z');
                     INSERT INTO outbox (order_pk, event, destination, state, next_attempt_at,
                        payload, created_at)
                     VALUES (1, 'accepted', 'email', 'sent', '', '{}', ''),
                        (1, 'received', 'email', 'sent', '', '{}', ''),
                        (2, 'received', 'email', 'pending', '', '{}', '');
                     -- An on-call notice in the same queue is not a message about an order.
                     INSERT INTO alerts (id, dedup_key, kind, severity, message, opened_at)
                     VALUES (1, 'stock_low:LAMP', 'stock_low', 'warning', 'low', '');
                     INSERT INTO outbox (alert_id, event, destination, state, next_attempt_at,
                        payload, created_at)
                     VALUES (1, 'trigger', 'alerts:0', 'sent', '', '{}', '');",
                )?;
                let at = |t: &str| t.parse::<Timestamp>().unwrap();
                assert_eq!(
                    order_counts(conn)?,
                    OrderCounts {
                        seen: 2,
                        settled: 1,
                        accepted: 1
                    }
                );
                assert_eq!(outbox_counts(conn)?, OutboxCounts { sent: 2, queued: 1 });
                assert_eq!(
                    lane_counts(conn)?,
                    [LaneCounts {
                        lane: "email".into(),
                        sent: 2,
                        queued: 1,
                        busy_secs: None,
                    }]
                );
                let sent = sent_messages(conn)?;
                assert_eq!(
                    sent.iter()
                        .map(|s| (s.event.as_str(), s.count))
                        .collect::<Vec<_>>(),
                    [("accepted", 1), ("received", 1)]
                );
                assert_eq!(
                    acceptances(conn)?,
                    [Acceptance {
                        placed_at: at("2026-11-20T09:00:00Z"),
                        confirmed_at: at("2026-11-20T09:00:05Z"),
                    }]
                );
                assert_eq!(
                    accepted_lines(conn)?,
                    [AcceptedLine {
                        channel: "lm".into(),
                        order_id: "A-1".into(),
                        sku: "LAMP".into(),
                        seen_at: at("2026-11-20T09:00:02Z"),
                        confirmed_at: at("2026-11-20T09:00:05Z"),
                    }]
                );
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn an_unreadable_time_is_an_error_naming_the_order() {
        let error = time("fnac:F-1", "yesterday").unwrap_err();
        assert!(error.to_string().contains("fnac:F-1"), "{error}");
    }
}
