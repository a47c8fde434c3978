//! Grype's JSON report (`grype ... -o json`): `matches[]`, each a vulnerability in an artifact.

use std::path::Path;

use preflight_sdk::Location;
use preflight_sdk::facts::{Category, Finding, Package, Severity};
use serde::Deserialize;

use super::Parsed;
use crate::input::CollectError;
use crate::input::Root;

#[derive(Deserialize)]
struct Report {
    matches: Option<Vec<Match>>,
}

#[derive(Deserialize)]
struct Match {
    vulnerability: Vulnerability,
    artifact: Artifact,
}

#[derive(Deserialize)]
struct Vulnerability {
    id: String,
    severity: Option<String>,
    description: Option<String>,
    fix: Option<Fix>,
}

#[derive(Deserialize)]
struct Fix {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct Artifact {
    name: String,
    version: Option<String>,
    purl: Option<String>,
    #[serde(default)]
    locations: Vec<ArtifactLocation>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    path: String,
}

/// Grype severities; `Negligible` and `Unknown` are `info`, as for Trivy's `UNKNOWN`.
fn severity(path: &Path, pointer: &str, text: Option<&str>) -> Result<Severity, CollectError> {
    Ok(match text.unwrap_or("Unknown") {
        "Critical" => Severity::Critical,
        "High" => Severity::High,
        "Medium" => Severity::Medium,
        "Low" => Severity::Low,
        "Negligible" | "Unknown" => Severity::Info,
        other => {
            return Err(CollectError::content(
                path,
                format!(
                    "at `{pointer}`: unknown Grype severity `{other}` (expected Critical, High, Medium, Low, Negligible or Unknown)"
                ),
            ));
        }
    })
}

pub(super) fn parse(root: &Root, path: &Path, text: &str) -> Result<Vec<Parsed>, CollectError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| CollectError::json(path, &err))?;
    if value.get("matches").is_none() {
        return Err(CollectError::content(
            path,
            "not a Grype JSON report: `/matches` is missing (write it with `grype ... -o json`)",
        ));
    }
    let report: Report = serde_json::from_value(value)
        .map_err(|err| CollectError::content(path, format!("not a Grype report: {err}")))?;
    let mut findings = Vec::new();
    for (index, m) in report.matches.unwrap_or_default().into_iter().enumerate() {
        let severity = severity(
            path,
            &format!("/matches/{index}/vulnerability/severity"),
            m.vulnerability.severity.as_deref(),
        )?;
        let fixed = m
            .vulnerability
            .fix
            .as_ref()
            .and_then(|fix| fix.versions.first())
            .map_or_else(
                || "no fixed version".to_owned(),
                |v| format!("fixed in {v}"),
            );
        let summary = m
            .vulnerability
            .description
            .as_deref()
            .map(|d| {
                d.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect::<String>()
            })
            .unwrap_or_default();
        findings.push(Finding {
            tool: "grype".to_owned(),
            category: Category::Vulnerability,
            severity,
            rule: m.vulnerability.id,
            message: format!(
                "{} {}: {summary} ({fixed})",
                m.artifact.name,
                m.artifact.version.clone().unwrap_or_default()
            ),
            location: m.artifact.locations.first().map(|l| Location {
                path: crate::input::normalize_reported(root, &l.path),
                line: None,
                column: None,
                message: None,
            }),
            package: Some(Package {
                name: m.artifact.name,
                version: m.artifact.version,
                purl: m.artifact.purl,
            }),
            fingerprint: None,
            baseline: None,
        });
    }
    Ok(vec![Parsed {
        tool: "grype".to_owned(),
        findings,
        suppressed: 0,
    }])
}
