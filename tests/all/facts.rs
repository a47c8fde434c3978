//! Bad facts: exit 2, a message naming the JSON pointer, a report that says NO_GO. Never GO.

use serde_json::{Value, json};

use crate::support::{preflight, repo, run, temp_file};

/// Runs `preflight run --facts FILE` on `text`; returns (exit code, report, stderr).
fn run_facts(text: &str) -> (i32, Value, String) {
    let (dir, path) = temp_file("facts.json", text.as_bytes());
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .arg("run")
        .arg("--facts")
        .arg(&path));
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!("stdout is not a JSON report ({err}): {stdout}\nstderr: {stderr}")
    });
    (code, report, stderr)
}

fn assert_rejected(text: &str, pointer: &str, words: &str) {
    let (code, report, stderr) = run_facts(text);
    assert_eq!(code, 2, "stderr: {stderr}");
    assert_eq!(report["decision"], "NO_GO");
    assert!(
        report["policies"].as_array().unwrap().is_empty(),
        "no policy may run on bad facts"
    );
    let issue = &report["blocking_issues"][0];
    let message = issue["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("`{pointer}`")),
        "pointer `{pointer}` not in: {message}"
    );
    assert!(message.contains(words), "`{words}` not in: {message}");
    assert!(
        stderr.contains(pointer),
        "stderr does not name the pointer: {stderr}"
    );
}

/// A policy reads a number as the double its digits name. The SDK's JSON parser once read about
/// one 17-digit value in eight one bit off, so the gate scored a readiness the facts never held.
#[test]
fn the_gate_reads_a_score_as_the_double_written() {
    let facts = json!({"scores": {"readiness": 1.095_238_095_238_095_3, "mvp": 10}, "security": {"gate": "PASS"}, "complexity": "medium"});
    let text = facts.to_string();
    assert!(text.contains("1.0952380952380953"), "{text}");
    let (code, report, stderr) = run_facts(&text);
    assert_eq!(code, 0, "{stderr}");
    let scored = &report["policies"][0]["details"]["scores"]["readiness"];
    assert_eq!(scored.to_string(), "1.0952380952380953", "{report}");
    assert_eq!(
        report["scores"]["readiness"].to_string(),
        "1.0952380952380953"
    );
}

#[test]
fn wrong_type_names_the_pointer() {
    let facts = json!({"scores": {"readiness": "high", "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "medium"});
    assert_rejected(&facts.to_string(), "/scores/readiness", "number");
}

#[test]
fn out_of_range_score_names_the_pointer() {
    let facts = json!({"scores": {"readiness": 11, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "medium"});
    assert_rejected(&facts.to_string(), "/scores/readiness", "10");
}

#[test]
fn missing_required_field_is_named() {
    let facts = json!({"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}});
    assert_rejected(&facts.to_string(), "/", "complexity");
}

#[test]
fn missing_nested_field_is_named() {
    let facts =
        json!({"scores": {"readiness": 7}, "security": {"gate": "PASS"}, "complexity": "low"});
    assert_rejected(&facts.to_string(), "/scores", "mvp");
}

#[test]
fn unknown_top_level_key_is_refused() {
    let facts = json!({"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "low", "colour": "blue"});
    assert_rejected(&facts.to_string(), "/", "colour");
}

#[test]
fn unknown_enum_value_is_refused() {
    let facts = json!({"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "MAYBE"}, "complexity": "low"});
    assert_rejected(&facts.to_string(), "/security/gate", "MAYBE");
}

#[test]
fn every_violation_is_reported() {
    let facts =
        json!({"scores": {"readiness": -1, "mvp": "x"}, "security": {}, "complexity": "huge"});
    let (code, report, _) = run_facts(&facts.to_string());
    assert_eq!(code, 2);
    let message = report["blocking_issues"][0]["message"].as_str().unwrap();
    for pointer in ["/scores/readiness", "/scores/mvp", "/complexity"] {
        assert!(
            message.contains(pointer),
            "{pointer} missing from {message}"
        );
    }
}

#[test]
fn non_json_names_the_position() {
    let (code, report, stderr) = run_facts("{\"scores\": {\"readiness\": 7,\n  \"mvp\": }\n}");
    assert_eq!(code, 2);
    assert_eq!(report["decision"], "NO_GO");
    let message = report["blocking_issues"][0]["message"].as_str().unwrap();
    assert!(message.contains("line 2, column"), "{message}");
    assert!(message.contains("facts.json"), "{message}");
    assert_eq!(report["blocking_issues"][0]["id"], "facts.not_json");
    assert!(stderr.contains("facts.json"));
}

#[test]
fn json_that_is_not_an_object() {
    let (code, report, _) = run_facts("[1, 2]");
    assert_eq!(code, 2);
    assert!(
        report["blocking_issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("array, not an object")
    );
}

#[test]
fn missing_facts_file() {
    let (code, stdout, stderr) =
        run(preflight().args(["run", "--facts", "/nonexistent/facts.json"]));
    assert_eq!(code, 2);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert!(stderr.contains("/nonexistent/facts.json"), "{stderr}");
}

#[test]
fn bad_override_is_refused() {
    let seed = repo().join("examples/seed/facts.json");
    for (arg, words) in [
        ("scores.readiness", "KEY=VALUE"),
        ("complexity.level=1", "/complexity"),
        ("scores.readiness=\"seven\"", "/scores/readiness"),
    ] {
        let (code, stdout, stderr) = run(preflight()
            .arg("run")
            .arg("--facts")
            .arg(&seed)
            .args(["--fact", arg]));
        assert_eq!(code, 2, "{arg}: {stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["decision"], "NO_GO");
        assert!(
            report["blocking_issues"][0]["message"]
                .as_str()
                .unwrap()
                .contains(words),
            "{arg}: {stdout}"
        );
    }
}

#[test]
fn overrides_and_later_files_win() {
    let seed = repo().join("examples/seed/facts.json");
    let (_dir, extra) = temp_file("extra.json", br#"{"scores": {"mvp": 2.0}}"#);
    let (code, stdout, _) = run(preflight()
        .arg("run")
        .arg("--facts")
        .arg(&seed)
        .arg("--facts")
        .arg(&extra)
        .args(["--fact", "scores.readiness=3", "--fact", "complexity=high"]));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["scores"],
        json!({"readiness": 3.0, "mvp": 2.0, "security_gate": "PASS"})
    );
    assert_eq!(report["complexity"], "high");
    // (0.5·3 + 0.5·2 + 0.2·10) / 1.2 = 3.75 → 100 − 37.5 + 10 = 72.5 ≥ 65
    assert_eq!(report["risk_score"], 72.5);
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(code, 1);
}
