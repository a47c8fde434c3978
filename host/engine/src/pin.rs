//! What a module must be before it is compiled: its sha256, its version, its signature. One
//! function, [`verify`], checks a module's bytes against a [`Pin`] for every command that loads
//! modules (`run`, `policy lock`, `policy pull`, `test`, `serve`).

use minisign_verify::{PublicKey, Signature};
use preflight_sdk::PolicyMetadata;

use crate::ids::IssueId;
use crate::sandbox::{self, PolicyError};

/// Constraints on a module's bytes and version, checked before it is compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pin {
    /// Expected sha256 digests and where each expectation comes from (`preflight.toml`,
    /// `preflight.lock`).
    pub sha256: Vec<(String, String)>,
    /// A semver requirement on the module's metadata version, and where it is written.
    pub version: Option<String>,
    /// Refuse the module unless a sha256 is pinned (`--locked`).
    pub locked: bool,
    /// A minisign signature the module must carry.
    pub signature: Option<SignaturePin>,
}

impl Pin {
    /// No constraint.
    pub fn none() -> Pin {
        Pin::default()
    }

    /// Requires the module's sha256 to be `sha256`, as `pinned_by` says.
    #[must_use]
    pub fn with_sha256(mut self, sha256: impl Into<String>, pinned_by: impl Into<String>) -> Pin {
        self.sha256.push((sha256.into(), pinned_by.into()));
        self
    }

    /// Requires the module's version to satisfy `requirement`.
    #[must_use]
    pub fn with_version(mut self, requirement: impl Into<String>) -> Pin {
        self.version = Some(requirement.into());
        self
    }

    /// Refuses the module unless a sha256 is pinned.
    #[must_use]
    pub fn locked(mut self, locked: bool) -> Pin {
        self.locked = locked;
        self
    }

    /// Requires a signature.
    #[must_use]
    pub fn with_signature(mut self, signature: SignaturePin) -> Pin {
        self.signature = Some(signature);
        self
    }
}

/// A signature requirement: the key from `preflight.toml`, the signature's text as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignaturePin {
    /// The minisign public key: the base64 line (`RW…`) or a whole `.pub` file's text.
    pub public_key: String,
    /// The signature file's text, or why it could not be had.
    pub signature: Result<String, String>,
    /// Where the signature came from, for messages.
    pub location: String,
    /// Where the requirement was written, for messages.
    pub pinned_by: String,
}

impl SignaturePin {
    /// A requirement with the signature's text (or why it is missing).
    pub fn new(
        public_key: impl Into<String>,
        signature: Result<String, String>,
        location: impl Into<String>,
        pinned_by: impl Into<String>,
    ) -> SignaturePin {
        SignaturePin {
            public_key: public_key.into(),
            signature,
            location: location.into(),
            pinned_by: pinned_by.into(),
        }
    }
}

/// Why a module's bytes are not the ones pinned.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(feature = "diagnostics", derive(miette::Diagnostic))]
#[non_exhaustive]
pub enum PinError {
    /// The module's bytes are not the pinned ones.
    #[error(
        "policy `{source_name}`: sha256 mismatch: expected {expected} ({pinned_by}), got {actual}"
    )]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "the module changed since it was approved: review it, then run `preflight policy lock` to pin the new bytes"
        ))
    )]
    DigestMismatch {
        /// The source.
        source_name: String,
        /// The pinned digest.
        expected: String,
        /// The module's digest.
        actual: String,
        /// Where the pin is.
        pinned_by: String,
    },
    /// The module's version is outside the requirement.
    #[error(
        "policy `{source_name}`: version {actual} does not satisfy the requirement `{requirement}`"
    )]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "pin a module whose metadata version matches, or change `version` in preflight.toml"
        ))
    )]
    VersionMismatch {
        /// The source.
        source_name: String,
        /// The requirement.
        requirement: String,
        /// The module's version.
        actual: String,
    },
    /// The version requirement does not parse.
    #[error(
        "policy `{source_name}`: `version = \"{requirement}\"` is not a version requirement: {message}"
    )]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("write a semver requirement such as `^1.2` or `>=1.0, <2`"))
    )]
    BadRequirement {
        /// The source.
        source_name: String,
        /// The requirement as written.
        requirement: String,
        /// The parser's message.
        message: String,
    },
    /// `--locked` and no sha256 is pinned.
    #[error(
        "policy `{source_name}` is not in preflight.lock, and --locked refuses unpinned modules"
    )]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("run `preflight policy lock` and commit preflight.lock"))
    )]
    NotLocked {
        /// The source.
        source_name: String,
    },
    /// The signature is missing or does not verify.
    #[error("policy `{source_name}`: {message}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "sign the approved module with `minisign -Sm MODULE` using the key whose public half is in preflight.toml"
        ))
    )]
    BadSignature {
        /// The source.
        source_name: String,
        /// What is wrong with the signature.
        message: String,
    },
    /// The module is not a valid policy (its metadata cannot be read).
    #[error(transparent)]
    #[cfg_attr(feature = "diagnostics", diagnostic(transparent))]
    Policy(#[from] PolicyError),
}

