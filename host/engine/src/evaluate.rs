//! Evaluating a set of policies on a fact set and folding their results into one report: the
//! one function `run`, `--facts-stream`, `canary`, `test` and `serve` all call.

use std::time::Instant;

use preflight_sdk::{Decision, Issue};
use serde_json::Value;

use crate::facts::Facts;
use crate::ids::IssueId;
use crate::report::{PolicyResult, Report, ReportIssue};
use crate::sandbox::{LogLine, Policy, Runtime};

/// A policy that could not be loaded: its source and why, as the blocking issue it becomes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoadFailure {
    /// The issue id.
    pub id: IssueId,
    /// The message, naming the source and the cause.
    pub message: String,
    /// sha256 of the bytes when they could be read.
    pub sha256: Option<String>,
}

impl LoadFailure {
    /// A failure with this id and message.
    pub fn new(id: IssueId, message: impl Into<String>) -> LoadFailure {
        LoadFailure {
            id,
            message: message.into(),
            sha256: None,
        }
    }

    /// The same failure, with the sha256 of the module's bytes.
    #[must_use]
    pub fn with_sha256(mut self, sha256: Option<String>) -> LoadFailure {
        self.sha256 = sha256;
        self
    }
}

/// One policy of a run: where it came from, its settings, whether it counts, and the loaded
/// policy or why it could not be loaded (which blocks the run).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PolicyEntry {
    /// Where the module came from (`builtin:NAME`, a path, a URL).
    pub source: String,
    /// Settings passed to the policy (JSON; `{}` when none).
    pub settings: Value,
    /// Whether its decision counts.
    pub enforce: bool,
    /// The loaded policy, or why it could not be loaded.
    pub policy: Result<Policy, LoadFailure>,
}

impl PolicyEntry {
    /// A loaded policy, enforced, with `settings`.
    pub fn loaded(policy: Policy, settings: Value) -> PolicyEntry {
        PolicyEntry {
            source: policy.source.clone(),
            settings,
            enforce: true,
            policy: Ok(policy),
        }
    }

    /// A policy that could not be loaded.
    pub fn failed(source: impl Into<String>, failure: LoadFailure) -> PolicyEntry {
        PolicyEntry {
            source: source.into(),
            settings: Value::Object(serde_json::Map::new()),
            enforce: true,
            policy: Err(failure),
        }
    }

    /// The same entry, enforced or not.
    #[must_use]
    pub fn enforced(mut self, enforce: bool) -> PolicyEntry {
        self.enforce = enforce;
        self
    }

    /// The same entry with other settings.
    #[must_use]
    pub fn with_settings(mut self, settings: Value) -> PolicyEntry {
        self.settings = settings;
        self
    }
}

/// The logs of one policy's evaluation.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PolicyLogs {
    /// The policy's name.
    pub policy: String,
    /// Its lines, in order.
    pub lines: Vec<LogLine>,
    /// Lines dropped at the log cap.
    pub dropped: usize,
}

/// What evaluating a set of policies produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Evaluation {
    /// The standard report.
    pub report: Report,
    /// Each evaluated policy's logs, in the order of the entries.
    pub logs: Vec<PolicyLogs>,
}

impl Evaluation {
    /// Whether the report stands for an error (exit 2): a policy failed or could not be loaded,
    /// or a blocking issue has an error id.
    pub fn is_error(&self) -> bool {
        is_error(&self.report)
    }
}

/// Whether a report stands for an error: a policy failed or could not be loaded, or a blocking
/// issue has an id [`IssueId::is_error`] calls an error (`settings.invalid`, `input.invalid`,
/// ... from a policy too).
pub fn is_error(report: &Report) -> bool {
    report.policies.iter().any(|result| result.error.is_some())
        || report
            .policies
            .iter()
            .flat_map(|result| &result.blocking_issues)
            .map(|issue| issue.id.as_str())
            .chain(report.blocking_issues.iter().map(|issue| issue.id.as_str()))
            .filter_map(IssueId::parse)
            .any(IssueId::is_error)
}

impl Runtime {
    /// Evaluates every policy on the facts, each in a fresh sandbox, and folds the results into
    /// the standard report.
    pub fn evaluate_all(&self, entries: &[PolicyEntry], facts: &Facts) -> Evaluation {
        let mut results = Vec::with_capacity(entries.len());
        let mut logs = Vec::with_capacity(entries.len());
        for entry in entries {
            let (result, policy_logs) = self.evaluate_entry(entry, facts);
            results.push(result);
            logs.push(policy_logs);
        }
        Evaluation {
            report: assemble(Some(facts), results),
            logs,
        }
    }

    /// Evaluates one policy entry on the facts.
    pub fn evaluate_entry(&self, entry: &PolicyEntry, facts: &Facts) -> (PolicyResult, PolicyLogs) {
        match &entry.policy {
            Ok(policy) => self.evaluate_policy(policy, &entry.settings, entry.enforce, facts),
            Err(failure) => (
                failed_load(&entry.source, failure, entry.enforce),
                PolicyLogs::default(),
            ),
        }
    }

