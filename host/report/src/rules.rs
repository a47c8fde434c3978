//! What each issue id means and how to fix it: SARIF rule descriptions and help, Code Quality
//! descriptions. The host's ids come from [`IssueId::meaning`]; the built-in policies' ids are
//! listed here (a test keeps the list in step with their sources); any other policy's ids get a
//! description that names the policy.

use preflight_engine::IssueId;

/// A rule's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleText {
    /// One sentence: what the rule checks.
    pub summary: String,
    /// How to fix or silence it.
    pub help: String,
    /// Whether the rule is about security (SARIF `security` tag, `security-severity`).
    pub security: bool,
}

/// The built-in policies' ids: (id, what it means, how to fix it).
const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "risk.above_go",
        "The risk score is at or above the GO threshold, so the release needs a canary.",
        "Raise the readiness or MVP score (finish the open checklist items), lower the complexity, or deploy behind a canary. The thresholds are `[gate] thresholds` in preflight.toml.",
    ),
    (
        "risk.above_canary",
        "The risk score is at or above the canary threshold: the release must not ship.",
        "Raise the readiness or MVP score, fix the security findings, or split the change. The thresholds are `[gate] thresholds` in preflight.toml.",
    ),
    (
        "facts.score_out_of_range",
        "A score is outside 0 to 10.",
        "Fix the score in `[scores]` or in the facts file; checklist scores are always in range.",
    ),
    (
        "security.gate_failed",
        "The security gate of an earlier step failed.",
        "Fix what the earlier security step reported, or remove `[security] gate = \"FAIL\"`.",
    ),
    (
        "security.gate_unknown",
        "The security gate verdict is not PASS or FAIL.",
        "Set `[security] gate` to `PASS` or `FAIL`.",
    ),
    (
        "security.no_evidence",
        "There is no security evidence: no scanner report and no gate verdict.",
        "Add scanner reports under `[security]` (sarif, trivy, grype, gitleaks, ruff) or a `gate` verdict.",
    ),
    (
        "security.vulnerability",
        "Vulnerability findings at or above the configured severity exceed the allowance.",
        "Upgrade the affected packages, or record a VEX statement (`[security] vex`) for those that do not affect the product. The threshold is `[gate] security.fail_on.vulnerability`.",
    ),
    (
        "security.secret",
        "Secrets were found in the code.",
        "Remove the secret from the code and its history, rotate it, and read it from the environment or a secret store.",
    ),
    (
        "security.misconfiguration",
        "Misconfiguration findings at or above the configured severity exceed the allowance.",
        "Fix the configuration the scanner points at. The threshold is `[gate] security.fail_on.misconfiguration`.",
    ),
    (
        "security.lint",
        "Lint findings at or above the configured severity exceed the allowance.",
        "Fix the findings the linter points at. The threshold is `[gate] security.fail_on.lint`.",
    ),
    (
        "security.unknown",
        "Findings of a category this gate does not know exceed the allowance.",
        "Check the scanner's report; upgrade preflight if the category is new.",
    ),
    (
        "tests.failing",
        "Tests failed or errored.",
        "Fix the failing tests; `[gate] tests.require_passing` sets whether this blocks.",
    ),
    (
        "tests.none_ran",
        "The JUnit reports hold no test cases.",
        "Check that the test step ran and wrote its report where `[tests] junit` looks.",
    ),
    (
        "coverage.missing",
        "Coverage rules are set but there is no coverage report.",
        "Add `[coverage] lcov` or `cobertura`, or remove the coverage rules.",
    ),
    (
        "coverage.no_data",
        "The coverage report holds no line data.",
        "Check that the coverage step measured the code (a wrong source folder gives an empty report).",
    ),
    (
        "coverage.below_minimum",
        "Line coverage is below the minimum.",
        "Add tests for the uncovered lines, or change `[gate] coverage.minimum`.",
    ),
    (
        "coverage.path_below_minimum",
        "Line coverage under a path is below its minimum.",
        "Add tests for the uncovered lines under that path, or change its rule in `[gate] coverage.paths`.",
    ),
    (
        "coverage.path_not_found",
        "A coverage path rule matches no file in the report.",
        "Fix the path in `[gate] coverage.paths`; paths are as the coverage report writes them.",
    ),
    (
        "artifacts.missing_required",
        "A required artifact is missing.",
        "Add the file, or fix its path in `[artifacts] required`.",
    ),
    (
        "artifacts.missing",
        "An optional artifact is missing.",
        "Add the file, or remove it from `[artifacts] optional`.",
    ),
    (
        "licenses.refused",
        "A component in the SBOM needs a license the license rules refuse.",
        "Replace the component, or change `[gate] licenses` if the license is acceptable.",
    ),
    (
        "licenses.unknown",
        "A component in the SBOM has no SPDX license to check.",
        "Have the SBOM generator record the license, or set `[gate] licenses.unknown`.",
    ),
    (
        "licenses.no_sbom",
        "License rules are set but there is no SBOM.",
        "Add `[sbom] cyclonedx` or `spdx`, or remove `[gate] licenses`.",
    ),
    (
        "vex.cleared",
        "A VEX statement cleared a finding: it does not count.",
        "Nothing to fix: review the statement's justification when it changes.",
    ),
    (
        "vex.unused",
        "A VEX statement matches no finding.",
        "Check the statement's product (package URL and version) and vulnerability id; remove statements that no longer apply.",
    ),
    (
        "canary.score",
        "The canary's score is below the threshold.",
        "Roll back or hold the canary; the metrics in the message say which comparisons failed.",
    ),
    (
        "canary.critical_metric",
        "A critical canary metric failed.",
        "Roll back the canary; the message names the metric and its comparison.",
    ),
    (
        "canary.high",
        "A canary metric is significantly higher than the baseline.",
        "Look at the metric; set its direction in the canary config if higher is fine.",
    ),
    (
        "canary.low",
        "A canary metric is significantly lower than the baseline.",
        "Look at the metric; set its direction in the canary config if lower is fine.",
    ),
    (
        "canary.marginal",
        "The canary's score is marginal.",
        "Let the canary run longer, or roll back.",
    ),
    (
        "canary.no_data",
        "A canary metric has no data.",
        "Check the metric's query against Prometheus and the labels that select canary and baseline.",
    ),
    (
        "canary.no_metrics",
        "The canary analysis has no metrics.",
        "Configure metrics for the canary analysis.",
    ),
    (
        "canary.required_data",
        "A metric that must have data has none.",
        "Check the metric's query and that the canary is serving traffic.",
    ),
    (
        "canary.too_little_data",
        "A canary metric has too few points to compare.",
        "Let the canary run longer or shorten the step.",
    ),
    (
        "canary.error",
        "The canary analysis could not be completed.",
        "Read the message; fix the query or the Prometheus connection and run again.",
    ),
];

