//! OR11 before acceptance on an operator that hides the shipping address: what the order
//! still tells of its destination (the shipping zone, the billing address, the locale).

use serde_json::json;
use vigie_connector::{Country, Marketplace};

use crate::support::{json_reply, mirakl, serving};

#[tokio::test(start_paused = true)]
async fn a_hidden_address_keeps_the_zone_and_the_billing_country() {
    let order = |id: &str, zone: &str, billing| {
        json!({
            "order_id": id, "commercial_id": id, "order_state": "WAITING_ACCEPTANCE",
            "created_date": "2024-05-02T08:00:00Z", "currency_iso_code": "EUR",
            "total_price": 10,
            "shipping_zone_code": zone, "shipping_zone_label": zone,
            "customer": {
                "firstname": "A", "lastname": "B", "locale": "fr_FR",
                "shipping_address": null, "billing_address": billing
            },
            "order_lines": [{
                "order_line_id": format!("{id}-1"), "order_line_state": "WAITING_ACCEPTANCE",
                "offer_sku": "SKU-1", "quantity": 1, "price": 10
            }]
        })
    };
    let billing = json!({"city": "Liège", "country_iso_code": "BEL", "country": "Belgique"});
    let reply = json!({
        "orders": [order("O-1", "DE", billing), order("O-2", "EU", serde_json::Value::Null)],
        "total_count": 2
    });
    let server = serving("GET /api/orders", json_reply(200, reply)).await;
    let batch = mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    assert!(batch.malformed.is_empty(), "{:?}", batch.malformed);
    let [zoned, european] = &batch.orders[..] else {
        panic!("two orders expected, got {:?}", batch.orders)
    };
    assert_eq!(zoned.shipping_address, None);
    assert_eq!(zoned.destination_hints.shipping_zone, Country::parse("DE"));
    assert_eq!(
        zoned.destination_hints.billing_country,
        Country::parse("BE")
    );
    assert_eq!(zoned.customer.locale.as_deref(), Some("fr_FR"));
    // "EU" is a zone, not a country: nothing is made up from it.
    assert_eq!(european.destination_hints.shipping_zone, None);
    assert_eq!(european.destination_hints.billing_country, None);
}
