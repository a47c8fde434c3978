//! Gathering the fact set: collectors, then `--facts` files merged in order, then `--fact`
//! overrides; the result is checked against `schemas/facts.schema.json`.

pub mod artifacts;
pub mod checklist;
pub mod coverage;
pub mod input;
pub mod junit;
mod merge;
pub mod security;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use preflight_sdk::facts::{Complexity, Project};
use serde_json::{Map, Value, json};

use crate::schema::{self, SchemaKind, Violation};

pub use merge::{canonical_json, merge, set_path};

/// Where the facts come from.
#[derive(Debug, Clone, Default)]
pub struct FactSources {
    /// Fact files, merged in order (objects deep-merge; arrays and scalars replace).
    pub files: Vec<PathBuf>,
    /// `a.b.c=VALUE` overrides applied last; VALUE is JSON when it parses, else a string.
    pub overrides: Vec<String>,
    /// The project folder the collectors look in.
    pub root: PathBuf,
    /// Run the collectors (off for `--no-collect`: replay a recorded fact set as it is).
    pub collect: bool,
    /// What the collectors read.
    pub collectors: Collectors,
}

/// What the collectors read, from `preflight.toml` and flags.
#[derive(Debug, Clone, Default)]
pub struct Collectors {
    /// Where the collectors' settings came from (a config file, or `default`).
    pub origin: String,
    /// Artifacts to check for.
    pub artifacts: artifacts::ArtifactSpec,
    /// Readiness score source.
    pub readiness: Option<checklist::ScoreSource>,
    /// MVP score source.
    pub mvp: Option<checklist::ScoreSource>,
    /// Scanner reports.
    pub security: Option<security::SecurityInputs>,
    /// JUnit reports.
    pub junit: Vec<String>,
    /// Coverage report.
    pub coverage: Option<coverage::CoverageInput>,
    /// Complexity, when configured.
    pub complexity: Option<Complexity>,
    /// Project identity, when configured.
    pub project: Option<Project>,
}

/// A validated fact set.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The fact set.
    pub value: Value,
    /// sha256 of its canonical JSON (sorted keys, no whitespace).
    pub sha256: String,
    /// The canonical JSON itself: what every policy receives as `facts`, serialized once.
    pub json: String,
    /// Which input set each top-level section (and each score): a collector, a file, a flag.
    pub sources: BTreeMap<String, String>,
    /// Every file read to make the fact set: facts files and the collectors' inputs. A report
    /// is never written over one of them.
    pub inputs: Vec<PathBuf>,
}

/// Facts that could not be gathered.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FactsError {
    /// A facts file could not be read.
    #[error("{source}")]
    #[diagnostic(help("check the path given to `--facts`"))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::files::ReadError,
    },
    /// A facts file is not JSON.
    #[error("facts file `{path}` is not valid JSON: {message} at line {line}, column {column}")]
    #[diagnostic(help("fix the JSON at that position"))]
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
    #[diagnostic(help("a fact set is a JSON object such as `{{\"scores\": {{...}}, ...}}`"))]
    NotObject {
        /// The file.
        path: PathBuf,
        /// What it holds.
        found: &'static str,
    },
    /// A `--fact` override is malformed.
    #[error("invalid `--fact {text}`: {reason}")]
    #[diagnostic(help(
        "write overrides as `--fact scores.readiness=7.5` or `--fact security.gate=PASS`"
    ))]
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
    #[diagnostic(help("see `preflight schema facts`; each problem names its JSON pointer"))]
    Invalid {
        /// Every violation.
        violations: Vec<Violation>,
    },
    /// A collector failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Collect(#[from] input::CollectError),
}

impl FactsError {
    /// Stable id for the blocking issue this error becomes in a report.
    pub fn id(&self) -> &'static str {
        match self {
            FactsError::Read { .. } => "facts.unreadable",
            FactsError::Parse { .. } | FactsError::NotObject { .. } => "facts.not_json",
            FactsError::Override { .. } => "facts.bad_override",
            FactsError::Invalid { .. } => "facts.invalid",
            FactsError::Collect(_) => "facts.collector_failed",
        }
    }
}

