//! On-call alerts as the domain knows them: what kind of situation, how grave, which channel
//! or order, and what the webhooks are told about it.
//!
//! Two families: *conditions* (a channel down, a stock running low, an order waiting for
//! review) stay open until resolved and are reminded every `alerts.renotify_after`
//! meanwhile; *occurrences* (a message that may not have gone out, a payload quarantined) are
//! told once and never reminded.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    OrderFlagged,
    /// The marketplace rejected vigie's decision for good: a human must decide there.
    DecisionRejected,
    /// 50 % or 80 % of the acceptance window gone (the dedup key says which).
    DeadlineAtRisk,
    /// The acceptance deadline passed and the marketplace still shows the order waiting.
    DeadlineMissed,
    ChannelAuthFailed,
    /// The marketplace says the shop takes no orders (suspended or closed by the operator).
    ShopSuspended,
    /// After `alerts.channel_unreachable_after` consecutive failed polls.
    ChannelUnreachable,
    /// The marketplace asked for a pause longer than `daemon.max_retry_wait`.
    ChannelRateLimited,
    /// The SKUs that fell to their threshold in one cycle, told once (no reminder, no resolve).
    StockLow,
    OrderRefusedNoStock,
    /// A customer message interrupted by a crash: it may or may not have been sent.
    NotificationUncertain,
    /// A customer message or seller webhook that will not be sent (permanent refusal, or
    /// retries exhausted).
    NotificationFailed,
    PayloadQuarantined,
    /// The database cannot grow: the state directory's disk (or quota) is full.
    StateDirFull,
    /// Orders name a SKU the ledger does not list: they wait for review.
    UnknownSku,
    /// A channel's `sku_map` file changed into something unusable; the previous map stays.
    SkuMapInvalid,
    /// The marketplace refused a parcel for good, in its own words.
    ShipmentRejected,
    /// 50 %, 80 % or all of an accepted order's shipping window gone with units still to ship.
    ShipmentLate,
    /// The shipments file dropped for vigie has a bad row: nothing in it was applied.
    ShipmentsFileInvalid,
    /// The marketplace refused the seller's cancellation, in its own words.
    SellerCancelRejected,
    /// The customer opened a claim on an order; resolved when the marketplace closes it.
    IncidentOpened,
    /// One of the seller's `[[rules.custom]]` failed on an order (told once per rule).
    RuleError,
}

