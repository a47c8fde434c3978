//! `preflight.lock`: the exact policy modules a pipeline may run, by source, version and sha256.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock file's name, next to `preflight.toml`.
pub const FILE_NAME: &str = "preflight.lock";

/// A parsed lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// Format version (1).
    pub version: u32,
    /// One entry per module.
    #[serde(default, rename = "policy")]
    pub policies: Vec<LockEntry>,
}

/// One locked module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// Name from the module's metadata.
    pub name: String,
    /// Version from the module's metadata.
    pub version: String,
    /// The source as configured (`builtin:NAME` or a path relative to the config).
    pub source: String,
    /// sha256 of the module bytes.
    pub sha256: String,
    /// The custom fact sections the module reads, as its metadata declares them: a new
    /// requirement shows in the lock file's diff.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom: Vec<LockedCustom>,
}

/// A custom fact section a locked module declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedCustom {
    /// The namespace.
    pub namespace: String,
    /// Whether the module needs it.
    pub required: bool,
    /// sha256 of the schema the section must match (its canonical JSON).
    pub schema_sha256: String,
}

/// The lock file could not be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum LockError {
    /// Reading or writing failed.
    #[error("`{path}`: {message}")]
    #[diagnostic(help("regenerate it with `preflight policy lock`"))]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl LockFile {
    /// Reads a lock file; `None` when it does not exist.
    ///
    /// # Errors
    /// [`LockError::File`] when it exists but cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Option<LockFile>, LockError> {
        Ok(Self::load_hashed(path)?.map(|(lock, _)| lock))
    }

    /// [`LockFile::load`], with the sha256 of the bytes it was parsed from (what a decision
    /// record binds: read once, so the pins and the digest cannot come from different files).
    ///
    /// # Errors
    /// [`LockError::File`] when it exists but cannot be read or parsed.
    pub fn load_hashed(path: &Path) -> Result<Option<(LockFile, String)>, LockError> {
        if !path.exists() {
            return Ok(None);
        }
        let text =
            preflight_engine::files::read_to_string(path, preflight_engine::files::InputKind::Lock)
                .map_err(|err| LockError::File {
                    path: path.to_owned(),
                    message: err.to_string(),
                })?;
        let lock = Self::parse(path, &text)?;
        Ok(Some((
            lock,
            preflight_engine::sandbox::sha256_hex(text.as_bytes()),
        )))
    }

    /// Parses the text of a lock file.
    ///
    /// # Errors
    /// [`LockError::File`] naming `path` when the text is not a lock file.
    pub fn parse(path: &Path, text: &str) -> Result<LockFile, LockError> {
        let error = |message: String| LockError::File {
            path: path.to_owned(),
            message,
        };
        let lock: LockFile = toml::from_str(text).map_err(|err| error(err.message().to_owned()))?;
        if lock.version != 1 {
            return Err(error(format!(
                "lock file version {} is not supported (expected 1)",
                lock.version
            )));
        }
        Ok(lock)
    }

    /// Writes the lock file.
    ///
    /// # Errors
    /// [`LockError::File`].
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        let body = toml::to_string_pretty(self).map_err(|err| LockError::File {
            path: path.to_owned(),
            message: err.to_string(),
        })?;
        let text = format!(
            "# Written by `preflight policy lock`. Commit it; `preflight run --locked` runs only these modules.\n{body}"
        );
        preflight_engine::files::write_atomic(path, text.as_bytes()).map_err(|err| {
            LockError::File {
                path: path.to_owned(),
                message: err.source.to_string(),
            }
        })
    }

    /// The entry for a configured source.
    pub fn find(&self, source: &str) -> Option<&LockEntry> {
        self.policies.iter().find(|entry| entry.source == source)
    }
}
