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

/// Checks a document against a schema and returns every violation.
///
/// # Errors
/// Every violation, each with its JSON pointer, sorted by pointer.
pub fn validate(kind: SchemaKind, document: &Value) -> Result<(), Vec<Violation>> {
    let release = kind == SchemaKind::Facts && document.get("canary").is_none();
    let validator = if release {
        release_validator()
    } else {
        validator(kind)
    }
    .map_err(|violation| vec![violation])?;
    // Fast path: a valid document costs one pass; errors are collected only when there are some.
    if validator.is_valid(document) {
        return Ok(());
    }
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
