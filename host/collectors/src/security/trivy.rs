//! Trivy's JSON report: `Results[].Vulnerabilities[]`, `Misconfigurations[]`, `Secrets[]`.

use std::path::Path;

use preflight_sdk::Location;
use preflight_sdk::facts::{Category, Finding, Package, Severity};
use serde::Deserialize;

use super::Parsed;
use crate::input::CollectError;
use crate::input::Root;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    schema_version: Option<u64>,
    #[serde(default)]
    results: Option<Vec<TrivyResult>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyResult {
    target: String,
    #[serde(default)]
    vulnerabilities: Option<Vec<Vulnerability>>,
    #[serde(default)]
    misconfigurations: Option<Vec<Misconfiguration>>,
    #[serde(default)]
    secrets: Option<Vec<Secret>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Vulnerability {
    #[serde(rename = "VulnerabilityID")]
    vulnerability_id: String,
    pkg_name: String,
    installed_version: Option<String>,
    fixed_version: Option<String>,
    severity: String,
    title: Option<String>,
    pkg_identifier: Option<PkgIdentifier>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PkgIdentifier {
    #[serde(rename = "PURL")]
    purl: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Misconfiguration {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "AVDID")]
    avd_id: Option<String>,
    title: Option<String>,
    message: Option<String>,
    severity: String,
    status: Option<String>,
    cause_metadata: Option<Cause>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Cause {
    start_line: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Secret {
    #[serde(rename = "RuleID")]
    rule_id: String,
    title: Option<String>,
    severity: String,
    start_line: Option<u32>,
}

/// Trivy severities; `UNKNOWN` is `info`, as trivy's own SARIF gives it security-severity 0.
fn severity(path: &Path, text: &str) -> Result<Severity, CollectError> {
    Ok(match text.to_ascii_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        "UNKNOWN" => Severity::Info,
        other => {
            return Err(CollectError::content(
                path,
                format!(
                    "unknown Trivy severity `{other}` (expected CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN)"
                ),
            ));
        }
    })
}

pub(super) fn parse(root: &Root, path: &Path, text: &str) -> Result<Vec<Parsed>, CollectError> {
    let report: Report =
        serde_json::from_str(text).map_err(|err| CollectError::json(path, &err))?;
    if report.schema_version.is_none() {
        return Err(CollectError::content(
            path,
            "not a Trivy JSON report: `SchemaVersion` is missing (write it with `trivy ... --format json`)",
        ));
    }
    let mut findings = Vec::new();
    let mut suppressed = 0;
    for result in report.results.unwrap_or_default() {
        let target = crate::input::normalize_reported(root, &result.target);
        let at = |line: Option<u32>| Location {
            path: target.clone(),
            line,
            column: None,
            message: None,
        };
        for v in result.vulnerabilities.unwrap_or_default() {
            let fixed = v.fixed_version.filter(|f| !f.is_empty()).map_or_else(
                || "no fixed version".to_owned(),
                |f| format!("fixed in {f}"),
            );
            let package = Package {
                name: v.pkg_name.clone(),
                version: v.installed_version.clone(),
                purl: v.pkg_identifier.and_then(|id| id.purl),
            };
            findings.push(Finding {
                tool: "trivy".to_owned(),
                category: Category::Vulnerability,
                severity: severity(path, &v.severity)?,
                rule: v.vulnerability_id,
                message: format!(
                    "{} {}: {} ({fixed})",
                    v.pkg_name,
                    v.installed_version.unwrap_or_default(),
                    v.title.unwrap_or_default()
                ),
                location: Some(at(None)),
                package: Some(package),
                fingerprint: None,
                baseline: None,
            });
        }
        for m in result.misconfigurations.unwrap_or_default() {
            if m.status
                .as_deref()
                .is_some_and(|s| !s.eq_ignore_ascii_case("FAIL"))
            {
                suppressed += 1;
                continue;
            }
            let rule = m
                .avd_id
                .or(m.id)
                .unwrap_or_else(|| "misconfiguration".to_owned());
            findings.push(Finding {
                tool: "trivy".to_owned(),
                category: Category::Misconfiguration,
                severity: severity(path, &m.severity)?,
                rule,
                message: m.message.or(m.title).unwrap_or_default(),
                location: Some(at(m.cause_metadata.and_then(|c| c.start_line))),
                package: None,
                fingerprint: None,
                baseline: None,
            });
        }
        for s in result.secrets.unwrap_or_default() {
            findings.push(Finding {
                tool: "trivy".to_owned(),
                category: Category::Secret,
                severity: severity(path, &s.severity)?,
                rule: s.rule_id,
                message: s.title.unwrap_or_else(|| "secret".to_owned()),
                location: Some(at(s.start_line)),
                package: None,
                fingerprint: None,
                baseline: None,
            });
        }
    }
    Ok(vec![Parsed {
        tool: "trivy".to_owned(),
        findings,
        suppressed,
    }])
}
