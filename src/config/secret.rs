//! Secrets come from exactly one place: the value itself, a file (`*_file`), or a systemd
//! credential (`*_credential`, read from `$CREDENTIALS_DIRECTORY`).

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::{Environment, KeyError, invalid};

pub(super) struct SecretKeys<'a> {
    pub env: &'a Environment,
    /// Relative `*_file` paths are read from the configuration file's directory.
    pub base_dir: &'a Path,
}

impl SecretKeys<'_> {
    pub fn resolve(
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
            (None, Some(path), None) => self.read(&file_key, &self.base_dir.join(path))?,
            (None, None, Some(id)) => {
                if id.is_empty() || id.contains('/') {
                    return Err(invalid(
                        &credential_key,
                        format!("{id:?} is not a credential name"),
                    ));
                }
                let dir = self.env.get("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    invalid(
                        &credential_key,
                        "$CREDENTIALS_DIRECTORY is not set (start vigie with LoadCredential= or use {key}_file)"
                            .replace("{key}", key),
                    )
                })?;
                self.read(&credential_key, &Path::new(dir).join(id))?
            }
            (None, None, None) => {
                return Err(invalid(
                    key,
                    format!("is required: set {key}, {file_key} or {credential_key}"),
                ));
            }
            _ => {
                return Err(invalid(
                    key,
                    format!("set only one of {key}, {file_key} and {credential_key}"),
                ));
            }
        };
        if secret.expose_secret().trim().is_empty() {
            return Err(invalid(key, "is empty"));
        }
        Ok(secret)
    }

    fn read(&self, key: &str, path: &Path) -> Result<SecretString, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(key, format!("cannot read {}: {e}", path.display())))?;
        // Editors and `echo` add a final newline that is not part of the secret.
        Ok(SecretString::from(
            text.trim_end_matches(['\n', '\r']).to_owned(),
        ))
    }
}
