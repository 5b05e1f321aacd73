//! Both sandbox marketplaces, started together on 127.0.0.1 and stocked alike.

use vigie_fnac::sandbox::{self as fnac, FnacSandbox};
use vigie_mirakl::sandbox::{self as mirakl, MiraklSandbox};

use crate::orders::{Marketplace, NewOrder};

pub struct Marketplaces {
    pub mirakl: MiraklSandbox,
    pub fnac: FnacSandbox,
}

impl Marketplaces {
    /// Both sandboxes, every random draw of theirs (faults, ids, credentials) seeded with `seed`.
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
        })
    }

    /// Offers `(sku, units)` on both marketplaces.
    pub fn offer<'a>(&self, offers: impl IntoIterator<Item = (&'a str, u32)>) {
        for (sku, units) in offers {
            self.mirakl.set_quantity(sku, units);
            self.fnac.set_quantity(sku, units);
        }
    }

    /// Places `order` on `on`; returns the marketplace's order id.
    pub fn place(&self, on: Marketplace, order: &NewOrder) -> String {
        match on {
            Marketplace::Mirakl => self.mirakl.add_order(order.mirakl_spec()),
            Marketplace::Fnac => self.fnac.add_order(order.fnac_spec()),
        }
    }

    /// Orders placed on both marketplaces so far.
    pub fn placed(&self) -> usize {
        self.mirakl.orders().len() + self.fnac.orders().len()
    }
}
