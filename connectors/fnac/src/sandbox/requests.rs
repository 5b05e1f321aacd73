//! The sandbox's reading of requests: the header every request carries, and each service's
//! body. Unknown elements are ignored, as Fnac's own parser would reject them earlier.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Header {
    #[serde(rename = "@xmlns")]
    pub xmlns: String,
    #[serde(rename = "@partner_id")]
    pub partner_id: String,
    #[serde(rename = "@shop_id")]
    pub shop_id: String,
    #[serde(rename = "@token")]
    pub token: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Auth {
    pub partner_id: String,
    pub shop_id: String,
    pub key: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrdersQuery {
    #[serde(rename = "@results_count")]
    pub results_count: Option<usize>,
    pub paging: Option<usize>,
    pub date: Vec<DateFilter>,
    pub state: Vec<String>,
    pub states: Option<States>,
    pub order_fnac_id: Vec<String>,
    pub orders_fnac_id: Option<OrderIds>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DateFilter {
    #[serde(rename = "@type")]
    pub kind: String,
    pub min: Option<String>,
    pub max: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct States {
    pub state: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrderIds {
    pub order_fnac_id: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrdersUpdate {
    pub order: Vec<OrderUpdate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrderUpdate {
    #[serde(rename = "@order_id")]
    pub order_id: String,
    #[serde(rename = "@action")]
    pub action: String,
    pub order_detail: Vec<DetailUpdate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DetailUpdate {
    pub order_detail_id: String,
    pub action: String,
    pub tracking_number: Option<String>,
    pub tracking_company: Option<String>,
    pub refund_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CarriersQuery {
    pub query: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OffersUpdate {
    pub offer: Vec<OfferUpdate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OfferUpdate {
    pub offer_reference: Reference,
    pub quantity: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Reference {
    #[serde(rename = "@type")]
    pub kind: Option<String>,
    #[serde(rename = "$text")]
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BatchStatus {
    pub batch_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OffersQuery {
    #[serde(rename = "@results_count")]
    pub results_count: Option<usize>,
    pub paging: Option<usize>,
    pub offer_seller_id: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessagesUpdate {
    pub message: Vec<MessageUpdate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessageUpdate {
    #[serde(rename = "@action")]
    pub action: String,
    #[serde(rename = "@id")]
    pub id: String,
    pub message_to: String,
    pub message_subject: String,
    pub message_description: String,
    pub message_type: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IncidentsQuery {
    #[serde(rename = "@results_count")]
    pub results_count: Option<usize>,
    pub paging: Option<usize>,
    pub date: Vec<DateFilter>,
    pub status: Option<String>,
    pub order: Vec<String>,
    pub orders: Option<IncidentOrders>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IncidentOrders {
    pub order: Vec<String>,
}
