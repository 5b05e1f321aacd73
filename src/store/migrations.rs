//! Versioned schema changes, applied at start-up inside one transaction each; the database's
//! `PRAGMA user_version` says how many have been applied. Never edit a released migration:
//! append a new one.

use rusqlite::{Connection, TransactionBehavior};

/// Migration `i` takes the schema from version `i` to version `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    V1,
    V2,
    V3,
    V4,
    V5_FIRST_IMPORTS,
    V6_OUTBOX_THREAD_ID,
    V7_WEB,
    V8_SHIPMENTS,
    V9_CANCELLATIONS_AND_INCIDENTS,
    V10_CUSTOMERS_AND_JUDGMENTS,
    V11_PER_PARCEL_MESSAGES_AND_SHIPPING_DEADLINES,
    V12_STOCK_BATCH_LOOKS,
    V13_LEDGER_VERSION,
    V14_OUTBOX_LANES,
];

/// Applies what is missing; a database already current is left untouched. Each step takes
/// the write lock before reading the version, so two processes starting at once (the daemon
/// and a CLI command) never apply the same migration twice.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<MigrationOutcome> {
    let mut applied = 0;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        match schema(&tx)? {
            Schema::Behind { version } => {
                tx.execute_batch(MIGRATIONS[version])?;
                tx.pragma_update(None, "user_version", (version + 1) as i64)?;
                tx.commit()?;
                applied += 1;
            }
            Schema::Current => return Ok(MigrationOutcome::Current { applied }),
            Schema::TooNew { found, known } => {
                return Ok(MigrationOutcome::TooNew { found, known });
            }
        }
    }
}

/// Where a database's schema stands against this vigie's.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Schema {
    Current,
    /// Migration `version` and the ones after it are still to apply.
    Behind {
        version: usize,
    },
    /// Written by a newer vigie: refuse rather than guess.
    TooNew {
        found: usize,
        known: usize,
    },
}

/// Reads where the schema stands, changing nothing.
pub(super) fn schema(conn: &Connection) -> rusqlite::Result<Schema> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    Ok(match version.cmp(&MIGRATIONS.len()) {
        std::cmp::Ordering::Less => Schema::Behind { version },
        std::cmp::Ordering::Equal => Schema::Current,
        std::cmp::Ordering::Greater => Schema::TooNew {
            found: version,
            known: MIGRATIONS.len(),
        },
    })
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum MigrationOutcome {
    Current {
        applied: usize,
    },
    /// Written by a newer vigie: refuse rather than guess.
    TooNew {
        found: usize,
        known: usize,
    },
}

/// Times are RFC 3339 text in UTC; amounts are decimal text; JSON columns hold arrays or
/// the normalized order. Unique keys carry the invariants of DESIGN section 2.
const V1: &str = r#"
CREATE TABLE orders (
    id                INTEGER PRIMARY KEY,
    channel           TEXT NOT NULL,
    order_id          TEXT NOT NULL,
    reference         TEXT NOT NULL,
    marketplace_state TEXT NOT NULL,
    status            TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    first_seen_at     TEXT NOT NULL,
    deadline_at       TEXT,
    total_amount      TEXT NOT NULL,
    currency          TEXT NOT NULL,
    payload           TEXT NOT NULL,
    UNIQUE (channel, order_id)
);
CREATE INDEX orders_by_status ON orders (status);
-- "Is this the customer's first order?" (customer messages) without reading every order.
CREATE INDEX orders_by_email ON orders (channel, lower(json_extract(payload, '$.customer.email')));
CREATE INDEX orders_by_name ON orders (
    channel,
    lower(trim(json_extract(payload, '$.customer.first_name'))),
    lower(trim(json_extract(payload, '$.customer.last_name')))
);

CREATE TABLE order_lines (
    order_pk          INTEGER NOT NULL REFERENCES orders (id),
    line_id           TEXT NOT NULL,
    sku               TEXT NOT NULL,
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    marketplace_state TEXT NOT NULL,
    status            TEXT NOT NULL,
    PRIMARY KEY (order_pk, line_id)
);
CREATE INDEX order_lines_by_sku ON order_lines (sku);

