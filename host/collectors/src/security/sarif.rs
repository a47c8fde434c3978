//! SARIF 2.1.0 from any tool.
//!
//! Severity follows GitHub code scanning: a numeric `security-severity` (result or rule
//! property) of 9.0 and up is critical, 7.0 high, 4.0 medium, 0.1 low, below that info; without
//! it the level decides: `error` high, `warning` medium, `note` low, `none` info. A result's level
//! defaults to its rule's `defaultConfiguration.level`, then to `warning`.
//!
//! Category: the tool first (gitleaks and other secret scanners → secret; checkov, tfsec, kics,
//! terrascan, hadolint → misconfiguration), then tags (`secret`, `misconfiguration`/`iac`,
//! `vulnerability`), then a `security-severity`, a `security` tag or a CWE tag → vulnerability;
//! anything else is lint. Results with an accepted suppression, absent from the baseline, or of
//! a kind that is not a failure (`pass`, `notApplicable`, `informational`) are counted as
//! suppressed, not as findings; `open` and `review` results still need someone to look, so they
//! count. Values outside SARIF's enumerations are errors, never a silent suppression.

use std::path::Path;

use preflight_sdk::Location;
use preflight_sdk::facts::{BaselineState, Category, Finding, Severity};
use serde::Deserialize;
use serde_json::Value;

use super::Parsed;
use crate::input::Root;
use crate::input::{CollectError, normalize_reported};

#[derive(Deserialize)]
struct Log {
    version: Option<Value>,
    runs: Option<Vec<Run>>,
}

#[derive(Deserialize)]
struct Run {
    tool: Tool,
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
}

#[derive(Deserialize)]
struct Tool {
    driver: Driver,
}

#[derive(Deserialize)]
struct Driver {
    name: String,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    default_configuration: Option<Configuration>,
    properties: Option<Properties>,
    short_description: Option<Text>,
}

#[derive(Deserialize)]
struct Configuration {
    level: Option<String>,
}

#[derive(Deserialize, Default)]
struct Properties {
    #[serde(default)]
    tags: Vec<String>,
    #[serde(rename = "security-severity")]
    security_severity: Option<Value>,
}

