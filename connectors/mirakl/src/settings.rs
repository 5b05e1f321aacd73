//! What a Mirakl channel needs, already validated by the daemon's config loader.

use std::num::NonZeroU32;
use std::time::Duration;

use secrecy::SecretString;
use vigie_connector::HttpSettings;

/// One Mirakl shop on one operator's instance.
#[derive(Debug, Clone)]
pub struct MiraklSettings {
    /// The operator's instance, e.g. `https://adeo-marketplace.mirakl.net`; `/api/...` is appended.
    pub base_url: url::Url,
    /// The shop API key, sent raw in `Authorization` (no `Bearer`).
    pub api_key: SecretString,
    /// Sent as `shop_id` on every call when the key reaches several shops.
    pub shop_id: Option<u64>,
    pub limits: MiraklLimits,
    /// What `decide` does when the shop refuses partial acceptance.
    pub partial_acceptance_fallback: PartialAcceptanceFallback,
    pub http: HttpSettings,
}

impl MiraklSettings {
    /// Settings with Mirakl's published limits and default HTTP behaviour.
    pub fn new(base_url: url::Url, api_key: SecretString) -> Self {
        Self {
            base_url,
            api_key,
            shop_id: None,
            limits: MiraklLimits::default(),
            partial_acceptance_fallback: PartialAcceptanceFallback::default(),
            http: HttpSettings::default(),
        }
    }
}

/// Per-operation call budgets. Defaults are the "maximum usage" Mirakl publishes per API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiraklLimits {
    /// OR11 polls (one poll may page through several requests). Mirakl: once per minute.
    pub orders_per_minute: NonZeroU32,
    /// STO01 stock imports. Mirakl: once per minute.
    pub stock_imports_per_minute: NonZeroU32,
    /// STO02 import status checks. Mirakl: once every 15 seconds.
    pub stock_status_every: Duration,
    /// STO03 error reports. Mirakl: once per minute.
    pub error_reports_per_minute: NonZeroU32,
}

impl Default for MiraklLimits {
    fn default() -> Self {
        Self {
            orders_per_minute: NonZeroU32::MIN,
            stock_imports_per_minute: NonZeroU32::MIN,
            stock_status_every: Duration::from_secs(15),
            error_reports_per_minute: NonZeroU32::MIN,
        }
    }
}

/// The whole-order decision to send when a mixed decision meets
/// `ORDER_PARTIAL_ACCEPTANCE_DISABLED`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PartialAcceptanceFallback {
    /// Refuse every line: never sells a unit vigie could not reserve.
    #[default]
    RefuseOrder,
    /// Accept every line (the seller prefers back-orders to refusals).
    AcceptOrder,
    /// Send nothing more and report a `Permanent` error so a human decides.
    Report,
}
