//! Running policies on a fact set and folding their results into one report.

use std::path::PathBuf;
use std::time::Instant;

use preflight_sdk::{Decision, Issue};
use serde_json::Value;

use crate::builtin;
use crate::facts::Facts;
use crate::report::{PolicyResult, Report, ReportIssue};
use crate::sandbox::{LogLine, Policy, PolicyError, Runtime, sha256_hex};

/// Where a policy module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// A module built into the binary.
    Builtin(String),
    /// A module file.
    File(PathBuf),
    /// A module fetched over HTTPS or from an OCI registry (`oci://`) into the
    /// content-addressed store; must be pinned.
    Remote(String),
}

impl std::fmt::Display for PolicySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicySource::Builtin(name) => write!(f, "builtin:{name}"),
            PolicySource::File(path) => write!(f, "{}", path.display()),
            PolicySource::Remote(url) => f.write_str(url),
        }
    }
}

/// A policy to run, with its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    /// Where the module comes from.
    pub source: PolicySource,
    /// Settings passed to the policy.
    pub settings: Value,
    /// Whether its decision counts.
    pub enforce: bool,
    /// What the module must be, checked before it is compiled.
    pub pin: Pin,
}

/// Constraints on a module's bytes and version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pin {
    /// Expected sha256 and where the expectation comes from (`preflight.toml`, `preflight.lock`).
    pub sha256: Vec<(String, String)>,
    /// A semver requirement on the module's metadata version.
    pub version: Option<String>,
    /// Refuse the module unless `sha256` is pinned (`--locked`).
    pub locked: bool,
    /// Never download: remote modules must already be in the store (`--offline`).
    pub offline: bool,
    /// A minisign signature the module must carry.
    pub signature: Option<crate::signature::SignaturePin>,
}

/// A module that could not be read or loaded.
#[derive(Debug)]
pub struct LoadFailure {
    /// The source.
    pub source: String,
    /// sha256 of the bytes when they could be read.
    pub sha256: Option<String>,
    /// What went wrong.
    pub error: Box<LoadError>,
}

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{source}")]
    #[diagnostic(help("check the path given to `--policy`"))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::files::ReadError,
    },
    /// No built-in policy has that name.
    #[error("there is no built-in policy `{name}`")]
    #[diagnostic(help("built-in policies: {}", builtin::BUILTINS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")))]
    UnknownBuiltin {
        /// The name.
        name: String,
    },
    /// The module's bytes are not the pinned ones.
    #[error(
        "policy `{source_name}`: sha256 mismatch: expected {expected} ({pinned_by}), got {actual}"
    )]
    #[diagnostic(help(
        "the module changed since it was approved: review it, then run `preflight policy lock` to pin the new bytes"
    ))]
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
    #[diagnostic(help(
        "pin a module whose metadata version matches, or change `version` in preflight.toml"
    ))]
    VersionMismatch {
        /// The source.
        source_name: String,
        /// The requirement.
        requirement: String,
        /// The module's version.
        actual: String,
    },
    /// A remote module could not be had.
    #[error("policy `{source_name}`: {message}")]
    #[diagnostic(help(
        "pin remote policies with `sha256` (or `preflight policy lock`), and `preflight policy pull` them before going offline"
    ))]
    Remote {
        /// The URL.
        source_name: String,
        /// What failed.
        message: String,
    },
    /// The module's signature is missing or does not verify.
    #[error("policy `{source_name}`: {message}")]
    #[diagnostic(help(
        "sign the approved module with `minisign -Sm MODULE` using the key whose public half is in preflight.toml"
    ))]
    BadSignature {
        /// The source.
        source_name: String,
        /// What is wrong with the signature.
        message: String,
    },
    /// `--locked` and the module is not in the lock file.
    #[error(
        "policy `{source_name}` is not in preflight.lock, and --locked refuses unpinned modules"
    )]
    #[diagnostic(help("run `preflight policy lock` and commit preflight.lock"))]
    NotLocked {
        /// The source.
        source_name: String,
    },
    /// The module is not a valid policy.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Policy(#[from] PolicyError),
}