/// Gathers, merges, overrides and validates the fact set.
///
/// # Errors
/// A [`FactsError`] naming the file, override or JSON pointer at fault.
pub fn gather(sources: &FactSources) -> Result<Facts, FactsError> {
    let mut value = Value::Object(Map::new());
    let mut provenance = BTreeMap::new();
    let mut inputs = Vec::new();
    let mut layer = |value: &mut Value, overlay: Value, origin: &str| {
        record(&overlay, origin, &mut provenance);
        merge(value, overlay);
    };
    if sources.collect {
        for (overlay, origin) in collect(&sources.root, &sources.collectors, &mut inputs)? {
            layer(&mut value, overlay, &origin);
        }
    }
    for path in &sources.files {
        inputs.push(path.clone());
        layer(
            &mut value,
            read_file(path)?,
            &format!("--facts {}", path.display()),
        );
    }
    for text in &sources.overrides {
        let mut overlay = Value::Object(Map::new());
        apply_override(&mut overlay, text)?;
        layer(&mut value, overlay, &format!("--fact {text}"));
    }
    let mut facts = from_value(value)?;
    facts.sources = provenance;
    facts.inputs = inputs;
    Ok(facts)
}

/// Runs every configured collector; each result is one overlay with its origin. The files read
/// are added to `inputs`.
fn collect(
    root: &Path,
    c: &Collectors,
    inputs: &mut Vec<PathBuf>,
) -> Result<Vec<(Value, String)>, FactsError> {
    let origin = |what: &str| format!("{what} ({})", c.origin);
    let mut overlays = vec![(
        artifacts::collect(root, &c.artifacts)?,
        origin("artifact check"),
    )];
    if let Some(project) = &c.project {
        overlays.push((json!({ "project": project }), c.origin.clone()));
    }
    if let Some(complexity) = c.complexity {
        overlays.push((json!({ "complexity": complexity }), c.origin.clone()));
    }
    for (name, source) in [("readiness", &c.readiness), ("mvp", &c.mvp)] {
        let Some(source) = source else { continue };
        let score = checklist::score(root, name, source)?;
        match source {
            checklist::ScoreSource::Checklist { checklist, .. } => {
                inputs.push(root.join(checklist))
            }
            checklist::ScoreSource::Json { json, .. } => inputs.push(root.join(json)),
            checklist::ScoreSource::Fixed(_) => {}
        }
        let mut overlay = json!({ "scores": { name: score.value } });
        let what = match &score.checklist {
            Some(list) => {
                overlay["checklists"] = json!({ name: list });
                format!("checklist {}", list.path)
            }
            None => "score".to_owned(),
        };
        overlays.push((overlay, origin(&what)));
    }
    if let Some(reports) = &c.security {
        let section = security::collect(root, reports)?;
        if let Some(scans) = section.pointer("/security/scans").and_then(Value::as_array) {
            inputs.extend(
                scans
                    .iter()
                    .filter_map(|scan| scan.get("path").and_then(Value::as_str))
                    .map(|path| root.join(path)),
            );
        }
        overlays.push((section, origin("scanner reports")));
    }
    if !c.junit.is_empty() {
        let tests = junit::collect(root, &c.junit)?;
        inputs.extend(tests.files.iter().map(|path| root.join(path)));
        overlays.push((json!({ "tests": tests }), origin("JUnit")));
    }
    if let Some(input) = &c.coverage {
        let coverage = coverage::collect(root, input)?;
        inputs.push(root.join(&coverage.path));
        overlays.push((json!({ "coverage": coverage }), origin("coverage report")));
    }
    Ok(overlays)
}

/// Records which layer set each top-level section, and each score.
fn record(overlay: &Value, origin: &str, provenance: &mut BTreeMap<String, String>) {
    let Value::Object(map) = overlay else { return };
    for (key, value) in map {
        match (key.as_str(), value) {
            ("scores", Value::Object(scores)) => {
                for name in scores.keys() {
                    provenance.insert(format!("scores.{name}"), origin.to_owned());
                }
            }
            _ => {
                provenance.insert(key.clone(), origin.to_owned());
            }
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
    let json = canonical_json(&value);
    let sha256 = crate::sandbox::sha256_hex(json.as_bytes());
    Ok(Facts {
        value,
        sha256,
        json,
        sources: BTreeMap::new(),
        inputs: Vec::new(),
    })
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
        message: json_error_message(&err),
        line: err.line(),
        column: err.column(),
    })?;
    if !value.is_object() {
        return Err(FactsError::NotObject {
            path: path.to_owned(),
            found: json_kind(&value),
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

/// A serde_json error's message without its trailing position (reported separately).
pub fn json_error_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

/// `object`, `array`, `string`, ...
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