CREATE TABLE status_history (
    id                INTEGER PRIMARY KEY,
    order_pk          INTEGER NOT NULL REFERENCES orders (id),
    marketplace_state TEXT NOT NULL,
    status            TEXT NOT NULL,
    observed_at       TEXT NOT NULL
);
CREATE INDEX status_history_by_order ON status_history (order_pk);

-- One decision per order line: the primary key forbids a second one. `outcome` stays NULL
-- until the marketplace confirms the decision ('confirmed') or the order went elsewhere first
-- ('superseded': cancelled or auto-refused) or the marketplace rejected it ('failed').
CREATE TABLE decisions (
    order_pk     INTEGER NOT NULL,
    line_id      TEXT NOT NULL,
    accept       INTEGER NOT NULL CHECK (accept IN (0, 1)),
    reasons      TEXT NOT NULL DEFAULT '[]',
    source       TEXT NOT NULL CHECK (source IN ('rules', 'review')),
    note         TEXT,
    decided_at   TEXT NOT NULL,
    outcome      TEXT CHECK (outcome IN ('confirmed', 'superseded', 'failed')),
    outcome_at   TEXT,
    outcome_note TEXT,
    PRIMARY KEY (order_pk, line_id),
    FOREIGN KEY (order_pk, line_id) REFERENCES order_lines (order_pk, line_id)
);
CREATE INDEX decisions_pending ON decisions (outcome) WHERE outcome IS NULL;

-- Orders held for a human, with the rule codes that held them.
CREATE TABLE flags (
    order_pk    INTEGER PRIMARY KEY REFERENCES orders (id),
    reasons     TEXT NOT NULL,
    flagged_at  TEXT NOT NULL,
    resolved_at TEXT
);

CREATE TABLE stock (
    sku           TEXT PRIMARY KEY,
    on_hand       INTEGER NOT NULL CHECK (on_hand >= 0),
    tags          TEXT NOT NULL DEFAULT '[]',
    safety_buffer INTEGER CHECK (safety_buffer >= 0),
    updated_at    TEXT NOT NULL
);

-- Units held for an order line from the moment it is seen until accepted units ship.
CREATE TABLE reservations (
    order_pk    INTEGER NOT NULL,
    line_id     TEXT NOT NULL,
    sku         TEXT NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    state       TEXT NOT NULL CHECK (state IN ('held', 'confirmed', 'released', 'consumed')),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (order_pk, line_id),
    FOREIGN KEY (order_pk, line_id) REFERENCES order_lines (order_pk, line_id)
);
CREATE INDEX reservations_by_sku ON reservations (sku, state);

-- The last quantity pushed to each channel for each SKU.
CREATE TABLE stock_pushed (
    channel   TEXT NOT NULL,
    sku       TEXT NOT NULL,
    quantity  INTEGER NOT NULL CHECK (quantity >= 0),
    pushed_at TEXT NOT NULL,
    PRIMARY KEY (channel, sku)
);

-- Stock batches the marketplace is still applying.
CREATE TABLE stock_push_tickets (
    channel      TEXT NOT NULL,
    ticket       TEXT NOT NULL,
    items        TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    PRIMARY KEY (channel, ticket)
);

-- Customer messages and seller webhooks: one row per (order, event, destination).
-- destination: 'marketplace', 'email', 'webhook' (the seller's CRM) or 'events:NAME'.
-- A row is 'sending' from the commit before the send until the outcome is written; one found
-- 'sending' at start-up was interrupted by a crash and becomes 'uncertain', never re-sent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    order_pk        INTEGER NOT NULL REFERENCES orders (id),
    event           TEXT NOT NULL,
    destination     TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'sent', 'uncertain', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    payload         TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (order_pk, event, destination)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- Where each channel's polling stands; moved only after the batch it covers is committed.
CREATE TABLE cursors (
    channel    TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, name)
);

-- Each channel's loop, as `vigie status` and the alerts see it.
CREATE TABLE channel_status (
    channel              TEXT PRIMARY KEY,
    last_poll_at         TEXT,
    last_success_at      TEXT,
    last_error           TEXT,
    last_error_class     TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);

