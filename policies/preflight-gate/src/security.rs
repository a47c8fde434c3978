//! The security gate: an external verdict, scanner findings, or both.

use preflight_sdk::facts::{
    BaselineState, Category, Finding, FindingCounts, GateVerdict, Security, Severity,
};
use preflight_sdk::{Issue, Location};
use serde::Serialize;

use crate::settings::SecurityRules;

/// Offending findings quoted in a blocking issue.
const QUOTED: usize = 3;
/// Offending findings located in a blocking issue (each a SARIF result); the message says how
/// many more there are.
const LOCATED: usize = 100;

/// What the security gate decided.
#[derive(Debug)]
pub struct Outcome {
    /// `PASS`, `FAIL`, or `None` without any evidence.
    pub verdict: Option<GateVerdict>,
    /// Blocking issues (empty when it passed).
    pub blocking: Vec<Issue>,
    /// Explanation for `details.security`.
    pub details: Details,
}

/// `details.security`: the verdict, the evidence it rests on, and each category's rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Details {
    /// `PASS`, `FAIL`, or null without evidence.
    pub verdict: Option<&'static str>,
    /// `gate`, `findings`, `gate+findings` or `none`.
    pub evidence: &'static str,
    /// Finding counts (absent without evidence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<FindingCounts>,
    /// One entry per category when findings were collected (absent without evidence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<RuleDetail>>,
}

/// How one category's rule came out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleDetail {
    /// The category.
    pub category: &'static str,
    /// The lowest severity that counts, or `never`.
    pub fail_on: &'static str,
    /// How many counted findings are allowed.
    pub allow: u64,
    /// How many there are.
    pub count: u64,
    /// `pass`, `fail` or `off`.
    pub outcome: &'static str,
}

/// Decides the security gate.
pub fn gate(security: &Security, rules: &SecurityRules) -> Outcome {
    let scanned = security.scans.is_some() || !security.findings.is_empty();
    let mut blocking = Vec::new();
    match security.gate {
        Some(GateVerdict::Fail) => blocking.push(Issue::new(
            "security.gate_failed",
            "security gate is FAIL (rule: a failed security gate blocks the release; security score 0 of 10)",
        )),
        Some(GateVerdict::Unknown) => blocking.push(Issue::new(
            "security.gate_unknown",
            "the security gate verdict is a value this policy does not know (rule: only PASS passes)",
        )),
        Some(GateVerdict::Pass) => {}
        None if !scanned => {
            return Outcome {
                verdict: None,
                blocking: vec![Issue::new(
                    "security.no_evidence",
                    "no security evidence: no `security.gate` verdict and no scanner reports (rule: the security gate fails closed without evidence)",
                )],
                details: Details {
                    verdict: None,
                    evidence: "none",
                    counts: None,
                    rules: None,
                },
            };
        }
        None => {}
    }
    // With `only_new`, findings the baseline had already do not count.
    let owned;
    let security = if rules.only_new {
        let mut counted = security.clone();
        counted
            .findings
            .retain(|finding| finding.baseline != Some(BaselineState::Unchanged));
        owned = counted;
        &owned
    } else {
        security
    };
    let counts = FindingCounts::of(&security.findings);
    let mut rule_details = Vec::new();
    if scanned {
        for category in Category::ALL {
            let fail_on = rules.fail_on(category);
            let allow = rules.allow(category);
            let Some(floor) = fail_on.severity() else {
                rule_details.push(RuleDetail {
                    category: category.as_str(),
                    fail_on: "never",
                    allow,
                    count: 0,
                    outcome: "off",
                });
                continue;
            };
            let by_severity = counts.category(category);
            let count = by_severity.at_least(floor);
            let failed = count > allow;
            rule_details.push(RuleDetail {
                category: category.as_str(),
                fail_on: fail_on.as_str(),
                allow,
                count,
                outcome: if failed { "fail" } else { "pass" },
            });
            if failed {
                blocking.push(category_issue(
                    security,
                    category,
                    floor,
                    count,
                    allow,
                    fail_on.as_str(),
                ));
            }
        }
    }
    let verdict = if blocking.is_empty() {
        GateVerdict::Pass
    } else {
        GateVerdict::Fail
    };
    let evidence = match (security.gate.is_some(), scanned) {
        (true, true) => "gate+findings",
        (true, false) => "gate",
        _ => "findings",
    };
    Outcome {
        verdict: Some(verdict),
        blocking,
        details: Details {
            verdict: Some(verdict.as_str()),
            evidence,
            counts: Some(counts),
            rules: Some(rule_details),
        },
    }
}

