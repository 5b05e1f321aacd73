//! Mirakl's order reader (OR11 bodies) and its lenient scalar readers never panic on any JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_mirakl::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wire::parse_date(text);
        let _ = wire::parse_decimal(text);
        let _ = wire::status_of(text);
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    // An OR11 page holds `orders`; a single order is read the same way.
    match value.get("orders").and_then(|o| o.as_array()) {
        Some(orders) => orders.iter().for_each(|order| {
            let _ = wire::parse_order(order);
        }),
        None => {
            let _ = wire::parse_order(&value);
        }
    }
});
