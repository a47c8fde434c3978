//! The engine split (#12) changed no decision: for the seed and `examples/python-service`, the
//! decision, scores, risk, weights, thresholds, issue ids and artifacts are those recorded in
//! `tests/fixtures/equivalence.json` before the split.

use serde_json::{Value, json};

use crate::support::{preflight, repo, run};

fn summary(report: &Value) -> Value {
    let ids = |key: &str| -> Vec<Value> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].clone())
            .collect()
    };
    let policies: Vec<Value> = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"name": p["name"], "decision": p["decision"]}))
        .collect();
    json!({
        "decision": report["decision"],
        "scores": report["scores"],
        "risk_score": report["risk_score"],
        "weights": report["weights"],
        "thresholds": report["thresholds"],
        "penalty": report["penalty"],
        "blocking_issues": ids("blocking_issues"),
        "warnings": ids("warnings"),
        "artifacts_missing": report["artifacts_missing"],
        "policies": policies,
    })
}

#[test]
fn seed_and_python_service_decide_as_before_the_split() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/equivalence.json")).unwrap(),
    )
    .unwrap();
    let seed = run(preflight().current_dir(repo()).args([
        "run",
        "--root",
        "examples/seed",
        "--facts",
        "examples/seed/facts.json",
    ]));
    let python = run(preflight().current_dir(repo()).args([
        "run",
        "--config",
        "examples/python-service/preflight.toml",
    ]));
    for (name, (code, stdout, stderr)) in [("seed", seed), ("python-service", python)] {
        assert_eq!(code, 0, "{name}: {stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(summary(&report), expected[name], "{name}");
    }
}
