//! Normalized orders: what every marketplace's order looks like once a connector has read it.
//! Each state keeps the marketplace's raw string next to vigie's normalized status.

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A marketplace order as the engine sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The marketplace's order id, unique within one channel.
    pub id: String,
    /// The reference the customer sees (Mirakl `commercial_id`; Fnac's order id).
    pub reference: String,
    pub state: MarketplaceState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The acceptance deadline when the marketplace announces one.
    pub acceptance_deadline: Option<Timestamp>,
    /// When the parcel must be handed to the carrier, once the marketplace announces it.
    #[serde(default)]
    pub shipping_deadline: Option<Timestamp>,
    pub customer: Customer,
    /// Marketplaces often hide the address until the order is accepted.
    pub shipping_address: Option<Address>,
    /// What else the payload tells of the destination, for an address still hidden.
    #[serde(default)]
    pub destination_hints: DestinationHints,
    pub lines: Vec<OrderLine>,
    /// What the customer pays for the whole order, shipping included.
    pub total: Money,
    /// Tracking data once the order ships.
    pub shipment: Option<Shipment>,
    /// The claim open on the order (a parcel not received, a damaged item...), if any.
    #[serde(default)]
    pub incident: Option<Incident>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The marketplace's line id, unique within the order.
    pub id: String,
    /// The seller's SKU for the offer.
    pub sku: String,
    pub title: Option<String>,
    pub quantity: u32,
    /// Price of the line (all units), in the order's currency.
    pub price: Money,
    pub state: MarketplaceState,
    /// Units of the line the marketplace took back, each as it reported it.
    #[serde(default)]
    pub cancellations: Vec<Cancellation>,
}

/// Units of a line the marketplace cancelled (nothing paid, or paid back before shipping) or
/// refunded, whoever asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    /// The marketplace's id for it; `None` when it only reports the line's state, so one
    /// per line and kind.
    pub id: Option<String>,
    pub kind: CancellationKind,
    pub quantity: u32,
    /// The marketplace's reason, its label where it gives one, else its code.
    pub reason: Option<String>,
    /// The units had left the warehouse (a refund after shipping: a return).
    pub after_shipping: bool,
}

impl Cancellation {
    /// The key that makes it one row, however often the marketplace reports it.
    pub fn key(&self) -> String {
        match &self.id {
            Some(id) => format!("{}:{id}", self.kind.as_str()),
            None => self.kind.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancellationKind {
    Cancelled,
    Refunded,
}

impl CancellationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    /// The line status a marketplace shows once the whole line is taken back this way.
    pub fn of_status(status: OrderStatus) -> Option<Self> {
        match status {
            OrderStatus::Cancelled => Some(Self::Cancelled),
            OrderStatus::Refunded => Some(Self::Refunded),
            _ => None,
        }
    }
}

/// A claim open on an order, in the marketplace's words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub reason: Option<String>,
}

/// A state as the marketplace wrote it, and what it means for vigie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketplaceState {
    pub raw: String,
    pub status: OrderStatus,
}

impl MarketplaceState {
    pub fn new(raw: impl Into<String>, status: OrderStatus) -> Self {
        Self {
            raw: raw.into(),
            status,
        }
    }
}

/// Normalized lifecycle of an order or a line, common to every marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Visible but not yet actionable (fraud check, payment pre-authorisation).
    Pending,
    /// Waits for the seller to accept or refuse.
    AwaitingAcceptance,
    /// Accepted by the seller; waiting for payment or to be shipped.
    Accepted,
    Shipped,
    /// Delivered to, or collected by, the customer.
    Received,
    /// Finished; no further action expected.
    Closed,
    /// Refused by the seller or auto-refused by the marketplace.
    Refused,
    Cancelled,
    /// Paid back by the marketplace (before or after shipping).
    Refunded,
    /// A line under a claim (Mirakl `INCIDENT_OPEN`).
    Incident,
    /// A state vigie does not know; the raw string says which.
    Other,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::AwaitingAcceptance => "awaiting_acceptance",
            Self::Accepted => "accepted",
            Self::Shipped => "shipped",
            Self::Received => "received",
            Self::Closed => "closed",
            Self::Refused => "refused",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::Incident => "incident",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Address the marketplace provides for notifications (often a relay), if any.
    pub email: Option<String>,
    /// Customer locale as the marketplace gives it (`fr_FR`, `fr`), if any.
    pub locale: Option<String>,
}

/// Where an order probably goes when its shipping address is hidden: what the marketplace
/// gives before acceptance. The customer's locale is in [`Customer`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DestinationHints {
    /// The shipping zone, when the marketplace names it by a country (Mirakl
    /// `shipping_zone_code`; zones such as "EU" are not countries and read as `None`).
    pub shipping_zone: Option<Country>,
    /// The billing address's country.
    pub billing_country: Option<Country>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub street: Vec<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// `None` when the marketplace sent no country or one that is not an ISO 3166 code.
    pub country: Option<Country>,
    pub phone: Option<String>,
}

/// An ISO 3166-1 country, stored as its alpha-2 code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country(String);

impl Country {
    /// Reads an alpha-2 (`FR`) or alpha-3 (`FRA`) code, in any case.
    pub fn parse(code: &str) -> Option<Self> {
        let code = code.trim().to_ascii_uppercase();
        let found = match code.len() {
            2 => rust_iso3166::from_alpha2(&code),
            3 => rust_iso3166::from_alpha3(&code),
            _ => None,
        }?;
        Some(Self(found.alpha2.to_owned()))
    }

    pub fn alpha2(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Country {
    type Error = String;
    fn try_from(code: String) -> Result<Self, String> {
        Self::parse(&code).ok_or_else(|| format!("not an ISO 3166 country code: {code:?}"))
    }
}

impl From<Country> for String {
    fn from(country: Country) -> String {
        country.0
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An exact amount in a currency (ISO 4217 code); never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: String,
}

impl Money {
    pub fn new(amount: Decimal, currency: impl Into<String>) -> Self {
        Self {
            amount,
            currency: currency.into(),
        }
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// How the parcel travels, for the customer's "shipped" message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub tracking_number: Option<String>,
    pub carrier_code: Option<String>,
    pub carrier_name: Option<String>,
    pub tracking_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_read_alpha2_and_alpha3() {
        assert_eq!(Country::parse("FRA").unwrap().alpha2(), "FR");
        assert_eq!(Country::parse(" be ").unwrap().alpha2(), "BE");
        assert_eq!(Country::parse("deu").unwrap().alpha2(), "DE");
        assert!(Country::parse("XX").is_none());
        assert!(Country::parse("France").is_none());
    }

    #[test]
    fn money_keeps_exact_decimals() {
        let m: Money = serde_json::from_str(r#"{"amount":"19.90","currency":"EUR"}"#).unwrap();
        assert_eq!(m.amount.to_string(), "19.90");
        assert_eq!(m.to_string(), "19.90 EUR");
    }
}