impl PinError {
    /// The stable id of the blocking issue this error becomes.
    pub fn id(&self) -> IssueId {
        match self {
            PinError::DigestMismatch { .. } => IssueId::PolicyDigestMismatch,
            PinError::VersionMismatch { .. } => IssueId::PolicyVersionMismatch,
            PinError::BadRequirement { .. } => IssueId::ConfigInvalid,
            PinError::NotLocked { .. } => IssueId::PolicyNotLocked,
            PinError::BadSignature { .. } => IssueId::PolicySignatureInvalid,
            PinError::Policy(err) => err.id(),
        }
    }
}

/// A module whose bytes passed every pin.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Verified {
    /// Lowercase hex sha256 of the bytes.
    pub sha256: String,
    /// The module's metadata.
    pub metadata: PolicyMetadata,
}

/// Checks a module's bytes against a pin: sha256 (and `--locked`), signature, version and
/// metadata. Nothing is compiled. `known_sha256` skips hashing bytes whose digest is known
/// (the built-in modules').
///
/// # Errors
/// The first [`PinError`] found, naming `source_name`.
pub fn verify(
    source_name: &str,
    bytes: &[u8],
    known_sha256: Option<&str>,
    pin: &Pin,
) -> Result<Verified, PinError> {
    let sha256 = known_sha256.map_or_else(|| sandbox::sha256_hex(bytes), str::to_owned);
    if pin.locked && pin.sha256.is_empty() {
        return Err(PinError::NotLocked {
            source_name: source_name.to_owned(),
        });
    }
    for (expected, pinned_by) in &pin.sha256 {
        if !expected.eq_ignore_ascii_case(&sha256) {
            return Err(PinError::DigestMismatch {
                source_name: source_name.to_owned(),
                expected: expected.clone(),
                actual: sha256,
                pinned_by: pinned_by.clone(),
            });
        }
    }
    if let Some(signature) = &pin.signature {
        verify_signature(signature, bytes).map_err(|message| PinError::BadSignature {
            source_name: source_name.to_owned(),
            message,
        })?;
    }
    let metadata = sandbox::metadata::read(source_name, bytes)?;
    if let Some(requirement) = &pin.version {
        let parsed =
            semver::VersionReq::parse(requirement).map_err(|err| PinError::BadRequirement {
                source_name: source_name.to_owned(),
                requirement: requirement.clone(),
                message: err.to_string(),
            })?;
        // The metadata reader has already refused a version that is not semver.
        let matches =
            semver::Version::parse(&metadata.version).is_ok_and(|version| parsed.matches(&version));
        if !matches {
            return Err(PinError::VersionMismatch {
                source_name: source_name.to_owned(),
                requirement: requirement.clone(),
                actual: metadata.version,
            });
        }
    }
    Ok(Verified { sha256, metadata })
}

/// Parses a minisign public key given as its base64 line or as a `.pub` file's text.
///
/// # Errors
/// A message saying what a key looks like.
pub fn public_key(text: &str) -> Result<PublicKey, String> {
    let text = text.trim();
    let parsed = if text.contains('\n') {
        PublicKey::decode(text)
    } else {
        PublicKey::from_base64(text)
    };
    parsed.map_err(|err| {
        format!("`public_key` is not a minisign public key ({err}): give the `RW…` line of the .pub file")
    })
}

fn verify_signature(pin: &SignaturePin, bytes: &[u8]) -> Result<(), String> {
    let key = public_key(&pin.public_key)?;
    let text = pin.signature.as_ref().map_err(Clone::clone)?;
    let location = &pin.location;
    let signature = Signature::decode(text)
        .map_err(|err| format!("`{location}` is not a minisign signature: {err}"))?;
    // Legacy (non-prehashed) signatures are accepted, as `minisign -V` accepts them.
    key.verify(bytes, &signature, true).map_err(|err| {
        let why = match err {
            minisign_verify::Error::UnexpectedKeyId => {
                "it was made with another key than the `public_key`".to_owned()
            }
            other => format!("it does not match the module's bytes ({other})"),
        };
        format!("the signature `{location}` does not verify: {why}")
    })
}
