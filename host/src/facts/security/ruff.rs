//! Ruff's JSON output (`ruff check --output-format json`): an array of violations.

use std::path::Path;

use preflight_sdk::Location;
use preflight_sdk::facts::{Category, Finding, Severity};
use serde::Deserialize;

use super::Parsed;
use crate::facts::input::CollectError;

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

pub(super) fn parse(root: &Path, path: &Path, text: &str) -> Result<Vec<Parsed>, CollectError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| CollectError::json(path, &err))?;
    if !value.is_array() {
        return Err(CollectError::content(
            path,
            "not a Ruff JSON report: expected an array of violations (write it with `ruff check --output-format json`)",
        ));
    }
    let violations: Vec<Violation> = serde_json::from_value(value)
        .map_err(|err| CollectError::content(path, format!("not a Ruff violation list: {err}")))?;
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
            location: Some(Location {
                path: crate::facts::input::normalize_reported(root, &v.filename),
                line: v.location.as_ref().map(|p| p.row),
                column: v.location.as_ref().map(|p| p.column),
            }),
        })
        .collect();
    Ok(vec![Parsed {
        tool: "ruff".to_owned(),
        findings,
        suppressed: 0,
    }])
}
