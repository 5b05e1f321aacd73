//! Secrets come from exactly one place: the value itself, a file (`*_file`), or a systemd
//! credential (`*_credential`, read from `$CREDENTIALS_DIRECTORY`). Connectors read theirs
//! through the same [`Secrets`] trait.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use vigie_connector::spec::Secrets;

use super::{Environment, KeyError};

pub(super) struct SecretKeys<'a> {
    pub env: &'a Environment,
    /// Relative `*_file` paths are read from the configuration file's directory.
    pub base_dir: &'a Path,
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
            (Some(value), None, None) => value,
            (None, Some(path), None) => read(&file_key, &self.base_dir.join(path))?,
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
                read(&credential_key, &Path::new(dir).join(id))?
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

impl SecretKeys<'_> {
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
}

fn read(key: &str, path: &Path) -> Result<SecretString, KeyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| KeyError::new(key, format!("cannot read {}: {e}", path.display())))?;
    // Editors and `echo` add a final newline that is not part of the secret.
    Ok(SecretString::from(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}
