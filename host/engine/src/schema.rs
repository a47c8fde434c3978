//! The JSON Schemas in `schemas/`, generated from the Rust types, and validation against them.
//!
//! `preflight schema NAME` prints a schema; CI fails when the committed files drift from what
//! the types generate.

use std::sync::OnceLock;

use preflight_sdk::{FactSet, PolicyOutput};
use serde_json::Value;

use crate::report::Report;

/// A schema preflight publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaKind {
    /// `schemas/facts.schema.json`: the fact set policies receive.
    Facts,
    /// `schemas/policy-output.schema.json`: what a policy returns.
    PolicyOutput,
    /// `schemas/report.schema.json`: the standard report.
    Report,
}

impl SchemaKind {
    /// Every schema, in file order.
    pub const ALL: [SchemaKind; 3] = [
        SchemaKind::Facts,
        SchemaKind::PolicyOutput,
        SchemaKind::Report,
    ];

    /// The name `preflight schema` takes: `facts`, `policy-output`, `report`.
    pub fn name(self) -> &'static str {
        match self {
            SchemaKind::Facts => "facts",
            SchemaKind::PolicyOutput => "policy-output",
            SchemaKind::Report => "report",
        }
    }

    /// The file name under `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            SchemaKind::Facts => "facts.schema.json",
            SchemaKind::PolicyOutput => "policy-output.schema.json",
            SchemaKind::Report => "report.schema.json",
        }
    }

    /// Generates the schema from the Rust types.
    pub fn generate(self) -> Value {
        let schema = match self {
            SchemaKind::Facts => schemars::schema_for!(FactSet),
            SchemaKind::PolicyOutput => schemars::schema_for!(PolicyOutput),
            SchemaKind::Report => schemars::schema_for!(Report),
        };
        let mut value = schema.to_value();
        if self != SchemaKind::Report {
            // Optional input fields are left out rather than null, so their schemas stay plain
            // and a wrong value is reported at its own pointer, not as "not valid under anyOf".
            drop_null(&mut value);
        }
        if self == SchemaKind::Facts
            && let Value::Object(map) = &mut value
        {
            map.insert(
                "anyOf".to_owned(),
                serde_json::json!([{ "required": RELEASE_REQUIRED }, { "required": ["canary"] }]),
            );
        }
        if let Value::Object(map) = &mut value {
            map.insert(
                "$id".to_owned(),
                Value::String(format!(
                    "https://preflight.dev/schemas/{}",
                    self.file_name()
                )),
            );
        }
        value
    }

    /// The committed schema under `schemas/`, built into the binary. Validation uses it rather
    /// than [`SchemaKind::generate`], which costs more than the rest of a short run; CI fails when
    /// the two differ, and so does a unit test.
    fn published(self) -> &'static str {
        match self {
            SchemaKind::Facts => include_str!("../../../schemas/facts.schema.json"),
            SchemaKind::PolicyOutput => include_str!("../../../schemas/policy-output.schema.json"),
            SchemaKind::Report => include_str!("../../../schemas/report.schema.json"),
        }
    }

    /// [`SchemaKind::published`], parsed.
    fn published_value(self) -> Result<Value, String> {
        serde_json::from_str(self.published()).map_err(|err| err.to_string())
    }

    /// The schema as the pretty-printed text committed under `schemas/`.
    pub fn render(self) -> String {
        let mut text = serde_json::to_string_pretty(&self.generate()).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Removes `null` from optional fields: `anyOf [T, null]` becomes `T`, `type [t, null]` `t`.
fn drop_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".to_owned(), only);
                }
            }
            if let Some(Value::Array(options)) = map.get_mut("anyOf") {
                options.retain(|o| o != &serde_json::json!({ "type": "null" }));
                if options.len() == 1
                    && let Value::Object(only) = options.remove(0)
                {
                    map.remove("anyOf");
                    for (key, value) in only {
                        map.entry(key).or_insert(value);
                    }
                }
            }
            for child in map.values_mut() {
                drop_null(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

/// What a release fact set (one without `canary`) must have.
const RELEASE_REQUIRED: [&str; 3] = ["scores", "security", "complexity"];

/// One way a document breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON pointer to the offending value (`""` is the whole document).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "at `{pointer}`: {}", self.message)
    }
}