#[derive(Deserialize)]
struct Text {
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: Option<String>,
    rule_index: Option<usize>,
    rule: Option<RuleRef>,
    level: Option<String>,
    kind: Option<String>,
    message: Option<Text>,
    #[serde(default)]
    locations: Vec<SarifLocation>,
    #[serde(default)]
    suppressions: Vec<Suppression>,
    baseline_state: Option<String>,
    properties: Option<Properties>,
    #[serde(default)]
    partial_fingerprints: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    fingerprints: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RuleRef {
    id: Option<String>,
    index: Option<usize>,
}

#[derive(Deserialize)]
struct Suppression {
    kind: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: Option<PhysicalLocation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: Option<ArtifactLocation>,
    region: Option<Region>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: Option<u32>,
    start_column: Option<u32>,
}

pub(super) fn parse(root: &Root, path: &Path, text: &str) -> Result<Vec<Parsed>, CollectError> {
    let value: Value = serde_json::from_str(text).map_err(|err| CollectError::json(path, &err))?;
    match value.get("version").and_then(Value::as_str) {
        Some("2.1.0") => {}
        Some(other) => {
            return Err(CollectError::content(
                path,
                format!("SARIF version `{other}` is not supported; preflight reads SARIF 2.1.0"),
            ));
        }
        None => {
            return Err(CollectError::content(
                path,
                "not a SARIF log: `/version` is missing (SARIF 2.1.0 logs have `\"version\": \"2.1.0\"`)",
            ));
        }
    }
    let log: Log = serde_json::from_value(value).map_err(|err| {
        CollectError::content(path, format!("not a valid SARIF 2.1.0 log: {err}"))
    })?;
    let _ = log.version;
    let runs = log
        .runs
        .ok_or_else(|| CollectError::content(path, "not a SARIF log: `/runs` is missing"))?;
    let mut parsed = Vec::new();
    for (run_index, run) in runs.into_iter().enumerate() {
        parsed.push(parse_run(root, path, run_index, run)?);
    }
    Ok(parsed)
}

fn parse_run(root: &Root, path: &Path, run_index: usize, run: Run) -> Result<Parsed, CollectError> {
    let tool = run.tool.driver.name.clone();
    let rules = &run.tool.driver.rules;
    let mut findings = Vec::new();
    let mut suppressed = 0;
    for (index, result) in run.results.unwrap_or_default().into_iter().enumerate() {
        let pointer = format!("/runs/{run_index}/results/{index}");
        let suppressed_here = is_suppressed(path, &pointer, &result)?;
        if suppressed_here {
            suppressed += 1;
            continue;
        }
        let rule_index = result
            .rule_index
            .or(result.rule.as_ref().and_then(|r| r.index));
        let rule_id = result
            .rule_id
            .clone()
            .or_else(|| result.rule.as_ref().and_then(|r| r.id.clone()))
            .or_else(|| rule_index.and_then(|i| rules.get(i)).map(|r| r.id.clone()))
            .ok_or_else(|| {
                CollectError::content(path, format!("at `{pointer}`: the result names no rule"))
            })?;
        let rule = rule_index
            .and_then(|i| rules.get(i))
            .filter(|r| r.id == rule_id)
            .or_else(|| rules.iter().find(|r| r.id == rule_id));
        let empty = Properties::default();
        let rule_props = rule.and_then(|r| r.properties.as_ref()).unwrap_or(&empty);
        let result_props = result.properties.as_ref().unwrap_or(&empty);
        let security_severity = match result_props
            .security_severity
            .as_ref()
            .or(rule_props.security_severity.as_ref())
        {
            Some(value) => Some(score(value).ok_or_else(|| {
                CollectError::content(
                    path,
                    format!("at `{pointer}`: security-severity `{value}` is not a number"),
                )
            })?),
            None => None,
        };
        let level = result
            .level
            .clone()
            .or_else(|| {
                rule.and_then(|r| r.default_configuration.as_ref())
                    .and_then(|c| c.level.clone())
            })
            .unwrap_or_else(|| "warning".to_owned());
        let severity = match security_severity {
            Some(score) => from_score(score),
            None => from_level(&level).ok_or_else(|| {
                CollectError::content(
                    path,
                    format!("at `{pointer}/level`: unknown SARIF level `{level}`"),
                )
            })?,
        };
        let tags: Vec<String> = rule_props
            .tags
            .iter()
            .chain(&result_props.tags)
            .map(|t| t.to_ascii_lowercase())
            .collect();
        let category = categorize(&tool, &tags, security_severity.is_some());
        let message = result
            .message
            .and_then(|m| m.text)
            .or_else(|| {
                rule.and_then(|r| r.short_description.as_ref())
                    .and_then(|d| d.text.clone())
            })
            .unwrap_or_default();
        let location = result
            .locations
            .first()
            .and_then(|l| l.physical_location.as_ref())
            .and_then(|p| {
                let uri = p.artifact_location.as_ref()?.uri.as_ref()?;
                Some(Location {
                    path: normalize_reported(root, uri),
                    line: p.region.as_ref().and_then(|r| r.start_line),
                    column: p.region.as_ref().and_then(|r| r.start_column),
                    message: None,
                })
            });
        // The tool's identity of the result: stable fingerprints first (sorted by key, so the
        // same log gives the same text), then the partial ones GitHub computes.
        let fingerprint = [&result.fingerprints, &result.partial_fingerprints]
            .into_iter()
            .find(|map| !map.is_empty())
            .map(|map| {
                map.iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect::<Vec<_>>()
                    .join(",")
            });
        let baseline = match result.baseline_state.as_deref() {
            Some("new") => Some(BaselineState::New),
            Some("unchanged" | "updated") => Some(BaselineState::Unchanged),
            _ => None,
        };
        findings.push(Finding {
            tool: tool.clone(),
            category,
            severity,
            rule: rule_id,
            message,
            location,
            package: None,
            fingerprint,
            baseline,
        });
    }
    // A fingerprint several results share is not an identity (Semgrep without a login writes
    // `requires login` for every result): matching falls back to the rule, path and message.
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for finding in &findings {
        if let Some(fingerprint) = &finding.fingerprint {
            *seen.entry(fingerprint.clone()).or_insert(0) += 1;
        }
    }
    for finding in &mut findings {
        if finding
            .fingerprint
            .as_ref()
            .is_some_and(|fingerprint| seen.get(fingerprint).copied().unwrap_or(0) > 1)
        {
            finding.fingerprint = None;
        }
    }
    Ok(Parsed {
        tool,
        findings,
        suppressed,
    })
}

/// Whether a result is not a finding: suppressed (an accepted suppression), absent from the
/// baseline, or of a kind that is not a failure. Values outside SARIF 2.1.0's enumerations are
/// errors: a misspelt `"kind": "FAIL"` or `"status": "REJECTED"` must not hide a finding.
fn is_suppressed(path: &Path, pointer: &str, result: &SarifResult) -> Result<bool, CollectError> {
    let unknown = |field: String, value: &str, allowed: &str| {
        CollectError::content(
            path,
            format!(
                "at `{pointer}/{field}`: `{value}` is not a SARIF 2.1.0 value (one of {allowed})"
            ),
        )
    };
    let kind_fails = match result.kind.as_deref() {
        None | Some("fail" | "open" | "review") => true,
        Some("pass" | "notApplicable" | "informational") => false,
        Some(other) => {
            return Err(unknown(
                "kind".to_owned(),
                other,
                "pass, open, informational, notApplicable, review, fail",
            ));
        }
    };
    let mut suppressed = false;
    for (index, suppression) in result.suppressions.iter().enumerate() {
        match suppression.kind.as_deref() {
            Some("inSource" | "external") => {}
            Some(other) => {
                return Err(unknown(
                    format!("suppressions/{index}/kind"),
                    other,
                    "inSource, external",
                ));
            }
            None => {
                return Err(CollectError::content(
                    path,
                    format!(
                        "at `{pointer}/suppressions/{index}`: a suppression has no `kind` (inSource or external), so it is not a valid SARIF suppression"
                    ),
                ));
            }
        }
        match suppression.status.as_deref() {
            // SARIF: a suppression without a status is accepted.
            None | Some("accepted") => suppressed = true,
            Some("underReview" | "rejected") => {}
            Some(other) => {
                return Err(unknown(
                    format!("suppressions/{index}/status"),
                    other,
                    "accepted, underReview, rejected",
                ));
            }
        }
    }
    let absent = match result.baseline_state.as_deref() {
        None | Some("new" | "unchanged" | "updated") => false,
        Some("absent") => true,
        Some(other) => {
            return Err(unknown(
                "baselineState".to_owned(),
                other,
                "new, unchanged, updated, absent",
            ));
        }
    };
    Ok(suppressed || absent || !kind_fails)
}

fn score(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|s: &f64| s.is_finite())
}