-- One open alert per condition; resolving it lets the condition alert again later.
-- `notice` is what the webhooks are still owed ('trigger' or 'resolve'); `delivered` lists the
-- targets that already have it, so a retry reaches only the ones that failed.
CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    dedup_key        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    severity         TEXT NOT NULL,
    channel          TEXT,
    order_ref        TEXT,
    message          TEXT NOT NULL,
    opened_at        TEXT NOT NULL,
    last_notified_at TEXT,
    resolved_at      TEXT,
    resolve_notified_at TEXT,
    notice           TEXT CHECK (notice IN ('trigger', 'resolve')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    delivered        TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX alerts_open ON alerts (dedup_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_owed ON alerts (notice, next_attempt_at) WHERE notice IS NOT NULL;

-- Marketplace payloads that could not be read, kept verbatim for a human.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    order_id    TEXT,
    error       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (channel, payload)
);
"#;

/// One durable queue: the outbox carries on-call notices too. A job belongs either to an order
/// (a customer message or a seller webhook: one per order, event and destination) or to an
/// alert (one per alert, notice and target: event `trigger`, `reminder:N` or `resolve`,
/// destination `alerts:INDEX` of `[[alerts.webhook]]`). Rows keep their ids and columns;
/// `alert_id` comes last so `SELECT *` reads as before. `cancelled`: an alert notice not sent
/// before its alert resolved.
///
/// From here `alerts.notice` only says what the queue has not taken yet, and `alerts.delivered`
/// is read once, for a notice a previous release still owed (the targets it had already
/// told); `alerts.attempts` and `alerts.next_attempt_at` are no longer used.
const V2: &str = r#"
CREATE TABLE outbox_v2 (
    id              INTEGER PRIMARY KEY,
    order_pk        INTEGER REFERENCES orders (id),
    event           TEXT NOT NULL,
    destination     TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'sent', 'uncertain', 'failed',
                                     'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    payload         TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    alert_id        INTEGER REFERENCES alerts (id),
    CHECK ((order_pk IS NULL) <> (alert_id IS NULL)),
    UNIQUE (order_pk, event, destination),
    UNIQUE (alert_id, event, destination)
);
INSERT INTO outbox_v2 (id, order_pk, event, destination, state, attempts, next_attempt_at,
                       payload, last_error, created_at, sent_at)
SELECT id, order_pk, event, destination, state, attempts, next_attempt_at,
       payload, last_error, created_at, sent_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
"#;

/// The KPIs read a channel's orders created within a window.
const V3: &str = r#"
CREATE INDEX orders_by_channel_created ON orders (channel, created_at);
"#;

/// Low stock is told as one digest per cycle of the SKUs that crossed their threshold. This
/// table remembers which SKUs are low and already told, so a SKU that stays low is not told
/// again; the per-SKU `stock_low` alerts of the release before become that memory, closed
/// without a notice (their pending notices cancelled).
const V4: &str = r#"
CREATE TABLE stock_low (
    sku   TEXT PRIMARY KEY,
    since TEXT NOT NULL
);
INSERT INTO stock_low (sku, since)
SELECT substr(dedup_key, length('stock_low:') + 1), opened_at FROM alerts
WHERE kind = 'stock_low' AND resolved_at IS NULL;
UPDATE outbox SET state = 'cancelled'
WHERE state = 'pending'
  AND alert_id IN (SELECT id FROM alerts WHERE kind = 'stock_low' AND resolved_at IS NULL);
UPDATE alerts SET resolved_at = strftime('%Y-%m-%dT%H:%M:%S.000000000Z', 'now'), notice = NULL
WHERE kind = 'stock_low' AND resolved_at IS NULL;
"#;

/// A channel's first cycle imports every order still holding stock, whatever its age, and
/// decides nothing before that is done; this table remembers, per channel, that it was.
/// Channels of an older database have none yet: they import once, which only adds the old
/// accepted orders their 24-hour first poll never saw.
const V5_FIRST_IMPORTS: &str = r#"
CREATE TABLE first_imports (
    channel TEXT PRIMARY KEY,
    orders  INTEGER NOT NULL,
    done_at TEXT NOT NULL
);
"#;

/// The marketplace thread a customer message went into (where the marketplace has threads):
/// the order's later messages reply in it instead of opening another.
const V6_OUTBOX_THREAD_ID: &str = r#"
ALTER TABLE outbox ADD COLUMN thread_id TEXT;
"#;

/// What people did from the review pages and the seller API: each action in the order's
/// history with who did it; the answer to each `Idempotency-Key`, so a retried request changes
/// nothing; and who acknowledged an alert (no more reminders, still open until resolved).
const V7_WEB: &str = r#"
CREATE TABLE order_actions (
    id       INTEGER PRIMARY KEY,
    order_pk INTEGER NOT NULL REFERENCES orders (id),
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    detail   TEXT
);
CREATE INDEX order_actions_by_order ON order_actions (order_pk);
CREATE TABLE api_requests (
    idempotency_key TEXT PRIMARY KEY,
    request         TEXT NOT NULL,
    status          INTEGER NOT NULL,
    response        TEXT NOT NULL,
    at              TEXT NOT NULL
);
ALTER TABLE alerts ADD COLUMN acknowledged_at TEXT;
ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT;
"#;

/// Parcels the seller sent and lines the seller cancelled, each committed before the
/// marketplace is told and settled once it answers; the carriers each marketplace lists, read
/// once a day (the channel's `carriers_read_at` cursor says when). A parcel is known by its
/// order, carrier and tracking number: given twice (CLI, CSV drop, HTTP), it is stored once. `lines` is a JSON array of `{line_id, quantity}`.
const V8_SHIPMENTS: &str = r#"
CREATE TABLE shipments (
    id              INTEGER PRIMARY KEY,
    order_pk        INTEGER NOT NULL REFERENCES orders (id),
    carrier         TEXT NOT NULL,
    carrier_code    TEXT,
    tracking_number TEXT NOT NULL,
    tracking_url    TEXT,
    lines           TEXT NOT NULL,
    source          TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'confirmed', 'rejected')),
    note            TEXT,
    recorded_at     TEXT NOT NULL,
    settled_at      TEXT,
    UNIQUE (order_pk, carrier, tracking_number)
);
CREATE INDEX shipments_pending ON shipments (state) WHERE state = 'pending';

