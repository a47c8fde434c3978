//! The fact set: everything preflight knows about a release, in one JSON document.
//!
//! The host checks every fact set against `schemas/facts.schema.json` (generated from these
//! types) before any policy sees it, and that schema rejects unknown fields. Inside a policy the
//! same types ignore fields they do not know, and every enum has an `Unknown` value for values
//! it does not know, so a policy built with this SDK keeps working when a newer host adds a
//! section, a category or a severity. (`Unknown` is never in the schema: the host only writes
//! values it knows.)

use serde::{Deserialize, Serialize};

/// Everything preflight knows about a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct FactSet {
    /// What is being released, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Project>,
    /// Readiness and MVP scores, each from 0 to 10. Required unless the fact set is a canary
    /// analysis (has `canary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
    /// The security evidence: a verdict from an earlier gate, scanner findings, or both.
    /// Required unless the fact set has `canary`.
    #[serde(default)]
    pub security: Security,
    /// How risky the change is by size and reach. Required unless the fact set has `canary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complexity: Option<Complexity>,
    /// Required and optional files of the release, and which of them are missing.
    #[serde(default)]
    pub artifacts: Artifacts,
    /// Where the scores came from, when they were read from checklists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checklists: Option<Checklists>,
    /// Test results from JUnit XML, when collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<TestResults>,
    /// Line coverage from lcov or Cobertura, when collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// Baseline and canary metrics from Prometheus, for canary analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<crate::canary::Canary>,
    /// The software bill of materials: the components being shipped and their licenses, from
    /// CycloneDX and SPDX documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<Sbom>,
    /// A team's own evidence, by namespace (`change`, `deploy-window`, `pentest`): any JSON,
    /// up to 1 MiB per namespace. A policy that reads a namespace declares it, with a JSON
    /// Schema, in its metadata; the host checks the section against it before the policy runs.
    /// Read it with [`FactSet::custom`].
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema_support::custom_sections")
    )]
    pub custom: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The pattern of a custom namespace: lowercase letters, digits and `-`, starting with a letter.
pub const CUSTOM_NAMESPACE_PATTERN: &str = "^[a-z][a-z0-9-]{0,63}$";

/// The largest custom section, serialized: 1 MiB.
pub const CUSTOM_SECTION_MAX_BYTES: usize = 1 << 20;

/// Whether `name` is a valid custom namespace ([`CUSTOM_NAMESPACE_PATTERN`]).
pub fn is_custom_namespace(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

impl FactSet {
    /// The custom section `namespace`, read as `T`; `None` when the fact set has none.
    ///
    /// ```
    /// # use preflight_sdk::FactSet;
    /// #[derive(serde::Deserialize)]
    /// struct Change {
    ///     ticket: String,
    ///     approved: bool,
    /// }
    /// let facts: FactSet = serde_json::from_value(serde_json::json!({
    ///     "custom": { "change": { "ticket": "CHG-42", "approved": true } }
    /// }))
    /// .unwrap();
    /// let change: Option<Change> = facts.custom("change").unwrap();
    /// assert!(change.is_some_and(|c| c.approved && c.ticket == "CHG-42"));
    /// ```
    ///
    /// # Errors
    /// A `facts.invalid` issue naming the namespace when the section does not read as `T`
    /// (declare its schema in the policy's metadata and the host refuses such facts first).
    pub fn custom<T: serde::de::DeserializeOwned>(
        &self,
        namespace: &str,
    ) -> Result<Option<T>, crate::Issue> {
        match self.custom.get(namespace) {
            None => Ok(None),
            Some(value) => T::deserialize(value).map(Some).map_err(|err| {
                crate::Issue::new(
                    "facts.invalid",
                    format!(
                        "the custom fact section `{namespace}` does not read as expected: {err}"
                    ),
                )
            }),
        }
    }
}

/// What is being released.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Project {
    /// Project or service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version being released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Source revision being released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// Readiness and MVP scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Scores {
    /// Release readiness, 0 (nothing done) to 10 (definition of done met).
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 10.0)))]
    pub readiness: f64,
    /// MVP completeness, 0 to 10.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 10.0)))]
    pub mvp: f64,
}

