//! A channel's `sku_map`: where a marketplace spells a SKU differently from the inventory,
//! the map turns its orders' SKUs into the ledger's (before anything is reserved or judged)
//! and the ledger's quantities back into its SKUs for stock pushes. A SKU the map does not
//! name is the same on both sides.
//!
//! The map is read (and checked) with the configuration, then followed while the daemon runs
//! (`daemon::sku_maps`): a new version replaces it whole, a bad one leaves the previous in force.

pub mod parse;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigie_connector::Order;

/// One version of a map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkuMap {
    /// Marketplace SKU -> ledger SKU.
    to_ledger: HashMap<String, String>,
    /// Ledger SKU -> its marketplace SKUs, in the file's order.
    to_marketplace: HashMap<String, Vec<String>>,
}

impl SkuMap {
    /// From (marketplace SKU, ledger SKU) pairs, each marketplace SKU once ([`parse::parse`]).
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        let mut map = Self::default();
        for (marketplace_sku, sku) in pairs {
            map.to_marketplace
                .entry(sku.clone())
                .or_default()
                .push(marketplace_sku.clone());
            map.to_ledger.insert(marketplace_sku, sku);
        }
        map
    }

    /// How many marketplace SKUs it maps.
    pub fn len(&self) -> usize {
        self.to_ledger.len()
    }

    pub fn is_empty(&self) -> bool {
        self.to_ledger.is_empty()
    }

    /// `order` with every line's SKU the ledger's.
    pub fn to_ledger<'o>(&self, order: &'o Order) -> Cow<'o, Order> {
        if !order
            .lines
            .iter()
            .any(|l| self.to_ledger.contains_key(&l.sku))
        {
            return Cow::Borrowed(order);
        }
        let mut mapped = order.clone();
        for line in &mut mapped.lines {
            if let Some(sku) = self.to_ledger.get(&line.sku) {
                line.sku.clone_from(sku);
            }
        }
        Cow::Owned(mapped)
    }

    /// The ledger's quantities under the channel's SKUs: a mapped ledger SKU under each of
    /// its marketplace SKUs, any other under its own name, unless that name is a marketplace
    /// SKU the map sends elsewhere (that offer shows the SKU it maps to).
    pub fn offers(&self, ledger: &[(String, i64)]) -> Vec<(String, i64)> {
        let mut offers = Vec::with_capacity(ledger.len());
        for (sku, quantity) in ledger {
            match self.to_marketplace.get(sku) {
                Some(names) => offers.extend(names.iter().map(|name| (name.clone(), *quantity))),
                None if self.to_ledger.contains_key(sku) => {}
                None => offers.push((sku.clone(), *quantity)),
            }
        }
        offers
    }
}

/// A channel's map as it is now, shared by the configuration, the channel's cycles and the
/// task that follows its file. Cloning it shares the same map.
#[derive(Debug, Clone)]
pub struct LiveSkuMap {
    path: PathBuf,
    current: Arc<tokio::sync::watch::Sender<Arc<SkuMap>>>,
}

impl LiveSkuMap {
    /// Reads the file at `path`; the error names the line and what is wrong with it.
    pub fn load(path: PathBuf) -> Result<Self, String> {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read: {e}"))?;
        let map = SkuMap::new(parse::parse(&text).map_err(|e| e.to_string())?);
        Ok(Self {
            path,
            current: Arc::new(tokio::sync::watch::Sender::new(Arc::new(map))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn current(&self) -> Arc<SkuMap> {
        Arc::clone(&self.current.borrow())
    }

    /// A new version of the file, whole (the daemon follows the file).
    pub fn replace(&self, map: SkuMap) {
        self.current.send_replace(Arc::new(map));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_orders::order;

    fn map() -> SkuMap {
        SkuMap::new(
            [("FN-A1", "A"), ("FN-A2", "A"), ("FN-B", "B"), ("C", "D")]
                .map(|(m, s)| (m.to_owned(), s.to_owned()))
                .into(),
        )
    }

    #[test]
    fn orders_take_the_ledger_sku() {
        let o = order(&[("FN-A2", 1), ("Z", 2)], 20, None);
        let mapped = map().to_ledger(&o);
        let skus: Vec<&str> = mapped.lines.iter().map(|l| l.sku.as_str()).collect();
        assert_eq!(skus, ["A", "Z"]);
        assert!(matches!(
            map().to_ledger(&order(&[("Z", 1)], 1, None)),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn pushes_reach_every_marketplace_sku_of_a_ledger_sku() {
        let ledger =
            [("A", 3), ("B", 0), ("C", 7), ("D", 5), ("Z", 1)].map(|(s, q)| (s.to_owned(), q));
        let offers = map().offers(&ledger);
        let offers: Vec<(&str, i64)> = offers.iter().map(|(s, q)| (s.as_str(), *q)).collect();
        // "C" is a marketplace SKU for "D": it shows D's quantity, never the ledger's C.
        assert_eq!(
            offers,
            [("FN-A1", 3), ("FN-A2", 3), ("FN-B", 0), ("C", 5), ("Z", 1)]
        );
        assert_eq!(SkuMap::default().offers(&ledger).len(), 5);
    }
}
