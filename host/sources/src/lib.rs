#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod http;
pub mod lock;
pub mod oci;
mod signature;
pub mod store;

use std::path::{Path, PathBuf};

use preflight_engine::IssueId;
use preflight_engine::files::{self, InputKind};

pub use signature::default_location as default_signature_location;

/// The largest module a source may give (64 MiB); more is refused, never buffered.
pub const MAX_MODULE_BYTES: usize = 64 << 20;

/// Where a policy module comes from. `PolicySource::parse` is the one place a source string
/// from `preflight.toml`, a flag or a lock file is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicySource {
    /// A module built into the binary: `builtin:NAME`.
    Builtin(String),
    /// A module file.
    File(PathBuf),
    /// A module over HTTPS (or HTTP): `https://…`. Must be pinned by sha256.
    Http(String),
    /// A module in an OCI registry: `oci://REGISTRY/REPO:TAG` or `…@sha256:HEX`. Must be
    /// pinned by sha256.
    Oci(String),
}

impl PolicySource {
    /// Reads a source string; a path is resolved against `base` (the config file's folder).
    ///
    /// # Errors
    /// A message naming the source when an `oci://` reference is malformed.
    pub fn parse(text: &str, base: &Path) -> Result<PolicySource, SourceError> {
        if let Some(name) = text.strip_prefix("builtin:") {
            Ok(PolicySource::Builtin(name.to_owned()))
        } else if text.starts_with("https://") || text.starts_with("http://") {
            Ok(PolicySource::Http(text.to_owned()))
        } else if text.starts_with(oci::SCHEME) {
            oci::parse(text).map_err(|message| SourceError::BadSource {
                source_name: text.to_owned(),
                message,
            })?;
            Ok(PolicySource::Oci(text.to_owned()))
        } else {
            Ok(PolicySource::File(base.join(text)))
        }
    }

    /// Whether the module comes over the network (and must be pinned).
    pub fn is_remote(&self) -> bool {
        matches!(self, PolicySource::Http(_) | PolicySource::Oci(_))
    }

    /// The source as the lock file records it: a path relative to `base` when it is under it.
    pub fn lock_key(&self, base: &Path) -> String {
        match self {
            PolicySource::File(path) => path
                .strip_prefix(base)
                .unwrap_or(path)
                .to_string_lossy()
                .replace('\\', "/"),
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for PolicySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicySource::Builtin(name) => write!(f, "builtin:{name}"),
            PolicySource::File(path) => write!(f, "{}", path.display()),
            PolicySource::Http(url) | PolicySource::Oci(url) => f.write_str(url),
        }
    }
}

/// A module or signature that could not be had.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum SourceError {
    /// The module file cannot be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Read(#[from] files::ReadError),
    /// No built-in policy has that name.
    #[error("there is no built-in policy `{name}`")]
    #[diagnostic(help("built-in policies: {}", preflight_engine::builtin::names().join(", ")))]
    UnknownBuiltin {
        /// The name.
        name: String,
    },
    /// The source string is malformed.
    #[error("policy source `{source_name}`: {message}")]
    BadSource {
        /// The source.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// A remote module cannot be had.
    #[error("policy `{source_name}`: {message}")]
    #[diagnostic(help(
        "pin remote policies with `sha256` (or `preflight policy lock`), and `preflight policy pull` them before going offline"
    ))]
    Remote {
        /// The URL or reference.
        source_name: String,
        /// What failed.
        message: String,
    },
    /// The module store cannot be written.
    #[error("the module store: {0}")]
    #[diagnostic(help("set PREFLIGHT_HOME to a writable folder"))]
    Store(String),
}

impl SourceError {
    /// The stable id of the blocking issue this error becomes.
    pub fn id(&self) -> IssueId {
        match self {
            SourceError::Read(_) => IssueId::PolicyUnreadable,
            SourceError::UnknownBuiltin { .. } => IssueId::PolicyUnknownBuiltin,
            SourceError::BadSource { .. } => IssueId::ConfigInvalid,
            SourceError::Remote { .. } | SourceError::Store(_) => IssueId::PolicyRemoteUnavailable,
        }
    }
}

/// A module's bytes, as a source gave them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Module {
    /// The bytes.
    pub bytes: std::borrow::Cow<'static, [u8]>,
    /// Their sha256 when it is known without hashing (built-in modules).
    pub known_sha256: Option<&'static str>,
}

impl Module {
    /// Bytes just downloaded.
    pub fn downloaded(bytes: Vec<u8>) -> Module {
        Module {
            bytes: bytes.into(),
            known_sha256: None,
        }
    }
}

/// Gets modules and signatures from their sources. Remote modules go through the
/// content-addressed store: read from it when present, downloaded (unless offline) and stored
/// when they match their pin. Async; it never builds a runtime, so it works from inside a
/// tokio program.
#[derive(Debug, Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    offline: bool,
    store: Option<PathBuf>,
}

