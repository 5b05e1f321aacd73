//! The one place of the application that names marketplace kinds. A channel's `kind` picks
//! the connector crate that reads the rest of its `[[channel]]` table, checks it, says what
//! its marketplace implies by default, and builds its client. A new marketplace is a new
//! crate under `connectors/` and one line in [`CONNECTORS`].

use std::sync::Arc;

use config::{Map, Value, ValueKind};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use vigie_connector::spec::{ChannelSettings, ChannelSpec, KeyError, Secrets};

/// Every marketplace vigie speaks to.
static CONNECTORS: &[Connector] = &[
    Connector::of::<vigie_mirakl::MiraklChannel>(),
    Connector::of::<vigie_fnac::FnacChannel>(),
    Connector::of::<vigie_amazon::AmazonChannel>(),
];

/// The connector whose `kind` this is.
pub fn find(kind: &str) -> Option<&'static Connector> {
    CONNECTORS.iter().find(|c| c.kind == kind)
}

/// The connectors other than `this`.
pub fn others(this: &Connector) -> impl Iterator<Item = &'static Connector> {
    CONNECTORS.iter().filter(move |c| c.kind != this.kind)
}

/// A key path that did not deserialize, as the configuration loader reports it.
pub type PathError = serde_path_to_error::Error<config::ConfigError>;

/// Why a connector could not read its keys.
pub enum Unreadable {
    /// A key the connector does not know, or a value of the wrong type.
    Keys(Box<PathError>),
    /// The connector's own check, with the key inside the channel's table.
    Invalid(KeyError),
}

/// A connector crate, as the configuration loader calls it.
pub struct Connector {
    pub kind: &'static str,
    check: fn(Value) -> Result<(), Unreadable>,
    read: Read,
}

type Read = fn(Value, &dyn Secrets) -> Result<Arc<dyn ChannelSettings>, Unreadable>;

impl Connector {
    const fn of<S: ChannelSpec + 'static>() -> Self {
        Self {
            kind: S::KIND,
            check: |placed| in_place::<S>(placed).map(drop),
            read: |placed, secrets| {
                let keys = in_place::<S>(placed)?;
                let settings = keys.validate(secrets).map_err(Unreadable::Invalid)?;
                Ok(Arc::new(settings))
            },
        }
    }

    /// Whether a [`place`]d table deserializes as this connector's keys; nothing is checked
    /// beyond the keys and the types of their values, and no secret is read.
    pub fn check(&self, placed: Value) -> Result<(), Unreadable> {
        (self.check)(placed)
    }

    /// Reads and checks this connector's keys from a [`place`]d table.
    pub fn read(
        &self,
        placed: Value,
        secrets: &dyn Secrets,
    ) -> Result<Arc<dyn ChannelSettings>, Unreadable> {
        (self.read)(placed, secrets)
    }
}

/// Puts a channel's table back where it sits in the file, at `channel[index]`, so that what
/// deserializes it names the full key path, exactly as when the whole file is read at once.
pub fn place(index: usize, table: Value) -> Value {
    let mut channels = vec![Value::new(None, ValueKind::Nil); index];
    channels.push(table);
    let mut root = Map::new();
    root.insert(
        "channel".to_owned(),
        Value::new(None, ValueKind::Array(channels)),
    );
    Value::new(None, ValueKind::Table(root))
}

/// Deserializes what [`place`] put back.
pub fn in_place<T: DeserializeOwned>(placed: Value) -> Result<T, Unreadable> {
    #[derive(Deserialize)]
    #[serde(bound = "T: DeserializeOwned")]
    struct File<T> {
        channel: Vec<Option<T>>,
    }
    let file: File<T> =
        serde_path_to_error::deserialize(placed).map_err(|e| Unreadable::Keys(Box::new(e)))?;
    // The padding reads as `None`; the table itself never does (TOML has no null).
    file.channel
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| Unreadable::Invalid(KeyError::new("", "is empty")))
}
