//! The executor: sends committed decisions to the marketplace until it confirms them.
//! A decision is only ever read back from the store, so a crash between the commit and the
//! call resumes the same decision, never a new one.

use std::sync::Arc;

use vigie_connector::{ConnectorError, Marketplace};

use super::{Error, watch};
use crate::config::Config;
use crate::delivery;
use crate::domain::alerts::{Alert, AlertKind};
use crate::events::OrderEvent;
use crate::store::{self, Store, alerts, decisions, orders, stock};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Acted {
    pub confirmed: usize,
    /// The marketplace says these orders were already decided: re-read them.
    pub reread: Vec<String>,
    /// Rejected for good; a human must look (the order stays in the store as decided).
    pub failed: Vec<(String, String)>,
}

/// Sends every pending decision of `channel`. Stops at the first authentication failure
/// (every other call would fail too); transient failures wait for the next cycle. Once the
/// marketplace confirms, the customer's `accepted` or `refused` message is queued in the same
/// transaction (the next poll would queue it too; the outbox keeps one).
pub async fn execute(
    channel: &str,
    marketplace: &dyn Marketplace,
    store: &Store,
    config: &Arc<Config>,
) -> Result<Acted, Error> {
    let name = channel.to_owned();
    let pending = store
        .call(move |conn| decisions::pending(conn, &name))
        .await?;
    let mut acted = Acted::default();
    for decision in pending {
        let outcome = marketplace
            .decide(&decision.order_id, &decision.lines)
            .await;
        let order_pk = decision.order_pk;
        match outcome {
            Ok(()) => {
                let (channel_name, config) = (channel.to_owned(), config.clone());
                let seen_for = store
                    .call(move |conn| {
                        let now = store::now_text();
                        let tx = conn.transaction()?;
                        let accepted = decisions::accepted_lines(&tx, order_pk)?;
                        stock::settle(&tx, order_pk, Some(&accepted), "confirmed", &now)?;
                        decisions::settle_pending(&tx, order_pk, "confirmed", None, &now)?;
                        let event = if accepted.is_empty() {
                            OrderEvent::Refused
                        } else {
                            OrderEvent::Accepted
                        };
                        let order = orders::payload(&tx, order_pk)?;
                        delivery::enqueue(
                            &tx,
                            &config,
                            &channel_name,
                            order_pk,
                            event,
                            &order,
                            &now,
                        )?;
                        let seen_for = orders::seen_for(&tx, order_pk)?;
                        tx.commit()?;
                        Ok(seen_for)
                    })
                    .await?;
                metrics::histogram!("vigie_decision_seconds", "channel" => channel.to_owned())
                    .record(seen_for.as_secs_f64());
                acted.confirmed += 1;
            }
            Err(ConnectorError::AlreadyDone(_)) => acted.reread.push(decision.order_id),
            Err(ConnectorError::Permanent { code, message }) => {
                let note = match code {
                    Some(code) => format!("{code}: {message}"),
                    None => message,
                };
                let (stored, channel_name, order_id) =
                    (note.clone(), channel.to_owned(), decision.order_id.clone());
                store
                    .call(move |conn| {
                        let now = store::now_text();
                        decisions::settle_pending(conn, order_pk, "failed", Some(&stored), &now)?;
                        let text = format!(
                            "{channel_name}:{order_id}: the marketplace rejected vigie's decision ({stored}); decide it in the marketplace's back office"
                        );
                        let key = watch::rejected_key(&channel_name, &order_id);
                        let alert = Alert::new(AlertKind::DecisionRejected, key, text).order(&channel_name, &order_id);
                        alerts::raise(conn, &alert, &now)
                    })
                    .await?;
                acted.failed.push((decision.order_id, note));
            }
            // The marketplace asked for a pause: the other decisions wait for the next cycle.
            Err(e @ ConnectorError::RateLimited { .. }) => {
                tracing::warn!(channel, "decisions paused: {e}");
                break;
            }
            Err(e @ ConnectorError::Auth(_)) => return Err(Error::Marketplace(e)),
            Err(e) => {
                tracing::warn!(channel, order = %decision.order_id, "decision not sent yet: {e}");
            }
        }
    }
    Ok(acted)
}
