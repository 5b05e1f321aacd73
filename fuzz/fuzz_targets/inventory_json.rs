//! The inventory endpoint's JSON reader never panics, and what it accepts is usable.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = vigie::inventory::http::parse(data) {
        let mut skus = HashSet::new();
        for item in &items {
            assert!(!item.sku.is_empty(), "empty SKU accepted");
            assert!(skus.insert(&item.sku), "duplicate SKU accepted");
        }
    }
});
