//! Gitleaks' JSON report: an array of findings. The secret itself is never copied.

use std::path::Path;

use preflight_sdk::Location;
use preflight_sdk::facts::{Category, Finding, Severity};
use serde::Deserialize;

use super::Parsed;
use crate::input::CollectError;
use crate::input::Root;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Leak {
    #[serde(rename = "RuleID")]
    rule_id: String,
    description: Option<String>,
    file: String,
    start_line: Option<u32>,
    start_column: Option<u32>,
    commit: Option<String>,
}

pub(super) fn parse(root: &Root, path: &Path, text: &str) -> Result<Vec<Parsed>, CollectError> {
    let leaks: Vec<Leak> =
        super::parse_array(path, text, "Gitleaks", "gitleaks ... --report-format json")?;
    let findings = leaks
        .into_iter()
        .map(|leak| {
            let commit = leak
                .commit
                .filter(|c| !c.is_empty())
                .map(|c| format!(" in commit {}", c.get(..12).unwrap_or(&c)))
                .unwrap_or_default();
            Finding {
                tool: "gitleaks".to_owned(),
                category: Category::Secret,
                severity: Severity::High,
                message: format!(
                    "{}{commit} (secret redacted)",
                    leak.description.unwrap_or_else(|| leak.rule_id.clone())
                ),
                rule: leak.rule_id,
                package: None,
                fingerprint: None,
                baseline: None,
                location: Some(Location {
                    path: crate::input::normalize_reported(root, &leak.file),
                    line: leak.start_line,
                    column: leak.start_column,
                    message: None,
                }),
            }
        })
        .collect();
    Ok(vec![Parsed {
        tool: "gitleaks".to_owned(),
        findings,
        suppressed: 0,
    }])
}
