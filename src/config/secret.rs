//! Secrets come from exactly one place: the value itself, a file (`*_file`), or a systemd
//! credential (`*_credential`, read from `$CREDENTIALS_DIRECTORY`). Connectors read theirs
//! through the same [`Secrets`] trait.
//!
//! A secret must be read from a plain file: a FIFO or a device is refused (reading one could
//! wait for ever). A file holding a secret that others than its owner may read (the
//! configuration file itself for a secret written inline) draws a warning with the `chmod` to
//! run.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use vigie_connector::spec::Secrets;

use super::{Environment, KeyError};

pub(super) struct SecretKeys<'a> {
    env: &'a Environment,
    /// The configuration file, which holds the secrets written inline.
    file: &'a Path,
    /// Relative `*_file` paths are read from the configuration file's directory.
    pub base_dir: &'a Path,
    /// Files holding a secret that others may read, each told once.
    exposed: RefCell<BTreeSet<PathBuf>>,
}

impl Secrets for SecretKeys<'_> {
    fn resolve(
        &self,
        key: &str,
        value: Option<SecretString>,
        file: Option<PathBuf>,
        credential: Option<String>,
    ) -> Result<SecretString, KeyError> {
        let file_key = format!("{key}_file");
        let credential_key = format!("{key}_credential");
        let secret = match (value, file, credential) {
            (Some(value), None, None) => {
                self.note_exposure(self.file);
                value
            }
            (None, Some(path), None) => self.read(&file_key, &self.base_dir.join(path))?,
            (None, None, Some(id)) => {
                if id.is_empty() || id.contains('/') {
                    return Err(KeyError::new(
                        credential_key,
                        format!("{id:?} is not a credential name"),
                    ));
                }
                let dir = self.env.get("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    KeyError::new(
                        &credential_key,
                        "$CREDENTIALS_DIRECTORY is not set (start vigie with LoadCredential= or use {key}_file)"
                            .replace("{key}", key),
                    )
                })?;
                self.read(&credential_key, &Path::new(dir).join(id))?
            }
            (None, None, None) => {
                return Err(KeyError::new(
                    key,
                    format!("is required: set {key}, {file_key} or {credential_key}"),
                ));
            }
            _ => {
                return Err(KeyError::new(
                    key,
                    format!("set only one of {key}, {file_key} and {credential_key}"),
                ));
            }
        };
        if secret.expose_secret().trim().is_empty() {
            return Err(KeyError::new(key, "is empty"));
        }
        Ok(secret)
    }
}

impl<'a> SecretKeys<'a> {
    /// The secrets of the configuration file `file`.
    pub fn new(env: &'a Environment, file: &'a Path) -> Self {
        Self {
            env,
            file,
            base_dir: file.parent().unwrap_or(Path::new(".")),
            exposed: RefCell::default(),
        }
    }

    /// One warning for each file holding a secret that others may read.
    pub fn warnings(self) -> Vec<String> {
        self.exposed
            .into_inner()
            .into_iter()
            .map(|path| {
                let path = path.display();
                format!("{path} holds a secret that others can read: run chmod 600 {path}")
            })
            .collect()
    }

    /// A secret that may be absent; when present, exactly one of its three spellings.
    pub fn optional(
        &self,
        key: &str,
        value: Option<SecretString>,
        file: Option<PathBuf>,
        credential: Option<String>,
    ) -> Result<Option<SecretString>, KeyError> {
        if value.is_none() && file.is_none() && credential.is_none() {
            return Ok(None);
        }
        self.resolve(key, value, file, credential).map(Some)
    }

    fn read(&self, key: &str, path: &Path) -> Result<SecretString, KeyError> {
        let cannot_read =
            |e: std::io::Error| KeyError::new(key, format!("cannot read {}: {e}", path.display()));
        // Before opening: opening a FIFO waits for a writer, and reading a device never ends.
        let metadata = std::fs::metadata(path).map_err(cannot_read)?;
        if !metadata.is_file() {
            return Err(KeyError::new(
                key,
                format!(
                    "{} is not a plain file (a FIFO, a device or a directory cannot hold a secret)",
                    path.display()
                ),
            ));
        }
        self.note_exposure(path);
        let text = std::fs::read_to_string(path).map_err(cannot_read)?;
        // Editors and `echo` add a final newline that is not part of the secret.
        Ok(SecretString::from(
            text.trim_end_matches(['\n', '\r']).to_owned(),
        ))
    }

    /// Notes `path` if its group or others may read it. A file that cannot be examined (a
    /// configuration given as text in a test) is no exposure.
    fn note_exposure(&self, path: &Path) {
        let readable_by_others =
            std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0);
        if readable_by_others {
            self.exposed.borrow_mut().insert(path.to_path_buf());
        }
    }
}
