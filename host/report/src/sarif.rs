//! SARIF 2.1.0 for GitHub code scanning: one result per place an issue points at (a finding, a
//! failed test, the report or configuration line behind it), each with a location GitHub
//! accepts, a stable `partialFingerprints` entry, and a rule that says what it checks and how
//! to fix it; security rules carry `security-severity`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use preflight_engine::Report;
use preflight_sdk::Location;
use preflight_sdk::facts::Severity;

use crate::Options;
use crate::entries::{Level, entries};
use crate::rules;
use crate::uri;

/// Results in one log at most (GitHub keeps the first 5 000 of a run); the cut is stated in a
/// tool notification and in the run's properties.
pub const MAX_RESULTS: usize = 5_000;

/// The key of the fingerprint preflight computes.
pub const FINGERPRINT: &str = "preflightIssue/v1";

struct Rule {
    id: String,
    policy: String,
    level: Level,
    severity: Option<Severity>,
}

/// GitHub's `security-severity` for a finding severity: the middle of its band.
fn security_severity(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Critical | Severity::Unknown) => "9.5",
        Some(Severity::High) | None => "8.0",
        Some(Severity::Medium) => "5.5",
        Some(Severity::Low) => "2.0",
        Some(Severity::Info) => "0.0",
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
    }
}

fn physical(location: &Location) -> Value {
    let mut physical = json!({ "artifactLocation": { "uri": uri::from_path(&location.path) } });
    if let Some(line) = location.line.filter(|line| *line > 0) {
        let mut region = Map::new();
        region.insert("startLine".to_owned(), json!(line));
        if let Some(column) = location.column.filter(|column| *column > 0) {
            region.insert("startColumn".to_owned(), json!(column));
        }
        physical["region"] = Value::Object(region);
    }
    physical
}

fn rule_json(rule: &Rule) -> Value {
    let text = rules::describe(&rule.policy, &rule.id);
    let mut properties = json!({ "policy": rule.policy, "precision": "very-high" });
    let mut tags = vec![json!("preflight")];
    if rule.policy != "preflight" {
        tags.push(json!(rule.policy));
    }
    if text.security {
        tags.push(json!("security"));
        if rule.id.starts_with("security.") {
            properties["security-severity"] = json!(security_severity(rule.severity));
        }
    }
    properties["tags"] = Value::Array(tags);
    json!({
        "id": rule.id,
        "shortDescription": { "text": text.summary },
        "fullDescription": {
            "text": format!("{} Raised by the policy `{}`.", text.summary, rule.policy),
        },
        "help": {
            "text": text.help,
            "markdown": format!("**{}**\n\n{}", rule.id, text.help),
        },
        "defaultConfiguration": { "level": level_name(rule.level) },
        "properties": properties,
    })
}

/// Renders the report as a SARIF 2.1.0 log with one run. Issues that name no place point at
/// their [`crate::Anchors`] entry; paths are as [`Options::show_path`] gives them.
pub fn render(report: &Report, options: &Options) -> String {
    let mut rules: Vec<Rule> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut results = Vec::new();
    let mut dropped = 0usize;
    let mut host_error = false;
    for entry in entries(report, options) {
        host_error |= entry.error;
        let rule_index = *index.entry(entry.issue.id.clone()).or_insert_with(|| {
            rules.push(Rule {
                id: entry.issue.id.clone(),
                policy: entry.policy.clone(),
                level: entry.level,
                severity: None,
            });
            rules.len() - 1
        });
        let rule = &mut rules[rule_index];
        if entry.level == Level::Error {
            rule.level = Level::Error;
        }
        rule.severity = rule.severity.max(entry.issue.severity);
        if results.len() >= MAX_RESULTS {
            dropped += 1;
            continue;
        }
        results.push(json!({
            "ruleId": entry.issue.id,
            "ruleIndex": rule_index,
            "kind": "fail",
            "level": level_name(entry.level),
            "message": { "text": entry.text },
            "locations": [{ "physicalLocation": physical(&entry.place) }],
            "partialFingerprints": { FINGERPRINT: &entry.fingerprint[..32] },
            "properties": { "policy": entry.policy },
        }));
    }
    let mut invocation = json!({ "executionSuccessful": !host_error });
    if dropped > 0 {
        invocation["toolExecutionNotifications"] = json!([{
            "level": "warning",
            "message": {
                "text": format!(
                    "{dropped} more results were left out: a log holds at most {MAX_RESULTS}; the JSON report has every issue"
                ),
            },
        }]);
    }
    let rules: Vec<Value> = rules.iter().map(rule_json).collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "preflight",
                "version": report.preflight_version,
                "semanticVersion": report.preflight_version,
                "informationUri": "https://github.com/preflight-gate/preflight",
                "rules": rules,
            }},
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {
                "decision": report.decision,
                "risk_score": report.risk_score,
                "facts_sha256": report.facts_sha256,
                "results_left_out": dropped,
            },
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}