/// Security evidence.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Security {
    /// A verdict reached elsewhere (an earlier pipeline gate), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateVerdict>,
    /// The scanner reports that were read. Present (even empty) means scanners were collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scans: Option<Vec<Scan>>,
    /// Every finding, normalised.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Finding counts by category and severity.
    #[serde(default)]
    pub counts: FindingCounts,
    /// The VEX statements that were read, each with how many findings it cleared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vex: Vec<VexStatement>,
    /// Findings a VEX statement cleared: out of `findings` and `counts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleared: Vec<ClearedFinding>,
    /// Findings a waiver took out of `findings` and `counts`, with the waiver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waived: Vec<WaivedFinding>,
}

impl Security {
    /// How many findings of `category` are at `severity` or above (an unknown severity ranks
    /// above critical, an unknown category counts with vulnerabilities). Counted from
    /// `findings` when scanners were read, so counts that disagree with the findings cannot
    /// hide one; from `counts` when the fact set has counts only.
    ///
    /// ```
    /// use preflight_sdk::facts::{Category, Security, Severity};
    ///
    /// let security: Security = serde_json::from_value(serde_json::json!({
    ///     "scans": [{"tool": "trivy", "format": "trivy", "path": "trivy.json", "findings": 2}],
    ///     "findings": [
    ///         {"tool": "trivy", "category": "vulnerability", "severity": "high", "rule": "CVE-1", "message": "m"},
    ///         {"tool": "trivy", "category": "vulnerability", "severity": "low", "rule": "CVE-2", "message": "m"}
    ///     ]
    /// })).unwrap();
    /// assert_eq!(security.at_least(Category::Vulnerability, Severity::High), 1);
    /// assert_eq!(security.at_least(Category::Vulnerability, Severity::Low), 2);
    /// assert_eq!(security.at_least(Category::Secret, Severity::Info), 0);
    /// ```
    pub fn at_least(&self, category: Category, severity: Severity) -> u64 {
        if self.scans.is_some() || !self.findings.is_empty() {
            self.findings_at_least(category, severity).count() as u64
        } else {
            self.counts.category(category).at_least(severity)
        }
    }

    /// The findings of `category` at `severity` or above, in report order.
    pub fn findings_at_least(
        &self,
        category: Category,
        severity: Severity,
    ) -> impl Iterator<Item = &Finding> {
        let counted_as = |c: Category| match c {
            Category::Unknown => Category::Vulnerability,
            other => other,
        };
        self.findings.iter().filter(move |finding| {
            counted_as(finding.category) == counted_as(category) && finding.severity >= severity
        })
    }
}

/// One scanner report that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Scan {
    /// The tool that wrote it (from the report where it says so).
    pub tool: String,
    /// `sarif`, `trivy`, `gitleaks` or `ruff`.
    pub format: String,
    /// The file, as configured.
    pub path: String,
    /// Findings taken from it.
    pub findings: u64,
    /// Findings skipped because the report marks them suppressed, passing or absent.
    #[serde(default)]
    pub suppressed: u64,
    /// Findings skipped because an earlier report had them already (the same tool, rule and
    /// place: one scan written as SARIF and as JSON counts once).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicates: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A scanner finding in one normal form, whatever tool reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Finding {
    /// The tool, e.g. `Semgrep OSS`, `Bandit`, `trivy`, `gitleaks`, `ruff`.
    pub tool: String,
    /// What kind of problem.
    pub category: Category,
    /// How bad.
    pub severity: Severity,
    /// The tool's rule id (a CVE id for vulnerabilities in dependencies).
    pub rule: String,
    /// The tool's message.
    pub message: String,
    /// Where, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<crate::policy::Location>,
    /// The package the finding is in, for a vulnerability in a dependency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// The tool's stable identity of the finding (SARIF `partialFingerprints` or
    /// `fingerprints`), which survives moved lines; what waivers and baselines match first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Against a baseline (`--baseline`, or the tool's SARIF `baselineState`): `new` or
    /// `unchanged`. Absent without a baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineState>,
}

