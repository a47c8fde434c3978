//! Case files: one JSON file per decision case, run natively against the policy function in
//! `cargo test` and as wasm through the host by `preflight test`. One source of truth.
//!
//! ```json
//! {
//!   "name": "seed example",
//!   "facts": { "scores": { "readiness": 7.0, "mvp": 7.0 }, "security": { "gate": "PASS" },
//!              "complexity": "medium" },
//!   "settings": { "mode": "B" },
//!   "expect": { "decision": "GO", "blocking_issues": [], "details": { "risk_score": 30.0 } }
//! }
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::policy::{Decision, Issue, PolicyInput, PolicyOutput};

/// One decision case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// The fact set, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<Value>,
    /// A fact set file, relative to the case file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts_file: Option<PathBuf>,
    /// Settings passed to the policy.
    #[serde(default = "empty_object")]
    pub settings: Value,
    /// What the policy must return.
    pub expect: Expectation,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// What a case expects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Exactly these blocking-issue ids, in any order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking_issues: Option<Vec<String>>,
    /// At least these blocking-issue ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking_issues_include: Option<Vec<String>>,
    /// Exactly these warning ids, in any order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    /// At least these warning ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings_include: Option<Vec<String>>,
    /// A subset of `details`: every key given must be present with an equal value (numbers within
    /// 1e-9); arrays must match element by element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// The evaluation must fail with an error whose message contains this text (host only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A case file that could not be read.
#[derive(Debug)]
pub struct CaseError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "case file `{}`: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for CaseError {}

impl Case {
    /// Reads one case file.
    ///
    /// # Errors
    /// When the file cannot be read or is not a valid case.
    pub fn load(path: &Path) -> Result<Case, CaseError> {
        let error = |message: String| CaseError {
            path: path.to_owned(),
            message,
        };
        let text = read_bounded(path).map_err(error)?;
        let yaml = path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml");
        let mut case: Case = if yaml {
            serde_norway::from_str(&text).map_err(|err| error(err.to_string()))?
        } else {
            serde_json::from_str(&text).map_err(|err| {
                error(format!(
                    "line {}, column {}: {err}",
                    err.line(),
                    err.column()
                ))
            })?
        };
        if case.facts.is_some() == case.facts_file.is_some() {
            return Err(error(
                "give exactly one of `facts` and `facts_file`".to_owned(),
            ));
        }
        if let Some(file) = case.facts_file.take() {
            let file = path.parent().unwrap_or(Path::new(".")).join(file);
            let text = read_bounded(&file)
                .map_err(|err| error(format!("facts file `{}`: {err}", file.display())))?;
            let facts = serde_json::from_str(&text)
                .map_err(|err| error(format!("facts file `{}`: {err}", file.display())))?;
            case.facts = Some(facts);
            case.facts_file = Some(file);
        }
        Ok(case)
    }

