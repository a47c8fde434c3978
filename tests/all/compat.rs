//! A policy built with this SDK keeps working when a newer host adds values it does not know:
//! an unknown category, severity or complexity is read as `Unknown` (and judged at least as
//! strictly as the strictest known value), never an `input.invalid` failure.

use preflight_engine::builtin;
use serde_json::json;

use crate::support::{runtime, test_limits};

/// A fact set as a newer host might write it: a category and a severity this SDK never heard
/// of, and a section it does not have.
fn from_a_newer_host() -> serde_json::Value {
    json!({
        "facts": {
            "scores": {"readiness": 9.0, "mvp": 9.0},
            "complexity": "medium",
            "security": {
                "findings": [{
                    "tool": "future-scanner", "category": "supply-chain", "severity": "severe",
                    "rule": "SC-1", "message": "a typosquatted dependency"
                }],
                "scans": [{"tool": "future-scanner", "format": "sarif", "path": "x.sarif", "findings": 1}]
            },
            "artifacts": {"checked": [], "missing": [], "missing_required": []},
            "sbom": {"components": []}
        },
        "settings": {}
    })
}

#[test]
fn the_built_in_gate_reads_unknown_values_and_fails_closed_on_them() {
    let runtime = runtime(test_limits());
    let gate = runtime
        .load_builtin(builtin::find(builtin::GATE).unwrap())
        .unwrap();
    let input = serde_json::to_vec(&from_a_newer_host()).unwrap();
    let evaluation = runtime.evaluate(&gate, &input).unwrap();
    let ids: Vec<&str> = evaluation
        .output
        .blocking_issues
        .iter()
        .map(|issue| issue.id.as_str())
        .collect();
    assert!(!ids.contains(&"input.invalid"), "{ids:?}");
    assert_eq!(evaluation.output.effective_decision().as_str(), "NO_GO");
    assert!(
        ids.contains(&"security.vulnerability"),
        "an unknown category counts with vulnerabilities and an unknown severity above critical: {ids:?}"
    );
}

#[test]
fn the_sdk_reads_unknown_enum_values_natively() {
    let input: preflight_sdk::PolicyInput = serde_json::from_value(from_a_newer_host()).unwrap();
    let finding = &input.facts.security.findings[0];
    assert_eq!(finding.category, preflight_sdk::facts::Category::Unknown);
    assert_eq!(finding.severity, preflight_sdk::facts::Severity::Unknown);
    assert!(finding.severity > preflight_sdk::facts::Severity::Critical);
    let output = preflight_gate::evaluate(input);
    assert_eq!(output.effective_decision().as_str(), "NO_GO");
}