/// GitHub's mapping of `security-severity` scores.
pub fn from_score(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score >= 0.1 {
        Severity::Low
    } else {
        Severity::Info
    }
}

/// SARIF levels.
pub fn from_level(level: &str) -> Option<Severity> {
    match level {
        "error" => Some(Severity::High),
        "warning" => Some(Severity::Medium),
        "note" => Some(Severity::Low),
        "none" => Some(Severity::Info),
        _ => None,
    }
}

fn categorize(tool: &str, tags: &[String], has_security_severity: bool) -> Category {
    let tool = tool.to_ascii_lowercase();
    let tool_is = |names: &[&str]| names.iter().any(|name| tool.contains(name));
    if tool_is(&["gitleaks", "trufflehog", "detect-secrets", "ggshield"]) {
        return Category::Secret;
    }
    if tool_is(&[
        "checkov",
        "tfsec",
        "kics",
        "terrascan",
        "hadolint",
        "kube-linter",
        "kubesec",
    ]) {
        return Category::Misconfiguration;
    }
    let tagged = |names: &[&str]| tags.iter().any(|t| names.contains(&t.as_str()));
    if tagged(&["secret", "secrets"]) {
        Category::Secret
    } else if tagged(&["misconfiguration", "iac", "config", "configuration"]) {
        Category::Misconfiguration
    } else if tagged(&["vulnerability", "security"])
        || has_security_severity
        || tags
            .iter()
            .any(|t| t.starts_with("external/cwe") || t.starts_with("cwe-"))
    {
        Category::Vulnerability
    } else {
        Category::Lint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_score_bands() {
        assert_eq!(from_score(9.0), Severity::Critical);
        assert_eq!(from_score(8.9), Severity::High);
        assert_eq!(from_score(7.0), Severity::High);
        assert_eq!(from_score(6.9), Severity::Medium);
        assert_eq!(from_score(4.0), Severity::Medium);
        assert_eq!(from_score(3.9), Severity::Low);
        assert_eq!(from_score(0.1), Severity::Low);
        assert_eq!(from_score(0.0), Severity::Info);
    }
}