    /// Reads every `*.json`, `*.yaml` and `*.yml` case file in a folder, sorted by file name.
    ///
    /// # Errors
    /// When the folder or any case file cannot be read.
    pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Case)>, CaseError> {
        let entries = std::fs::read_dir(dir).map_err(|err| CaseError {
            path: dir.to_owned(),
            message: err.to_string(),
        })?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|err| CaseError {
                path: dir.to_owned(),
                message: err.to_string(),
            })?;
            let path = entry.path();
            if path
                .extension()
                .is_some_and(|ext| ext == "json" || ext == "yaml" || ext == "yml")
            {
                paths.push(path);
            }
        }
        paths.sort();
        let loaded: Vec<(PathBuf, Result<Case, CaseError>)> = paths
            .into_iter()
            .map(|path| {
                let case = Case::load(&path);
                (path, case)
            })
            .collect();
        // A fact set another case reads (`facts_file`) is not a case.
        let fact_files: Vec<PathBuf> = loaded
            .iter()
            .filter_map(|(_, case)| case.as_ref().ok()?.facts_file.as_ref()?.canonicalize().ok())
            .collect();
        loaded
            .into_iter()
            .filter(|(path, _)| {
                path.canonicalize()
                    .map_or(true, |path| !fact_files.contains(&path))
            })
            .map(|(path, case)| case.map(|case| (path, case)))
            .collect()
    }

    /// The facts, as given inline or read from `facts_file`.
    pub fn facts(&self) -> &Value {
        static NULL: Value = Value::Null;
        self.facts.as_ref().unwrap_or(&NULL)
    }

    /// The policy input for this case, for a native run.
    ///
    /// # Errors
    /// When the facts do not deserialize into a fact set.
    pub fn input(&self) -> Result<PolicyInput, String> {
        let facts: crate::FactSet = serde_json::from_value(self.facts().clone())
            .map_err(|err| format!("the case facts are not a fact set: {err}"))?;
        // What the host's schema refuses, refused here too: a misspelt key (`coverge`) would
        // otherwise be ignored natively and fail only in `preflight test`.
        let mut problems = Vec::new();
        // A release fact set (scores, security, complexity) or a canary one, as the schema says.
        if let Value::Object(given) = self.facts()
            && !given.contains_key("canary")
        {
            for required in ["scores", "security", "complexity"] {
                if !given.contains_key(required) {
                    problems.push(format!("at `/`: \"{required}\" is a required property"));
                }
            }
        }
        let read = serde_json::to_value(&facts).unwrap_or(Value::Null);
        unknown_keys(self.facts(), &read, "", &mut problems);
        if !problems.is_empty() {
            return Err(format!(
                "the fact set does not match the facts schema: {}",
                problems.join("; ")
            ));
        }
        Ok(PolicyInput {
            facts,
            settings: self.settings.clone(),
        })
    }

    /// Compares an output with the expectation; returns one line per mismatch.
    pub fn check(&self, output: &PolicyOutput) -> Vec<String> {
        let expect = &self.expect;
        let mut problems = Vec::new();
        if expect.error.is_some() {
            problems.push(format!(
                "expected an error, got decision {}",
                output.effective_decision()
            ));
        }
        if let Some(decision) = expect.decision
            && output.effective_decision() != decision
        {
            problems.push(format!(
                "decision: expected {decision}, got {}",
                output.effective_decision()
            ));
        }
        check_ids(
            "blocking_issues",
            &output.blocking_issues,
            expect.blocking_issues.as_deref(),
            true,
            &mut problems,
        );
        check_ids(
            "blocking_issues",
            &output.blocking_issues,
            expect.blocking_issues_include.as_deref(),
            false,
            &mut problems,
        );
        check_ids(
            "warnings",
            &output.warnings,
            expect.warnings.as_deref(),
            true,
            &mut problems,
        );
        check_ids(
            "warnings",
            &output.warnings,
            expect.warnings_include.as_deref(),
            false,
            &mut problems,
        );
        if let Some(details) = &expect.details {
            subset("details", details, &output.details, &mut problems);
        }
        problems
    }

    /// Compares an evaluation error with the expectation; returns one line per mismatch.
    pub fn check_error(&self, message: &str) -> Vec<String> {
        match &self.expect.error {
            Some(expected) if message.contains(expected.as_str()) => Vec::new(),
            Some(expected) => vec![format!(
                "error: expected a message containing `{expected}`, got `{message}`"
            )],
            None => vec![format!("unexpected error: {message}")],
        }
    }
}

