//! The executor: sends committed decisions to the marketplace until it confirms them, and
//! re-reads the orders it says were already decided. A decision is only ever read back from
//! the store, so a crash between the commit and the call resumes the same decision, never a
//! new one.

use vigie_connector::{ConnectorError, OrderDecision};

use super::{Channel, Context, Error, ingest};
use crate::delivery;
use crate::domain::alert_keys;
use crate::domain::alerts::{Alert, AlertKind};
use crate::events::OrderEvent;
use crate::store::decisions::{self, Outcome, Pending};
use crate::store::reservations::{self, ReservationState};
use crate::store::{self, alerts, orders, pushes};

#[derive(Debug, Default, PartialEq, Eq)]
struct Acted {
    pub confirmed: usize,
    /// A refusal was confirmed: what those SKUs were last pushed as is forgotten.
    pub push_again: bool,
    /// The marketplace says these orders were already decided: re-read them.
    pub reread: Vec<String>,
    /// Rejected for good; a human must look (the order stays in the store as decided).
    pub failed: Vec<(String, String)>,
}

/// Sends the committed decisions; re-reads what the marketplace says was already decided.
/// Returns how many were confirmed and whether quantities must be pushed (the re-read moved
/// stock, or a refusal made a listing's count unknown).
pub async fn run(channel: &Channel, ctx: &Context) -> Result<(usize, bool), Error> {
    let acted = execute(channel, ctx).await?;
    for (order, why) in &acted.failed {
        tracing::error!(order, "the marketplace rejected vigie's decision: {why}");
    }
    if acted.reread.is_empty() {
        return Ok((acted.confirmed, acted.push_again));
    }
    // Already decided on the marketplace (a previous run, the back office): take its word.
    let fresh = channel.marketplace.orders_by_id(&acted.reread).await?;
    let reread = ingest::run(channel, ctx, fresh, Vec::new()).await?;
    Ok((acted.confirmed, acted.push_again || reread.stock_moved))
}

/// Decisions sent per call to the connector (which batches them as its marketplace allows),
/// and recorded before the next ones leave, so a crash re-sends at most this many.
const DECISIONS_PER_CALL: usize = 100;

/// Sends every pending decision of the channel. Stops at the first authentication failure
/// (every other call would fail too); transient failures wait for the next cycle.
async fn execute(channel: &Channel, ctx: &Context) -> Result<Acted, Error> {
    let name = channel.name().to_owned();
    let pending = ctx
        .store
        .call(move |conn| decisions::pending(conn, &name))
        .await?;
    let mut acted = Acted::default();
    for chunk in pending.chunks(DECISIONS_PER_CALL) {
        let orders: Vec<OrderDecision> = chunk
            .iter()
            .map(|p| OrderDecision {
                order_id: p.order_id.clone(),
                lines: p.lines.clone(),
            })
            .collect();
        let outcomes = channel.marketplace.decide(&orders).await?;
        let mut paused = false;
        for (decision, outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    acted.push_again |= confirmed(channel, ctx, decision).await?;
                    acted.confirmed += 1;
                }
                Err(ConnectorError::AlreadyDone(_)) => {
                    acted.reread.push(decision.order_id.clone());
                }
                Err(ConnectorError::Permanent { code, message }) => {
                    let note = match code {
                        Some(code) => format!("{code}: {message}"),
                        None => message,
                    };
                    rejected(channel, ctx, decision, &note).await?;
                    acted.failed.push((decision.order_id.clone(), note));
                }
                // The marketplace asked for a pause: the other decisions wait for the next cycle.
                Err(e @ ConnectorError::RateLimited { .. }) => {
                    tracing::warn!(order = %decision.order_id, "decision paused: {e}");
                    paused = true;
                }
                Err(e) => {
                    tracing::warn!(order = %decision.order_id, "decision not sent yet: {e}");
                }
            }
        }
        if paused {
            break;
        }
    }
    Ok(acted)
}

/// The marketplace has vigie's decision: accepted units are confirmed, and the customer's
/// `accepted` or `refused` message is queued in the same transaction (the next poll would
/// queue it too; the outbox keeps one). A marketplace puts a refused line's units back on its
/// listing (Amazon, Mirakl), so what vigie last told it of those SKUs no longer holds: it is
/// forgotten, and the next push sends them again. Returns whether any was.
async fn confirmed(channel: &Channel, ctx: &Context, decision: &Pending) -> Result<bool, Error> {
    let (name, config, order_pk) = (
        channel.name().to_owned(),
        ctx.config.clone(),
        decision.order_pk,
    );
    let sku_map = channel.config.current_sku_map();
    let (seen_for, forgot) = ctx
        .store
        .call(move |conn| {
            let now = store::now_text();
            let tx = conn.transaction()?;
            let accepted = decisions::accepted_lines(&tx, order_pk)?;
            reservations::settle(
                &tx,
                order_pk,
                Some(&accepted),
                ReservationState::Confirmed,
                &now,
            )?;
            decisions::settle_pending(&tx, order_pk, Outcome::Confirmed, None, &now)?;
            let event = if accepted.is_empty() {
                OrderEvent::Refused
            } else {
                OrderEvent::Accepted
            };
            let order = orders::payload(&tx, order_pk)?;
            let refused: Vec<(String, i64)> = order
                .lines
                .iter()
                .filter(|l| !accepted.contains(&l.id))
                .map(|l| (l.sku.clone(), 0))
                .collect();
            let listed: Vec<String> = sku_map
                .offers(&refused)
                .into_iter()
                .map(|(sku, _)| sku)
                .collect();
            pushes::forget(&tx, &name, &listed)?;
            let forgot = !listed.is_empty();
            delivery::enqueue(&tx, &config, &name, order_pk, event, &order, &now)?;
            let seen_for = orders::seen_for(&tx, order_pk)?;
            tx.commit()?;
            Ok((seen_for, forgot))
        })
        .await?;
    metrics::histogram!("vigie_decision_seconds", "channel" => channel.name().to_owned())
        .record(seen_for.as_secs_f64());
    Ok(forgot)
}

/// The marketplace refused vigie's decision for good: a human decides in its back office.
async fn rejected(
    channel: &Channel,
    ctx: &Context,
    decision: &Pending,
    note: &str,
) -> Result<(), Error> {
    let (name, order_pk) = (channel.name().to_owned(), decision.order_pk);
    let (order_id, note) = (decision.order_id.clone(), note.to_owned());
    ctx.store
        .call(move |conn| {
            let now = store::now_text();
            decisions::settle_pending(conn, order_pk, Outcome::Failed, Some(&note), &now)?;
            let text = format!(
                "{name}:{order_id}: the marketplace rejected vigie's decision ({note}); decide it in the marketplace's back office"
            );
            let key = alert_keys::decision_rejected(&name, &order_id);
            let alert =
                Alert::new(AlertKind::DecisionRejected, key, text).order(&name, &order_id);
            alerts::raise(conn, &alert, &now)
        })
        .await?;
    Ok(())
}
