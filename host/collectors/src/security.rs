//! The security collector: SARIF 2.1.0 from any tool, and the native JSON of Trivy, Gitleaks
//! and Ruff, normalised to one list of findings with counts.

mod gitleaks;
mod grype;
mod ruff;
mod sarif;
mod trivy;
pub mod vex;

use std::path::Path;

use preflight_sdk::facts::{Finding, FindingCounts, GateVerdict, Scan};
use serde_json::{Value, json};

use super::input::{self, CollectError};
use crate::input::Root;

/// Which scanner reports to read (paths or globs, relative to the project root).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityInputs {
    /// A verdict from an earlier gate, used as well as the findings.
    #[serde(default)]
    pub gate: Option<GateVerdict>,
    /// SARIF 2.1.0 files (semgrep, bandit, ruff, checkov, gitleaks, trivy, CodeQL, ...).
    #[serde(default)]
    pub sarif: Vec<String>,
    /// Trivy JSON reports (`trivy ... --format json`).
    #[serde(default)]
    pub trivy: Vec<String>,
    /// Gitleaks JSON reports (`gitleaks ... --report-format json`).
    #[serde(default)]
    pub gitleaks: Vec<String>,
    /// Ruff JSON reports (`ruff check --output-format json`).
    #[serde(default)]
    pub ruff: Vec<String>,
    /// Grype JSON reports (`grype ... -o json`).
    #[serde(default)]
    pub grype: Vec<String>,
    /// VEX documents (OpenVEX v0.2 or CycloneDX with `vulnerabilities[].analysis`).
    #[serde(default)]
    pub vex: Vec<String>,
}

impl SecurityInputs {
    /// True when any scanner report is configured.
    pub fn has_reports(&self) -> bool {
        !(self.sarif.is_empty()
            && self.trivy.is_empty()
            && self.gitleaks.is_empty()
            && self.ruff.is_empty()
            && self.grype.is_empty())
    }
}

/// Findings read from one file.
pub(crate) struct Parsed {
    pub tool: String,
    pub findings: Vec<Finding>,
    pub suppressed: u64,
}

/// Parses a report that is a JSON array of `T`; `tool` and `command` name the tool and how to
/// write the report, for the error message.
pub(crate) fn parse_array<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    tool: &str,
    command: &str,
) -> Result<Vec<T>, CollectError> {
    let value: Value = serde_json::from_str(text).map_err(|err| CollectError::json(path, &err))?;
    if !value.is_array() {
        return Err(CollectError::content(
            path,
            format!("not a {tool} JSON report: expected an array (write it with `{command}`)"),
        ));
    }
    serde_json::from_value(value)
        .map_err(|err| CollectError::content(path, format!("not a {tool} report: {err}")))
}

/// A scanner report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportFormat {
    /// SARIF 2.1.0.
    Sarif,
    /// Trivy JSON.
    Trivy,
    /// Gitleaks JSON.
    Gitleaks,
    /// Ruff JSON.
    Ruff,
    /// Grype JSON.
    Grype,
}

/// Reads one scanner report's text into findings, as the collector does.
///
/// # Errors
/// A [`CollectError`] naming `path` and the position of the problem.
pub fn read_report(
    format: ReportFormat,
    root: &Root,
    path: &Path,
    text: &str,
) -> Result<Vec<Finding>, CollectError> {
    let parse = match format {
        ReportFormat::Sarif => sarif::parse,
        ReportFormat::Trivy => trivy::parse,
        ReportFormat::Gitleaks => gitleaks::parse,
        ReportFormat::Ruff => ruff::parse,
        ReportFormat::Grype => grype::parse,
    };
    Ok(parse(root, path, text)?
        .into_iter()
        .flat_map(|parsed| parsed.findings)
        .collect())
}

/// What makes two findings one: the tool (case-insensitive), the rule and the place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FindingKey {
    tool: String,
    rule: String,
    path: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    package: Option<String>,
}