/// Keys in `given` that did not survive reading it as a fact set: keys no fact has.
fn unknown_keys(given: &Value, read: &Value, pointer: &str, problems: &mut Vec<String>) {
    match (given, read) {
        (Value::Object(given), Value::Object(read)) => {
            for (key, value) in given {
                let at = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                match read.get(key) {
                    Some(kept) => unknown_keys(value, kept, &at, problems),
                    // `null` for an optional fact reads as absent.
                    None if value.is_null() => {}
                    None => problems.push(format!(
                        "at `{}`: unknown key `{key}` (no fact has it: a typo?)",
                        if pointer.is_empty() { "/" } else { pointer }
                    )),
                }
            }
        }
        (Value::Array(given), Value::Array(read)) => {
            for (index, (value, kept)) in given.iter().zip(read).enumerate() {
                unknown_keys(value, kept, &format!("{pointer}/{index}"), problems);
            }
        }
        _ => {}
    }
}

fn check_ids(
    field: &str,
    issues: &[Issue],
    expected: Option<&[String]>,
    exact: bool,
    problems: &mut Vec<String>,
) {
    let Some(expected) = expected else { return };
    let mut actual: Vec<&str> = issues.iter().map(|issue| issue.id.as_str()).collect();
    actual.sort_unstable();
    actual.dedup();
    let missing: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|id| !actual.contains(id))
        .collect();
    let extra: Vec<&str> = actual
        .iter()
        .copied()
        .filter(|id| !expected.iter().any(|e| e == id))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{field}: expected ids {missing:?} are missing (got {actual:?})"
        ));
    }
    if exact && !extra.is_empty() {
        problems.push(format!("{field}: unexpected ids {extra:?}"));
    }
}

/// Checks that every part of `expected` is in `actual`.
fn subset(path: &str, expected: &Value, actual: &Value, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => {
            for (key, value) in expected {
                let child = format!("{path}.{key}");
                match actual.get(key) {
                    Some(actual) => subset(&child, value, actual, problems),
                    None => problems.push(format!("{child}: missing, expected {value}")),
                }
            }
        }
        (Value::Array(expected), Value::Array(actual)) if expected.len() == actual.len() => {
            for (index, (e, a)) in expected.iter().zip(actual).enumerate() {
                subset(&format!("{path}[{index}]"), e, a, problems);
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            let equal = match (e.as_f64(), a.as_f64()) {
                (Some(e), Some(a)) => (e - a).abs() <= 1e-9 * e.abs().max(1.0),
                _ => e == a,
            };
            if !equal {
                problems.push(format!("{path}: expected {e}, got {a}"));
            }
        }
        (expected, actual) if expected == actual => {}
        (expected, actual) => problems.push(format!("{path}: expected {expected}, got {actual}")),
    }
}

/// Runs every case file in `dir` natively against `evaluate` and returns a report of the
/// failures, or `Ok` with the number of cases run.
///
/// ```no_run
/// # fn evaluate(input: preflight_sdk::PolicyInput) -> preflight_sdk::PolicyOutput { todo!() }
/// #[test]
/// fn cases() {
///     let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
///     preflight_sdk::testing::run_cases(&dir, evaluate).unwrap();
/// }
/// ```
///
/// # Errors
/// A message listing every failed case and why, or why the cases could not be read.
pub fn run_cases(dir: &Path, evaluate: fn(PolicyInput) -> PolicyOutput) -> Result<usize, String> {
    check_each(dir, |case| check_natively(case, evaluate))
}

/// Checks every case file in `dir` with `check`: how many there are, or a report of every
/// problem, each line naming its case and file.
fn check_each(dir: &Path, check: impl Fn(&Case) -> Vec<String>) -> Result<usize, String> {
    let cases = Case::load_dir(dir).map_err(|err| err.to_string())?;
    if cases.is_empty() {
        return Err(format!("no case files in `{}`", dir.display()));
    }
    let mut report = String::new();
    for (path, case) in &cases {
        for problem in check(case) {
            let _ = writeln!(report, "{} ({}): {problem}", case.name, path.display());
        }
    }
    if report.is_empty() {
        Ok(cases.len())
    } else {
        Err(report)
    }
}

