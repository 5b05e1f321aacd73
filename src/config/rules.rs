//! `[rules]`: what makes vigie refuse an order or hold it for a human.

use rust_decimal::Decimal;
use serde::Deserialize;
use vigie_connector::Country;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    #[serde(default)]
    pub on_insufficient_stock: InsufficientStock,
    pub flag_total_above: Option<Decimal>,
    pub flag_quantity_above: Option<u32>,
    /// `None`: every destination is allowed.
    pub allowed_countries: Option<Vec<Country>>,
    /// With `allowed_countries`: hold for a human an order that names no country at all.
    #[serde(default)]
    pub flag_country_unknown: bool,
    #[serde(default)]
    pub flag_sku_tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsufficientStock {
    #[default]
    Refuse,
    Flag,
}
