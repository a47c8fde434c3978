//! The fact set: one JSON object about a release, checked against `schemas/facts.schema.json`,
//! with `security.counts` derived from the findings, hashed in its canonical form.
//!
//! Fact documents are merged (objects key by key, anything else replaces), overridden with
//! `KEY=VALUE` pairs, and validated into [`Facts`], which every policy receives as the same
//! canonical JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ids::IssueId;
use crate::schema::{self, SchemaKind, Violation};

pub use crate::merge::{canonical_json, merge, set_path};

/// A validated fact set.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The fact set.
    pub value: Value,
    /// sha256 of its canonical JSON (RFC 8785, JCS).
    pub sha256: String,
    /// The canonical JSON itself: what every policy receives as `facts`, serialized once.
    pub json: String,
    /// Which input set each top-level section (and each score): a collector, a file, a flag.
    pub sources: BTreeMap<String, String>,
    /// Every file read to make the fact set: facts files and the collectors' inputs. A report
    /// is never written over one of them.
    pub inputs: Vec<PathBuf>,
    /// The finding waivers that took findings out of the fact set, with how many each took.
    pub waived: BTreeMap<String, usize>,
    /// What gathering the facts has to say in the report (a baseline that matched nothing).
    pub warnings: Vec<crate::ReportIssue>,
}

/// A fact set that cannot be used.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(feature = "diagnostics", derive(miette::Diagnostic))]
#[non_exhaustive]
pub enum FactsError {
    /// A facts file could not be read.
    #[error("{source}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("check the path given to `--facts`"))
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::files::ReadError,
    },
    /// A facts file is not JSON.
    #[error("facts file `{path}` is not valid JSON: {message} at line {line}, column {column}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("fix the JSON at that position"))
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// A facts file holds JSON that is not an object.
    #[error("facts file `{path}` holds a JSON {found}, not an object")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("a fact set is a JSON object such as `{{\"scores\": {{...}}, ...}}`"))
    )]
    NotObject {
        /// The file.
        path: PathBuf,
        /// What it holds.
        found: &'static str,
    },
    /// A `--fact` override is malformed.
    #[error("invalid `--fact {text}`: {reason}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "write overrides as `--fact scores.readiness=7.5` or `--fact security.gate=PASS`"
        ))
    )]
    Override {
        /// The override as given.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// The merged fact set breaks the schema.
    #[error(
        "the fact set does not match the facts schema: {}",
        schema::join(violations)
    )]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("see `preflight schema facts`; each problem names its JSON pointer"))
    )]
    Invalid {
        /// Every violation.
        violations: Vec<Violation>,
    },
}

impl FactsError {
    /// The stable id of the blocking issue this error becomes in a report.
    pub fn id(&self) -> IssueId {
        match self {
            FactsError::Read { .. } => IssueId::FactsUnreadable,
            FactsError::Parse { .. } | FactsError::NotObject { .. } => IssueId::FactsNotJson,
            FactsError::Override { .. } => IssueId::FactsBadOverride,
            FactsError::Invalid { .. } => IssueId::FactsInvalid,
        }
    }
}

/// Validates a fact set that is already in memory.
///
/// # Errors
/// [`FactsError::Invalid`] with every violation.
pub fn from_value(mut value: Value) -> Result<Facts, FactsError> {
    schema::validate(SchemaKind::Facts, &value)
        .map_err(|violations| FactsError::Invalid { violations })?;
    derive_counts(&mut value).map_err(|violation| FactsError::Invalid {
        violations: vec![violation],
    })?;
    check_custom_sizes(&value).map_err(|violation| FactsError::Invalid {
        violations: vec![violation],
    })?;
    let json = canonical_json(&value);
    let sha256 = crate::sandbox::sha256_hex(json.as_bytes());
    Ok(Facts {
        value,
        sha256,
        json,
        sources: BTreeMap::new(),
        inputs: Vec::new(),
        waived: BTreeMap::new(),
        warnings: Vec::new(),
    })
}

