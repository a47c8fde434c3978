//! The fact set: everything preflight knows about a release, in one JSON document.
//!
//! The host checks every fact set against `schemas/facts.schema.json` (generated from these
//! types) before any policy sees it, and that schema rejects unknown fields. Inside a policy the
//! same types ignore fields they do not know, so a policy built with this SDK keeps working when
//! a newer host adds a section.

use serde::{Deserialize, Serialize};

/// Everything preflight knows about a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct FactSet {
    /// What is being released, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Project>,
    /// Readiness and MVP scores, each from 0 to 10.
    pub scores: Scores,
    /// The security evidence: a verdict from an earlier gate, scanner findings, or both.
    pub security: Security,
    /// How risky the change is by size and reach.
    pub complexity: Complexity,
    /// Required and optional files of the release, and which of them are missing.
    #[serde(default)]
    pub artifacts: Artifacts,
}

/// What is being released.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Project {
    /// Project or service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version being released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Source revision being released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// Readiness and MVP scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Scores {
    /// Release readiness, 0 (nothing done) to 10 (definition of done met).
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 10.0)))]
    pub readiness: f64,
    /// MVP completeness, 0 to 10.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 10.0)))]
    pub mvp: f64,
}

/// Security evidence.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Security {
    /// A verdict reached elsewhere (an earlier pipeline gate), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateVerdict>,
}

/// The verdict of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum GateVerdict {
    /// The gate passed.
    Pass,
    /// The gate failed.
    Fail,
}

impl GateVerdict {
    /// `PASS` or `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            GateVerdict::Pass => "PASS",
            GateVerdict::Fail => "FAIL",
        }
    }
}

/// How risky the change is by size and reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    /// Small, contained change.
    Low,
    /// The usual change.
    Medium,
    /// Large or cross-cutting change.
    High,
}

impl Complexity {
    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Low => "low",
            Complexity::Medium => "medium",
            Complexity::High => "high",
        }
    }
}

/// Files the release should contain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Artifacts {
    /// Every path or glob that was checked.
    #[serde(default)]
    pub checked: Vec<String>,
    /// Optional artifacts that are missing: listed in the report, not blocking.
    #[serde(default)]
    pub missing: Vec<String>,
    /// Required artifacts that are missing: each one blocks the release.
    #[serde(default)]
    pub missing_required: Vec<String>,
}