fn category_issue(
    security: &Security,
    category: Category,
    floor: Severity,
    count: u64,
    allow: u64,
    fail_on: &str,
) -> Issue {
    let mut offending: Vec<&Finding> = security
        .findings
        .iter()
        .filter(|f| f.category == category && f.severity >= floor)
        .collect();
    offending.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let counts = FindingCounts::of(&security.findings);
    let breakdown: Vec<String> = Severity::ALL
        .iter()
        .filter(|s| **s >= floor)
        .filter_map(|s| {
            let n = counts.category(category).get(*s);
            (n > 0).then(|| format!("{n} {}", s.as_str()))
        })
        .collect();
    let quoted: Vec<String> = offending.iter().take(QUOTED).map(|f| describe(f)).collect();
    let mut message = format!(
        "{count} {} finding(s) at or above {} ({}); {allow} allowed (rule: security.fail_on.{} = {fail_on}). First: {}",
        category.as_str(),
        floor.as_str(),
        breakdown.join(", "),
        category.as_str(),
        quoted.join("; "),
    );
    if offending.len() > QUOTED {
        message.push_str(&format!("; and {} more", offending.len() - QUOTED));
    }
    let located: Vec<&&Finding> = offending.iter().filter(|f| f.location.is_some()).collect();
    if located.len() > LOCATED {
        message.push_str(&format!(
            " (locations: the first {LOCATED} of {})",
            located.len()
        ));
    }
    let mut issue = Issue::new(format!("security.{}", category.as_str()), message);
    if let Some(worst) = offending.first() {
        issue = issue.with_severity(worst.severity);
    }
    for finding in located.into_iter().take(LOCATED) {
        if let Some(location) = &finding.location {
            issue = issue.at(location.clone().with_message(summary(finding)));
        }
    }
    issue
}

/// One finding, without its place: `[tool] rule severity: message`.
fn summary(finding: &Finding) -> String {
    let message: String = finding.message.chars().take(200).collect();
    format!(
        "[{}] {} {}: {message}",
        finding.tool,
        finding.rule,
        finding.severity.as_str()
    )
}

fn describe(finding: &Finding) -> String {
    let place = finding
        .location
        .as_ref()
        .map_or(String::new(), |l| match l.line {
            Some(line) => format!(" at {}:{line}", l.path),
            None => format!(" at {}", l.path),
        });
    let message: String = finding.message.chars().take(120).collect();
    format!(
        "[{}] {} {}: {message}{place}",
        finding.tool,
        finding.rule,
        finding.severity.as_str()
    )
}

/// What the VEX statements did, as warnings: each cleared finding with the statement's author
/// and justification, and each statement that matched no finding (it may name the wrong
/// product or version).
pub fn vex_warnings(security: &Security) -> Vec<Issue> {
    let mut warnings = Vec::new();
    for cleared in security.cleared.iter().take(50) {
        let package = cleared
            .finding
            .package
            .as_ref()
            .map(|p| match (&p.purl, &p.version) {
                (Some(purl), _) => purl.clone(),
                (None, Some(version)) => format!("{} {version}", p.name),
                (None, None) => p.name.clone(),
            })
            .unwrap_or_default();
        let place = cleared
            .finding
            .location
            .clone()
            .unwrap_or_else(|| Location::new(cleared.document.clone()));
        warnings.push(Issue::new(
            "vex.cleared",
            format!(
                "{} in {package} is {} per {}{} (statement in {}); it does not count (rule: a not_affected or fixed VEX statement clears a finding)",
                cleared.finding.rule,
                cleared.status,
                cleared.author.as_deref().unwrap_or("an unnamed author"),
                cleared
                    .justification
                    .as_deref()
                    .map(|j| format!(", {j}"))
                    .unwrap_or_default(),
                cleared.document
            ),
        ).at(place));
    }
    if security.cleared.len() > 50 {
        warnings.push(Issue::new(
            "vex.cleared",
            format!(
                "{} more findings are cleared by VEX",
                security.cleared.len() - 50
            ),
        ));
    }
    for statement in security
        .vex
        .iter()
        .filter(|s| s.matched == 0 && matches!(s.status.as_str(), "not_affected" | "fixed"))
    {
        warnings.push(Issue::new(
            "vex.unused",
            format!(
                "the {} statement for {} on {} in {} matches no finding (check the product and version)",
                statement.status,
                statement.vulnerability,
                statement.products.join(", "),
                statement.document
            ),
        ).at(Location::new(statement.document.clone())));
    }
    warnings
}

/// With `only_new`: the findings the baseline had already, by category, as one warning.
pub fn unchanged_warning(security: &Security, rules: &SecurityRules) -> Option<Issue> {
    if !rules.only_new {
        return None;
    }
    let unchanged: Vec<Finding> = security
        .findings
        .iter()
        .filter(|finding| finding.baseline == Some(BaselineState::Unchanged))
        .cloned()
        .collect();
    if unchanged.is_empty() {
        return None;
    }
    let counts = FindingCounts::of(&unchanged);
    let by_category: Vec<String> = Category::ALL
        .iter()
        .filter_map(|category| {
            let n = counts.category(*category).total;
            (n > 0).then(|| format!("{n} {}", category.as_str()))
        })
        .collect();
    Some(Issue::new(
        "security.unchanged",
        format!(
            "{} findings were in the baseline already ({}) and do not count (rule: security.only_new = true)",
            unchanged.len(),
            by_category.join(", ")
        ),
    ))
}