/// Whether a finding was already there in the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum BaselineState {
    /// Not in the baseline.
    New,
    /// In the baseline too.
    Unchanged,
}

/// A finding a waiver in `preflight.toml` took out of `findings` and `counts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct WaivedFinding {
    /// The finding.
    pub finding: Finding,
    /// The waiver's id.
    pub waiver: String,
    /// Who owns the accepted risk.
    pub owner: String,
    /// The last day the waiver applies (`YYYY-MM-DD`).
    pub expires: String,
    /// Why the risk is accepted.
    pub reason: String,
}

/// A package a finding is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Package {
    /// Its name.
    pub name: String,
    /// The installed version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its package URL, when the scanner gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// A VEX statement that was read: a supplier's word on whether a vulnerability affects a
/// product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct VexStatement {
    /// The VEX document, as configured.
    pub document: String,
    /// The vulnerability (`CVE-2024-47081`), and its aliases.
    pub vulnerability: String,
    /// Other ids of the same vulnerability (`GHSA-…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The products (package URLs) the statement is about.
    pub products: Vec<String>,
    /// `not_affected`, `affected`, `fixed` or `under_investigation`.
    pub status: String,
    /// Why a product is not affected (`vulnerable_code_not_in_execute_path`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The statement's explanation, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Who made the statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// How many findings it cleared.
    #[serde(default)]
    pub matched: u64,
}

/// A finding a VEX statement cleared (`not_affected` or `fixed`): it no longer counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct ClearedFinding {
    /// The finding.
    pub finding: Finding,
    /// The statement's status.
    pub status: String,
    /// Its justification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Its author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The VEX document.
    pub document: String,
}

/// The kind of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// A vulnerability: a CVE in a dependency or a security weakness in code.
    Vulnerability,
    /// A leaked credential.
    Secret,
    /// A code-quality finding.
    Lint,
    /// An insecure configuration (IaC, Dockerfile, Kubernetes).
    Misconfiguration,
    /// A category this SDK does not know (written by a newer host). Policies should treat it
    /// at least as strictly as a vulnerability.
    #[serde(other)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    Unknown,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 4] = [
        Category::Vulnerability,
        Category::Secret,
        Category::Lint,
        Category::Misconfiguration,
    ];

    /// `vulnerability`, `secret`, `lint` or `misconfiguration`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Vulnerability => "vulnerability",
            Category::Secret => "secret",
            Category::Lint => "lint",
            Category::Misconfiguration => "misconfiguration",
            Category::Unknown => "unknown",
        }
    }
}

/// The severity of a finding, from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High (also SARIF level `error`).
    High,
    /// Critical.
    Critical,
    /// A severity this SDK does not know (written by a newer host). It ranks above critical, so
    /// a policy that does not know it fails closed on it.
    #[serde(other)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    Unknown,
}

impl Severity {
    /// Every known severity, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// `critical`, `high`, `medium`, `low` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
            Severity::Unknown => "unknown",
        }
    }
}

/// Counts per severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct SeverityCounts {
    /// Critical findings.
    #[serde(default)]
    pub critical: u64,
    /// High findings.
    #[serde(default)]
    pub high: u64,
    /// Medium findings.
    #[serde(default)]
    pub medium: u64,
    /// Low findings.
    #[serde(default)]
    pub low: u64,
    /// Informational findings.
    #[serde(default)]
    pub info: u64,
    /// All of them.
    #[serde(default)]
    pub total: u64,
}

impl SeverityCounts {
    /// Adds one finding of `severity`.
    pub fn add(&mut self, severity: Severity) {
        *self.slot(severity) += 1;
        self.total += 1;
    }