/// Joins violations into one line.
pub fn join(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The facts schema with the release fields required, for clear messages on release fact sets.
fn release_validator() -> Result<&'static jsonschema::Validator, Violation> {
    static RELEASE: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    RELEASE
        .get_or_init(|| {
            let mut schema = SchemaKind::Facts.published_value()?;
            if let Value::Object(map) = &mut schema {
                map.remove("anyOf");
                map.insert("required".to_owned(), serde_json::json!(RELEASE_REQUIRED));
            }
            jsonschema::validator_for(&schema).map_err(|err| err.to_string())
        })
        .as_ref()
        .map_err(|message| Violation {
            pointer: String::new(),
            message: format!("the facts schema does not compile: {message}"),
        })
}

fn validator(kind: SchemaKind) -> Result<&'static jsonschema::Validator, Violation> {
    static FACTS: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    static OUTPUT: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    static REPORT: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    let cell = match kind {
        SchemaKind::Facts => &FACTS,
        SchemaKind::PolicyOutput => &OUTPUT,
        SchemaKind::Report => &REPORT,
    };
    cell.get_or_init(|| {
        jsonschema::validator_for(&kind.published_value()?).map_err(|err| err.to_string())
    })
    .as_ref()
    .map_err(|message| Violation {
        pointer: String::new(),
        message: format!(
            "the {} schema does not compile: {message}",
            kind.file_name()
        ),
    })
}

// The same schemas, compiled into Rust code at build time: a valid document is accepted
// without building a validator at run time (which costs about 2 ms for the facts schema, most
// of it checking the schema against its meta-schema). They answer only "valid or not"; the
// violations of an invalid document come from the validators above, built on that path only.
// A fact set without `canary` is valid under the release validator exactly when it is valid
// under the whole facts schema, whose `anyOf` then leaves only the release branch.

#[jsonschema::validator(
    path = "../../schemas/facts.schema.json",
    methods = { is_valid = true, validate = false, iter_errors = false }
)]
struct FactsAtBuild;

#[jsonschema::validator(
    path = "../../schemas/policy-output.schema.json",
    methods = { is_valid = true, validate = false, iter_errors = false }
)]
struct PolicyOutputAtBuild;

#[jsonschema::validator(
    path = "../../schemas/report.schema.json",
    methods = { is_valid = true, validate = false, iter_errors = false }
)]
struct ReportAtBuild;

fn valid_at_build(kind: SchemaKind, document: &Value) -> bool {
    match kind {
        SchemaKind::Facts => FactsAtBuild::is_valid(document),
        SchemaKind::PolicyOutput => PolicyOutputAtBuild::is_valid(document),
        SchemaKind::Report => ReportAtBuild::is_valid(document),
    }
}

/// Checks a document against a schema and returns every violation.
///
/// # Errors
/// Every violation, each with its JSON pointer, sorted by pointer.
pub fn validate(kind: SchemaKind, document: &Value) -> Result<(), Vec<Violation>> {
    if valid_at_build(kind, document) {
        return Ok(());
    }
    let release = kind == SchemaKind::Facts && document.get("canary").is_none();
    let validator = if release {
        release_validator()
    } else {
        validator(kind)
    }
    .map_err(|violation| vec![violation])?;
    let mut violations: Vec<Violation> = validator
        .iter_errors(document)
        .map(|error| Violation {
            pointer: error.instance_path().to_string(),
            message: error.to_string(),
        })
        .collect();
    if violations.is_empty() {
        return Ok(());
    }
    violations.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    violations.dedup();
    Err(violations)
}

/// Checks and deserializes a policy's output.
///
/// # Errors
/// The schema violations, or a deserialization error as a violation at `/`.
pub fn policy_output(value: Value) -> Result<PolicyOutput, Vec<Violation>> {
    validate(SchemaKind::PolicyOutput, &value)?;
    PolicyOutput::deserialize(value).map_err(|err| {
        vec![Violation {
            pointer: String::new(),
            message: err.to_string(),
        }]
    })
}

