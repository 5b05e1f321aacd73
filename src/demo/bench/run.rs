//! One run: the rig and the daemon started, the scenario's orders placed at its pace and the
//! accepted ones shipped, until the daemon has caught up; then the daemon stopped and the
//! figures taken.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;
use vigie_testkit::Rng;

use super::measure::{self, Drained, Driven, Figures, Usage};
use super::scenarios::{SKUS, Scenario};
use crate::demo::rig::{Daemon, Rig};
use crate::demo::{scenario, write_config};
use crate::store::figures;

pub(super) async fn run_in(dir: &Path, scenario: &Scenario) -> anyhow::Result<Figures> {
    let rig = Rig::start().await?;
    let skus: Vec<String> = (0..SKUS).map(|i| format!("BENCH-{i:03}")).collect();
    let on_hand = u32::try_from((3 * scenario.orders / SKUS).max(1000)).unwrap_or(u32::MAX);
    rig.markets
        .offer(skus.iter().map(|s| (s.as_str(), on_hand)));
    let stock = dir.join("stock.csv");
    std::fs::write(
        &stock,
        vigie_testkit::stock_csv(skus.iter().map(|s| (s.as_str(), on_hand, ""))),
    )?;
    let config =
        write_config(dir, &rig, &scenario.config, &stock).context("the bench configuration")?;

    let mut daemon = Daemon::start(&config, &dir.join("state"), &dir.join("vigie.log")).await?;
    let started = Instant::now();
    wait_for_inventory(&mut daemon).await?;
    let driven = drive(&rig, &mut daemon, scenario, &skus, started).await?;
    daemon.stop().await?;
    measure::figures(&rig, &daemon.store, driven).await
}

/// Orders placed before the inventory is loaded would be refused for want of stock.
pub(super) async fn wait_for_inventory(daemon: &mut Daemon) -> anyhow::Result<()> {
    while daemon.store.call(|conn| figures::stock_items(conn)).await? < SKUS {
        daemon.check_running()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Places the scenario's orders evenly over its span (ordinary orders: one SKU, 1 or 2
/// units, either marketplace), ships the accepted ones every 3 s, and stops `tail` after the
/// daemon has accepted every order (or after the settle limit), then, when the scenario says
/// so, once the customer messages queued have left (or after its drain limit). Takes the
/// daemon's resource usage while it still runs.
async fn drive(
    rig: &Rig,
    daemon: &mut Daemon,
    scenario: &Scenario,
    skus: &[String],
    started: Instant,
) -> anyhow::Result<Driven> {
    let mut rng = Rng::new(scenario::SEED);
    let mut placed = 0u64;
    let every = scenario.place_over.as_secs_f64() / scenario.orders.max(1) as f64;
    let first_order = Instant::now();
    let mut next_ship = first_order + Duration::from_secs(3);
    let mut next_print = first_order;
    let mut settle_deadline = None;
    let mut settled_at = None;
    let mut drained = None;
    loop {
        let now = Instant::now();
        let due = ((now.duration_since(first_order).as_secs_f64() / every) as u64 + 1)
            .min(scenario.orders);
        while placed < due {
            let sku = rng.pick(skus);
            let quantity = 1 + rng.below(2) as u32;
            let order = scenario::order(&mut rng, sku, quantity, "FRA");
            rig.markets.place(scenario::marketplace(&mut rng), &order);
            placed += 1;
        }
        if now >= next_ship {
            scenario::ship_accepted(&rig.markets);
            next_ship = now + Duration::from_secs(3);
        }
        let counts = daemon
            .store
            .call(|conn| figures::order_counts(conn))
            .await?;
        if now >= next_print {
            let messages = daemon
                .store
                .call(|conn| figures::outbox_counts(conn))
                .await?;
            println!(
                "  [{:>4}s] placed {placed:>5}/{} | seen {:>5} | accepted {:>5} | messages sent \
                 {:>5}, queued {:>5}",
                started.elapsed().as_secs(),
                scenario.orders,
                counts.seen,
                counts.accepted,
                messages.sent,
                messages.queued
            );
            next_print = now + Duration::from_secs(10);
        }
        daemon.check_running()?;
        if placed >= scenario.orders {
            let deadline = *settle_deadline.get_or_insert(now + scenario.settle_limit);
            let caught_up = counts.seen >= placed && counts.settled >= counts.seen;
            if settled_at.is_none() && (caught_up || now >= deadline) {
                settled_at = Some(now);
            }
            if let Some(tail_end) = settled_at.map(|at| at + scenario.tail)
                && now >= tail_end
            {
                let Some(limit) = scenario.drain_limit else {
                    break;
                };
                let queued = daemon
                    .store
                    .call(|conn| figures::outbox_counts(conn))
                    .await?
                    .queued;
                if queued == 0 || now >= tail_end + limit {
                    drained = Some(Drained {
                        secs: now.duration_since(tail_end).as_secs_f64(),
                        emptied: queued == 0,
                    });
                    if queued > 0 {
                        println!(
                            "  the drain limit ({}) was hit with {queued} messages queued",
                            humantime::format_duration(limit)
                        );
                    }
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Driven {
        placed,
        drained,
        wall_secs: started.elapsed().as_secs_f64(),
        usage: Usage::of(daemon.pid()).await,
    })
}