/// The built-in policies' ids.
pub fn builtin_ids() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(id, _, _)| *id)
}

/// The text of the rule `id`, raised by `policy`.
pub fn describe(policy: &str, id: &str) -> RuleText {
    if let Some((_, summary, help)) = BUILTIN.iter().find(|(known, _, _)| *known == id) {
        return RuleText {
            summary: (*summary).to_owned(),
            help: (*help).to_owned(),
            security: id.starts_with("security.") || id.starts_with("vex."),
        };
    }
    if let Some(host) = IssueId::parse(id) {
        let help = match id.split('.').next() {
            Some("facts" | "config" | "settings") => {
                "The message names the input and the place; fix it and run again. `preflight facts` prints the fact set."
            }
            Some("report") => "Check that the report's folder exists and is writable.",
            Some("canary") => {
                "The message names the query or the flag; fix it and run the analysis again."
            }
            _ => {
                "The message names the module and what is wrong with it; fix or re-pin the module (`preflight policy lock`) and run again."
            }
        };
        return RuleText {
            summary: host.meaning().to_owned(),
            help: help.to_owned(),
            security: false,
        };
    }
    RuleText {
        summary: format!("`{id}`, raised by the policy `{policy}`."),
        help: format!(
            "The result's message says what `{policy}` found; see the policy's documentation for the rule."
        ),
        security: id.starts_with("security."),
    }
}