/// Refuses a custom section over its cap (1 MiB serialized).
fn check_custom_sizes(value: &Value) -> Result<(), Violation> {
    let Some(custom) = value.get("custom").and_then(Value::as_object) else {
        return Ok(());
    };
    for (namespace, section) in custom {
        let size = serde_json::to_vec(section).map_or(usize::MAX, |bytes| bytes.len());
        if size > preflight_sdk::facts::CUSTOM_SECTION_MAX_BYTES {
            return Err(Violation {
                pointer: format!("/custom/{namespace}"),
                message: format!(
                    "the custom section is {size} bytes, over the {}-byte limit",
                    preflight_sdk::facts::CUSTOM_SECTION_MAX_BYTES
                ),
            });
        }
    }
    Ok(())
}

/// Fills `security.counts` from `security.findings`, whoever wrote the fact set: a policy that
/// reads the counts must see every finding. Counts given with the facts must agree with the
/// findings (all zero when there are none).
fn derive_counts(value: &mut Value) -> Result<(), Violation> {
    use preflight_sdk::facts::{Finding, FindingCounts};
    let Some(security) = value.get_mut("security").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let invalid = |pointer: &str, message: String| Violation {
        pointer: pointer.to_owned(),
        message,
    };
    let findings: Vec<Finding> = match security.get("findings") {
        Some(findings) => serde_json::from_value(findings.clone())
            .map_err(|err| invalid("/security/findings", err.to_string()))?,
        None => Vec::new(),
    };
    let derived = FindingCounts::of(&findings);
    match security.get("counts") {
        Some(given) => {
            let given: FindingCounts = serde_json::from_value(given.clone())
                .map_err(|err| invalid("/security/counts", err.to_string()))?;
            if given != derived {
                return Err(invalid(
                    "/security/counts",
                    format!(
                        "the counts disagree with the findings ({} given, {} in `findings`; {} critical and {} high vulnerabilities given, {} and {} found); leave `counts` out and preflight derives it",
                        given.total,
                        derived.total,
                        given.vulnerability.critical,
                        given.vulnerability.high,
                        derived.vulnerability.critical,
                        derived.vulnerability.high,
                    ),
                ));
            }
        }
        None if !findings.is_empty() => {
            let counts = serde_json::to_value(derived)
                .map_err(|err| invalid("/security/counts", err.to_string()))?;
            security.insert("counts".to_owned(), counts);
        }
        None => {}
    }
    Ok(())
}

/// Reads one facts file as a JSON object.
///
/// # Errors
/// [`FactsError::Read`], [`FactsError::Parse`] or [`FactsError::NotObject`].
pub fn read_file(path: &Path) -> Result<Value, FactsError> {
    let text =
        crate::files::read_to_string(path, crate::files::InputKind::Facts).map_err(|source| {
            FactsError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
    let value: Value = crate::json::from_str(&text).map_err(|err| FactsError::Parse {
        path: path.to_owned(),
        message: crate::json::error_message(&err),
        line: err.line(),
        column: err.column(),
    })?;
    if !value.is_object() {
        return Err(FactsError::NotObject {
            path: path.to_owned(),
            found: crate::json::kind(&value),
        });
    }
    Ok(value)
}

/// Applies one `--fact KEY=VALUE` override to a fact document.
///
/// # Errors
/// [`FactsError::Override`] naming the override and what is wrong with it.
pub fn apply_override(value: &mut Value, text: &str) -> Result<(), FactsError> {
    let error = |reason: String| FactsError::Override {
        text: text.to_owned(),
        reason,
    };
    let (key, raw) = text
        .split_once('=')
        .ok_or_else(|| error("expected KEY=VALUE".to_owned()))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(error(format!(
            "`{key}` is not a dotted key like `scores.readiness`"
        )));
    }
    let parsed = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    set_path(value, key, parsed).map_err(error)
}