impl AlertKind {
    pub const ALL: [AlertKind; 22] = [
        Self::OrderFlagged,
        Self::DecisionRejected,
        Self::DeadlineAtRisk,
        Self::DeadlineMissed,
        Self::ChannelAuthFailed,
        Self::ShopSuspended,
        Self::ChannelUnreachable,
        Self::ChannelRateLimited,
        Self::StockLow,
        Self::OrderRefusedNoStock,
        Self::NotificationUncertain,
        Self::NotificationFailed,
        Self::PayloadQuarantined,
        Self::StateDirFull,
        Self::UnknownSku,
        Self::SkuMapInvalid,
        Self::ShipmentRejected,
        Self::ShipmentLate,
        Self::ShipmentsFileInvalid,
        Self::SellerCancelRejected,
        Self::IncidentOpened,
        Self::RuleError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderFlagged => "order_flagged",
            Self::DecisionRejected => "decision_rejected",
            Self::DeadlineAtRisk => "deadline_at_risk",
            Self::DeadlineMissed => "deadline_missed",
            Self::ChannelAuthFailed => "channel_auth_failed",
            Self::ShopSuspended => "shop_suspended",
            Self::ChannelUnreachable => "channel_unreachable",
            Self::ChannelRateLimited => "channel_rate_limited",
            Self::StockLow => "stock_low",
            Self::OrderRefusedNoStock => "order_refused_no_stock",
            Self::NotificationUncertain => "notification_uncertain",
            Self::NotificationFailed => "notification_failed",
            Self::PayloadQuarantined => "payload_quarantined",
            Self::StateDirFull => "state_dir_full",
            Self::UnknownSku => "unknown_sku",
            Self::SkuMapInvalid => "sku_map_invalid",
            Self::ShipmentRejected => "shipment_rejected",
            Self::ShipmentLate => "shipment_late",
            Self::ShipmentsFileInvalid => "shipments_file_invalid",
            Self::SellerCancelRejected => "seller_cancel_rejected",
            Self::IncidentOpened => "incident_opened",
            Self::RuleError => "rule_error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Conditions stay open until resolved; occurrences are told once.
    pub fn is_condition(self) -> bool {
        matches!(
            self,
            Self::OrderFlagged
                | Self::DecisionRejected
                | Self::DeadlineAtRisk
                | Self::DeadlineMissed
                | Self::ChannelAuthFailed
                | Self::ShopSuspended
                | Self::ChannelUnreachable
                | Self::StateDirFull
                | Self::ChannelRateLimited
                | Self::UnknownSku
                | Self::SkuMapInvalid
                | Self::ShipmentLate
                | Self::IncidentOpened
        )
    }

    /// The severity an alert of this kind usually deserves.
    pub fn default_severity(self) -> Severity {
        match self {
            Self::ChannelAuthFailed
            | Self::ShopSuspended
            | Self::ChannelUnreachable
            | Self::ChannelRateLimited
            | Self::DeadlineAtRisk
            | Self::DeadlineMissed
            | Self::DecisionRejected
            | Self::StateDirFull
            | Self::ShipmentRejected
            | Self::ShipmentLate
            | Self::SellerCancelRejected => Severity::Critical,
            Self::OrderFlagged
            | Self::StockLow
            | Self::OrderRefusedNoStock
            | Self::NotificationUncertain
            | Self::NotificationFailed
            | Self::PayloadQuarantined
            | Self::UnknownSku
            | Self::SkuMapInvalid
            | Self::ShipmentsFileInvalid
            | Self::IncidentOpened
            | Self::RuleError => Severity::Warning,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Info, Self::Warning, Self::Critical]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One situation a human must look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub severity: Severity,
    pub channel: Option<String>,
    /// `CHANNEL:ORDER_ID`.
    pub order: Option<String>,
    pub message: String,
    /// Names the condition: `channel_unreachable:shop`, `deadline_at_risk:80:shop:123`.
    pub dedup_key: String,
}

impl Alert {
    /// An alert with the kind's usual severity.
    pub fn new(kind: AlertKind, dedup_key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            severity: kind.default_severity(),
            channel: None,
            order: None,
            message: message.into(),
            dedup_key: dedup_key.into(),
        }
    }

    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    pub fn order(mut self, channel: &str, order_id: &str) -> Self {
        self.channel = Some(channel.to_owned());
        self.order = Some(format!("{channel}:{order_id}"));
        self
    }
}

/// What the on-call webhooks are told about one alert; stored as the outbox `event` of an
/// alert notice (`trigger`, `reminder:2`, `resolve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertNotice {
    /// The alert opened.
    Trigger,
    /// The `n`-th reminder that a condition is still open.
    Reminder(u32),
    /// The condition cleared.
    Resolve,
}

impl AlertNotice {
    pub fn to_text(self) -> String {
        match self {
            Self::Trigger => "trigger".to_owned(),
            Self::Reminder(n) => format!("reminder:{n}"),
            Self::Resolve => "resolve".to_owned(),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "trigger" => Some(Self::Trigger),
            "resolve" => Some(Self::Resolve),
            _ => text
                .strip_prefix("reminder:")?
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .map(Self::Reminder),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_as_written() {
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::parse(kind.as_str()), Some(kind));
        }
        for severity in [Severity::Info, Severity::Warning, Severity::Critical] {
            assert_eq!(Severity::parse(severity.as_str()), Some(severity));
        }
        for notice in [
            AlertNotice::Trigger,
            AlertNotice::Reminder(3),
            AlertNotice::Resolve,
        ] {
            assert_eq!(AlertNotice::parse(&notice.to_text()), Some(notice));
        }
        for bad in [
            "",
            "Trigger",
            "reminder:",
            "reminder:0",
            "reminder:x",
            "resolved",
        ] {
            assert_eq!(AlertNotice::parse(bad), None, "{bad:?}");
        }
    }
}