CREATE TABLE seller_cancels (
    id          INTEGER PRIMARY KEY,
    order_pk    INTEGER NOT NULL REFERENCES orders (id),
    reason      TEXT NOT NULL,
    lines       TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'confirmed', 'rejected')),
    note        TEXT,
    recorded_at TEXT NOT NULL,
    settled_at  TEXT,
    UNIQUE (order_pk, lines)
);
CREATE INDEX seller_cancels_pending ON seller_cancels (state) WHERE state = 'pending';

CREATE TABLE carriers (
    channel TEXT NOT NULL,
    code    TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (channel, code)
);
"#;

const V9_CANCELLATIONS_AND_INCIDENTS: &str = r#"
-- Units of a line the marketplace cancelled or refunded, once each: `key` is the
-- marketplace's id for it, or its kind when it only reports the line's state.
CREATE TABLE cancellations (
    order_pk     INTEGER NOT NULL,
    line_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('cancelled', 'refunded')),
    quantity     INTEGER NOT NULL CHECK (quantity >= 0),
    by           TEXT NOT NULL CHECK (by IN ('customer', 'operator', 'marketplace', 'seller')),
    reason       TEXT,
    recorded_at  TEXT NOT NULL,
    PRIMARY KEY (order_pk, line_id, key),
    FOREIGN KEY (order_pk, line_id) REFERENCES order_lines (order_pk, line_id)
);

-- A claim open on the order (1), with the marketplace's reason.
ALTER TABLE orders ADD COLUMN incident_open INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN incident_reason TEXT;
"#;