    /// Evaluates one loaded policy with `settings` on the facts. Settings that break the
    /// policy's settings schema give a `NO_GO` with a `settings.invalid` issue naming every
    /// violation's pointer, before the policy runs.
    pub fn evaluate_policy(
        &self,
        policy: &Policy,
        settings: &Value,
        enforce: bool,
        facts: &Facts,
    ) -> (PolicyResult, PolicyLogs) {
        let name = policy.metadata.name.clone();
        let mut result = PolicyResult {
            name: name.clone(),
            version: Some(policy.metadata.version.clone()),
            sha256: Some(policy.sha256.clone()),
            source: policy.source.clone(),
            enforced: enforce,
            decision: Decision::NoGo,
            blocking_issues: Vec::new(),
            warnings: Vec::new(),
            details: Value::Object(serde_json::Map::new()),
            elapsed_ms: 0.0,
            fuel_used: None,
            error: None,
        };
        if let Err(message) = policy.check_settings(settings) {
            // The policy would say the same (`settings.invalid`) after parsing them; the host
            // says it first, with the pointer. The id makes the run an error (exit 2).
            result.blocking_issues = vec![Issue::new(IssueId::SettingsInvalid.as_str(), message)];
            return (
                result,
                PolicyLogs {
                    policy: name,
                    ..PolicyLogs::default()
                },
            );
        }
        if let Err(problem) = policy.check_custom(&facts.value) {
            let (id, message) = match problem {
                crate::sandbox::CustomFactsError::Missing(message) => {
                    (IssueId::FactsMissing, message)
                }
                crate::sandbox::CustomFactsError::Invalid(message) => {
                    (IssueId::FactsInvalid, message)
                }
            };
            result.blocking_issues = vec![Issue::new(id.as_str(), message)];
            return (
                result,
                PolicyLogs {
                    policy: name,
                    ..PolicyLogs::default()
                },
            );
        }
        let started = Instant::now();
        let input = policy_input(&facts.json, settings);
        let evaluated = self.evaluate(policy, &input);
        result.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let logs = match evaluated {
            Ok(evaluation) => {
                let output = evaluation.output;
                result.decision = output.effective_decision();
                result.blocking_issues = output.blocking_issues;
                result.warnings = output.warnings;
                result.details = output.details;
                result.fuel_used = Some(evaluation.fuel_used);
                PolicyLogs {
                    policy: name,
                    lines: evaluation.logs,
                    dropped: evaluation.logs_dropped,
                }
            }
            Err(failure) => {
                result.blocking_issues = vec![Issue::new(
                    failure.error.id().as_str(),
                    failure.error.to_string(),
                )];
                result.error = Some(failure.error.to_string());
                result.fuel_used = Some(failure.fuel_used);
                PolicyLogs {
                    policy: name,
                    lines: failure.logs,
                    dropped: failure.logs_dropped,
                }
            }
        };
        (result, logs)
    }
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
fn failed_load(source: &str, failure: &LoadFailure, enforce: bool) -> PolicyResult {
    PolicyResult {
        name: source.to_owned(),
        version: None,
        sha256: failure.sha256.clone(),
        source: source.to_owned(),
        enforced: enforce,
        decision: Decision::NoGo,
        blocking_issues: vec![Issue::new(failure.id.as_str(), failure.message.clone())],
        warnings: Vec::new(),
        details: Value::Object(serde_json::Map::new()),
        elapsed_ms: 0.0,
        fuel_used: None,
        error: Some(failure.message.clone()),
    }
}

/// Folds policy results into the report.
///
/// The overall decision is the most severe among enforced policies; a failed policy is `NO_GO`
/// even when it is not enforced, because the run can no longer be trusted; no enforced policy
/// at all is `NO_GO`.
pub fn assemble(facts: Option<&Facts>, results: Vec<PolicyResult>) -> Report {
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
        preflight_version: crate::HOST_VERSION.to_owned(),
        dry_run: false,
        sources: std::collections::BTreeMap::new(),
        finding_keys: facts
            .map(|facts| crate::baseline::keys_of_facts(&facts.value))
            .unwrap_or_default(),
        waivers: None,
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
        .find(|result| result.name == crate::builtin::GATE && result.error.is_none())
    {
        report.fill_from_gate(&gate.details);
    }
    report.policies = results;
    aggregate(&mut report);
    report
}

/// The report's issues and decision, from its policies' results: enforced policies' blocking
/// issues block, the worst enforced decision decides, and no enforced policy is `NO_GO`.
pub(crate) fn aggregate(report: &mut Report) {
    let mut blocking = Vec::new();
    let mut warnings = Vec::new();
    let mut decision: Option<Decision> = None;
    for result in &report.policies {
        let failed = result.error.is_some();
        if result.enforced || failed {
            decision = Some(decision.map_or(result.decision, |d| d.worst(result.decision)));
            for issue in &result.blocking_issues {
                blocking.push(ReportIssue::from_issue(&result.name, issue));
            }
        } else {
            for issue in &result.blocking_issues {
                let mut issue = ReportIssue::from_issue(&result.name, issue);
                issue.message = format!("(not enforced) {}", issue.message);
                warnings.push(issue);
            }
        }
        for issue in &result.warnings {
            warnings.push(ReportIssue::from_issue(&result.name, issue));
        }
    }
    report.decision = match decision {
        Some(decision) => decision,
        None => {
            blocking.push(ReportIssue::new(
                IssueId::PolicyNoneEnforced,
                "no enforced policy ran, so nothing allows the release",
            ));
            Decision::NoGo
        }
    };
    report.blocking_issues = blocking;
    report.warnings = warnings;
}

/// A report for a run that failed before any policy could run (bad facts, bad config).
pub fn failed_report(id: IssueId, message: impl Into<String>) -> Report {
    let mut report = assemble(None, Vec::new());
    report.blocking_issues = vec![ReportIssue::new(id, message)];
    report
}
