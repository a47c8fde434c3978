//! Settings reach a policy as JSON; the built-in policies ship a settings schema in their
//! metadata, and the host checks settings against it before the policy runs (and `policy lock`
//! before it pins the policy): an error names the setting's JSON pointer, exit 2.

use serde_json::Value;

use crate::support::{preflight, repo, run};

fn project(gate: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("preflight.toml"),
        format!("[gate]\n{gate}\n"),
    )
    .unwrap();
    dir
}

#[test]
fn settings_that_break_the_gates_schema_are_refused_with_their_pointer() {
    let seed = repo().join("examples/seed/facts.json");
    for (gate, pointer) in [
        ("weights = { readiness = \"high\" }", "/weights/readiness"),
        ("mode = \"Z\"", "/mode"),
        (
            "tests = { require_passing = \"sometimes\" }",
            "/tests/require_passing",
        ),
        ("colour = \"blue\"", "/"),
    ] {
        let dir = project(gate);
        let (code, stdout, stderr) = run(preflight()
            .current_dir(dir.path())
            .args(["run", "--no-collect", "--facts"])
            .arg(&seed));
        assert_eq!(code, 2, "{gate}: {stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        let issue = &report["blocking_issues"][0];
        assert_eq!(issue["id"], "settings.invalid", "{gate}");
        let message = issue["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("at `{pointer}`")) && message.contains("preflight-gate"),
            "{gate}: {message}"
        );
        let (code, _, stderr) = run(preflight().current_dir(dir.path()).args(["policy", "lock"]));
        assert_eq!(code, 2, "{gate}");
        assert!(stderr.contains("settings schema"), "{stderr}");
        assert!(!dir.path().join("preflight.lock").exists());
    }
    // The aliases serde accepts are in the schema too.
    let dir = project("mode = \"aggressive\"");
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args(["run", "--no-collect", "--facts"])
        .arg(&seed));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["mode"], "A");
}