/// The seller's own rules and customer messages read the customer's history across channels,
/// and `rules replay` judges stored orders again.
///
/// `customer_key` recognises a customer: the first and last names (trimmed, in lower case)
/// when the order gives a last name, else the e-mail address in lower case; NULL when
/// neither. Names come first because marketplaces often give a relay e-mail address per
/// order, and hide the postal address until the order is accepted, which is when the rules
/// judge it. Computed from the payload, so older orders have it too; it replaces the
/// per-channel e-mail and name indexes of V1.
///
/// `judgments` keeps what the rules judged, from what: the order as it was then, what the
/// ledger found for each line, and the verdict.
const V10_CUSTOMERS_AND_JUDGMENTS: &str = r#"
ALTER TABLE orders ADD COLUMN customer_key TEXT GENERATED ALWAYS AS (
    CASE
        WHEN trim(coalesce(json_extract(payload, '$.customer.last_name'), '')) <> ''
            THEN 'name:'
                 || lower(trim(coalesce(json_extract(payload, '$.customer.first_name'), '')))
                 || ' ' || lower(trim(json_extract(payload, '$.customer.last_name')))
        WHEN trim(coalesce(json_extract(payload, '$.customer.email'), '')) <> ''
            THEN 'email:' || lower(trim(json_extract(payload, '$.customer.email')))
    END
) VIRTUAL;
CREATE INDEX orders_by_customer ON orders (customer_key) WHERE customer_key IS NOT NULL;
DROP INDEX orders_by_email;
DROP INDEX orders_by_name;

CREATE TABLE judgments (
    order_pk     INTEGER PRIMARY KEY REFERENCES orders (id),
    judged_at    TEXT NOT NULL,
    customer_key TEXT,
    inputs       TEXT NOT NULL
);
CREATE INDEX judgments_by_time ON judgments (judged_at);
"#;

/// Issue 13's rest.
///
/// - The customer hears of each parcel and each cancellation: an outbox job is now known by
///   (order, event, destination, `subject`), `subject` naming what the message is about
///   (`parcel:ID`, `cancellation:LINE:KEY`, `shipping`), and `''` for the order itself, as
///   every older row is. SQLite cannot change a table's unique key in place, so the table is
///   copied, ids kept (the V2 way); `subject` comes last so `SELECT *` reads as before.
/// - A parcel the marketplace rejected can be given again under the same tracking number:
///   only the parcels not rejected are unique by (order, carrier, tracking number).
/// - A seller's cancellation remembers it was sent: Mirakl's OR30 cannot be sent twice safely.
/// - The shipping deadline a marketplace announces, watched like the acceptance one, and when
///   vigie first saw it passed with units still owed (counted once, told once).
const V11_PER_PARCEL_MESSAGES_AND_SHIPPING_DEADLINES: &str = r#"
CREATE TABLE outbox_v11 (
    id              INTEGER PRIMARY KEY,
    order_pk        INTEGER REFERENCES orders (id),
    event           TEXT NOT NULL,
    destination     TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'sent', 'uncertain', 'failed',
                                     'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    payload         TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    alert_id        INTEGER REFERENCES alerts (id),
    thread_id       TEXT,
    subject         TEXT NOT NULL DEFAULT '',
    CHECK ((order_pk IS NULL) <> (alert_id IS NULL)),
    UNIQUE (order_pk, event, destination, subject),
    UNIQUE (alert_id, event, destination)
);
INSERT INTO outbox_v11 (id, order_pk, event, destination, state, attempts, next_attempt_at,
                        payload, last_error, created_at, sent_at, alert_id, thread_id)
SELECT id, order_pk, event, destination, state, attempts, next_attempt_at,
       payload, last_error, created_at, sent_at, alert_id, thread_id
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v11 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE shipments_v11 (
    id              INTEGER PRIMARY KEY,
    order_pk        INTEGER NOT NULL REFERENCES orders (id),
    carrier         TEXT NOT NULL,
    carrier_code    TEXT,
    tracking_number TEXT NOT NULL,
    tracking_url    TEXT,
    lines           TEXT NOT NULL,
    source          TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'confirmed', 'rejected')),
    note            TEXT,
    recorded_at     TEXT NOT NULL,
    settled_at      TEXT
);
INSERT INTO shipments_v11 SELECT * FROM shipments;
DROP TABLE shipments;
ALTER TABLE shipments_v11 RENAME TO shipments;
CREATE INDEX shipments_pending ON shipments (state) WHERE state = 'pending';
CREATE UNIQUE INDEX shipments_live ON shipments (order_pk, carrier, tracking_number)
    WHERE state <> 'rejected';

