//! The standard report: the seed's fields at the top level, then every policy's result.

use preflight_sdk::{Decision, Issue, Location};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The standard report, `schemas/report.schema.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Mode of the standard gate (`A`, `B` or `S`); null when it did not run.
    pub mode: Option<String>,
    /// Effective weights of the standard gate.
    pub weights: Option<Weights>,
    /// Scores the standard gate used.
    pub scores: Option<Scores>,
    /// Complexity of the change.
    pub complexity: Option<String>,
    /// Risk added for complexity.
    pub penalty: Option<f64>,
    /// `100 − 10·weighted + penalty`, rounded to 2 decimals.
    pub risk_score: Option<f64>,
    /// Decision thresholds of the standard gate.
    pub thresholds: Option<Thresholds>,
    /// The overall decision: the most severe across enforced policies; `NO_GO` on any error.
    pub decision: Decision,
    /// Every blocking issue of every enforced policy, and every error.
    pub blocking_issues: Vec<ReportIssue>,
    /// Warnings, and the blocking issues of policies that are not enforced.
    pub warnings: Vec<ReportIssue>,
    /// Optional artifacts that are missing.
    pub artifacts_missing: Vec<String>,
    /// One entry per policy that was run or failed to load.
    pub policies: Vec<PolicyResult>,
    /// sha256 of the fact set in its RFC 8785 (JCS) canonical form; null when the facts were
    /// invalid.
    pub facts_sha256: Option<String>,
    /// Version of preflight that wrote the report.
    pub preflight_version: String,
    /// True when run with `--dry-run`.
    pub dry_run: bool,
    /// Where each value came from: `config`, `mode`, `gate.settings`, and `facts.SECTION` (a
    /// collector, a `--facts` file or a `--fact` flag).
    #[serde(default)]
    pub sources: std::collections::BTreeMap<String, String>,
    /// The key of every finding of the fact set (waived and VEX-cleared ones too), sorted:
    /// what a later run's `--baseline` matches against. Absent without findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finding_keys: Vec<String>,
    /// The waivers in force: their sha256, what each matched, which were unused, expired or
    /// expiring. Absent without waivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waivers: Option<crate::waivers::WaiverSummary>,
}

/// Weights of the readiness, MVP and security scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Weights {
    /// Readiness weight.
    pub readiness: f64,
    /// MVP weight.
    pub mvp: f64,
    /// Security weight.
    pub security: f64,
}

/// The scores behind the risk score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Scores {
    /// Readiness, 0 to 10.
    pub readiness: f64,
    /// MVP completeness, 0 to 10.
    pub mvp: f64,
    /// `PASS`, `FAIL`, or null without security evidence.
    pub security_gate: Option<String>,
}

/// Decision thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Thresholds {
    /// GO below this risk.
    pub go: f64,
    /// GO_WITH_CAUTION below this risk; NO_GO from here up.
    pub canary: f64,
}

/// A blocking issue or warning, with the policy that raised it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportIssue {
    /// The policy (or `preflight` for errors outside policies).
    pub policy: String,
    /// Stable id of the rule.
    pub id: String,
    /// Explanation with the numbers.
    pub message: String,
    /// Where, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
}

impl ReportIssue {
    /// An issue the host itself raises (policy `preflight`).
    pub fn new(id: crate::IssueId, message: impl Into<String>) -> Self {
        ReportIssue {
            policy: "preflight".to_owned(),
            id: id.as_str().to_owned(),
            message: message.into(),
            locations: Vec::new(),
        }
    }

    /// An issue raised by `policy`.
    pub fn from_issue(policy: &str, issue: &Issue) -> Self {
        ReportIssue {
            policy: policy.to_owned(),
            id: issue.id.clone(),
            message: issue.message.clone(),
            locations: issue.locations.clone(),
        }
    }
}

/// One policy's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyResult {
    /// Name from the metadata, or the source when the module could not be loaded.
    pub name: String,
    /// Version from the metadata; null when the module could not be loaded.
    pub version: Option<String>,
    /// sha256 of the module bytes; null when they could not be read.
    pub sha256: Option<String>,
    /// `builtin:NAME` or the module's path.
    pub source: String,
    /// Whether the policy's decision counts toward the overall decision.
    pub enforced: bool,
    /// The policy's decision (`NO_GO` when it failed).
    pub decision: Decision,
    /// Its blocking issues; a failure is one blocking issue with a `policy.*` id.
    pub blocking_issues: Vec<Issue>,
    /// Its warnings.
    pub warnings: Vec<Issue>,
    /// Its details.
    #[schemars(schema_with = "preflight_sdk::schema_support::object")]
    pub details: Value,
    /// Wall time of the evaluation in milliseconds (compile time excluded).
    pub elapsed_ms: f64,
    /// Fuel the evaluation used.
    pub fuel_used: Option<u64>,
    /// The failure, when the policy did not produce a usable output.
    pub error: Option<String>,
}

impl Report {
    /// Fills the seed's top-level fields from the standard gate's details, when it ran.
    pub fn fill_from_gate(&mut self, details: &Value) {
        self.mode = field(details, "mode");
        self.weights = field(details, "weights");
        self.thresholds = field(details, "thresholds");
        self.complexity = field(details, "complexity");
        self.penalty = field(details, "penalty");
        self.risk_score = field(details, "risk_score");
        self.scores = details.get("scores").and_then(|scores| {
            Some(Scores {
                readiness: scores.get("readiness")?.as_f64()?,
                mvp: scores.get("mvp")?.as_f64()?,
                security_gate: scores
                    .get("security_gate")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        });
    }
}

fn field<T: serde::de::DeserializeOwned>(details: &Value, key: &str) -> Option<T> {
    details
        .get(key)
        .and_then(|value| T::deserialize(value).ok())
}
