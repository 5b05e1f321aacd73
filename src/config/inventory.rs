//! `[inventory]`: where the seller's stock snapshots come from.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use super::bounds::{self, DAY, SECOND};
use super::{HumanDuration, KeyError};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryConfig {
    #[serde(default)]
    pub source: InventorySource,
    /// The CSV file (`source = "csv"`).
    pub path: Option<PathBuf>,
    /// The JSON endpoint (`source = "http"`).
    pub url: Option<Url>,
    /// How often the JSON endpoint is read (`source = "http"`).
    pub interval: Option<HumanDuration>,
    #[serde(default)]
    pub safety_buffer: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventorySource {
    Csv,
    Http,
    #[default]
    Manual,
}

impl InventoryConfig {
    /// Each source names what it reads; the endpoint is read between every second and once
    /// a day.
    pub(super) fn validate(&self) -> Result<(), KeyError> {
        bounds::optional("interval", self.interval, SECOND..=DAY)?;
        match self.source {
            InventorySource::Csv if self.path.is_none() => {
                Err(KeyError::new("path", "is required when source = \"csv\""))
            }
            InventorySource::Http if self.url.is_none() => {
                Err(KeyError::new("url", "is required when source = \"http\""))
            }
            _ => Ok(()),
        }
    }
}
