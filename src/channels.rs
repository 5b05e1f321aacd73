//! Turns configured channels into connectors behind the [`Marketplace`] trait: the only
//! place that knows which crate serves which `kind`.

use std::sync::Arc;

use vigie_connector::{ConnectorError, Marketplace};
use vigie_fnac::Fnac;
use vigie_mirakl::Mirakl;

use crate::config::{Config, MarketplaceConfig};
use crate::pipeline::Channel;

#[derive(Debug, thiserror::Error)]
#[error("channel {channel}: {source}")]
pub struct BuildError {
    channel: String,
    source: ConnectorError,
}

pub fn build(config: &Config) -> Result<Vec<Channel>, BuildError> {
    config
        .channels
        .iter()
        .map(|c| {
            let built: Result<Arc<dyn Marketplace>, ConnectorError> = match &c.marketplace {
                MarketplaceConfig::Mirakl(s) => {
                    Mirakl::new(&c.name, s.clone()).map(|m| Arc::new(m) as _)
                }
                MarketplaceConfig::Fnac(s) => {
                    Fnac::new(&c.name, s.clone()).map(|f| Arc::new(f) as _)
                }
            };
            let marketplace = built.map_err(|source| BuildError {
                channel: c.name.clone(),
                source,
            })?;
            Ok(Channel {
                config: c.clone(),
                marketplace,
            })
        })
        .collect()
}
