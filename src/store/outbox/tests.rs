use rusqlite::Connection;

use super::*;
use crate::domain::alerts::AlertNotice;
use crate::store::migrations::MIGRATIONS;
use crate::store::{DATABASE_FILE, Store, alerts};

/// Every column of every outbox row, as text, in id order.
fn outbox_rows(conn: &Connection) -> Vec<Vec<Option<String>>> {
    let mut stmt = conn
        .prepare(
            "SELECT id, order_pk, event, destination, state, attempts, next_attempt_at, payload,
                    last_error, created_at, sent_at FROM outbox ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |row| {
        (0..11)
            .map(|i| row.get::<_, Option<rusqlite::types::Value>>(i))
            .map(|v| v.map(|v| v.map(|v| format!("{v:?}"))))
            .collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// A database as the release before the one queue left it: messages in every state, and
/// alert notices still owed (a trigger half delivered, a resolve, a reminder).
fn version_1_database(dir: &std::path::Path) -> Vec<Vec<Option<String>>> {
    let conn = Connection::open(dir.join(DATABASE_FILE)).unwrap();
    conn.execute_batch(MIGRATIONS[0]).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.execute_batch(
        "INSERT INTO orders (id, channel, order_id, reference, marketplace_state, status,
            created_at, updated_at, first_seen_at, total_amount, currency, payload)
         VALUES (7, 'lm', 'o1', 'o1', 'X', 'accepted', 't', 't', 't', '1', 'EUR', '{}');
         INSERT INTO outbox (id, order_pk, event, destination, state, attempts, next_attempt_at,
                             payload, last_error, created_at, sent_at) VALUES
            (3, 7, 'received', 'marketplace', 'sent', 1, 't1', '{\"a\":1}', NULL, 't0', 't1'),
            (4, 7, 'accepted', 'marketplace', 'uncertain', 1, 't2', '{}', 'interrupted', 't1', NULL),
            (5, 7, 'accepted', 'events:erp', 'pending', 2, 't9', '{}', '503', 't1', NULL),
            (6, 7, 'accepted', 'email', 'failed', 12, 't3', '{}', '550', 't1', NULL);
         INSERT INTO alerts (id, dedup_key, kind, severity, channel, order_ref, message,
                             opened_at, last_notified_at, resolved_at, notice, attempts,
                             next_attempt_at, delivered) VALUES
            (1, 'stock_low:A', 'stock_low', 'warning', NULL, NULL, 'A is low',
             't0', NULL, NULL, 'trigger', 2, 't5', '[0]'),
            (2, 'channel_unreachable:lm', 'channel_unreachable', 'critical', 'lm', NULL, 'down',
             't0', 't1', 't2', 'resolve', 0, 't2', '[]'),
            (3, 'order_flagged:lm:o1', 'order_flagged', 'warning', 'lm', 'lm:o1', 'review',
             't0', 't1', NULL, 'trigger', 0, 't3', '[1]');",
    )
    .unwrap();
    outbox_rows(&conn)
}

#[test]
fn an_upgrade_keeps_every_message_and_every_notice_owed() {
    let dir = tempfile::tempdir().unwrap();
    let before = version_1_database(dir.path());
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|conn| {
            assert_eq!(outbox_rows(conn), before, "messages read back unchanged");
            let owed: Vec<_> = alerts::owed(conn)?
                .into_iter()
                .map(Result::unwrap)
                .map(|o| (o.alert.alert.dedup_key, o.notice, o.told))
                .collect();
            assert_eq!(
                owed,
                [
                    ("stock_low:A".to_owned(), AlertNotice::Trigger, vec![0]),
                    (
                        "channel_unreachable:lm".to_owned(),
                        AlertNotice::Resolve,
                        vec![]
                    ),
                    // Told before: what the old release owed was a reminder.
                    (
                        "order_flagged:lm:o1".to_owned(),
                        AlertNotice::Reminder(1),
                        vec![1]
                    ),
                ]
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_row_that_makes_no_sense_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|conn| {
            conn.execute_batch(
                "INSERT INTO alerts (id, dedup_key, kind, severity, message, opened_at, notice,
                                     delivered)
                 VALUES (9, 'k', 'stock_low', 'warning', 'm', 't', 'trigger', 'not json');",
            )?;
            let error = alerts::owed(conn)?.pop().unwrap().unwrap_err().to_string();
            assert!(
                error.contains("alert 9") && error.contains("delivered"),
                "{error}"
            );
            conn.execute_batch(
                "UPDATE alerts SET delivered = '[]', notice = NULL;
                 INSERT INTO outbox (id, alert_id, event, destination, next_attempt_at, payload,
                                     created_at)
                 VALUES (12, 9, 'trigger!', 'alerts:0', '', '{}', '');",
            )?;
            let error = claim_next(conn, Lane::Alerts(0), "z")
                .unwrap_err()
                .to_string();
            assert!(error.contains("outbox row 12"), "{error}");
            let state: String =
                conn.query_row("SELECT state FROM outbox WHERE id = 12", [], |r| r.get(0))?;
            assert_eq!(state, "failed", "set aside, so it blocks nothing");
            Ok(())
        })
        .unwrap();
}
