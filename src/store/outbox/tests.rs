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
            (1, 'decision_rejected:A', 'decision_rejected', 'critical', NULL, NULL, 'A was rejected',
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
            let (id, _) = claim(conn, &Lane::Events, "z", 5)?.remove(0);
            assert_eq!(
                id, 5,
                "a job queued before lanes were stored is in its lane"
            );
            let owed: Vec<_> = alerts::owed(conn)?
                .into_iter()
                .map(Result::unwrap)
                .map(|o| (o.alert.alert.dedup_key, o.notice, o.told))
                .collect();
            assert_eq!(
                owed,
                [
                    (
                        "decision_rejected:A".to_owned(),
                        AlertNotice::Trigger,
                        vec![0]
                    ),
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
                 VALUES (9, 'k', 'decision_rejected', 'critical', 'm', 't', 'trigger', 'not json');",
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
            let (id, read) = claim(conn, &Lane::Alerts(0), "z", 1)?.remove(0);
            let error = read.unwrap_err().to_string();
            assert!(id == 12 && error.contains("outbox row 12"), "{error}");
            let state: String =
                conn.query_row("SELECT state FROM outbox WHERE id = 12", [], |r| r.get(0))?;
            assert_eq!(state, "failed", "set aside, so it blocks nothing");
            Ok(())
        })
        .unwrap();
}

#[test]
fn notices_for_a_target_taken_away_by_a_reload_fail_instead_of_waiting_forever() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|conn| {
            conn.execute_batch(
                "INSERT INTO alerts (id, dedup_key, kind, severity, message, opened_at)
                 VALUES (1, 'k', 'decision_rejected', 'critical', 'm', 't');",
            )?;
            for target in [0, 1, 10] {
                let to = Destination::Alerts(target);
                let notice = AlertNotice::Trigger;
                insert_alert_job(conn, 1, notice, &to, DeliveryState::Pending, "{}", "t")?;
            }
            // One target left in the configuration: positions 1 and 10 are gone.
            assert_eq!(fail_removed_alert_targets(conn, 1)?, 2);
            let mut stmt = conn.prepare("SELECT destination, state FROM outbox ORDER BY id")?;
            let states: Vec<(String, String)> = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            assert_eq!(
                states,
                [
                    ("alerts:0".to_owned(), "pending".to_owned()),
                    ("alerts:1".to_owned(), "failed".to_owned()),
                    ("alerts:10".to_owned(), "failed".to_owned()),
                ]
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_notice_retried_after_its_alert_resolved_is_cancelled_not_sent_after_the_resolve() {
    use crate::domain::alerts::{Alert, AlertKind};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|conn| {
            let down = Alert::new(
                AlertKind::ChannelUnreachable,
                "channel_unreachable:s",
                "down",
            );
            alerts::raise(conn, &down, "2026-11-30T10:00:00.000000000Z")?;
            let id: i64 = conn.query_row("SELECT id FROM alerts", [], |r| r.get(0))?;
            let to = Destination::Alerts(0);
            insert_alert_job(
                conn,
                id,
                AlertNotice::Trigger,
                &to,
                DeliveryState::Pending,
                "{}",
                "a",
            )?;
            let (job, _) = claim(conn, &Lane::Alerts(0), "z", 1)?.remove(0);
            // Resolved while the trigger is on its way; then the trigger fails transiently.
            alerts::resolve(
                conn,
                "channel_unreachable:s",
                "2026-11-30T10:05:00.000000000Z",
            )?;
            let retry = Settled::RetryAt {
                at: "b",
                error: "503",
            };
            settle(conn, job, retry)?;
            let state: String =
                conn.query_row("SELECT state FROM outbox WHERE id = ?1", [job], |r| {
                    r.get(0)
                })?;
            assert_eq!(state, "cancelled");
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_lane_reads_only_its_own_due_jobs_through_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|conn| {
            let plan: Vec<String> = conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE {DUE_IN_LANE}
                     ORDER BY next_attempt_at, id"
                ))?
                .query_map(params!["pending", "z", "email"], |r| r.get(3))?
                .collect::<rusqlite::Result<_>>()?;
            assert_eq!(
                plan,
                ["SEARCH outbox USING COVERING INDEX outbox_lane_due (lane=? AND state=? AND next_attempt_at<?)"],
                "no scan of other lanes' jobs, no sort"
            );
            Ok(())
        })
        .unwrap();
}
