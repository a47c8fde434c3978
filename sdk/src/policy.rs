//! What crosses the policy boundary: the input a policy receives, the output it returns, and the
//! metadata it carries in its `preflight.policy` custom section.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::facts::FactSet;

/// The ABI version this SDK implements. See `docs/abi.md` and [`crate::abi`].
pub const ABI_VERSION: u32 = crate::abi::VERSION;

/// The bytes a policy receives: the fact set and the policy's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PolicyInput {
    /// The gathered, schema-checked facts about the release.
    pub facts: FactSet,
    /// Policy-specific settings from `preflight.toml` or the command line; `{}` when none.
    #[serde(default = "empty_object")]
    pub settings: Value,
}

impl PolicyInput {
    /// Deserializes the settings into the policy's own settings type.
    ///
    /// # Errors
    /// Returns a blocking [`Issue`] with id `settings.invalid` that names the offending field, so a
    /// policy can fail closed with `return PolicyOutput::blocked(issue)`.
    pub fn settings<T: serde::de::DeserializeOwned>(&self) -> Result<T, Issue> {
        T::deserialize(&self.settings).map_err(|err| {
            Issue::new(
                "settings.invalid",
                format!("the policy settings are invalid: {err}"),
            )
        })
    }
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// A release decision, from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// Ship it.
    Go,
    /// Ship behind a canary and watch it.
    GoWithCaution,
    /// Do not ship.
    NoGo,
}

impl Decision {
    /// The string used in reports: `GO`, `GO_WITH_CAUTION` or `NO_GO`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Go => "GO",
            Decision::GoWithCaution => "GO_WITH_CAUTION",
            Decision::NoGo => "NO_GO",
        }
    }

    /// The more severe of two decisions.
    #[must_use]
    pub fn worst(self, other: Decision) -> Decision {
        self.max(other)
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A blocking issue or a warning: a stable id and a message that explains itself with numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Issue {
    /// Stable, dotted identifier of the rule, e.g. `security.gate_failed`.
    pub id: String,
    /// Human-readable explanation naming the value, the threshold and the rule.
    pub message: String,
    /// Files the issue points at, when known (used by SARIF and GitHub annotations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
    /// For an issue about security findings, the most severe of them (SARIF
    /// `security-severity`, GitLab Code Quality severity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::facts::Severity>,
}

impl Issue {
    /// An issue without locations.
    pub fn new(id: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            id: id.into(),
            message: message.into(),
            locations: Vec::new(),
            severity: None,
        }
    }

    /// Sets the severity of the findings behind the issue.
    #[must_use]
    pub fn with_severity(mut self, severity: crate::facts::Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    /// Adds a location.
    #[must_use]
    pub fn at(mut self, location: Location) -> Self {
        self.locations.push(location);
        self
    }

    /// Adds locations.
    #[must_use]
    pub fn at_each(mut self, locations: impl IntoIterator<Item = Location>) -> Self {
        self.locations.extend(locations);
        self
    }
}

/// A place in the project a finding or issue refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Location {
    /// Path relative to the project root, `/`-separated.
    pub path: String,
    /// 1-based line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// What is at this place, when an issue has several (one finding, one failed test): SARIF
    /// gives each location its own result with this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Location {
    /// A whole file.
    pub fn new(path: impl Into<String>) -> Self {
        Location {
            path: path.into(),
            line: None,
            column: None,
            message: None,
        }
    }

    /// The same place, at a line.
    #[must_use]
    pub fn line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }

    /// The same place, saying what is there.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// What a policy returns, with `details` typed: serialized straight to JSON, without building a
/// [`Value`] tree first. The host reads it as a [`PolicyOutput`]; [`TypedOutput::into_output`]
/// gives that natively, for tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypedOutput<D> {
    /// The policy's decision. It must be `NO_GO` when `blocking_issues` is not empty.
    pub decision: Decision,
    /// Issues that block the release.
    pub blocking_issues: Vec<Issue>,
    /// Issues worth reading that do not block.
    pub warnings: Vec<Issue>,
    /// How the decision was reached; must serialize to a JSON object.
    pub details: D,
}

impl<D: Serialize> TypedOutput<D> {
    /// The same output with `details` as a JSON value.
    pub fn into_output(self) -> PolicyOutput {
        let details = serde_json::to_value(&self.details).unwrap_or_else(|err| {
            serde_json::json!({ "error": format!("the details could not be serialized: {err}") })
        });
        PolicyOutput {
            decision: self.decision,
            blocking_issues: self.blocking_issues,
            warnings: self.warnings,
            details,
        }
    }
}

/// What a policy returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct PolicyOutput {
    /// The policy's decision. It must be `NO_GO` when `blocking_issues` is not empty.
    pub decision: Decision,
    /// Issues that block the release.
    #[serde(default)]
    pub blocking_issues: Vec<Issue>,
    /// Issues worth reading that do not block.
    #[serde(default)]
    pub warnings: Vec<Issue>,
    /// Free-form, policy-specific explanation of how the decision was reached.
    #[serde(default = "empty_object")]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema_support::object")
    )]
    pub details: Value,
}

impl PolicyOutput {
    /// An output with the given decision and nothing else.
    pub fn new(decision: Decision) -> Self {
        PolicyOutput {
            decision,
            blocking_issues: Vec::new(),
            warnings: Vec::new(),
            details: empty_object(),
        }
    }

    /// A `NO_GO` output carrying one blocking issue.
    pub fn blocked(issue: Issue) -> Self {
        let mut output = PolicyOutput::new(Decision::NoGo);
        output.blocking_issues.push(issue);
        output
    }

    /// The decision this output stands for: `NO_GO` whenever a blocking issue is present,
    /// whatever the `decision` field says.
    pub fn effective_decision(&self) -> Decision {
        if self.blocking_issues.is_empty() {
            self.decision
        } else {
            Decision::NoGo
        }
    }
}

/// The JSON a policy carries in its `preflight.policy` custom section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyMetadata {
    /// Policy name: 1 to 64 lowercase letters, digits and `-`, starting with a letter
    /// ([`crate::abi::is_valid_name`]).
    pub name: String,
    /// Semantic version of the policy.
    pub version: String,
    /// ABI version the module implements; this SDK implements [`ABI_VERSION`].
    pub abi: u32,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Oldest preflight host the policy runs on, when it needs newer host behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_host_version: Option<String>,
    /// A JSON Schema the policy's settings must match; the host checks the settings against it
    /// before the policy runs, and `preflight policy lock` when it pins the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema_support::object")
    )]
    pub settings_schema: Option<Value>,
    /// The custom fact sections the policy reads, by namespace: whether each is required and
    /// the JSON Schema it must match. The host checks them before the policy runs.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub custom: std::collections::BTreeMap<String, CustomFacts>,
    /// The ids of the rules the policy checks: the issue and warning ids it can return and the
    /// ids it marks with [`rule!`](crate::rule!). `preflight test --coverage` reports which of
    /// them the cases exercised. Needs host 0.2.0 (`min_host_version`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

/// A custom fact section a policy reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomFacts {
    /// Whether the policy cannot decide without it (`facts.missing` when it is absent).
    #[serde(default)]
    pub required: bool,
    /// The JSON Schema the section must match.
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema_support::object")
    )]
    pub schema: Value,
}
