//! Keeps every channel offering what the ledger can still sell: computes each SKU's quantity
//! for the channel, pushes only what changed (drops to zero first), follows the batches the
//! marketplace applies asynchronously, and corrects drift against what it actually offers.
//!
//! A marketplace that shows its orders late (its `visibility_lag`, Amazon's two minutes) has
//! already taken an order's units off its own listing when vigie reads the order. A quantity
//! pushed there replaces its count: computed without an order vigie could have read, it puts
//! the sold units back on sale. So such a channel gets a quantity other than zero only
//! [`When::AfterPoll`], right after its own orders were read, from a ledger holding every order
//! it shows; at any other time (another channel's order, a snapshot, the timer) only drops to
//! zero go, which cannot put anything back on sale. What is held goes after its next poll.
//!
//! A marketplace applies a stock push asynchronously, as a batch. One push is in flight per
//! channel: the changes made while a batch is applied are gathered and go together once it
//! is settled, instead of one batch per move of the ledger; a batch is asked about
//! [`Capabilities::stock_status_after`] after its submission, then at a pace that slows as
//! it waits (see [`look_gap`]). A marketplace applies a shop's batches one after the other
//! (Fnac's `batch_query` counts one running and the rest queued; Mirakl takes one import a
//! minute), so a batch sent while another is applied would not be applied sooner: gathering
//! costs the time between the open batch's end and the look that sees it. Drops to zero still
//! go at once, in a batch of their own, in case a marketplace applies it sooner: the last
//! unit sold elsewhere must stop selling now. Batches are asked about oldest first, and the
//! hourly drift check would catch one applied out of order. A channel that shows its orders
//! late gets its quantities only right after its poll: that moment is never deferred for an
//! open batch, or its quantities could wait behind the drops' batches indefinitely.
//!
//! [`Capabilities::stock_status_after`]: vigie_connector::Capabilities::stock_status_after

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;
use vigie_connector::{ConnectorError, Marketplace, PushStatus, PushTicket, StockUpdate};

use super::Error;
use crate::skumap::SkuMap;
use crate::store::pushes::{self, OpenTicket};
use crate::store::{self, Store, ledger_version, stock};

/// How one channel's offers are derived from the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// The global safety buffer (per-SKU buffers come from the stock table).
    pub safety_buffer: u32,
    /// Units per SKU never offered on this channel.
    pub channel_buffer: u32,
    /// At most this many units per SKU on this channel.
    pub cap: Option<u32>,
    /// The ledger's SKUs -> the channel's.
    pub sku_map: Arc<SkuMap>,
}

/// When a push runs, which says what it may send to a channel that shows its orders late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Right after the channel's orders were read and ingested: every change.
    AfterPoll,
    /// Any other time: to a channel that shows its orders late, only drops to zero.
    Anytime,
}

/// The longest wait between two looks at a batch still being applied.
const MAX_LOOK_GAP: Duration = Duration::from_secs(60);

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Quantities submitted this time.
    pub submitted: usize,
    /// Batches the marketplace finished applying.
    pub completed: usize,
    /// When to ask again about a batch still being applied; what was gathered meanwhile goes
    /// once it is settled.
    pub next_look: Option<Timestamp>,
    /// The quantities were computed; not when nothing moved since the last computation found
    /// nothing to send ([`NothingToSend`]).
    pub computed: bool,
}

/// A channel's last push that found nothing to send: the ledger's version it computed from,
/// and the offer. While both are the same, computing again (a read of the whole catalogue)
/// would find nothing again, so an idle channel's tick costs one read of the version. Kept in
/// memory: a start computes afresh.
#[derive(Debug, Default)]
pub struct NothingToSend(Mutex<Option<(i64, Offer)>>);