/// Runs every case file in `dir` natively as the host would: like [`run_cases`], and first
/// checks each case's settings against the settings schema in the policy's metadata and its
/// custom fact sections against theirs, so a misspelt setting fails natively as it fails in
/// `preflight test` (an error a case can expect with `expect.error`).
///
/// ```no_run
/// # fn evaluate(input: preflight_sdk::PolicyInput) -> preflight_sdk::PolicyOutput { todo!() }
/// # const PREFLIGHT_METADATA: &[u8] = b"{}";
/// #[test]
/// fn cases() {
///     let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
///     match preflight_sdk::testing::run_cases_checked(&dir, evaluate, PREFLIGHT_METADATA) {
///         Ok(count) => assert!(count > 0),
///         Err(report) => panic!("{report}"),
///     }
/// }
/// ```
///
/// # Errors
/// A report of every failing case, or why the cases or the metadata could not be read.
pub fn run_cases_checked(
    dir: &Path,
    evaluate: fn(PolicyInput) -> PolicyOutput,
    metadata: &[u8],
) -> Result<usize, String> {
    let metadata: crate::PolicyMetadata = serde_json::from_slice(metadata)
        .map_err(|err| format!("the policy metadata is not valid: {err}"))?;
    let compile = |what: &str, schema: &Value| {
        jsonschema::validator_for(schema).map_err(|err| format!("the {what} schema: {err}"))
    };
    let settings = match &metadata.settings_schema {
        Some(schema) => Some(compile("settings", schema)?),
        None => None,
    };
    let mut custom = Vec::new();
    for (namespace, declared) in &metadata.custom {
        custom.push((
            namespace,
            declared.required,
            compile(namespace, &declared.schema)?,
        ));
    }
    check_each(dir, |case| {
        let mut refused = None;
        // As `preflight test`: settings the schema refuses are an error when the case expects
        // one, else the policy answers them itself (`settings.invalid`).
        if let Some(validator) = &settings
            && case.expect.error.is_some()
            && let Some(error) = validator.iter_errors(&case.settings).next()
        {
            refused = Some(format!(
                "settings.invalid: the settings of policy `{}` do not match its settings schema: at `{}`: {error}",
                metadata.name,
                pointer_text(&error.instance_path().to_string())
            ));
        }
        for (namespace, required, validator) in &custom {
            let section = case
                .facts()
                .get("custom")
                .and_then(|c| c.get(namespace.as_str()));
            match section {
                None if *required => {
                    refused.get_or_insert_with(|| {
                        format!("facts.missing: policy `{}` needs the custom fact section `{namespace}`", metadata.name)
                    });
                }
                None => {}
                Some(value) => {
                    if let Some(error) = validator.iter_errors(value).next() {
                        refused.get_or_insert_with(|| {
                            format!(
                                "facts.invalid: the custom fact section `{namespace}` does not match the schema policy `{}` declares: at `/custom/{namespace}{}`: {error}",
                                metadata.name,
                                error.instance_path()
                            )
                        });
                    }
                }
            }
        }
        match refused {
            Some(message) => case.check_error(&message),
            None => check_natively(case, evaluate),
        }
    })
}

fn pointer_text(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// One case, natively: the input checked as the host's schema would, panics caught.
fn check_natively(case: &Case, evaluate: fn(PolicyInput) -> PolicyOutput) -> Vec<String> {
    match case.input() {
        Ok(input) => {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| evaluate(input))) {
                Ok(output) if case.expect.error.is_none() => case.check(&output),
                // Other errors need the host (sandbox limits, output checks).
                Ok(_) => Vec::new(),
                // A panic: the host reports its message, so `expect.error` matches both.
                Err(payload) => case.check_error(&panic_message(payload.as_ref())),
            }
        }
        Err(err) => case.check_error(&err),
    }
}

/// A panic's message, as the SDK's hook reports it from wasm (`... panicked: MESSAGE`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    format!("panicked: {text}")
}

