//! A job as the outbox stores it: its state, its destination, what it is about, and how a
//! row is read back (strictly: a row that makes no sense is an error naming it).

use rusqlite::ToSql;
use rusqlite::types::ToSqlOutput;

use crate::domain::alerts::AlertNotice;
use crate::events::OrderEvent;
use crate::store::state::StoredState;
use crate::store::{Result, StoreError};

/// Where a job is in its life, stored as its text.
///
/// `pending` -> `sending` (claimed, committed before the send) -> `sent`, `failed`, or back to
/// `pending` for a retry. `sending` found at start-up -> `uncertain` (never re-sent).
/// `pending` -> `cancelled` when an alert resolves before its notice left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sending,
    Sent,
    Uncertain,
    Failed,
    Cancelled,
}

impl StoredState for DeliveryState {
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Uncertain,
        Self::Failed,
        Self::Cancelled,
    ];
    const WHAT: &'static str = "delivery state";

    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Uncertain => "uncertain",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl ToSql for DeliveryState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// Where a job goes, stored as its text: `marketplace`, `email`, `webhook` (customer message
/// routes), `events:NAME` (a seller webhook), `alerts:INDEX` (an `[[alerts.webhook]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Marketplace,
    Email,
    /// The seller's CRM (`[notify.webhook]`).
    Webhook,
    /// An `[[events.webhook]]`, by name.
    Events(String),
    /// An `[[alerts.webhook]]`, by position.
    Alerts(usize),
}

impl Destination {
    pub fn to_text(&self) -> String {
        match self {
            Self::Marketplace => "marketplace".to_owned(),
            Self::Email => "email".to_owned(),
            Self::Webhook => "webhook".to_owned(),
            Self::Events(name) => format!("events:{name}"),
            Self::Alerts(index) => format!("alerts:{index}"),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "marketplace" => Some(Self::Marketplace),
            "email" => Some(Self::Email),
            "webhook" => Some(Self::Webhook),
            _ => match text.split_once(':')? {
                ("events", name) if !name.is_empty() => Some(Self::Events(name.to_owned())),
                ("alerts", index) => index.parse().ok().map(Self::Alerts),
                _ => None,
            },
        }
    }
}

/// What within an order a message is about: the customer hears of each parcel and each
/// cancellation, and of a late parcel apart from a late decision. Stored as text, `''` for
/// the order itself (every row older than subjects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Order,
    /// A parcel, by its `shipments` id.
    Parcel(i64),
    /// The first cancellation (or refund) of a line a poll brought, by line and the
    /// marketplace's key for it; the same poll's other cancellations go in the same message.
    Cancellation {
        line_id: String,
        key: String,
    },
    /// The shipping deadline passed with units still owed.
    ShippingLate,
}

impl Subject {
    pub fn to_text(&self) -> String {
        match self {
            Self::Order => String::new(),
            Self::Parcel(id) => format!("parcel:{id}"),
            Self::Cancellation { line_id, key } => format!("cancellation:{line_id}:{key}"),
            Self::ShippingLate => "shipping".to_owned(),
        }
    }
}

/// The jobs one claim looks at. The worker drains each lane at its own rate, so a slow or
/// throttled destination never holds up another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lane {
    /// One channel's customer messages through its marketplace: each marketplace paces its
    /// own, and one waiting for its budget holds no other back.
    Marketplace(String),
    Email,
    Webhook,
    /// Every `[[events.webhook]]`: they share one budget.
    Events,
    Alerts(usize),
}

impl Lane {
    /// The lane's name in the outbox's `lane` column (set by the database when a job is
    /// queued).
    pub(super) fn key(&self) -> String {
        match self {
            Self::Marketplace(channel) => format!("marketplace:{channel}"),
            Self::Email => Destination::Email.to_text(),
            Self::Webhook => Destination::Webhook.to_text(),
            Self::Events => "events".to_owned(),
            Self::Alerts(index) => Destination::Alerts(*index).to_text(),
        }
    }

    /// The `route` label of the message metrics.
    pub fn route(&self) -> &'static str {
        match self {
            Self::Marketplace(_) => "marketplace",
            Self::Email => "email",
            Self::Webhook => "webhook",
            Self::Events => "events",
            Self::Alerts(_) => "alerts",
        }
    }
}

/// What a job is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// A customer message or a seller webhook: `payload` holds the order's facts.
    Order {
        order_pk: i64,
        channel: String,
        order_id: String,
        event: OrderEvent,
    },
    /// An on-call notice: `payload` holds the notice as it will be told.
    Alert {
        alert_id: i64,
        dedup_key: String,
        notice: AlertNotice,
    },
}

/// A claimed (or interrupted) job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub work: Work,
    pub destination: Destination,
    /// Including the one just claimed.
    pub attempts: u32,
    pub payload: String,
    /// The marketplace thread an earlier message about the same order went into.
    pub thread: Option<String>,
}

pub(super) const JOB_COLUMNS: &str = "j.id, j.order_pk, o.channel, o.order_id, j.alert_id, a.dedup_key, \
                           j.event, j.destination, j.attempts, j.payload, \
                           (SELECT t.thread_id FROM outbox t WHERE t.order_pk = j.order_pk \
                            AND t.thread_id IS NOT NULL ORDER BY t.id LIMIT 1) \
                           FROM outbox j LEFT JOIN orders o ON o.id = j.order_pk \
                           LEFT JOIN alerts a ON a.id = j.alert_id";

pub(super) type RawJob = (
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    String,
    String,
    u32,
    String,
    Option<String>,
);

/// A row read back must make sense; one that does not is an error naming it, never a guess.
pub(super) fn job(raw: RawJob) -> Result<Job> {
    let (
        id,
        order_pk,
        channel,
        order_id,
        alert_id,
        dedup_key,
        event,
        destination,
        attempts,
        payload,
        thread,
    ) = raw;
    let bad = |what: String| StoreError::Data(format!("outbox row {id}: {what}"));
    let work = match (order_pk, channel, order_id, alert_id, dedup_key) {
        (Some(order_pk), Some(channel), Some(order_id), None, _) => Work::Order {
            order_pk,
            channel,
            order_id,
            event: OrderEvent::parse(&event)
                .ok_or_else(|| bad(format!("unknown order event {event:?}")))?,
        },
        (None, _, _, Some(alert_id), Some(dedup_key)) => Work::Alert {
            alert_id,
            dedup_key,
            notice: AlertNotice::parse(&event)
                .ok_or_else(|| bad(format!("unknown alert notice {event:?}")))?,
        },
        _ => return Err(bad("belongs to no known order or alert".to_owned())),
    };
    let destination = Destination::parse(&destination)
        .ok_or_else(|| bad(format!("unknown destination {destination:?}")))?;
    Ok(Job {
        id,
        work,
        destination,
        attempts,
        payload,
        thread,
    })
}