impl FindingKey {
    fn of(finding: &Finding) -> FindingKey {
        FindingKey {
            tool: finding.tool.to_lowercase(),
            rule: finding.rule.clone(),
            path: finding.location.as_ref().map(|l| l.path.clone()),
            line: finding.location.as_ref().and_then(|l| l.line),
            column: finding.location.as_ref().and_then(|l| l.column),
            package: finding.package.as_ref().map(|p| {
                format!(
                    "{}@{}",
                    p.purl.as_deref().unwrap_or(&p.name),
                    p.version.as_deref().unwrap_or("")
                )
            }),
        }
    }
}

/// Reads every configured report and VEX document; returns the `security` section and the
/// files read.
///
/// # Errors
/// A [`CollectError`] naming the file and the position of the problem.
pub fn collect(
    root: &Root,
    inputs: &SecurityInputs,
) -> Result<(Value, Vec<std::path::PathBuf>), CollectError> {
    let mut read = Vec::new();
    let mut findings = Vec::new();
    let mut scans = Vec::new();
    type Parser = fn(&Root, &Path, &str) -> Result<Vec<Parsed>, CollectError>;
    let groups: [(&str, &[String], Parser); 5] = [
        ("sarif", &inputs.sarif, sarif::parse),
        ("trivy", &inputs.trivy, trivy::parse),
        ("gitleaks", &inputs.gitleaks, gitleaks::parse),
        ("ruff", &inputs.ruff, ruff::parse),
        ("grype", &inputs.grype, grype::parse),
    ];
    // One finding per tool, rule and place, however many reports carry it (ruff's SARIF and
    // JSON of one run; a file two globs match is read once).
    let mut seen: std::collections::HashMap<FindingKey, usize> = std::collections::HashMap::new();
    let mut files = std::collections::HashSet::new();
    for (format, patterns, parse) in groups {
        for pattern in patterns {
            for path in input::expand(root, pattern)? {
                let identity = path.canonicalize().unwrap_or_else(|_| path.clone());
                if !files.insert(identity) {
                    continue;
                }
                let text = input::read_text(&path, preflight_engine::files::InputKind::Report)?;
                read.push(path.clone());
                for parsed in parse(root, &path, &text)? {
                    let mut scan = Scan {
                        tool: parsed.tool,
                        format: format.to_owned(),
                        path: input::display_path(root, &path),
                        findings: 0,
                        suppressed: parsed.suppressed,
                        duplicates: 0,
                    };
                    for finding in parsed.findings {
                        match seen.entry(FindingKey::of(&finding)) {
                            std::collections::hash_map::Entry::Occupied(first) => {
                                // The duplicate counts as the more severe of the two.
                                let kept: &mut Finding = &mut findings[*first.get()];
                                kept.severity = kept.severity.max(finding.severity);
                                scan.duplicates += 1;
                            }
                            std::collections::hash_map::Entry::Vacant(slot) => {
                                slot.insert(findings.len());
                                findings.push(finding);
                                scan.findings += 1;
                            }
                        }
                    }
                    scans.push(scan);
                }
            }
        }
    }
    let mut statements = Vec::new();
    for pattern in &inputs.vex {
        for path in input::expand(root, pattern)? {
            let text = input::read_text(&path, preflight_engine::files::InputKind::Report)?;
            statements.extend(vex::read(&path, &input::display_path(root, &path), &text)?);
            read.push(path);
        }
    }
    let cleared = vex::apply(&mut findings, &mut statements);
    let counts = FindingCounts::of(&findings);
    // Scans count as evidence only when at least one report was configured and read.
    let mut section = if inputs.has_reports() {
        json!({ "scans": scans, "findings": findings, "counts": counts })
    } else {
        json!({})
    };
    if !statements.is_empty() {
        section["vex"] = json!(statements);
    }
    if !cleared.is_empty() {
        section["cleared"] = json!(cleared);
    }
    if let Some(gate) = inputs.gate {
        section["gate"] = json!(gate);
    }
    Ok((json!({ "security": section }), read))
}