/// Checks a policy's committed settings schema: it must be what `schemars` generates from the
/// settings type `T`, and what the policy's metadata carries (`settings_schema`). With
/// `PREFLIGHT_UPDATE_SCHEMAS=1` the file is rewritten instead.
///
/// # Errors
/// A message saying which of the two differs, and how to regenerate the file.
#[cfg(feature = "schema")]
pub fn check_settings_schema<T: schemars::JsonSchema>(
    committed: &Path,
    metadata: &[u8],
) -> Result<(), String> {
    let file = generated_schema::<T>(committed)?;
    let metadata: crate::PolicyMetadata =
        serde_json::from_slice(metadata).map_err(|err| format!("the metadata: {err}"))?;
    let embedded = metadata
        .settings_schema
        .ok_or("the metadata carries no settings_schema")?;
    if embedded != file {
        return Err("the metadata's settings_schema is not the committed file".to_owned());
    }
    Ok(())
}

/// Checks a custom fact section's committed schema: it must be what `schemars` generates from
/// the type `T` the policy reads the section as ([`crate::FactSet::custom`]), and what the
/// policy's metadata declares for `namespace`. With `PREFLIGHT_UPDATE_SCHEMAS=1` the file is
/// rewritten instead.
///
/// # Errors
/// A message saying which of the two differs, and how to regenerate the file.
#[cfg(feature = "schema")]
pub fn check_custom_schema<T: schemars::JsonSchema>(
    namespace: &str,
    committed: &Path,
    metadata: &[u8],
) -> Result<(), String> {
    let file = generated_schema::<T>(committed)?;
    let metadata: crate::PolicyMetadata =
        serde_json::from_slice(metadata).map_err(|err| format!("the metadata: {err}"))?;
    let declared = metadata
        .custom
        .get(namespace)
        .ok_or_else(|| format!("the metadata declares no custom section `{namespace}`"))?;
    if declared.schema != file {
        return Err(format!(
            "the metadata's schema for `{namespace}` is not the committed file"
        ));
    }
    Ok(())
}

/// The schema generated from `T`, checked against (or, with `PREFLIGHT_UPDATE_SCHEMAS=1`,
/// written to) `committed`.
#[cfg(feature = "schema")]
fn generated_schema<T: schemars::JsonSchema>(committed: &Path) -> Result<Value, String> {
    let mut generated =
        serde_json::to_string_pretty(&schemars::schema_for!(T)).map_err(|err| err.to_string())?;
    generated.push('\n');
    if std::env::var_os("PREFLIGHT_UPDATE_SCHEMAS").is_some() {
        std::fs::write(committed, &generated).map_err(|err| err.to_string())?;
    }
    let text = read_bounded(committed)?;
    if text != generated {
        return Err(format!(
            "`{}` is stale: regenerate it with PREFLIGHT_UPDATE_SCHEMAS=1 cargo test",
            committed.display()
        ));
    }
    serde_json::from_str(&text).map_err(|err| err.to_string())
}

/// The largest case or facts file read: 16 MiB.
const MAX_CASE_BYTES: u64 = 16 << 20;

