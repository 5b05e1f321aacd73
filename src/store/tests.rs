use super::migrations::MIGRATIONS;
use super::*;

fn schema(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master ORDER BY name")
        .unwrap();
    stmt.query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn version(conn: &Connection) -> usize {
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    v as usize
}

#[test]
fn a_second_start_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    first
        .with(|c| {
            c.execute(
                "INSERT INTO cursors (channel, name, value, updated_at) VALUES ('a', 'b', 'c', 'd')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    let before = first.with(|c| Ok((schema(c), version(c)))).unwrap();
    drop(first);
    let second = Store::open(dir.path()).unwrap();
    let after = second.with(|c| Ok((schema(c), version(c)))).unwrap();
    assert_eq!(before, after);
    assert_eq!(after.1, MIGRATIONS.len());
    let kept: String = second
        .with(|c| Ok(c.query_row("SELECT value FROM cursors", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(kept, "c");
}

#[test]
fn every_older_version_migrates_to_the_current_schema() {
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Store::open(fresh_dir.path())
        .unwrap()
        .with(|c| Ok(schema(c)))
        .unwrap();
    for old in 0..MIGRATIONS.len() {
        let dir = tempfile::tempdir().unwrap();
        {
            // a database as an older vigie left it
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            for sql in &MIGRATIONS[..old] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", old as i64)
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let (migrated, v) = store.with(|c| Ok((schema(c), version(c)))).unwrap();
        assert_eq!(v, MIGRATIONS.len(), "from version {old}");
        assert_eq!(migrated, fresh, "from version {old}");
    }
}

#[test]
fn a_database_from_a_newer_vigie_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
        .unwrap();
    drop(conn);
    let error = Store::open(dir.path()).err().unwrap().to_string();
    assert!(error.contains("newer vigie"), "{error}");
}

#[test]
fn the_database_is_durable_by_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (mode, sync): (String, i64) = store
        .with(|c| {
            Ok((
                c.pragma_query_value(None, "journal_mode", |r| r.get(0))?,
                c.pragma_query_value(None, "synchronous", |r| r.get(0))?,
            ))
        })
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[test]
fn a_corrupt_database_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DATABASE_FILE), vec![0x42u8; 8192]).unwrap();
    let error = Store::open(dir.path()).err().unwrap().to_string();
    assert!(error.contains("vigie.db"), "{error}");
    assert!(error.contains("corrupt or not a vigie database"), "{error}");
    assert!(!error.contains('\n'), "{error}");
}

#[test]
fn an_unusable_state_directory_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let error = Store::open(&file.join("state")).err().unwrap().to_string();
    assert!(error.starts_with("state directory "), "{error}");
    assert!(!error.contains('\n'), "{error}");
}

#[test]
fn unique_keys_carry_the_invariants() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|c| {
            c.execute_batch(
                "INSERT INTO orders (id, channel, order_id, reference, marketplace_state, status,
                    created_at, updated_at, first_seen_at, total_amount, currency, payload)
                 VALUES (1, 'a', 'o1', 'o1', 'X', 'awaiting_acceptance', 't', 't', 't', '1', 'EUR', '{}');
                 INSERT INTO order_lines VALUES (1, 'l1', 'SKU', 1, 'X', 'awaiting_acceptance');
                 INSERT INTO decisions (order_pk, line_id, accept, source, decided_at)
                    VALUES (1, 'l1', 1, 'rules', 't');
                 INSERT INTO outbox (order_pk, event, destination, next_attempt_at, payload, created_at)
                    VALUES (1, 'accepted', 'marketplace', 't', '{}', 't');",
            )?;
            Ok(())
        })
        .unwrap();
    let second_decision = store.with(|c| {
        c.execute(
            "INSERT INTO decisions (order_pk, line_id, accept, source, decided_at)
             VALUES (1, 'l1', 0, 'review', 't')",
            [],
        )?;
        Ok(())
    });
    assert!(second_decision.is_err(), "a line was decided twice");
    let second_message = store.with(|c| {
        c.execute(
            "INSERT INTO outbox (order_pk, event, destination, next_attempt_at, payload, created_at)
             VALUES (1, 'accepted', 'marketplace', 't', '{}', 't')",
            [],
        )?;
        Ok(())
    });
    assert!(second_message.is_err(), "a message was queued twice");
}

#[test]
fn processes_opening_a_fresh_database_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|scope| {
        let opens: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    Store::open(dir.path()).map(drop)
                })
            })
            .collect();
        for open in opens {
            open.join().unwrap().unwrap();
        }
    });
}
