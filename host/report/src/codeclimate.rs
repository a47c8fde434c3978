//! GitLab Code Quality (a subset of the Code Climate issue format): one entry per place an
//! issue points at, with the fields GitLab documents — `description`, `check_name`,
//! `fingerprint`, `severity` and `location.path` with `location.lines.begin` — what a merge
//! request's Code Quality widget shows.

use serde_json::{Value, json};

use preflight_engine::Report;
use preflight_sdk::facts::Severity;

use crate::Options;
use crate::entries::{Entry, Level, entries};

/// GitLab's severity for an entry: errors and blocking security findings by how bad they are;
/// warnings are `minor`.
fn severity(entry: &Entry) -> &'static str {
    if entry.error {
        return "blocker";
    }
    match (entry.level, entry.issue.severity) {
        (Level::Warning, _) => "minor",
        (Level::Error, Some(Severity::Critical | Severity::Unknown)) => "blocker",
        (Level::Error, Some(Severity::High) | None) => "critical",
        (Level::Error, Some(Severity::Medium)) => "major",
        (Level::Error, Some(Severity::Low)) => "minor",
        (Level::Error, Some(Severity::Info)) => "info",
    }
}

/// Renders the report as a Code Quality JSON array.
pub fn render(report: &Report, options: &Options) -> String {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let items: Vec<Value> = entries(report, options)
        .iter()
        .map(|entry| {
            // Two entries at one place for one rule (the same finding twice) stay distinct.
            let count = seen.entry(entry.fingerprint.clone()).or_insert(0);
            *count += 1;
            let fingerprint = if *count == 1 {
                entry.fingerprint.clone()
            } else {
                format!("{}-{count}", entry.fingerprint)
            };
            let category = if entry.issue.id.starts_with("security.") {
                "Security"
            } else {
                "Bug Risk"
            };
            json!({
                "type": "issue",
                "engine_name": "preflight",
                "check_name": entry.issue.id,
                "description": format!("[{}] {}", entry.policy, entry.text),
                "categories": [category],
                "severity": severity(entry),
                "fingerprint": fingerprint,
                "location": {
                    "path": entry.place.path,
                    "lines": { "begin": entry.place.line.unwrap_or(1).max(1) },
                },
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&items).unwrap_or_default();
    text.push('\n');
    text
}