impl NothingToSend {
    /// Whether a push of `offer` at ledger `version` has nothing to send.
    pub fn holds(&self, version: i64, offer: &Offer) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|(v, o)| *v == version && o == offer)
    }

    /// A computation from ledger `version` found nothing to send to `offer`.
    pub fn remember(&self, version: i64, offer: Offer) {
        *self.lock() = Some((version, offer));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(i64, Offer)>> {
        // Only ever replaced whole: a panic elsewhere cannot leave it half written.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Follows the open batches due for a look at `now`, then submits what changed (unless
/// nothing moved since the last push found nothing to send: `nothing_to_send`). In a dry run, logs
/// what it would push.
#[expect(
    clippy::too_many_arguments,
    reason = "the channel, its offer and memory, the store, and when it runs"
)]
pub async fn push(
    channel: &str,
    marketplace: &dyn Marketplace,
    store: &Store,
    offer: Offer,
    dry_run: bool,
    when: When,
    nothing_to_send: &NothingToSend,
    now: Timestamp,
) -> Result<Pushed, Error> {
    let followed = follow_batches(channel, marketplace, store, now).await?;
    let mut pushed = Pushed {
        completed: followed.completed,
        next_look: followed.next_look,
        ..Pushed::default()
    };
    // Read before computing: a change committed meanwhile moves the version past it.
    let version = store.call(|conn| ledger_version::current(conn)).await?;
    if nothing_to_send.holds(version, &offer) {
        return Ok(pushed);
    }
    pushed.computed = true;
    let caps = marketplace.capabilities();
    let name = channel.to_owned();
    let computed_for = offer.clone();
    let mut changes = store
        .call(move |conn| pending(conn, &name, &offer, caps.max_quantity))
        .await?;
    // Only a computation with nothing to send (none held, none left to a dry run) settles.
    if changes.is_empty() {
        nothing_to_send.remember(version, computed_for);
    }
    if !caps.visibility_lag.is_zero() {
        if when == When::Anytime {
            let held = hold_all_but_drops(&mut changes);
            if held > 0 {
                tracing::info!(
                    held,
                    "quantities held until the channel's orders are read: it shows orders late"
                );
            }
        }
    } else if followed.open > 0 {
        let gathered = hold_all_but_drops(&mut changes);
        if gathered > 0 {
            tracing::debug!(
                gathered,
                "quantities gathered until the stock batch being applied is settled"
            );
        }
    }
    if changes.is_empty() {
        return Ok(pushed);
    }
    if dry_run {
        tracing::info!(count = changes.len(), "dry run: would push {changes:?}");
        return Ok(pushed);
    }
    // A catalogue larger than one batch goes in several at once: together they are one push.
    for batch in changes.chunks(caps.max_stock_batch.max(1)) {
        let ticket = marketplace.push_stock(batch).await?;
        let name = channel.to_owned();
        let items: Vec<(String, u32)> = batch.iter().map(|u| (u.sku.clone(), u.quantity)).collect();
        let first_look = later(now, caps.stock_status_after);
        pushed.next_look = earliest(pushed.next_look, first_look);
        store
            .call(move |conn| {
                let tx = conn.transaction()?;
                let now = store::now_text();
                pushes::record(&tx, &name, &ticket.0, &items, &now, first_look)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        pushed.submitted += batch.len();
        metrics::counter!("vigie_stock_pushed_total", "channel" => channel.to_owned())
            .increment(batch.len() as u64);
    }
    Ok(pushed)
}

/// What `channel` should be told now: the ledger's availability under the channel's SKUs,
/// against what it was last told (see [`changes`]); `max` is the marketplace's largest
/// quantity.
pub fn pending(
    conn: &Connection,
    channel: &str,
    offer: &Offer,
    max: u32,
) -> store::Result<Vec<StockUpdate>> {
    let ledger = stock::all_available(conn, offer.safety_buffer)?;
    // Most channels have no map: their offers are the ledger itself, not a copy of it.
    let wanted = if offer.sku_map.is_empty() {
        ledger
    } else {
        offer.sku_map.offers(&ledger)
    };
    let told = pushes::told(conn, channel)?;
    Ok(changes(wanted, told, offer, max))
}

/// The quantities to send: every SKU whose offer differs from what the channel was last told,
/// and zero for a SKU it was told a quantity of but is no longer offered (a `sku_map` row
/// changed or removed, a SKU gone from the inventory); drops to zero first so the last unit
/// stops selling as early as possible.
fn changes(
    wanted: Vec<(String, i64)>,
    mut told: BTreeMap<String, i64>,
    offer: &Offer,
    max: u32,
) -> Vec<StockUpdate> {
    let limit = offer.cap.map_or(max, |cap| cap.min(max));
    let mut changes = Vec::new();
    for (sku, available) in wanted {
        let quantity = (available - i64::from(offer.channel_buffer)).clamp(0, i64::from(limit));
        // What is left in `told` afterwards is no longer offered.
        if told.remove(&sku) != Some(quantity) {
            changes.push(StockUpdate {
                sku,
                quantity: quantity as u32,
            });
        }
    }
    changes.extend(
        told.into_iter()
            .filter(|(_, quantity)| *quantity != 0)
            .map(|(sku, _)| StockUpdate { sku, quantity: 0 }),
    );
    changes.sort_by(|a, b| {
        (a.quantity != 0)
            .cmp(&(b.quantity != 0))
            .then_with(|| a.sku.cmp(&b.sku))
    });
    changes
}

/// Keeps only the drops to zero; returns how many changes it held back.
fn hold_all_but_drops(changes: &mut Vec<StockUpdate>) -> usize {
    let before = changes.len();
    changes.retain(|u| u.quantity == 0);
    before - changes.len()
}

/// The batches one push followed.
#[derive(Debug, Default)]
struct Followed {
    /// Batches the marketplace finished applying.
    completed: usize,
    /// Batches still being applied.
    open: usize,
    /// The earliest look due at one of them.
    next_look: Option<Timestamp>,
}

impl Followed {
    fn still_open(&mut self, next_look: Timestamp) {
        self.open += 1;
        self.next_look = earliest(self.next_look, next_look);
    }
}

/// Asks the marketplace about the batches due for a look. A failed batch is forgotten so
/// its SKUs are pushed again; rejected SKUs are logged (usually an offer the channel does
/// not list) and not retried until their quantity changes.
async fn follow_batches(
    channel: &str,
    marketplace: &dyn Marketplace,
    store: &Store,
    now: Timestamp,
) -> Result<Followed, Error> {
    let name = channel.to_owned();
    let open = store
        .call(move |conn| pushes::open_tickets(conn, &name))
        .await?;
    let first_look = marketplace.capabilities().stock_status_after;
    // A look set further ahead than the longest gap is due: the clock went back.
    let horizon = later(now, MAX_LOOK_GAP.max(first_look));
    let waits = |at: &Timestamp| *at > now && *at <= horizon;
    // Batches are applied in the order submitted: when one is due, the older ones are asked
    // about too, so none is taken for settled while an older one could still undo it.
    let due_up_to = open
        .iter()
        .rposition(|t| !t.next_look_at.as_ref().is_some_and(waits));
    let mut followed = Followed::default();
    for (
        i,
        OpenTicket {
            ticket,
            skus,
            looks,
            next_look_at,
        },
    ) in open.into_iter().enumerate()
    {
        if let Some(at) = next_look_at.filter(|_| due_up_to.is_none_or(|last| i > last)) {
            followed.still_open(at);
            continue;
        }
        let status = match marketplace.push_status(&PushTicket(ticket.clone())).await {
            Ok(status) => status,
            // A batch whose status cannot be read (purged, unreadable) must not stop pushes:
            // push its SKUs again and stop following it.
            Err(ConnectorError::Permanent { code, message }) => {
                tracing::warn!(%ticket, ?code, "stock batch status unreadable, pushing again: {message}");
                PushStatus::Failed { message }
            }
            // Asked again later, at the same slowing pace.
            Err(e) if e.is_retryable() => {
                tracing::debug!(%ticket, "stock batch status not read this time: {e}");
                PushStatus::Pending
            }
            Err(e) => return Err(e.into()),
        };
        let forget = match status {
            PushStatus::Pending => {
                let at = later(now, look_gap(first_look, looks + 1));
                let name = channel.to_owned();
                store
                    .call(move |conn| pushes::looked(conn, &name, &ticket, at))
                    .await?;
                followed.still_open(at);
                continue;
            }
            PushStatus::Completed { rejected } => {
                for r in &rejected {
                    tracing::warn!(sku = %r.sku, "stock update rejected: {}", r.message);
                }
                followed.completed += 1;
                Vec::new()
            }
            PushStatus::Failed { message } => {
                tracing::warn!(%ticket, "stock batch failed, pushing again: {message}");
                skus
            }
        };
        let name = channel.to_owned();
        store
            .call(move |conn| {
                pushes::forget(conn, &name, &forget)?;
                pushes::close_ticket(conn, &name, &ticket)
            })
            .await?;
    }
    Ok(followed)
}

/// The sooner of a look already due and `other`.
fn earliest(due: Option<Timestamp>, other: Timestamp) -> Option<Timestamp> {
    Some(due.map_or(other, |due| due.min(other)))
}

/// The wait before asking about a batch again once its `looks`-th look said "still
/// pending": each look comes when the time since the submission has doubled (the connector's
/// first wait, twice it, four times...), at most [`MAX_LOOK_GAP`] apart. A batch is thus seen
/// settled at most as long after it was applied as it had waited by the look before, so one
/// applied soon is seen soon; one stuck in a queue costs a look a minute.
fn look_gap(first: Duration, looks: u32) -> Duration {
    first
        .saturating_mul(1 << looks.saturating_sub(1).min(16))
        .min(MAX_LOOK_GAP.max(first))
}

/// `wait` after the answer that came at `now` or later: a call budget may have held it.
fn later(now: Timestamp, wait: Duration) -> Timestamp {
    let answered = now.max(Timestamp::now());
    SignedDuration::try_from(wait)
        .ok()
        .and_then(|wait| answered.checked_add(wait).ok())
        .unwrap_or(Timestamp::MAX)
}

/// Reads what the marketplace offers and forgets every quantity that differs from what
/// vigie told it, so the next push corrects it. SKUs in a batch still being applied are left
/// alone: the marketplace has not caught up yet. Returns how many drifted.
pub async fn correct_drift(
    channel: &str,
    marketplace: &dyn Marketplace,
    store: &Store,
) -> Result<usize, Error> {
    let levels = marketplace.stock_levels().await?;
    let name = channel.to_owned();
    let drifted = store
        .call(move |conn| {
            let told = pushes::told(conn, &name)?;
            let in_flight: Vec<String> = pushes::open_tickets(conn, &name)?
                .into_iter()
                .flat_map(|t| t.skus)
                .collect();
            let drifted: Vec<String> = levels
                .into_iter()
                .filter(|l| !in_flight.contains(&l.sku))
                .filter(|l| {
                    told.get(&l.sku)
                        .is_some_and(|&q| q != i64::from(l.quantity))
                })
                .map(|l| l.sku)
                .collect();
            pushes::forget(conn, &name, &drifted)?;
            Ok(drifted)
        })
        .await?;
    for sku in &drifted {
        tracing::info!(%sku, "marketplace quantity drifted; pushing it again");
    }
    Ok(drifted.len())
}

#[cfg(test)]
mod tests {
    use vigie_fnac::Fnac;
    use vigie_fnac::sandbox::{Faults, FnacSandbox, SandboxOptions};

    use super::*;
    use crate::store::stock::StockItem;

    /// A Fnac shop offering A and B, and a ledger of 10 each. The shop's import queue is
    /// stalled: its batches are still running until the test moves it ([`move_queue`]).
    async fn fnac_and_ledger() -> (FnacSandbox, Fnac, Store, tempfile::TempDir) {
        let sandbox = FnacSandbox::start(SandboxOptions {
            batch_run_time: Duration::ZERO,
            ..SandboxOptions::default()
        })
        .await
        .unwrap();
        sandbox.set_faults(Faults {
            stalled_batches: true,
            ..Faults::default()
        });
        sandbox.set_quantity("A", 10);
        sandbox.set_quantity("B", 10);
        let fnac = Fnac::new("fnac", sandbox.settings()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        set_stock(&store, &[("A", 10), ("B", 10)]);
        (sandbox, fnac, store, dir)
    }

    /// The shop's import queue moves: every batch received is applied.
    fn move_queue(sandbox: &FnacSandbox) {
        sandbox.set_faults(Faults::default());
    }

    /// A push to the Fnac channel at `now`, at any time.
    async fn push_fnac(fnac: &Fnac, store: &Store, memo: &NothingToSend, now: Timestamp) -> Pushed {
        push(
            "fnac",
            fnac,
            store,
            offer(),
            false,
            When::Anytime,
            memo,
            now,
        )
        .await
        .unwrap()
    }

    fn set_stock(store: &Store, levels: &[(&str, u32)]) {
        store
            .with(|c| {
                for (sku, quantity) in levels {
                    let item = StockItem {
                        sku: (*sku).to_owned(),
                        quantity: *quantity,
                        tags: Vec::new(),
                    };
                    stock::set(c, &item, &store::now_text())?;
                }
                Ok(())
            })
            .unwrap();
    }

    /// Each `offers_update` the sandbox received, as (SKU, quantity) pairs.
    fn batches(sandbox: &FnacSandbox) -> Vec<Vec<(String, u32)>> {
        sandbox
            .offers_updates()
            .into_iter()
            .map(|u| {
                u.offers
                    .into_iter()
                    .map(|o| (o.sku, o.quantity.unwrap()))
                    .collect()
            })
            .collect()
    }

    fn pair(sku: &str, quantity: u32) -> (String, u32) {
        (sku.to_owned(), quantity)
    }

    #[tokio::test]
    async fn changes_made_while_a_batch_is_applied_go_together_once_it_is_settled() {
        let (sandbox, fnac, store, _dir) = fnac_and_ledger().await;
        let t0 = Timestamp::now();
        let at = |secs| t0 + SignedDuration::from_secs(secs);
        let memo = NothingToSend::default();
        let push = |now| push_fnac(&fnac, &store, &memo, now);

        let first = push(t0).await;
        assert_eq!(first.submitted, 2);
        let first_look = first.next_look.unwrap();
        assert!(first_look >= at(5) && first_look < at(6), "{first_look}");

        // Two moves of the ledger while the batch waits: neither is sent nor asked about.
        set_stock(&store, &[("A", 7)]);
        assert_eq!(push(at(1)).await.submitted, 0);
        set_stock(&store, &[("B", 13)]);
        let waiting = push(at(2)).await;
        assert_eq!(waiting.submitted, 0);
        assert_eq!(waiting.next_look, Some(first_look));
        assert_eq!(sandbox.requests("batch_status"), 0);

        // Asked at its time, then once the time since its submission has doubled, then once
        // applied.
        let looked = push(at(6)).await;
        assert_eq!(sandbox.requests("batch_status"), 1);
        let second_look = looked.next_look.unwrap();
        assert!(
            second_look >= at(11) && second_look < at(12),
            "the second look 5 s after the first: {second_look}"
        );
        assert_eq!(push(at(11)).await.submitted, 0);
        assert_eq!(sandbox.requests("batch_status"), 2);
        move_queue(&sandbox);
        let settled = push(at(60)).await;
        assert_eq!((settled.completed, settled.submitted), (1, 2));
        assert_eq!(sandbox.requests("batch_status"), 3);
        assert_eq!(
            batches(&sandbox),
            [
                vec![pair("A", 10), pair("B", 10)],
                vec![pair("A", 7), pair("B", 13)]
            ]
        );
    }

    #[tokio::test]
    async fn a_drop_to_zero_goes_at_once_while_a_batch_is_applied() {
        let (sandbox, fnac, store, _dir) = fnac_and_ledger().await;
        let t0 = Timestamp::now();
        let memo = NothingToSend::default();
        let push = |now| push_fnac(&fnac, &store, &memo, now);
        push(t0).await;

        set_stock(&store, &[("A", 0), ("B", 4)]);
        let dropped = push(t0 + SignedDuration::from_secs(1)).await;
        assert_eq!(dropped.submitted, 1);
        assert_eq!(batches(&sandbox)[1], [pair("A", 0)]);
        assert_eq!(sandbox.requests("batch_status"), 0);
    }

    #[tokio::test]
    async fn a_batch_due_for_a_look_takes_the_older_ones_with_it() {
        let (sandbox, fnac, store, _dir) = fnac_and_ledger().await;
        let t0 = Timestamp::now();
        let at = |secs| t0 + SignedDuration::from_secs(secs);
        let memo = NothingToSend::default();
        let push = |now| push_fnac(&fnac, &store, &memo, now);
        push(t0).await;
        // The first batch, still pending, is asked about at 6 s, then 11 s, then 21 s.
        push(at(6)).await;
        push(at(11)).await;
        set_stock(&store, &[("A", 0)]);
        // The drop's batch is first asked about at 17 s.
        assert_eq!(push(at(12)).await.submitted, 1);
        assert_eq!(sandbox.requests("batch_status"), 2);

        push(at(17)).await;
        assert_eq!(
            sandbox.requests("batch_status"),
            4,
            "the older batch is asked about with the newer, oldest first"
        );
    }

    #[tokio::test]
    async fn a_channel_that_shows_orders_late_gets_its_quantities_after_its_poll_batch_or_not() {
        use vigie_amazon::Amazon;
        use vigie_amazon::sandbox::{AmazonSandbox, SandboxOptions as AmazonOptions};
        let sandbox = AmazonSandbox::start(AmazonOptions {
            rate_scale: 100.0,
            ..AmazonOptions::default()
        })
        .await
        .unwrap();
        let amazon = Amazon::new("amazon", sandbox.client_settings()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        set_stock(&store, &[("A", 10), ("B", 10)]);
        let t0 = Timestamp::now();
        let at = |secs| t0 + SignedDuration::from_secs(secs);
        let memo = NothingToSend::default();
        let push = |when, now| push("amazon", &amazon, &store, offer(), false, when, &memo, now);
        assert_eq!(push(When::AfterPoll, t0).await.unwrap().submitted, 2);

        set_stock(&store, &[("A", 4)]);
        let between = push(When::Anytime, at(1)).await.unwrap();
        assert_eq!(between.submitted, 0, "held until the channel's poll");
        // Its feed is still open: the poll's push goes all the same, or the drops' feeds
        // could keep its quantities waiting.
        let after_poll = push(When::AfterPoll, at(2)).await.unwrap();
        assert_eq!(after_poll.submitted, 1);
    }

    #[test]
    fn looks_slow_down_as_a_batch_waits() {
        let gaps: Vec<u64> = (1..8)
            .map(|looks| look_gap(Duration::from_secs(5), looks).as_secs())
            .collect();
        // Looks 5, 10, 20, 40, 80 s after the submission, then a minute apart.
        assert_eq!(gaps, [5, 10, 20, 40, 60, 60, 60]);
    }

    fn offer() -> Offer {
        Offer {
            safety_buffer: 0,
            channel_buffer: 0,
            cap: None,
            sku_map: Arc::default(),
        }
    }

    #[test]
    fn only_changes_are_pushed_and_zeros_first() {
        let wanted = vec![
            ("A".to_owned(), 5),
            ("B".to_owned(), 0),
            ("C".to_owned(), 3),
            ("D".to_owned(), -2),
        ];
        let told = BTreeMap::from([("A".to_owned(), 5), ("C".to_owned(), 4)]);
        let got: Vec<(String, u32)> = changes(wanted, told, &offer(), 9999)
            .into_iter()
            .map(|u| (u.sku, u.quantity))
            .collect();
        assert_eq!(got, [("B".into(), 0), ("D".into(), 0), ("C".into(), 3)]);
    }

    #[test]
    fn a_sku_no_longer_offered_is_set_to_zero_once() {
        // OLD: a marketplace SKU whose sku_map row was removed; GONE already told zero.
        let wanted = vec![("A".to_owned(), 5)];
        let told = BTreeMap::from([
            ("A".to_owned(), 5),
            ("OLD".to_owned(), 4),
            ("GONE".to_owned(), 0),
        ]);
        let got: Vec<(String, u32)> = changes(wanted, told, &offer(), 9999)
            .into_iter()
            .map(|u| (u.sku, u.quantity))
            .collect();
        assert_eq!(got, [("OLD".into(), 0)]);
    }

    #[test]
    fn only_drops_to_zero_go_at_any_time_to_a_channel_that_shows_orders_late() {
        let told = BTreeMap::from([("A".to_owned(), 5), ("B".to_owned(), 5)]);
        let wanted = vec![
            ("A".to_owned(), 0),
            ("B".to_owned(), 3),
            ("C".to_owned(), 2),
        ];
        let mut got = changes(wanted, told, &offer(), 9999);
        assert_eq!(hold_all_but_drops(&mut got), 2);
        let got: Vec<(String, u32)> = got.into_iter().map(|u| (u.sku, u.quantity)).collect();
        assert_eq!(got, [("A".into(), 0)]);
    }

    #[test]
    fn buffers_and_caps_shape_the_channel_offer() {
        let wanted = vec![("A".to_owned(), 50), ("B".to_owned(), 2)];
        let shaped = Offer {
            channel_buffer: 3,
            cap: Some(20),
            ..offer()
        };
        let got: Vec<u32> = changes(wanted, BTreeMap::new(), &shaped, 9999)
            .iter()
            .map(|u| u.quantity)
            .collect();
        assert_eq!(got, [0, 20]);
        let fnac_max: Vec<u32> = changes(
            vec![("A".to_owned(), 20_000)],
            BTreeMap::new(),
            &offer(),
            9999,
        )
        .iter()
        .map(|u| u.quantity)
        .collect();
        assert_eq!(fnac_max, [9999]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tick_computes_again_only_once_the_ledger_moved() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        use crate::store::reservations::{self, LineUnits, ReservationState};
        use crate::store::{orders, stock::StockItem};

        let server = MockServer::start().await;
        let imports = "/api/offers/stock/imports";
        Mock::given(method("POST"))
            .and(path(imports))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(serde_json::json!({ "import_id": 1 })),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{imports}/1/status")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "status": "COMPLETE" })),
            )
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let (channel, ctx) =
            crate::pipeline::health::tests::channel_and_context(&server, dir.path());
        let store = &ctx.store;
        let a = StockItem {
            sku: "A".into(),
            quantity: 5,
            tags: Vec::new(),
        };
        store
            .with(|c| stock::set(c, &a, &store::now_text()))
            .unwrap();
        let settled = NothingToSend::default();
        // Ticks two minutes apart: a batch is due for a look at the next one.
        let t0 = Timestamp::now();
        let tick = |n: i64| {
            let market = channel.marketplace.as_ref();
            let now = t0 + SignedDuration::from_secs(120 * n);
            push(
                "lm",
                market,
                store,
                offer(),
                false,
                When::Anytime,
                &settled,
                now,
            )
        };
        let calls = || async { server.received_requests().await.unwrap().len() };

        let first = tick(0).await.unwrap();
        assert_eq!((first.computed, first.submitted), (true, 1));
        // Its batch is followed to the end; nothing more to send.
        let second = tick(1).await.unwrap();
        assert_eq!(
            (second.computed, second.completed, second.submitted),
            (true, 1, 0)
        );

        let before = calls().await;
        let quiet = tick(2).await.unwrap();
        assert!(!quiet.computed, "nothing moved: {quiet:?}");
        assert_eq!(calls().await, before, "no marketplace call");

        // An order holds 2 of the 5 units: the next tick computes and pushes 3.
        store
            .with(|c| {
                let order = crate::domain::test_orders::order(&[("A", 2)], 2, None);
                let now = store::now_text();
                let tx = c.transaction()?;
                let (pk, _) = orders::ingest(&tx, "lm", &order, Default::default(), &now)?;
                let line = LineUnits::of(pk, &order.lines[0]);
                reservations::hold(&tx, line, ReservationState::Held, &now)?;
                tx.commit()?;
                Ok(())
            })
            .unwrap();
        let after = tick(3).await.unwrap();
        assert_eq!((after.computed, after.submitted), (true, 1));
        let told = store.with(|c| pushes::told(c, "lm")).unwrap();
        assert_eq!(told, BTreeMap::from([("A".to_owned(), 3)]));
    }
}
