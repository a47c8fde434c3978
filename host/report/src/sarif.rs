//! SARIF 2.1.0: blocking issues and warnings as results, with rule ids and locations where known.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use preflight_engine::Report;
use preflight_sdk::Issue;

fn result(policy: &str, issue: &Issue, level: &str, rule_index: usize) -> Value {
    let locations: Vec<Value> = issue
        .locations
        .iter()
        .map(|location| {
            let mut region = serde_json::Map::new();
            if let Some(line) = location.line {
                region.insert("startLine".to_owned(), json!(line));
            }
            if let Some(column) = location.column {
                region.insert("startColumn".to_owned(), json!(column));
            }
            let mut physical = json!({ "artifactLocation": { "uri": location.path } });
            if !region.is_empty() {
                physical["region"] = Value::Object(region);
            }
            json!({ "physicalLocation": physical })
        })
        .collect();
    let mut result = json!({
        "ruleId": issue.id,
        "ruleIndex": rule_index,
        "level": level,
        "message": { "text": issue.message },
        "properties": { "policy": policy },
    });
    if !locations.is_empty() {
        result["locations"] = Value::Array(locations);
    }
    result
}

/// Renders the report as a SARIF 2.1.0 log with one run.
pub fn render(report: &Report) -> String {
    let mut rules: BTreeMap<String, usize> = BTreeMap::new();
    let mut ordered: Vec<(String, String)> = Vec::new();
    let mut index_of = |id: &str, policy: &str| -> usize {
        *rules.entry(id.to_owned()).or_insert_with(|| {
            ordered.push((id.to_owned(), policy.to_owned()));
            ordered.len() - 1
        })
    };
    let mut results = Vec::new();
    for policy in &report.policies {
        let blocking_level = if policy.enforced || policy.error.is_some() {
            "error"
        } else {
            "warning"
        };
        for issue in &policy.blocking_issues {
            let index = index_of(&issue.id, &policy.name);
            results.push(result(&policy.name, issue, blocking_level, index));
        }
        for issue in &policy.warnings {
            let index = index_of(&issue.id, &policy.name);
            results.push(result(&policy.name, issue, "warning", index));
        }
    }
    for issue in report
        .blocking_issues
        .iter()
        .filter(|i| i.policy == "preflight")
    {
        let index = index_of(&issue.id, "preflight");
        results.push(result(
            "preflight",
            &Issue::new(issue.id.clone(), issue.message.clone()),
            "error",
            index,
        ));
    }
    let rules: Vec<Value> = ordered
        .iter()
        .map(|(id, policy)| {
            json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": format!("{policy}: {id}") },
                "properties": { "policy": policy },
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "preflight",
                "version": report.preflight_version,
                "informationUri": "https://github.com/preflight-gate/preflight",
                "rules": rules,
            }},
            "results": results,
            "properties": {
                "decision": report.decision,
                "risk_score": report.risk_score,
                "facts_sha256": report.facts_sha256,
            },
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}