    /// The count at one severity (an unknown severity is counted as critical).
    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical | Severity::Unknown => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    /// The count at `severity` or above.
    pub fn at_least(&self, severity: Severity) -> u64 {
        Severity::ALL
            .iter()
            .filter(|s| **s >= severity)
            .map(|s| self.get(*s))
            .sum()
    }

    fn slot(&mut self, severity: Severity) -> &mut u64 {
        match severity {
            Severity::Critical | Severity::Unknown => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        }
    }
}

/// Finding counts by category, then severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct FindingCounts {
    /// Vulnerabilities.
    #[serde(default)]
    pub vulnerability: SeverityCounts,
    /// Secrets.
    #[serde(default)]
    pub secret: SeverityCounts,
    /// Lint findings.
    #[serde(default)]
    pub lint: SeverityCounts,
    /// Misconfigurations.
    #[serde(default)]
    pub misconfiguration: SeverityCounts,
    /// Every finding.
    #[serde(default)]
    pub total: u64,
}

impl FindingCounts {
    /// Counts a list of findings.
    pub fn of(findings: &[Finding]) -> FindingCounts {
        let mut counts = FindingCounts::default();
        for finding in findings {
            counts.category_mut(finding.category).add(finding.severity);
            counts.total += 1;
        }
        counts
    }

    /// The counts of one category (an unknown category is counted with vulnerabilities).
    pub fn category(&self, category: Category) -> &SeverityCounts {
        match category {
            Category::Vulnerability | Category::Unknown => &self.vulnerability,
            Category::Secret => &self.secret,
            Category::Lint => &self.lint,
            Category::Misconfiguration => &self.misconfiguration,
        }
    }

    fn category_mut(&mut self, category: Category) -> &mut SeverityCounts {
        match category {
            Category::Vulnerability | Category::Unknown => &mut self.vulnerability,
            Category::Secret => &mut self.secret,
            Category::Lint => &mut self.lint,
            Category::Misconfiguration => &mut self.misconfiguration,
        }
    }
}

/// The checklists the scores were read from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Checklists {
    /// The readiness checklist (e.g. `docs/DOD_CHECKLIST.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<ChecklistScore>,
    /// The MVP feature list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvp: Option<ChecklistScore>,
}

/// A score read from a Markdown checklist: `10 × done / total`, weighted per section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct ChecklistScore {
    /// The checklist file.
    pub path: String,
    /// Items checked.
    pub done: u64,
    /// Items in all.
    pub total: u64,
    /// The resulting score, 0 to 10.
    pub score: f64,
    /// Per section (the nearest heading above the items).
    #[serde(default)]
    pub sections: Vec<ChecklistSection>,
    /// The items not yet checked (up to 50).
    #[serde(default)]
    pub open_items: Vec<String>,
}

/// One section of a checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct ChecklistSection {
    /// The heading text (empty before the first heading).
    pub title: String,
    /// Its weight.
    pub weight: f64,
    /// Items checked.
    pub done: u64,
    /// Items in all.
    pub total: u64,
}

/// Test results from JUnit XML.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct TestResults {
    /// Test cases in all.
    pub total: u64,
    /// Passed.
    pub passed: u64,
    /// Failed (assertion failures).
    pub failures: u64,
    /// Errored (unexpected exceptions).
    pub errors: u64,
    /// Skipped.
    pub skipped: u64,
    /// The report files read.
    #[serde(default)]
    pub files: Vec<String>,
    /// The first failed or errored tests (up to 20).
    #[serde(default)]
    pub failed: Vec<FailedTest>,
}

/// A failed or errored test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct FailedTest {
    /// `classname.name`.
    pub name: String,
    /// The failure message, first line.
    pub message: String,
    /// The test's source file, when the report names it (`file` on `<testcase>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The test's line in that file, when the report names it (`line` on `<testcase>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The JUnit report it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

