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
fn open_per_sku_low_stock_alerts_become_the_memory_of_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Version 3 left an open, notified `stock_low` per SKU, one with a reminder queued.
        let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO alerts (id, dedup_key, kind, severity, message, opened_at,
                                 last_notified_at)
             VALUES (1, 'stock_low:A', 'stock_low', 'warning', 'A is low', 't0', 't0'),
                    (2, 'stock_low:B', 'stock_low', 'warning', 'B is low', 't0', 't0'),
                    (3, 'channel_unreachable:lm', 'channel_unreachable', 'critical', 'down',
                     't0', 't0');
             INSERT INTO outbox (alert_id, event, destination, next_attempt_at, payload,
                                 created_at)
             VALUES (2, 'reminder:1', 'alerts:0', 't1', '{}', 't1');",
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|c| {
            let still_low: Vec<String> = c
                .prepare("SELECT sku FROM stock_low ORDER BY sku")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            assert_eq!(still_low, ["A", "B"]);
            let open: Vec<String> = alerts::open(c)?.into_iter().map(|a| a.0).collect();
            assert_eq!(open, ["channel_unreachable:lm"]);
            let reminder: String =
                c.query_row("SELECT state FROM outbox WHERE alert_id = 2", [], |r| {
                    r.get(0)
                })?;
            assert_eq!(reminder, "cancelled");
            // Still low, so not told again.
            assert!(!stock_low::crossed(c, "A", &now_text())?);
            Ok(())
        })
        .unwrap();
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

/// An order with four lines (`l0`..`l3`), through the store's own functions.
fn one_order(conn: &mut Connection) -> i64 {
    let order = crate::domain::test_orders::order(&[("A", 1); 4], 4, None);
    let tx = conn.transaction().unwrap();
    let (pk, _) = orders::ingest(&tx, "lm", &order, Default::default(), &now_text()).unwrap();
    tx.commit().unwrap();
    pk
}

#[test]
fn every_state_the_code_writes_the_schema_accepts_and_reads_back() {
    use decisions::{Decision, Outcome, Source};
    use reservations::{LineUnits, ReservationState};
    use state::StoredState;

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|c| {
            let pk = one_order(c);
            let lines = ["l0", "l1", "l2", "l3"];
            for (line_id, state) in lines.iter().zip(ReservationState::ALL) {
                let units = LineUnits {
                    order_pk: pk,
                    line_id,
                    sku: "A",
                    quantity: 1,
                };
                reservations::hold(c, units, *state, &now_text())?;
            }
            let read: Vec<ReservationState> = reservations::of_order(c, pk)?
                .into_iter()
                .map(|r| r.state)
                .collect();
            assert_eq!(read, ReservationState::ALL);

            for (line_id, source) in lines.iter().zip(Source::ALL.iter().cycle()) {
                let decision = Decision {
                    accept: true,
                    reasons: &["sku_tag"],
                    source: *source,
                    note: None,
                };
                decisions::record(c, pk, line_id, decision, &now_text())?;
            }
            for (line_id, outcome) in lines.iter().zip(Outcome::ALL) {
                decisions::settle_line(c, pk, line_id, *outcome, Some("why"), &now_text())?;
            }
            let read: Vec<(Source, Option<Outcome>)> = decisions::of_order(c, pk)?
                .into_iter()
                .map(|d| (d.source, d.outcome))
                .collect();
            use Outcome::*;
            use Source::*;
            assert_eq!(
                read,
                [
                    (Rules, Some(Confirmed)),
                    (Review, Some(Superseded)),
                    (Rules, Some(Failed)),
                    (Review, None)
                ]
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_stray_value_read_back_is_an_error_naming_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let error = store
        .with(|c| {
            one_order(c);
            c.execute("UPDATE orders SET status = 'awaiting_acceptence'", [])?;
            orders::find(c, "lm", "o1")
        })
        .unwrap_err()
        .to_string();
    assert!(error.contains("order 1"), "{error}");
    assert!(error.contains("awaiting_acceptence"), "{error}");

    let error = store
        .with(|c| {
            c.execute(
                "INSERT INTO cursors (channel, name, value, updated_at)
                 VALUES ('lm', 'updated_until', 'yesterday', 't')",
                [],
            )?;
            channels::cursor(c, "lm", "updated_until")
        })
        .unwrap_err()
        .to_string();
    assert!(error.contains("cursor lm/updated_until"), "{error}");
    assert!(error.contains("yesterday"), "{error}");
}

#[test]
fn an_emptied_database_stops_vigie_and_stays_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATABASE_FILE);
    std::fs::write(&path, b"").unwrap();
    let error = Store::open(dir.path()).err().unwrap().to_string();
    assert!(
        error.contains("vigie.db") && error.contains("empty"),
        "{error}"
    );
    assert!(error.contains("restore it from a backup"), "{error}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        0,
        "nothing written"
    );
}