-- When a seller's cancellation was last sent: one still pending after that (a cut
-- connection, a crash) is checked against the order re-read before it is sent again.
ALTER TABLE seller_cancels ADD COLUMN sent_at TEXT;

ALTER TABLE orders ADD COLUMN shipping_deadline_at TEXT;
ALTER TABLE orders ADD COLUMN shipping_late_at TEXT;
"#;

/// How often a stock batch was asked about, and when to ask next: batches are followed at a
/// growing pace instead of at every push (NULL: at the next push).
const V12_STOCK_BATCH_LOOKS: &str = r#"
ALTER TABLE stock_push_tickets ADD COLUMN looks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stock_push_tickets ADD COLUMN next_look_at TEXT;
"#;

/// A number that moves whenever something a stock push computes from changes: a SKU's units
/// on hand or buffer, a reservation, what a channel was told. A channel whose last push found
/// nothing to send, with the number unchanged since, has nothing to send now (see
/// `pipeline::push`). Triggers raise it, in the writer's own transaction, so no writer can
/// forget to: a forgotten change would leave a stale quantity on sale. A stock row's tags and
/// times are left out (pushes do not read them): restating them moves nothing.
/// A migration that rebuilds one of these tables must create its triggers again.
const V13_LEDGER_VERSION: &str = r#"
CREATE TABLE ledger_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO ledger_version (id, version) VALUES (1, 0);

CREATE TRIGGER ledger_stock_added AFTER INSERT ON stock
BEGIN UPDATE ledger_version SET version = version + 1; END;
CREATE TRIGGER ledger_stock_changed AFTER UPDATE OF sku, on_hand, safety_buffer ON stock
WHEN old.sku IS NOT new.sku OR old.on_hand IS NOT new.on_hand
     OR old.safety_buffer IS NOT new.safety_buffer
BEGIN UPDATE ledger_version SET version = version + 1; END;
CREATE TRIGGER ledger_stock_removed AFTER DELETE ON stock
BEGIN UPDATE ledger_version SET version = version + 1; END;

CREATE TRIGGER ledger_reservation_added AFTER INSERT ON reservations
BEGIN UPDATE ledger_version SET version = version + 1; END;
CREATE TRIGGER ledger_reservation_changed AFTER UPDATE ON reservations
BEGIN UPDATE ledger_version SET version = version + 1; END;
CREATE TRIGGER ledger_reservation_removed AFTER DELETE ON reservations
BEGIN UPDATE ledger_version SET version = version + 1; END;

CREATE TRIGGER ledger_told_added AFTER INSERT ON stock_pushed
BEGIN UPDATE ledger_version SET version = version + 1; END;
CREATE TRIGGER ledger_told_changed AFTER UPDATE ON stock_pushed
BEGIN UPDATE ledger_version SET version = version + 1; END;
CREATE TRIGGER ledger_told_removed AFTER DELETE ON stock_pushed
BEGIN UPDATE ledger_version SET version = version + 1; END;
"#;

/// The lane an outbox row drains in, from the columns of `$row` ("" or "new."): the same
/// text as `outbox::Lane::key`.
macro_rules! lane_of {
    ($row:literal) => {
        concat!(
            "CASE WHEN ",
            $row,
            "destination = 'marketplace'
                  THEN 'marketplace:' || (SELECT channel FROM orders WHERE id = ",
            $row,
            "order_pk)
                  WHEN ",
            $row,
            "destination GLOB 'events:*' THEN 'events'
                  ELSE ",
            $row,
            "destination END"
        )
    };
}

/// Each job's lane in its row, indexed with its due time: a lane's claim reads its own due
/// jobs only, however many other lanes have waiting (it used to walk past all of them). The
/// lane is set once, at insert: a job's destination and order never change after it.
const V14_OUTBOX_LANES: &str = concat!(
    "ALTER TABLE outbox ADD COLUMN lane TEXT NOT NULL DEFAULT '';
UPDATE outbox SET lane = ",
    lane_of!(""),
    ";
CREATE TRIGGER outbox_lane AFTER INSERT ON outbox
BEGIN UPDATE outbox SET lane = ",
    lane_of!("new."),
    " WHERE id = new.id; END;
CREATE INDEX outbox_lane_due ON outbox (lane, state, next_attempt_at);
"
);
