//! The inventory CSV parser never panics, and what it accepts is a usable snapshot.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match vigie::inventory::csv::parse(text) {
        Ok(items) => {
            let mut skus = HashSet::new();
            for item in &items {
                assert!(!item.sku.is_empty(), "empty SKU accepted");
                assert_eq!(item.sku.trim(), item.sku, "untrimmed SKU accepted");
                assert!(skus.insert(&item.sku), "duplicate SKU accepted");
                assert!(item.tags.iter().all(|t| !t.is_empty() && !t.contains('|')));
            }
        }
        Err(e) => {
            // Every error names a real line of the input; like the csv reader, a lone CR
            // ends a line too.
            let lines = text
                .replace("\r\n", "\n")
                .replace('\r', "\n")
                .split('\n')
                .count() as u64;
            assert!(
                e.line >= 1 && e.line <= lines.max(1),
                "line {} of {lines}: {e}",
                e.line
            );
        }
    }
});
