//! Test and coverage rules: the seed's definition of done.

use preflight_sdk::facts::{Coverage, TestResults};
use preflight_sdk::{Issue, Location};
use serde_json::{Value, json};

use crate::settings::{CoverageRules, Level, TestRules};

/// Issues raised by a rule, sorted by level.
#[derive(Debug, Default)]
pub struct Findings {
    /// Blocking issues.
    pub blocking: Vec<Issue>,
    /// Warnings.
    pub warnings: Vec<Issue>,
    /// Explanation for `details`.
    pub details: Vec<Value>,
}

impl Findings {
    /// Adds an issue at its level.
    pub fn raise(&mut self, level: Level, issue: Issue) {
        match level {
            Level::Block => self.blocking.push(issue),
            Level::Warn => self.warnings.push(issue),
            Level::Off => {}
        }
    }
}

/// Checks the test results.
pub fn tests(results: Option<&TestResults>, rules: &TestRules, out: &mut Findings) {
    let Some(results) = results else { return };
    if rules.require_passing == Level::Off {
        return;
    }
    let broken = results.failures + results.errors;
    out.details.push(json!({
        "rule": "tests.require_passing", "level": rules.require_passing,
        "total": results.total, "failures": results.failures, "errors": results.errors,
        "outcome": if broken == 0 && results.total > 0 { "pass" } else { "fail" },
    }));
    if results.total == 0 {
        out.raise(
            rules.require_passing,
            results.files.iter().fold(
                Issue::new(
                    "tests.none_ran",
                    format!(
                        "the JUnit report(s) {} hold no test cases (rule: tests.require_passing — an empty test run proves nothing)",
                        results.files.join(", ")
                    ),
                ),
                |issue, file| issue.at(Location::new(file.clone())),
            ),
        );
    } else if broken > 0 {
        let names: Vec<&str> = results
            .failed
            .iter()
            .take(5)
            .map(|t| t.name.as_str())
            .collect();
        let mut issue = Issue::new(
            "tests.failing",
            format!(
                "{broken} of {} tests did not pass ({} failed, {} errored; {} skipped) (rule: tests.require_passing: all tests pass). First: {}",
                results.total,
                results.failures,
                results.errors,
                results.skipped,
                names.join(", ")
            ),
        );
        // Each failed test the facts keep, where it is: its source file when the report names
        // one, else the report.
        for test in &results.failed {
            let place = match (&test.file, &test.report) {
                (Some(file), _) => {
                    let place = Location::new(file.clone());
                    match test.line {
                        Some(line) => place.line(line),
                        None => place,
                    }
                }
                (None, Some(report)) => Location::new(report.clone()),
                (None, None) => continue,
            };
            let text = if test.message.is_empty() {
                format!("{} did not pass", test.name)
            } else {
                format!("{} did not pass: {}", test.name, test.message)
            };
            issue = issue.at(place.with_message(text));
        }
        out.raise(rules.require_passing, issue);
    }
}

/// Checks line coverage.
pub fn coverage(coverage: Option<&Coverage>, rules: &CoverageRules, out: &mut Findings) {
    if rules.minimum.is_none() && rules.paths.is_empty() {
        return;
    }
    let Some(coverage) = coverage else {
        out.raise(
            rules.level,
            Issue::new(
                "coverage.missing",
                "coverage rules are set but the fact set has no `coverage` (rule: coverage is required when a minimum is set)",
            ),
        );
        return;
    };
    if coverage.lines_total == 0 {
        // No line data is no evidence: never read as 100 %.
        out.raise(
            rules.level,
            Issue::new(
                "coverage.no_data",
                format!(
                    "the coverage report `{}` holds no line data, so no minimum can be met (rule: coverage is required when a minimum is set)",
                    coverage.path
                ),
            ),
        );
        return;
    }
    if let Some(minimum) = rules.minimum {
        let percent = coverage.line_percent;
        let ok = percent >= minimum;
        out.details.push(json!({
            "rule": "coverage.minimum", "path": null, "minimum": minimum,
            "percent": round2(percent), "outcome": if ok { "pass" } else { "fail" },
        }));
        if !ok {
            out.raise(
                rules.level,
                Issue::new(
                    "coverage.below_minimum",
                    format!(
                        "line coverage is {:.2}% ({} of {} lines), below the minimum {minimum}% (rule: coverage.minimum)",
                        percent, coverage.lines_covered, coverage.lines_total
                    ),
                )
                .at(Location::new(coverage.path.clone())),
            );
        }
    }
    for rule in &rules.paths {
        match coverage.under(&rule.path) {
            None => out.raise(
                rules.level,
                Issue::new(
                    "coverage.path_not_found",
                    format!(
                        "no file under `{}` appears in the coverage report `{}` (rule: coverage.paths — a path rule that matches nothing cannot pass)",
                        rule.path, coverage.path
                    ),
                )
                .at(Location::new(coverage.path.clone())),
            ),
            Some((_, 0, _)) => out.raise(
                rules.level,
                Issue::new(
                    "coverage.no_data",
                    format!(
                        "the files under `{}` have no line data in `{}` (rule: coverage.paths — no data cannot meet a minimum)",
                        rule.path, coverage.path
                    ),
                )
                .at(Location::new(coverage.path.clone())),
            ),
            Some((covered, total, percent)) => {
                let ok = percent >= rule.minimum;
                out.details.push(json!({
                    "rule": "coverage.paths", "path": rule.path, "minimum": rule.minimum,
                    "percent": round2(percent), "outcome": if ok { "pass" } else { "fail" },
                }));
                if !ok {
                    out.raise(
                        rules.level,
                        Issue::new(
                            "coverage.path_below_minimum",
                            format!(
                                "line coverage under `{}` is {percent:.2}% ({covered} of {total} lines), below the minimum {}% (rule: coverage.paths)",
                                rule.path, rule.minimum
                            ),
                        )
                        .at(Location::new(coverage.path.clone())),
                    );
                }
            }
        }
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