impl LoadError {
    /// Stable id for the blocking issue this error becomes.
    pub fn id(&self) -> &'static str {
        match self {
            LoadError::Read { .. } => "policy.unreadable",
            LoadError::UnknownBuiltin { .. } => "policy.unknown_builtin",
            LoadError::DigestMismatch { .. } => "policy.digest_mismatch",
            LoadError::VersionMismatch { .. } => "policy.version_mismatch",
            LoadError::NotLocked { .. } => "policy.not_locked",
            LoadError::BadSignature { .. } => "policy.signature_invalid",
            LoadError::Remote { .. } => "policy.remote_unavailable",
            LoadError::Policy(err) => err.id(),
        }
    }
}

/// Issue ids the SDK gives when a policy could not do its work: its settings or its input did
/// not parse, or its output could not be written. They are errors (exit 2), not decisions.
pub const POLICY_ERROR_IDS: [&str; 3] =
    ["settings.invalid", "input.invalid", "output.unserializable"];

/// Whether a result is an error: the policy failed, or said it could not do its work.
pub fn is_error(result: &PolicyResult) -> bool {
    result.error.is_some()
        || result
            .blocking_issues
            .iter()
            .any(|issue| POLICY_ERROR_IDS.contains(&issue.id.as_str()))
}

/// A loaded policy with its spec.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The policy.
    pub policy: Policy,
    /// Its spec.
    pub spec: PolicySpec,
}

/// Reads and loads a policy module.
///
/// # Errors
/// A [`LoadFailure`] naming the source.
pub fn load(runtime: &Runtime, spec: &PolicySpec) -> Result<Loaded, LoadFailure> {
    let source = spec.source.to_string();
    let owned;
    let mut known_sha256 = None;
    let bytes: &[u8] = match &spec.source {
        PolicySource::Builtin(name) => match builtin::find(name) {
            Some(builtin) => {
                known_sha256 = Some(builtin.sha256);
                builtin.wasm
            }
            None => {
                return Err(LoadFailure {
                    source,
                    sha256: None,
                    error: Box::new(LoadError::UnknownBuiltin { name: name.clone() }),
                });
            }
        },
        PolicySource::File(path) => {
            owned = crate::files::read(path, crate::files::InputKind::Module).map_err(|err| {
                LoadFailure {
                    source: source.clone(),
                    sha256: None,
                    error: Box::new(LoadError::Read {
                        path: path.clone(),
                        source: err,
                    }),
                }
            })?;
            &owned
        }
        PolicySource::Remote(url) => {
            owned = remote(url, &spec.pin).map_err(|message| LoadFailure {
                source: source.clone(),
                sha256: None,
                error: Box::new(LoadError::Remote {
                    source_name: source.clone(),
                    message,
                }),
            })?;
            &owned
        }
    };
    let sha256 = known_sha256.map_or_else(|| sha256_hex(bytes), str::to_owned);
    let refuse = |error: LoadError| LoadFailure {
        source: source.clone(),
        sha256: Some(sha256.clone()),
        error: Box::new(error),
    };
    // Every check on the bytes happens before they are compiled.
    if spec.pin.locked && spec.pin.sha256.is_empty() {
        return Err(refuse(LoadError::NotLocked {
            source_name: source.clone(),
        }));
    }
    for (expected, pinned_by) in &spec.pin.sha256 {
        if !expected.eq_ignore_ascii_case(&sha256) {
            return Err(refuse(LoadError::DigestMismatch {
                source_name: source.clone(),
                expected: expected.clone(),
                actual: sha256.clone(),
                pinned_by: pinned_by.clone(),
            }));
        }
    }
    if let Some(pin) = &spec.pin.signature {
        let remote = matches!(spec.source, PolicySource::Remote(_));
        crate::signature::verify(pin, &source, &sha256, bytes, remote, spec.pin.offline).map_err(
            |message| {
                refuse(LoadError::BadSignature {
                    source_name: source.clone(),
                    message,
                })
            },
        )?;
    }
    if let Some(requirement) = &spec.pin.version {
        let metadata =
            crate::sandbox::metadata::read(&source, bytes).map_err(|err| refuse(err.into()))?;
        let matches = semver::VersionReq::parse(requirement)
            .ok()
            .zip(semver::Version::parse(&metadata.version).ok())
            .is_some_and(|(req, version)| req.matches(&version));
        if !matches {
            return Err(refuse(LoadError::VersionMismatch {
                source_name: source.clone(),
                requirement: requirement.clone(),
                actual: metadata.version,
            }));
        }
    }
    let policy = runtime
        .load_hashed(&source, bytes, sha256.clone())
        .map_err(|err| LoadFailure {
            source: source.clone(),
            sha256: Some(sha256.clone()),
            error: Box::new(err.into()),
        })?;
    Ok(Loaded {
        policy,
        spec: spec.clone(),
    })
}

