//! From a configured policy to a loaded one: fetch the bytes (`preflight-sources`), fetch the
//! signature, check every pin on the bytes (`preflight_engine::pin::verify`), then compile
//! (`Runtime::load`). Every command that loads policies goes through here, so `run`, `lock`,
//! `pull`, `test`, `canary` and `serve` apply the same checks.

use preflight_engine::{
    IssueId, LoadFailure, Pin, PinError, PolicyEntry, Runtime, SignaturePin, Verified, pin,
};
use preflight_sources::{Fetcher, Module, PolicySource, SourceError};

use crate::inputs::PolicySpec;

/// A module whose bytes passed every pin, not yet compiled.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The bytes.
    pub module: Module,
    /// The sha256 and metadata.
    pub verified: Verified,
    /// The signature's text, when one was required and verified.
    pub signature: Option<String>,
}

/// Why a policy could not be had or checked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// The bytes could not be had.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Source(#[from] SourceError),
    /// The bytes are not the pinned ones, or not a valid policy.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Pin(#[from] PinError),
    /// The module does not compile or breaks the ABI.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Policy(#[from] preflight_engine::PolicyError),
}

impl LoadError {
    /// The stable id of the blocking issue this error becomes.
    pub fn id(&self) -> IssueId {
        match self {
            LoadError::Source(err) => err.id(),
            LoadError::Pin(err) => err.id(),
            LoadError::Policy(err) => err.id(),
        }
    }
}

/// The pin of a spec, with the signature's text fetched.
async fn pin_of(fetcher: &Fetcher, spec: &PolicySpec, sha256: &str) -> Pin {
    let mut pin = Pin::none().locked(spec.locked);
    for (expected, pinned_by) in &spec.sha256 {
        pin = pin.with_sha256(expected, pinned_by);
    }
    if let Some(version) = &spec.version {
        pin = pin.with_version(version);
    }
    if let Some(signature) = &spec.signature {
        let source = spec.source.to_string();
        let location = signature
            .location
            .clone()
            .or_else(|| preflight_sources::default_signature_location(&source));
        let text = match &location {
            Some(location) => {
                fetcher
                    .signature(location, sha256, spec.source.is_remote())
                    .await
            }
            None => Err(format!(
                "name the module's signature with `signature = \"PATH-or-URL\"` in {}; an oci:// source has no default location",
                spec.pinned_by
            )),
        };
        pin = pin.with_signature(SignaturePin::new(
            signature.public_key.clone(),
            text,
            location.unwrap_or_default(),
            spec.pinned_by.clone(),
        ));
    }
    pin
}

/// How a remote module's bytes are had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// By its pin: from the store, else downloaded (what runs do; a remote module must be
    /// pinned).
    Pinned,
    /// Downloaded afresh whatever the store holds (what `policy lock` does to pin it).
    Fresh,
}

/// Fetches a policy's bytes and checks them against every pin; compiles nothing.
///
/// # Errors
/// A [`LoadError`] naming the source.
pub async fn check(
    fetcher: &Fetcher,
    spec: &PolicySpec,
    fetch: Fetch,
) -> Result<Checked, LoadError> {
    let pinned = spec.sha256.first().map(|(sha256, _)| sha256.as_str());
    let module = match fetch {
        Fetch::Fresh if spec.source.is_remote() => {
            Module::downloaded(fetcher.download(&spec.source).await?)
        }
        _ => fetcher.module(&spec.source, pinned).await?,
    };
    let sha256 = module.known_sha256.map_or_else(
        || preflight_engine::sandbox::sha256_hex(&module.bytes),
        str::to_owned,
    );
    let pin = pin_of(fetcher, spec, &sha256).await;
    let source = spec.source.to_string();
    let verified = pin::verify(&source, &module.bytes, Some(&sha256), &pin)?;
    let signature = pin.signature.and_then(|s| s.signature.ok());
    if spec.source.is_remote()
        && let Some(text) = &signature
    {
        fetcher.keep_signature(&verified.sha256, text);
    }
    Ok(Checked {
        module,
        verified,
        signature,
    })
}

/// Fetches, checks and compiles a policy: a policy entry ready to evaluate, or the failure that
/// blocks the run (with the error, for the diagnostic).
pub async fn entry(
    runtime: &Runtime,
    fetcher: &Fetcher,
    spec: &PolicySpec,
) -> (PolicyEntry, Option<LoadError>) {
    let source = spec.source.to_string();
    let mut sha256 = None;
    let loaded = async {
        let checked = check(fetcher, spec, Fetch::Pinned).await?;
        sha256 = Some(checked.verified.sha256.clone());
        Ok::<_, LoadError>(runtime.load_verified(
            &source,
            &checked.module.bytes,
            checked.verified,
        )?)
    }
    .await;
    match loaded {
        Ok(policy) => (
            PolicyEntry::loaded(policy, spec.settings.clone()).enforced(spec.enforce),
            None,
        ),
        Err(err) => {
            let failure = LoadFailure::new(err.id(), err.to_string()).with_sha256(sha256);
            (
                PolicyEntry::failed(source, failure)
                    .enforced(spec.enforce)
                    .with_settings(spec.settings.clone()),
                Some(err),
            )
        }
    }
}

/// Loads every spec; failures are printed as diagnostics and kept as failed entries.
pub async fn entries(
    runtime: &Runtime,
    fetcher: &Fetcher,
    specs: &[PolicySpec],
) -> Vec<PolicyEntry> {
    let mut entries = Vec::with_capacity(specs.len());
    for spec in specs {
        let (entry, error) = entry(runtime, fetcher, spec).await;
        if let Some(error) = error {
            crate::diagnostic::print(error);
        }
        entries.push(entry);
    }
    entries
}

/// A fetcher for a plan: the default store, offline when asked, trusting the CAs in
/// `$PREFLIGHT_CA_BUNDLE` when it is set.
///
/// # Errors
/// When the HTTP client cannot be built.
pub fn fetcher(offline: bool) -> Result<Fetcher, SourceError> {
    let fetcher = Fetcher::new()?.offline(offline);
    // A private CA for module servers and registries: `PREFLIGHT_CA_BUNDLE=ca.pem`.
    match std::env::var_os("PREFLIGHT_CA_BUNDLE").filter(|path| !path.is_empty()) {
        Some(path) => {
            let pem = preflight_engine::files::read(
                std::path::Path::new(&path),
                preflight_engine::files::InputKind::Config,
            )?;
            fetcher.with_root_certificates(&pem)
        }
        None => Ok(fetcher),
    }
}

/// The source a `--policy`-style argument names: `builtin:NAME`, a URL or an `oci://`
/// reference, else a path.
pub fn source_arg(text: &str) -> Result<PolicySource, SourceError> {
    PolicySource::parse(text, std::path::Path::new(""))
}