/// A database of 400 SKUs with garbage over its middle pages, the header intact: SQLite
/// still opens the file. Returns the damaged bytes.
fn damaged_in_the_middle(dir: &Path) -> Vec<u8> {
    let store = Store::open(dir).unwrap();
    store
        .with(|c| {
            for i in 0..400 {
                let item = crate::store::stock::StockItem {
                    sku: format!("SKU-{i:04}-{}", "x".repeat(40)),
                    quantity: 1,
                    tags: Vec::new(),
                };
                crate::store::stock::set(c, &item, "2026-11-30T00:00:00.000000000Z")?;
            }
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
            Ok(())
        })
        .unwrap();
    drop(store);
    let path = dir.join(DATABASE_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 8 * page, "{} bytes", bytes.len());
    let middle = bytes.len() / 2 / page * page;
    bytes[middle..middle + 2 * page].fill(0x5a);
    std::fs::write(&path, &bytes).unwrap();
    bytes
}

#[test]
fn a_database_damaged_in_the_middle_stops_vigie_and_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = damaged_in_the_middle(dir.path());
    let path = dir.path().join(DATABASE_FILE);

    let error = Store::open(dir.path()).err().unwrap().to_string();
    assert!(error.contains("vigie.db"), "{error}");
    assert!(
        error.contains("damaged") || error.contains("corrupt"),
        "{error}"
    );
    assert!(!error.contains('\n'), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing written");
}

#[test]
fn a_command_that_only_reads_skips_the_whole_file_check_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = damaged_in_the_middle(dir.path());
    let path = dir.path().join(DATABASE_FILE);

    // Not read whole: the damaged pages are found only by whoever reads them.
    let store = Store::open_to_read(dir.path()).unwrap();
    let written = store.with(|c| Ok(c.execute("DELETE FROM cursors", [])?));
    let error = written.err().unwrap().to_string();
    assert!(error.contains("readonly"), "{error}");
    drop(store);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing written");
}

#[test]
fn a_command_that_only_reads_creates_or_migrates_the_database_as_a_start_does() {
    let absent = tempfile::tempdir().unwrap();
    let created = Store::open_to_read(absent.path()).unwrap();
    assert_eq!(created.with(|c| Ok(version(c))).unwrap(), MIGRATIONS.len());

    let old = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(old.path().join(DATABASE_FILE)).unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    let migrated = Store::open_to_read(old.path()).unwrap();
    assert_eq!(migrated.with(|c| Ok(version(c))).unwrap(), MIGRATIONS.len());

    let newer = tempfile::tempdir().unwrap();
    drop(Store::open(newer.path()).unwrap());
    let conn = Connection::open(newer.path().join(DATABASE_FILE)).unwrap();
    conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
        .unwrap();
    drop(conn);
    let error = Store::open_to_read(newer.path()).err().unwrap().to_string();
    assert!(error.contains("newer vigie"), "{error}");

    let emptied = tempfile::tempdir().unwrap();
    std::fs::write(emptied.path().join(DATABASE_FILE), "").unwrap();
    let error = Store::open_to_read(emptied.path())
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("is empty"), "{error}");
}

#[test]
fn creating_a_database_leaves_no_file_aside_and_a_non_empty_one_in_place() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".vigie-new-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(
        std::fs::metadata(dir.path().join(DATABASE_FILE))
            .unwrap()
            .len()
            > 0
    );
}