use serde::Deserialize as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn documents(folders: &[&str]) -> Vec<Value> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut documents = Vec::new();
        for folder in folders {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(folder))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
                .collect();
            paths.sort();
            for path in paths {
                let text = std::fs::read_to_string(&path).unwrap();
                let value: Value = serde_json::from_str(&text).unwrap();
                // A policy test case holds a fact set and the output it expects.
                for part in ["facts", "expect"] {
                    if let Some(inner) = value.get(part) {
                        documents.push(inner.clone());
                    }
                }
                documents.push(value);
            }
        }
        documents
    }

    /// Every way to break `document` at one place: each value replaced by one of each JSON
    /// type (and out-of-range numbers), each member removed, an unknown member added.
    fn mutations(document: &Value) -> Vec<Value> {
        fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
            out.push(at.clone());
            match value {
                Value::Object(map) => {
                    for (key, inner) in map {
                        let key = key.replace('~', "~0").replace('/', "~1");
                        pointers(inner, format!("{at}/{key}"), out);
                    }
                }
                Value::Array(items) => {
                    for (index, inner) in items.iter().enumerate().take(3) {
                        pointers(inner, format!("{at}/{index}"), out);
                    }
                }
                _ => {}
            }
        }
        let replacements = [
            Value::Null,
            serde_json::json!(true),
            serde_json::json!(-1),
            serde_json::json!(0.5),
            serde_json::json!(1e300),
            serde_json::json!(""),
            serde_json::json!("GO"),
            serde_json::json!([]),
            serde_json::json!({}),
        ];
        let mut at = Vec::new();
        pointers(document, String::new(), &mut at);
        let mut out = Vec::new();
        for pointer in at.iter().take(200) {
            for replacement in &replacements {
                let mut changed = document.clone();
                *changed.pointer_mut(pointer).unwrap() = replacement.clone();
                out.push(changed);
            }
            let mut changed = document.clone();
            if let Some(Value::Object(map)) = changed.pointer_mut(pointer) {
                map.insert("not_in_the_schema".to_owned(), Value::Null);
                out.push(changed.clone());
            }
            if let Some((parent, last)) = pointer.rsplit_once('/') {
                let mut changed = document.clone();
                match changed.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        items.remove(last.parse::<usize>().unwrap());
                    }
                    _ => unreachable!("a pointer's parent holds it"),
                }
                out.push(changed);
            }
        }
        out
    }

    /// The validators compiled at build time accept exactly what the run-time ones accept, on
    /// the corpora and on every one-place mutation of them. A build-time validator that
    /// accepted more would let a malformed document through, since it alone decides "valid".
    #[test]
    fn the_build_time_validators_agree_with_the_run_time_ones() {
        let corpora: [(SchemaKind, &[&str]); 3] = [
            (
                SchemaKind::Facts,
                &[
                    "fuzz/corpus/facts",
                    "policies/preflight-gate/cases",
                    "policies/canary-judge/cases",
                    "examples/seed",
                ],
            ),
            (
                SchemaKind::PolicyOutput,
                &[
                    "fuzz/corpus/policy_output",
                    "policies/preflight-gate/cases",
                    "policies/canary-judge/cases",
                ],
            ),
            (SchemaKind::Report, &["tests/fixtures/reports"]),
        ];
        for (kind, folders) in corpora {
            let at_run_time = validator(kind).unwrap();
            let (mut checked, mut valid) = (0, 0);
            for document in documents(folders) {
                for candidate in std::iter::once(document.clone()).chain(mutations(&document)) {
                    let expected = at_run_time.is_valid(&candidate);
                    assert_eq!(
                        valid_at_build(kind, &candidate),
                        expected,
                        "{}: {candidate}",
                        kind.file_name()
                    );
                    checked += 1;
                    valid += usize::from(expected);
                }
            }
            // Both answers must be well represented for the comparison to mean anything.
            assert!(
                valid >= 20 && checked - valid >= 200,
                "{kind:?}: {valid} of {checked}"
            );
        }
    }

    #[test]
    fn a_fact_set_the_build_time_validator_rejects_gets_every_violation() {
        let document = serde_json::json!({ "scores": { "readiness": "high" } });
        let violations = validate(SchemaKind::Facts, &document).unwrap_err();
        let pointers: Vec<_> = violations.iter().map(|v| v.pointer.as_str()).collect();
        assert!(pointers.contains(&"/scores/readiness"), "{violations:?}");
        assert!(
            violations.iter().any(|v| v.message.contains("security")),
            "the release fields are named: {violations:?}"
        );
    }

    #[test]
    fn the_built_in_schemas_are_the_generated_ones() {
        for kind in SchemaKind::ALL {
            assert_eq!(
                kind.published(),
                kind.render(),
                "schemas/{} is stale: regenerate it with `preflight schema`",
                kind.file_name()
            );
        }
    }
}