/// Reads a regular file of at most [`MAX_CASE_BYTES`] as UTF-8; FIFOs and devices are refused,
/// so a case file can neither block nor grow without end.
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let metadata = std::fs::metadata(path).map_err(|err| err.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_CASE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|err| err.to_string())?;
    if bytes.len() as u64 > MAX_CASE_BYTES {
        return Err(format!(
            "over the {MAX_CASE_BYTES}-byte limit for case files"
        ));
    }
    String::from_utf8(bytes).map_err(|err| format!("not UTF-8: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decision, PolicyOutput};

    fn case_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn go(_: PolicyInput) -> PolicyOutput {
        PolicyOutput::new(Decision::Go)
    }

    fn panics(input: PolicyInput) -> PolicyOutput {
        let readiness = input.facts.scores.map_or(0.0, |s| s.readiness);
        assert!(readiness <= 9.0, "readiness {readiness} is suspicious");
        PolicyOutput::new(Decision::Go)
    }

    const FACTS: &str = r#""scores": {"readiness": 9.5, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "low""#;

    #[test]
    fn a_misspelt_fact_fails_natively_as_it_does_in_the_host() {
        let dir = case_dir(&[(
            "typo.json",
            &format!(
                r#"{{"name": "typo", "facts": {{{FACTS}, "coverge": {{"line_percent": 90}}}}, "expect": {{"decision": "GO"}}}}"#
            ),
        )]);
        let report = run_cases(dir.path(), go).unwrap_err();
        assert!(report.contains("unknown key `coverge`"), "{report}");
    }

    #[test]
    fn a_panic_matches_expect_error_natively() {
        let dir = case_dir(&[(
            "panic.json",
            &format!(
                r#"{{"name": "panic", "facts": {{{FACTS}}}, "expect": {{"error": "readiness 9.5 is suspicious"}}}}"#
            ),
        )]);
        assert_eq!(run_cases(dir.path(), panics), Ok(1));
        // A panic no case expects is a failure, with its message.
        let dir = case_dir(&[(
            "go.json",
            &format!(r#"{{"name": "go", "facts": {{{FACTS}}}, "expect": {{"decision": "GO"}}}}"#),
        )]);
        let report = run_cases(dir.path(), panics).unwrap_err();
        assert!(report.contains("readiness 9.5 is suspicious"), "{report}");
    }

    const METADATA: &[u8] = br#"{"name":"checked","version":"1.0.0","abi":1,
        "settings_schema":{"type":"object","additionalProperties":false,
            "properties":{"min":{"type":"number"}}},
        "custom":{"change":{"required":true,"schema":{"type":"object","required":["approved"]}}}}"#;

    #[test]
    fn checked_runs_refuse_what_the_host_refuses() {
        let custom = r#""custom": {"change": {"approved": true}}"#;
        let dir = case_dir(&[
            (
                "typo.json",
                &format!(
                    r#"{{"name": "typo", "facts": {{{FACTS}, {custom}}}, "settings": {{"mni": 3}}, "expect": {{"error": "'mni' was unexpected"}}}}"#
                ),
            ),
            (
                "no-change.json",
                &format!(
                    r#"{{"name": "no change", "facts": {{{FACTS}}}, "expect": {{"error": "needs the custom fact section `change`"}}}}"#
                ),
            ),
            (
                "bad-change.json",
                &format!(
                    r#"{{"name": "bad change", "facts": {{{FACTS}, "custom": {{"change": {{}}}}}}, "expect": {{"error": "at `/custom/change`"}}}}"#
                ),
            ),
            (
                "fine.json",
                &format!(
                    r#"{{"name": "fine", "facts": {{{FACTS}, {custom}}}, "settings": {{"min": 3}}, "expect": {{"decision": "GO"}}}}"#
                ),
            ),
        ]);
        assert_eq!(run_cases_checked(dir.path(), go, METADATA), Ok(4));
        // A refusal with another message than the case expects fails.
        let dir = case_dir(&[(
            "other-message.json",
            &format!(
                r#"{{"name": "other message", "facts": {{{FACTS}, {custom}}}, "settings": {{"min": "3"}}, "expect": {{"error": "'mni' was unexpected"}}}}"#
            ),
        )]);
        let report = run_cases_checked(dir.path(), go, METADATA).unwrap_err();
        assert!(report.contains("is not of type"), "{report}");
    }

    #[test]
    fn a_facts_file_beside_its_case_is_not_a_case() {
        let dir = case_dir(&[
            ("seed.json", &format!("{{{FACTS}}}")),
            (
                "case.yaml",
                "name: from a file\nfacts_file: seed.json\nexpect: {decision: GO}\n",
            ),
        ]);
        assert_eq!(run_cases(dir.path(), go), Ok(1));
    }
}