/// `/status` reads through [`Store::read`]: while a snapshot's write transaction is open on
/// the writer (its mutex and SQLite's write lock both held), the read is answered from the
/// last commit instead of waiting for the snapshot to finish.
#[tokio::test(flavor = "multi_thread")]
async fn status_is_read_while_a_snapshot_write_is_open() {
    let config = crate::config::parse(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\n",
        Path::new("/etc/vigie/vigie.toml"),
        &crate::config::Environment::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (opened, is_open) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let writer = store.clone();
    let snapshot = std::thread::spawn(move || {
        writer.with(|c| {
            let tx = c.transaction()?;
            for i in 0..20_000 {
                let item = stock::StockItem {
                    sku: format!("SKU-{i}"),
                    quantity: 1,
                    tags: Vec::new(),
                };
                stock::set(&tx, &item, &now_text())?;
            }
            opened.send(()).unwrap();
            released.recv().unwrap();
            tx.commit()?;
            Ok(())
        })
    });
    is_open.recv().unwrap();

    let started = std::time::Instant::now();
    let read = store.read(move |c| {
        Ok((
            status::report(c, &config, jiff::Timestamp::now())?,
            stock::has_inventory(c)?,
        ))
    });
    // Not a timing assertion: without a reader of its own the read would wait for ever.
    let (report, inventory) = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the status read waited for the snapshot's write transaction")
        .unwrap();
    println!(
        "status read during an open snapshot write: {:?}",
        started.elapsed()
    );
    assert_eq!(report.channels.len(), 1);
    assert!(
        !inventory,
        "the read sees the last commit, not the snapshot in progress"
    );
    release.send(()).unwrap();
    snapshot.join().unwrap().unwrap();
    let after = store.read(stock::has_inventory).await.unwrap();
    assert!(after, "the reader sees the snapshot once committed");
}

#[test]
fn a_write_that_finds_no_room_marks_the_state_directory_full_until_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A database that may not grow beyond its current pages fails as a full disk does.
    let page_count: i64 = store
        .with(|c| {
            c.execute("CREATE TABLE filler (bytes BLOB)", [])?;
            let pages = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            c.pragma_update(None, "max_page_count", pages)?;
            Ok(pages)
        })
        .unwrap();
    assert!(!store.is_full());
    let error = store
        .with(|c| {
            c.execute("INSERT INTO filler VALUES (zeroblob(1000000))", [])?;
            Ok(())
        })
        .unwrap_err();
    assert!(error.is_disk_full(), "{error}");
    assert!(store.is_full());
    // reads succeed on a full disk: they do not say it has room again
    store
        .with(|c| Ok(c.query_row("SELECT COUNT(*) FROM filler", [], |r| r.get::<_, i64>(0))?))
        .unwrap();
    assert!(store.is_full());
    store
        .with(|c| {
            c.pragma_update(None, "max_page_count", page_count * 1000)?;
            c.execute("INSERT INTO filler VALUES (zeroblob(10))", [])?;
            Ok(())
        })
        .unwrap();
    assert!(!store.is_full());
}

#[test]
fn only_the_cancellations_made_for_the_seller_answer_the_sellers_request() {
    use crate::domain::cancellation::CancelledBy;
    use vigie_connector::{Cancellation, CancellationKind};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|conn| {
            let pk = one_order(conn);
            let units = |id: &str| Cancellation {
                id: Some(id.into()),
                kind: CancellationKind::Cancelled,
                quantity: 1,
                reason: None,
                after_shipping: false,
            };
            let now = now_text();
            cancellations::record(conn, pk, "l0", &units("c1"), CancelledBy::Customer, &now)?;
            assert!(cancellations::seller_units_by_line(conn, pk)?.is_empty());
            cancellations::record(conn, pk, "l0", &units("c2"), CancelledBy::Seller, &now)?;
            let seller = cancellations::seller_units_by_line(conn, pk)?;
            assert_eq!(seller.get("l0"), Some(&1));
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_ledger_version_moves_with_everything_a_push_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|c| {
            let mut last = ledger_version::current(c)?;
            let mut moved = |c: &Connection| -> Result<bool> {
                let now = ledger_version::current(c)?;
                Ok(std::mem::replace(&mut last, now) != now)
            };
            let a = |quantity| stock::StockItem {
                sku: "A".into(),
                quantity,
                tags: vec!["fragile".into()],
            };
            stock::set(c, &a(5), &now_text())?;
            assert!(moved(c)?, "a new SKU");
            stock::set(c, &a(5), &now_text())?;
            assert!(
                !moved(c)?,
                "the same quantity restated (a push reads no tag nor time)"
            );
            stock::set(c, &a(4), &now_text())?;
            assert!(moved(c)?, "units on hand");
            c.execute("UPDATE stock SET safety_buffer = 1", [])?;
            assert!(moved(c)?, "a SKU's own buffer");

            let pk = one_order(c);
            let line = reservations::LineUnits {
                order_pk: pk,
                line_id: "l0",
                sku: "A",
                quantity: 1,
            };
            reservations::hold(c, line, reservations::ReservationState::Held, &now_text())?;
            assert!(moved(c)?, "a reservation");
            reservations::settle(
                c,
                pk,
                None,
                reservations::ReservationState::Released,
                &now_text(),
            )?;
            assert!(moved(c)?, "a reservation released");

            pushes::record(
                c,
                "lm",
                "t1",
                &[("A".into(), 3)],
                &now_text(),
                jiff::Timestamp::now(),
            )?;
            assert!(moved(c)?, "what a channel was told");
            pushes::forget(c, "lm", &["A".into()])?;
            assert!(
                moved(c)?,
                "a told quantity forgotten (a failed batch, drift)"
            );
            stock::replace_all(c, std::iter::empty::<Result<_, ()>>(), &now_text())?.unwrap();
            assert!(moved(c)?, "a snapshot without the SKU");
            Ok(())
        })
        .unwrap();
}
