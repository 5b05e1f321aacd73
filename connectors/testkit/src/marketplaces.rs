//! The sandbox marketplaces, started together on 127.0.0.1 and stocked alike.

use std::time::Duration;

use vigie_amazon::sandbox::{self as amazon, AmazonSandbox};
use vigie_fnac::sandbox::{self as fnac, FnacSandbox};
use vigie_mirakl::sandbox::{self as mirakl, MiraklSandbox};

use crate::orders::{Marketplace, NewOrder};

pub struct Marketplaces {
    pub mirakl: MiraklSandbox,
    pub fnac: FnacSandbox,
    pub amazon: AmazonSandbox,
}

impl Marketplaces {
    /// Every sandbox, every random draw of theirs (faults, ids, credentials) seeded with `seed`.
    pub async fn start(seed: u64) -> std::io::Result<Self> {
        Ok(Self {
            mirakl: MiraklSandbox::start(mirakl::SandboxOptions {
                seed,
                ..Default::default()
            })
            .await?,
            fnac: FnacSandbox::start(fnac::SandboxOptions {
                seed,
                ..Default::default()
            })
            .await?,
            amazon: AmazonSandbox::start(amazon_options(seed)).await?,
        })
    }

    /// Offers `(sku, units)` on every marketplace.
    pub fn offer<'a>(&self, offers: impl IntoIterator<Item = (&'a str, u32)>) {
        for (sku, units) in offers {
            self.mirakl.set_quantity(sku, units);
            self.fnac.set_quantity(sku, units);
            self.amazon.set_quantity(sku, units);
        }
    }

    /// Places `order` on `on`; returns the marketplace's order id.
    pub fn place(&self, on: Marketplace, order: &NewOrder) -> String {
        match on {
            Marketplace::Mirakl => self.mirakl.add_order(order.mirakl_spec()),
            Marketplace::Fnac => self.fnac.add_order(order.fnac_spec()),
            Marketplace::Amazon => self.amazon.add_order(order.amazon_spec()),
        }
    }

    /// Orders placed on every marketplace so far.
    pub fn placed(&self) -> usize {
        self.mirakl.orders().len() + self.fnac.orders().len() + self.amazon.orders().len()
    }
}

/// Amazon as tests and the demo want it: changes show in `searchOrders` at once (not two
/// minutes later), orders are paid within seconds, usage plans are a hundred times larger.
fn amazon_options(seed: u64) -> amazon::SandboxOptions {
    amazon::SandboxOptions {
        seed,
        stamp_behind: Duration::try_from(vigie_amazon::VISIBILITY_LAG).unwrap_or_default(),
        pending_for: Duration::from_secs(5),
        rate_scale: 100.0,
        // Feeds are processed by the first look at them.
        feed_polls_before_done: 0,
        ..Default::default()
    }
}