/// The bytes of a pinned remote module: from the store, else downloaded (unless offline) and
/// stored. The pin check in [`load`] then compares them with every pin before compiling.
fn remote(url: &str, pin: &Pin) -> Result<Vec<u8>, String> {
    let Some((expected, _)) = pin.sha256.first() else {
        return Err(
            "a remote policy must be pinned with `sha256` in preflight.toml or in preflight.lock"
                .to_owned(),
        );
    };
    if let Some(bytes) = crate::store::get(expected) {
        return Ok(bytes);
    }
    if pin.offline {
        return Err(format!(
            "sha256 {expected} is not in the module store and --offline forbids downloading it"
        ));
    }
    let bytes = crate::store::fetch(url)?;
    if crate::sandbox::sha256_hex(&bytes).eq_ignore_ascii_case(expected) {
        crate::store::put(&bytes)?;
    }
    Ok(bytes)
}

/// The logs of one policy's evaluation, for `--verbose`.
#[derive(Debug, Clone)]
pub struct PolicyLogs {
    /// The policy.
    pub policy: String,
    /// Its lines.
    pub lines: Vec<LogLine>,
    /// Lines dropped at the cap.
    pub dropped: usize,
}

/// Evaluates one loaded policy on the facts.
pub fn run_one(runtime: &Runtime, loaded: &Loaded, facts: &Facts) -> (PolicyResult, PolicyLogs) {
    let policy = &loaded.policy;
    let name = policy.metadata.name.clone();
    let started = Instant::now();
    let bytes = policy_input(&facts.json, &loaded.spec.settings);
    let result = runtime.evaluate(policy, &bytes);
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut result_entry = PolicyResult {
        name: name.clone(),
        version: Some(policy.metadata.version.clone()),
        sha256: Some(policy.sha256.clone()),
        source: policy.source.clone(),
        enforced: loaded.spec.enforce,
        decision: Decision::NoGo,
        blocking_issues: Vec::new(),
        warnings: Vec::new(),
        details: Value::Object(serde_json::Map::new()),
        elapsed_ms,
        fuel_used: None,
        error: None,
    };
    let logs = match result {
        Ok(evaluation) => {
            let output = evaluation.output;
            result_entry.decision = output.effective_decision();
            result_entry.blocking_issues = output.blocking_issues;
            result_entry.warnings = output.warnings;
            result_entry.details = output.details;
            result_entry.fuel_used = Some(evaluation.fuel_used);
            PolicyLogs {
                policy: name,
                lines: evaluation.logs,
                dropped: evaluation.logs_dropped,
            }
        }
        Err(failure) => {
            result_entry.blocking_issues =
                vec![Issue::new(failure.error.id(), failure.error.to_string())];
            result_entry.error = Some(failure.error.to_string());
            PolicyLogs {
                policy: name,
                lines: failure.logs,
                dropped: failure.logs_dropped,
            }
        }
    };
    (result_entry, logs)
}

