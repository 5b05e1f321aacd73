//! What each metric of `/metrics` counts, for its `# HELP` line. The names are a contract
//! with dashboards and alert rules: add, never rename.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Registers the descriptions with the installed recorder; a metric is rendered with its
/// `# HELP` line once it has a value.
pub(super) fn describe() {
    describe_counter!(
        "vigie_polls_total",
        "Polls of a channel's orders, by channel and outcome (ok or the error class)"
    );
    describe_counter!(
        "vigie_api_calls_total",
        "Calls to a marketplace, by channel, endpoint and outcome"
    );
    describe_counter!(
        "vigie_orders_decided_total",
        "Orders decided by vigie, by channel and decision (accept, refuse, flag)"
    );
    describe_counter!(
        "vigie_quarantined_total",
        "Marketplace payloads that could not be read and were set aside, by channel"
    );
    describe_counter!(
        "vigie_stock_pushed_total",
        "Stock quantities pushed to a channel"
    );
    describe_counter!(
        "vigie_notifications_sent_total",
        "Customer messages sent, by route"
    );
    describe_counter!(
        "vigie_notifications_failed_total",
        "Customer messages that will not be sent, by route"
    );
    describe_counter!(
        "vigie_alert_delivery_failures_total",
        "Failed deliveries of an on-call alert, by webhook format"
    );
    describe_counter!(
        "vigie_alerts_raised_total",
        "On-call alerts raised, by kind"
    );
    describe_counter!(
        "vigie_parcels_total",
        "Parcels the marketplace answered, by channel and outcome (confirmed, rejected), and orders that passed their shipping deadline with units not shipped (late)"
    );
    describe_counter!(
        "vigie_status_connections_refused_total",
        "Connections to the status server refused because it already served its maximum"
    );
    describe_histogram!(
        "vigie_decision_seconds",
        Unit::Seconds,
        "Time from an order's first sight to vigie's decision, by channel"
    );
    describe_gauge!(
        "vigie_orders_undecided",
        "Orders awaiting a decision, by channel"
    );
    describe_gauge!(
        "vigie_orders_flagged",
        "Orders flagged for a human and still waiting, by channel"
    );
    describe_gauge!(
        "vigie_deadlines_missed",
        "Undecided orders whose acceptance deadline has passed, by channel"
    );
    describe_gauge!(
        "vigie_acceptance_rate",
        "Accepted orders over orders that left awaiting acceptance, expired ones included, in the last 7 days (0 to 1), by channel"
    );
    describe_gauge!(
        "vigie_cancellation_rate",
        "Orders cancelled by the customer over orders received in the last 7 days (0 to 1), by channel"
    );
    describe_gauge!(
        "vigie_kpi_orders",
        "Orders of the last 7 days, by channel and how they ended (received, accepted, refused...)"
    );
    describe_gauge!(
        "vigie_kpi_time_to_accept_seconds",
        Unit::Seconds,
        "Time from an order's creation to its acceptance over the last 7 days, by channel and quantile"
    );
    describe_gauge!(
        "vigie_outbox_messages",
        "Messages, webhooks and alerts in the delivery queue, by state"
    );
    describe_gauge!("vigie_alerts_open", "On-call alerts open now");
}
