//! Reading a policy's output: typed in one pass when it is well formed, through the schema when
//! it is not.
//!
//! The output schema is generated from [`PolicyOutput`], and the host accepts an output when it
//! passes the schema *and* deserializes. The types here mirror `PolicyOutput` with the schema's
//! rules that serde alone would not enforce (no unknown fields, no `null` for optional fields,
//! objects only where serde would also take an array, the decision only as a string, `details`
//! an object), so whatever they accept the schema path accepts too, with the same
//! result; a unit test checks that on thousands of mutated outputs. Anything they refuse goes
//! through the schema path, which words the error (or accepts what serde's typed reading is
//! stricter about, such as a repeated key).

use std::marker::PhantomData;

use preflight_sdk::{Decision, Issue, Location, PolicyOutput};
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::schema::Violation;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictOutput {
    #[serde(deserialize_with = "decision")]
    decision: Decision,
    #[serde(default)]
    blocking_issues: Vec<Object<StrictIssue>>,
    #[serde(default)]
    warnings: Vec<Object<StrictIssue>>,
    #[serde(default)]
    details: crate::json::StrictMap,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictIssue {
    id: String,
    message: String,
    #[serde(default)]
    locations: Vec<Object<StrictLocation>>,
    #[serde(default, deserialize_with = "present")]
    severity: Option<preflight_sdk::facts::Severity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictLocation {
    path: String,
    #[serde(default, deserialize_with = "present")]
    line: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    column: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    message: Option<String>,
}

/// A struct read from a JSON object only. Derived `Deserialize` impls also take an array of the
/// fields in order, which the schema refuses.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

/// The decision as a string only; serde's enum reading would also take `{"GO": null}`.
fn decision<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decision, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    match text.as_ref() {
        "GO" => Ok(Decision::Go),
        "GO_WITH_CAUTION" => Ok(Decision::GoWithCaution),
        "NO_GO" => Ok(Decision::NoGo),
        other => Err(D::Error::unknown_variant(
            other,
            &["GO", "GO_WITH_CAUTION", "NO_GO"],
        )),
    }
}

/// An optional field that, when present, must hold a value: `null` is refused, as the schema
/// refuses it.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

impl From<Object<StrictIssue>> for Issue {
    fn from(Object(issue): Object<StrictIssue>) -> Issue {
        Issue {
            id: issue.id,
            message: issue.message,
            locations: issue
                .locations
                .into_iter()
                .map(|Object(location)| Location {
                    path: location.path,
                    line: location.line,
                    column: location.column,
                    message: location.message,
                })
                .collect(),
            severity: issue.severity,
        }
    }
}

/// Why an output was refused.
#[derive(Debug)]
pub enum OutputError {
    /// Not JSON: serde_json's message, line and column.
    Json(serde_json::Error),
    /// JSON that breaks the output schema or does not deserialize.
    Schema(Vec<Violation>),
}

/// Reads a policy's output text.
///
/// # Errors
/// [`OutputError::Json`] when the text is not JSON, [`OutputError::Schema`] when it breaks the
/// output schema or does not deserialize.
pub fn read(text: &str) -> Result<PolicyOutput, OutputError> {
    if let Ok(Object(strict)) = serde_json::from_str::<Object<StrictOutput>>(text) {
        return Ok(PolicyOutput {
            decision: strict.decision,
            blocking_issues: strict
                .blocking_issues
                .into_iter()
                .map(Issue::from)
                .collect(),
            warnings: strict.warnings.into_iter().map(Issue::from).collect(),
            details: Value::Object(strict.details.0),
        });
    }
    read_through_schema(text)
}

/// The schema path alone, without the typed fast path: what [`read`] must agree with wherever
/// the fast path accepts. For differential tests and fuzzing.
///
/// # Errors
/// As [`read`].
pub fn read_through_schema(text: &str) -> Result<PolicyOutput, OutputError> {
    let value: Value = crate::json::from_str(text).map_err(OutputError::Json)?;
    crate::schema::policy_output(value).map_err(OutputError::Schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through_schema(text: &str) -> Option<PolicyOutput> {
        read_through_schema(text).ok()
    }

    /// Every variant of `value` with one change: each value replaced by each of `replacements`,
    /// each object key removed, an unknown key added to each object.
    fn mutations(value: &Value, replacements: &[Value]) -> Vec<Value> {
        let mut out: Vec<Value> = replacements.to_vec();
        match value {
            Value::Object(map) => {
                let mut extra = map.clone();
                extra.insert("unexpected".to_owned(), Value::from(1));
                out.push(Value::Object(extra));
                for (key, child) in map {
                    let mut removed = map.clone();
                    removed.remove(key);
                    out.push(Value::Object(removed));
                    for variant in mutations(child, replacements) {
                        let mut changed = map.clone();
                        changed.insert(key.clone(), variant);
                        out.push(Value::Object(changed));
                    }
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    for variant in mutations(child, replacements) {
                        let mut changed = items.clone();
                        changed[index] = variant;
                        out.push(Value::Array(changed));
                    }
                }
            }
            _ => {}
        }
        out
    }

    #[test]
    fn the_typed_reading_never_accepts_what_the_schema_path_refuses() {
        let seeds = [
            serde_json::json!({
                "decision": "NO_GO",
                "blocking_issues": [{
                    "id": "security.gate_failed",
                    "message": "2 high findings",
                    "locations": [{"path": "src/app.py", "line": 3, "column": 7}, {"path": "b"}],
                }],
                "warnings": [{"id": "coverage.low", "message": "70% < 80%"}],
                "details": {"risk_score": 30.0, "nested": {"list": [1, "a", null]}},
            }),
            serde_json::json!({"decision": "GO"}),
            serde_json::json!({"decision": "GO_WITH_CAUTION", "details": {}}),
        ];
        let replacements = [
            Value::Null,
            Value::Bool(true),
            Value::from(0),
            Value::from(-1),
            Value::from(1.5),
            Value::from(3.0),
            Value::from(4_294_967_296u64),
            Value::from("x"),
            Value::from("GO"),
            Value::from("go"),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!([{"id": "a", "message": "b"}]),
            serde_json::json!(["a", "b"]),
            serde_json::json!([["a", "b"]]),
            serde_json::json!({"GO": null}),
            serde_json::json!({"path": "p"}),
        ];
        // One change and two changes to each seed, each distinct document once.
        let mut documents = std::collections::BTreeSet::new();
        for seed in &seeds {
            for once in mutations(seed, &replacements) {
                for twice in mutations(&once, &replacements) {
                    documents.insert(twice.to_string());
                }
                documents.insert(once.to_string());
            }
        }
        let mut checked = 0;
        let mut accepted = 0;
        for text in &documents {
            let expected = through_schema(text);
            match read(text) {
                Ok(output) => {
                    accepted += 1;
                    assert_eq!(Some(output), expected, "{text}");
                }
                Err(_) => assert_eq!(expected, None, "{text}"),
            }
            checked += 1;
        }
        assert!(checked > 20_000, "{checked} variants");
        assert!(
            accepted > 100 && accepted < checked,
            "{accepted} of {checked} accepted"
        );
    }

    /// Issue #11.16: a repeated key is refused wherever it is, never resolved to one value.
    #[test]
    fn a_repeated_key_is_refused() {
        for text in [
            r#"{"decision":"NO_GO","decision":"GO"}"#,
            r#"{"decision":"GO","details":{"risk":90,"risk":10}}"#,
            r#"{"decision":"GO","warnings":[{"id":"a","id":"b","message":"m"}]}"#,
        ] {
            match read(text) {
                Err(OutputError::Json(err)) => {
                    assert!(err.to_string().contains("repeated key"), "{text}: {err}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn errors_still_name_the_pointer_or_the_position() {
        match read(r#"{"decision":"GO","details":[]}"#) {
            Err(OutputError::Schema(violations)) => {
                assert!(
                    violations.iter().any(|v| v.pointer == "/details"),
                    "{violations:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        match read("{\"decision\":") {
            Err(OutputError::Json(err)) => assert_eq!(err.column(), 12),
            other => panic!("{other:?}"),
        }
    }
}
