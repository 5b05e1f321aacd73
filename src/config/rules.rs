//! `[rules]`: what makes vigie refuse an order or hold it for a human.

use rust_decimal::Decimal;
use serde::Deserialize;
use vigie_connector::Country;
use vigie_connector::spec::KeyError;

use super::custom_rules::{self, CustomRule};

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
    /// What happens to an order still undecided late in its acceptance window.
    #[serde(default)]
    pub on_deadline: OnDeadline,
    /// The seller's own rules, judged after the built-in ones.
    #[serde(default)]
    pub custom: Vec<CustomRule>,
}

impl RulesConfig {
    pub(super) fn validate(&self) -> Result<(), KeyError> {
        custom_rules::validate(&self.custom).map_err(|(key, message)| KeyError::new(key, message))
    }
}

/// `on_deadline = { at = 0.8, action = "refuse" }`: once `at` of an order's acceptance window
/// is gone and it is still flagged or undecided, vigie decides it, with reason `deadline`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnDeadline {
    #[serde(default = "OnDeadline::default_at")]
    pub at: WindowFraction,
    #[serde(default)]
    pub action: DeadlineAction,
}

impl OnDeadline {
    fn default_at() -> WindowFraction {
        WindowFraction(0.8)
    }
}

impl Default for OnDeadline {
    fn default() -> Self {
        Self {
            at: Self::default_at(),
            action: DeadlineAction::Nothing,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineAction {
    /// Leave the order to a human (the `deadline_missed` alert still comes at the deadline).
    #[default]
    Nothing,
    /// Accept what the stock allows (the rest as `on_insufficient_stock = "refuse"` would).
    Accept,
    Refuse,
}

/// A share of the acceptance window, above 0 and below 1: at the deadline itself the
/// marketplace may already have cancelled the order.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct WindowFraction(f64);

impl WindowFraction {
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for WindowFraction {
    type Error = String;

    fn try_from(value: f64) -> Result<Self, Self::Error> {
        if value > 0.0 && value < 1.0 {
            Ok(Self(value))
        } else {
            Err(format!(
                "{value} is not a share of the acceptance window: give a number above 0 and below 1 (0.8 = 80 % of the window)"
            ))
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsufficientStock {
    #[default]
    Refuse,
    Flag,
}