impl Fetcher {
    /// A fetcher using the default store (`$PREFLIGHT_HOME/modules`).
    ///
    /// # Errors
    /// [`SourceError::Remote`] when the HTTP client cannot be built.
    pub fn new() -> Result<Fetcher, SourceError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|err| SourceError::Remote {
                source_name: "(client)".to_owned(),
                message: err.to_string(),
            })?;
        Ok(Fetcher {
            http,
            offline: false,
            store: store::default_dir(),
        })
    }

    /// Trusts the certificate authorities in `pem` (one or more PEM certificates) besides the
    /// built-in roots: a private registry or module server behind an internal CA.
    ///
    /// # Errors
    /// [`SourceError::Remote`] when `pem` holds no usable certificate.
    pub fn with_root_certificates(mut self, pem: &[u8]) -> Result<Fetcher, SourceError> {
        let error = |message: String| SourceError::Remote {
            source_name: "(certificates)".to_owned(),
            message,
        };
        let certificates =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|err| error(err.to_string()))?;
        if certificates.is_empty() {
            return Err(error("no PEM certificate found".to_owned()));
        }
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60));
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
        self.http = builder.build().map_err(|err| error(err.to_string()))?;
        Ok(self)
    }

    /// Never use the network: remote modules come from the store only (`--offline`).
    #[must_use]
    pub fn offline(mut self, offline: bool) -> Fetcher {
        self.offline = offline;
        self
    }

    /// Uses another store folder (`None`: no store; remote modules are always downloaded).
    #[must_use]
    pub fn with_store(mut self, dir: Option<PathBuf>) -> Fetcher {
        self.store = dir;
        self
    }

    /// The store folder.
    pub fn store(&self) -> Option<&Path> {
        self.store.as_deref()
    }

    /// The bytes of a module. A remote module must come with its pinned sha256: it is taken
    /// from the store when there, else downloaded and stored when it matches the pin (the pin
    /// itself is checked by `preflight_engine::pin::verify` before anything is compiled).
    ///
    /// # Errors
    /// A [`SourceError`] naming the source.
    pub async fn module(
        &self,
        source: &PolicySource,
        pinned_sha256: Option<&str>,
    ) -> Result<Module, SourceError> {
        match source {
            PolicySource::Builtin(name) => preflight_engine::builtin::find(name)
                .map(|builtin| Module {
                    bytes: std::borrow::Cow::Borrowed(builtin.wasm),
                    known_sha256: Some(builtin.sha256),
                })
                .ok_or_else(|| SourceError::UnknownBuiltin { name: name.clone() }),
            PolicySource::File(path) => Ok(Module {
                bytes: files::read(path, InputKind::Module)?.into(),
                known_sha256: None,
            }),
            PolicySource::Http(url) | PolicySource::Oci(url) => {
                let remote = |message: String| SourceError::Remote {
                    source_name: url.clone(),
                    message,
                };
                let Some(expected) = pinned_sha256 else {
                    return Err(remote(
                        "a remote policy must be pinned with `sha256` in preflight.toml or in preflight.lock".to_owned(),
                    ));
                };
                if let Some(bytes) = self
                    .store
                    .as_deref()
                    .and_then(|dir| store::get(dir, expected))
                {
                    return Ok(Module {
                        bytes: bytes.into(),
                        known_sha256: None,
                    });
                }
                if self.offline {
                    return Err(remote(format!(
                        "sha256 {expected} is not in the module store and --offline forbids downloading it"
                    )));
                }
                let bytes = self.download(source).await?;
                if preflight_engine::sandbox::sha256_hex(&bytes).eq_ignore_ascii_case(expected)
                    && let Some(dir) = &self.store
                {
                    store::put(dir, &bytes).map_err(SourceError::Store)?;
                }
                Ok(Module {
                    bytes: bytes.into(),
                    known_sha256: None,
                })
            }
        }
    }

    /// Downloads a remote module (HTTPS or OCI), whatever the store holds.
    ///
    /// # Errors
    /// [`SourceError::Remote`] naming the source.
    pub async fn download(&self, source: &PolicySource) -> Result<Vec<u8>, SourceError> {
        let remote = |message: String| SourceError::Remote {
            source_name: source.to_string(),
            message,
        };
        match source {
            PolicySource::Oci(reference) => oci::pull(reference).await.map_err(remote),
            PolicySource::Http(url) => http::download(&self.http, url, MAX_MODULE_BYTES)
                .await
                .map_err(remote),
            PolicySource::Builtin(_) | PolicySource::File(_) => {
                Err(remote("is not a remote source".to_owned()))
            }
        }
    }

    /// The text of a module's minisign signature: from the store for remote modules when it is
    /// there, else from its location (a path, or a URL downloaded unless offline).
    ///
    /// # Errors
    /// A message saying where the signature was looked for and why it is not there.
    pub async fn signature(
        &self,
        location: &str,
        module_sha256: &str,
        remote: bool,
    ) -> Result<String, String> {
        signature::read(self, location, module_sha256, remote).await
    }

    /// Keeps a verified signature of a remote module in the store, beside the module.
    pub fn keep_signature(&self, module_sha256: &str, text: &str) {
        signature::keep(self, module_sha256, text);
    }

    /// Puts bytes in the store under their sha256; returns it.
    ///
    /// # Errors
    /// [`SourceError::Store`] when there is no store or it cannot be written.
    pub fn put(&self, bytes: &[u8]) -> Result<String, SourceError> {
        let dir = self
            .store
            .as_deref()
            .ok_or_else(|| SourceError::Store("no store folder: set PREFLIGHT_HOME".to_owned()))?;
        store::put(dir, bytes).map_err(SourceError::Store)
    }

    /// The stored bytes with this sha256, when present and intact.
    pub fn stored(&self, sha256: &str) -> Option<Vec<u8>> {
        self.store
            .as_deref()
            .and_then(|dir| store::get(dir, sha256))
    }
}