/// The policy input (`preflight_sdk::PolicyInput` on the guest side): the fact set's JSON,
/// serialized once per run, spliced in as it is.
fn policy_input(facts_json: &str, settings: &Value) -> Vec<u8> {
    let settings = settings.to_string();
    let mut bytes = Vec::with_capacity(facts_json.len() + settings.len() + 24);
    bytes.extend_from_slice(b"{\"facts\":");
    bytes.extend_from_slice(facts_json.as_bytes());
    bytes.extend_from_slice(b",\"settings\":");
    bytes.extend_from_slice(settings.as_bytes());
    bytes.push(b'}');
    bytes
}

/// A failed load as a policy result that blocks.
pub fn failed_load(failure: &LoadFailure, enforce: bool) -> PolicyResult {
    PolicyResult {
        name: failure.source.clone(),
        version: None,
        sha256: failure.sha256.clone(),
        source: failure.source.clone(),
        enforced: enforce,
        decision: Decision::NoGo,
        blocking_issues: vec![Issue::new(failure.error.id(), failure.error.to_string())],
        warnings: Vec::new(),
        details: Value::Object(serde_json::Map::new()),
        elapsed_ms: 0.0,
        fuel_used: None,
        error: Some(failure.error.to_string()),
    }
}

/// Folds policy results into the report.
///
/// The overall decision is the most severe among enforced policies; a failed policy is `NO_GO`
/// even when it is not enforced, because the run can no longer be trusted; no enforced policy
/// at all is `NO_GO`.
pub fn assemble(facts: Option<&Facts>, results: Vec<PolicyResult>, dry_run: bool) -> Report {
    let mut report = Report {
        mode: None,
        weights: None,
        scores: None,
        complexity: None,
        penalty: None,
        risk_score: None,
        thresholds: None,
        decision: Decision::NoGo,
        blocking_issues: Vec::new(),
        warnings: Vec::new(),
        artifacts_missing: Vec::new(),
        policies: Vec::new(),
        facts_sha256: facts.map(|facts| facts.sha256.clone()),
        preflight_version: env!("CARGO_PKG_VERSION").to_owned(),
        dry_run,
        sources: std::collections::BTreeMap::new(),
    };
    if let Some(facts) = facts {
        report.artifacts_missing = facts
            .value
            .pointer("/artifacts/missing")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
    }
    if let Some(gate) = results
        .iter()
        .find(|result| result.name == builtin::GATE && result.error.is_none())
    {
        report.fill_from_gate(&gate.details);
    }
    let mut decision: Option<Decision> = None;
    for result in &results {
        let failed = result.error.is_some();
        if result.enforced || failed {
            decision = Some(decision.map_or(result.decision, |d| d.worst(result.decision)));
            for issue in &result.blocking_issues {
                report
                    .blocking_issues
                    .push(ReportIssue::from_issue(&result.name, issue));
            }
        } else {
            for issue in &result.blocking_issues {
                let mut issue = ReportIssue::from_issue(&result.name, issue);
                issue.message = format!("(not enforced) {}", issue.message);
                report.warnings.push(issue);
            }
        }
        for issue in &result.warnings {
            report
                .warnings
                .push(ReportIssue::from_issue(&result.name, issue));
        }
    }
    report.decision = match decision {
        Some(decision) => decision,
        None => {
            report.blocking_issues.push(ReportIssue {
                policy: "preflight".to_owned(),
                id: "policy.none_enforced".to_owned(),
                message: "no enforced policy ran, so nothing allows the release".to_owned(),
                locations: Vec::new(),
            });
            Decision::NoGo
        }
    };
    report.policies = results;
    report
}

/// A report for a run that failed before any policy could run (bad facts, bad config).
pub fn failed_report(id: &str, message: String, dry_run: bool) -> Report {
    let mut report = assemble(None, Vec::new(), dry_run);
    report.blocking_issues = vec![ReportIssue {
        policy: "preflight".to_owned(),
        id: id.to_owned(),
        message,
        locations: Vec::new(),
    }];
    report
}