/// Line coverage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Coverage {
    /// `lcov` or `cobertura`.
    pub format: String,
    /// The report file.
    pub path: String,
    /// Lines with code.
    pub lines_total: u64,
    /// Lines executed.
    pub lines_covered: u64,
    /// `100 × covered / total` (100 when there are no lines).
    pub line_percent: f64,
    /// Per source file.
    #[serde(default)]
    pub files: Vec<FileCoverage>,
}

/// Line coverage of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct FileCoverage {
    /// Source path, `/`-separated, as the report gives it (relative to the project when it can).
    pub path: String,
    /// Lines with code.
    pub lines_total: u64,
    /// Lines executed.
    pub lines_covered: u64,
}

impl Coverage {
    /// Coverage of the files whose path starts with `prefix`: (covered, total, percent).
    /// `None` when no file matches.
    pub fn under(&self, prefix: &str) -> Option<(u64, u64, f64)> {
        let prefix = prefix.trim_start_matches("./");
        let (covered, total) = self
            .files
            .iter()
            .filter(|file| file.path.trim_start_matches("./").starts_with(prefix))
            .fold((0, 0), |(c, t), file| {
                (c + file.lines_covered, t + file.lines_total)
            });
        if total == 0
            && !self
                .files
                .iter()
                .any(|f| f.path.trim_start_matches("./").starts_with(prefix))
        {
            return None;
        }
        let percent = if total == 0 {
            100.0
        } else {
            100.0 * covered as f64 / total as f64
        };
        Some((covered, total, percent))
    }
}

/// The verdict of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum GateVerdict {
    /// The gate passed.
    Pass,
    /// The gate failed.
    Fail,
    /// A verdict this SDK does not know (written by a newer host): never a pass.
    #[serde(other)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    Unknown,
}

impl GateVerdict {
    /// `PASS` or `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            GateVerdict::Pass => "PASS",
            GateVerdict::Fail => "FAIL",
            GateVerdict::Unknown => "UNKNOWN",
        }
    }
}

/// How risky the change is by size and reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    /// Small, contained change.
    Low,
    /// The usual change.
    Medium,
    /// Large or cross-cutting change.
    High,
    /// A complexity this SDK does not know (written by a newer host); policies should treat
    /// it as `high`.
    #[serde(other)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    Unknown,
}

impl Complexity {
    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Low => "low",
            Complexity::Medium => "medium",
            Complexity::High => "high",
            Complexity::Unknown => "unknown",
        }
    }
}

/// Files the release should contain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Artifacts {
    /// Every path or glob that was checked.
    #[serde(default)]
    pub checked: Vec<String>,
    /// Optional artifacts that are missing: listed in the report, not blocking.
    #[serde(default)]
    pub missing: Vec<String>,
    /// Required artifacts that are missing: each one blocks the release.
    #[serde(default)]
    pub missing_required: Vec<String>,
}

/// The software bill of materials, from one or more CycloneDX or SPDX documents.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Sbom {
    /// The documents that were read.
    #[serde(default)]
    pub documents: Vec<SbomDocument>,
    /// Every component, in document order.
    #[serde(default)]
    pub components: Vec<Component>,
}

/// One SBOM document that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct SbomDocument {
    /// The file, as configured.
    pub path: String,
    /// `cyclonedx` or `spdx`.
    pub format: String,
    /// The format's version as the document gives it (`1.6`, `SPDX-2.3`).
    pub spec_version: String,
    /// Components taken from it.
    pub components: u64,
}

/// A component being shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Component {
    /// Its name.
    pub name: String,
    /// Its version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its package URL, when known (`pkg:pypi/requests@2.32.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Its licenses, as written: all of them apply. Empty when the document asserts none.
    #[serde(default)]
    pub licenses: Vec<License>,
    /// The document it came from.
    pub origin: String,
}

/// A license of a component: an SPDX expression, or a name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct License {
    /// An SPDX license expression (`MIT`, `MIT OR Apache-2.0`, `GPL-2.0-only WITH
    /// Classpath-exception-2.0`), checked when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// A license name that is not an SPDX expression, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
