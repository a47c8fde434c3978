//! Ruff's JSON output (`ruff check --output-format json`): an array of violations.

use std::path::Path;

use preflight_sdk::Location;
use preflight_sdk::facts::{Category, Finding, Severity};
use serde::Deserialize;

use super::Parsed;
use crate::input::CollectError;
use crate::input::Root;

#[derive(Deserialize)]
struct Violation {
    code: Option<String>,
    message: String,
    filename: String,
    location: Option<Position>,
    /// Newer ruff versions say `error` or `warning`; older ones do not (every violation is an
    /// error there).
    severity: Option<String>,
}

#[derive(Deserialize)]
struct Position {
    row: u32,
    column: u32,
}

pub(super) fn parse(root: &Root, path: &Path, text: &str) -> Result<Vec<Parsed>, CollectError> {
    let violations: Vec<Violation> =
        super::parse_array(path, text, "Ruff", "ruff check --output-format json")?;
    let findings = violations
        .into_iter()
        .map(|v| Finding {
            tool: "ruff".to_owned(),
            category: Category::Lint,
            severity: match v.severity.as_deref() {
                Some("warning") => Severity::Medium,
                Some("info") => Severity::Low,
                _ => Severity::High,
            },
            rule: v.code.unwrap_or_else(|| "syntax-error".to_owned()),
            message: v.message,
            package: None,
            fingerprint: None,
            baseline: None,
            location: Some(Location {
                path: crate::input::normalize_reported(root, &v.filename),
                line: v.location.as_ref().map(|p| p.row),
                column: v.location.as_ref().map(|p| p.column),
                message: None,
            }),
        })
        .collect();
    Ok(vec![Parsed {
        tool: "ruff".to_owned(),
        findings,
        suppressed: 0,
    }])
}
