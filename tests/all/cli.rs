//! The built binary on the examples: decisions, exit codes, files.

use preflight_engine::schema::{self, SchemaKind};
use serde_json::{Value, json};

use crate::support::{preflight, repo, returning, run, temp_file};

fn seed() -> std::process::Command {
    let mut command = preflight();
    command
        .current_dir(repo().join("examples/seed"))
        .args(["run", "--facts", "facts.json"]);
    command
}

fn report(stdout: &str) -> Value {
    let report: Value = serde_json::from_str(stdout).unwrap();
    schema::validate(SchemaKind::Report, &report).unwrap();
    report
}

#[test]
fn seed_example_reproduces_the_seed_report() {
    let (code, stdout, stderr) = run(&mut seed());
    assert_eq!(code, 0, "{stderr}");
    let report = report(&stdout);
    assert_eq!(report["mode"], "B");
    assert_eq!(
        report["weights"],
        json!({"readiness": 0.5, "mvp": 0.5, "security": 0.2})
    );
    assert_eq!(
        report["scores"],
        json!({"readiness": 7.0, "mvp": 7.0, "security_gate": "PASS"})
    );
    assert_eq!(report["complexity"], "medium");
    assert_eq!(report["penalty"], 5.0);
    assert_eq!(report["risk_score"], 30.0);
    assert_eq!(report["thresholds"], json!({"go": 50.0, "canary": 65.0}));
    assert_eq!(report["decision"], "GO");
    assert_eq!(report["blocking_issues"], json!([]));
    assert_eq!(
        report["artifacts_missing"],
        json!(["docs/DOD_CHECKLIST.md"])
    );
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["preflight_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["facts_sha256"].as_str().unwrap().len(), 64);

    let policy = &report["policies"][0];
    assert_eq!(policy["name"], "preflight-gate");
    assert_eq!(policy["version"], "1.0.0");
    assert_eq!(policy["source"], "builtin:preflight-gate");
    let dist = std::fs::read(repo().join("policies/dist/preflight-gate.wasm")).unwrap();
    assert_eq!(
        policy["sha256"],
        preflight_engine::sandbox::sha256_hex(&dist)
    );
}

#[test]
fn facts_hash_is_stable_across_key_order() {
    let (_, a, _) = run(&mut seed());
    let reordered = r#"{"complexity":"medium","security":{"gate":"PASS"},"scores":{"mvp":7.0,"readiness":7.0},
        "project":{"version":"0.9.0","name":"seed-service"}}"#;
    let (dir, path) = temp_file("facts.json", reordered.as_bytes());
    let (_, b, _) = run(preflight()
        .current_dir(dir.path())
        .arg("run")
        .arg("--facts")
        .arg(&path));
    assert_eq!(report(&a)["facts_sha256"], report(&b)["facts_sha256"]);
}

#[test]
fn exit_codes_follow_the_decision() {
    let cases = [
        (
            vec![
                "--fact",
                "scores.readiness=4",
                "--fact",
                "scores.mvp=4",
                "--fact",
                "complexity=low",
            ],
            3,
            "GO_WITH_CAUTION",
        ),
        (vec!["--fact", "security.gate=FAIL"], 1, "NO_GO"),
        (
            vec!["--fact", "scores.readiness=1", "--fact", "scores.mvp=1"],
            1,
            "NO_GO",
        ),
        (vec![], 0, "GO"),
    ];
    for (args, code, decision) in cases {
        let (actual, stdout, stderr) = run(seed().args(&args));
        assert_eq!(actual, code, "{args:?}: {stderr}");
        assert_eq!(report(&stdout)["decision"], decision, "{args:?}");
    }
}

#[test]
fn mode_flag_reaches_the_gate() {
    let (code, stdout, _) = run(seed().args(["--mode", "S"]));
    assert_eq!(code, 0);
    let report = report(&stdout);
    assert_eq!(report["mode"], "S");
    assert_eq!(report["risk_score"], 25.0);
    assert_eq!(report["thresholds"], json!({"go": 40.0, "canary": 55.0}));
}

#[test]
fn required_artifact_blocks() {
    let (code, stdout, _) = run(seed().args(["--require-artifact", "SECURITY.md"]));
    assert_eq!(code, 1);
    let report = report(&stdout);
    assert_eq!(
        report["blocking_issues"][0]["id"],
        "artifacts.missing_required"
    );
    assert!(
        report["blocking_issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("SECURITY.md")
    );
}

#[test]
fn present_artifact_is_not_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/DOD_CHECKLIST.md"), "- [x] done\n").unwrap();
    let facts = repo().join("examples/seed/facts.json");
    let (code, stdout, _) = run(preflight()
        .current_dir(dir.path())
        .arg("run")
        .arg("--facts")
        .arg(facts));
    assert_eq!(code, 0);
    assert_eq!(report(&stdout)["artifacts_missing"], json!([]));
}

#[test]
fn text_format() {
    let (code, stdout, _) = run(seed().args(["--format", "text"]));
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(&format!("preflight {}: GO\n", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    assert!(stdout.contains("risk score 30.00"));
    assert!(stdout.contains("preflight-gate 1.0.0"));
    assert!(!stdout.contains('\x1b'), "no colour without a TTY");
}

#[test]
fn output_file_and_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let (code, stdout, stderr) = run(seed().arg("--output").arg(&out));
    assert_eq!(code, 0);
    assert!(stdout.is_empty());
    assert!(stderr.contains("report written"), "{stderr}");
    assert_eq!(
        report(&std::fs::read_to_string(&out).unwrap())["decision"],
        "GO"
    );

    // A dry run is how a pipeline is tried: it writes every report asked for, and only the
    // exit code ignores the decision.
    let dry = dir.path().join("dry.json");
    let junit = dir.path().join("dry.xml");
    let (code, stdout, _) = run(seed()
        .args(["--fact", "security.gate=FAIL", "--dry-run"])
        .arg("--output")
        .arg(&dry)
        .arg("--format")
        .arg("json")
        .arg("--format")
        .arg(format!("junit={}", junit.display())));
    assert_eq!(code, 0, "dry run exits 0 without errors");
    assert!(stdout.is_empty(), "{stdout}");
    let report = report(&std::fs::read_to_string(&dry).unwrap());
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(report["dry_run"], true);
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<failure")
    );
}

#[test]
fn dry_run_still_fails_on_errors() {
    let (code, stdout, _) = run(seed().args(["--fact", "complexity=huge", "--dry-run"]));
    assert_eq!(code, 2);
    assert_eq!(report(&stdout)["decision"], "NO_GO");
}

#[test]
fn extra_policy_module_joins_the_run() {
    let bytes = returning(
        "second-opinion",
        br#"{"decision":"GO_WITH_CAUTION","blocking_issues":[],"warnings":[{"id":"x.careful","message":"be careful"}],"details":{}}"#,
    );
    let (_dir, path) = temp_file("second.wasm", &bytes);
    let (code, stdout, _) = run(seed().arg("--policy").arg(&path));
    assert_eq!(code, 3);
    let report = report(&stdout);
    assert_eq!(
        report["decision"], "GO_WITH_CAUTION",
        "the most severe decision wins"
    );
    assert_eq!(report["policies"][1]["name"], "second-opinion");
    assert_eq!(
        report["policies"][1]["sha256"],
        preflight_engine::sandbox::sha256_hex(&bytes)
    );
    assert!(
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == "x.careful")
    );
}

#[test]
fn broken_policy_module_fails_closed_with_exit_2() {
    let (_dir, path) = temp_file("broken.wasm", b"\0asm\x01\0\0\0garbage");
    let (code, stdout, stderr) = run(seed().arg("--policy").arg(&path));
    assert_eq!(code, 2, "{stderr}");
    let report = report(&stdout);
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(report["policies"][1]["decision"], "NO_GO");
    assert_eq!(report["blocking_issues"][0]["id"], "policy.invalid_module");
    assert!(stderr.contains("broken.wasm"), "{stderr}");
}

#[test]
fn missing_policy_file_fails_closed() {
    let (code, stdout, stderr) = run(seed().args(["--policy", "/nonexistent/policy.wasm"]));
    assert_eq!(code, 2);
    assert_eq!(report(&stdout)["decision"], "NO_GO");
    assert!(stderr.contains("/nonexistent/policy.wasm"));
}

#[test]
fn verbose_shows_guest_logs_on_stderr_only() {
    let (code, stdout, stderr) = run(seed().arg("--verbose"));
    assert_eq!(code, 0);
    assert!(stderr.contains("[preflight-gate debug] mode B"), "{stderr}");
    assert!(
        !stdout.contains("[preflight-gate"),
        "logs must stay off the report"
    );
    report(&stdout);
}

#[test]
fn schema_command_prints_the_committed_schemas() {
    for (arg, kind) in [
        ("facts", SchemaKind::Facts),
        ("policy-output", SchemaKind::PolicyOutput),
        ("report", SchemaKind::Report),
    ] {
        let (code, stdout, _) = run(preflight().args(["schema", arg]));
        assert_eq!(code, 0);
        let committed =
            std::fs::read_to_string(repo().join("schemas").join(kind.file_name())).unwrap();
        assert_eq!(stdout, committed);
    }
}

#[test]
fn abi_doc_wat_example_runs_as_documented() {
    let doc = std::fs::read_to_string(repo().join("docs/abi.md")).unwrap();
    let start = doc.find("```wat\n(module").expect("the WAT example") + "```wat\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let bytes = wat::parse_str(&doc[start..end]).unwrap();
    let (_dir, path) = temp_file("always-careful.wasm", &bytes);
    let (code, stdout, stderr) = run(seed().arg("--policy").arg(&path).arg("--verbose"));
    assert_eq!(code, 3, "{stderr}");
    let report = report(&stdout);
    assert_eq!(report["policies"][1]["name"], "always-careful");
    assert_eq!(report["decision"], "GO_WITH_CAUTION");
    assert!(
        stderr.contains("[always-careful info] always careful"),
        "{stderr}"
    );
}

/// #13: a policy written in WAT declares the custom fact section it reads, with a schema; the
/// host enforces it (missing: `facts.missing`, malformed: `facts.invalid` naming the pointer)
/// and the policy decides on canonical facts. The example's case files run through the host.
#[test]
fn the_wat_example_reads_a_custom_fact_section() {
    let example = repo().join("examples/wat-policy");
    let text = std::fs::read_to_string(example.join("change-approved.wat")).unwrap();
    let bytes = wat::parse_str(&text).unwrap();
    let (dir, path) = temp_file("change-approved.wasm", &bytes);
    let (code, stdout, stderr) = run(preflight()
        .args(["test", "--policy"])
        .arg(&path)
        .arg(example.join("change-cases")));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");

    // The same through `run`, with the section from preflight.toml's [custom.change].
    std::fs::write(
        dir.path().join("change.yaml"),
        "ticket: CHG-7\napproved: true\napprover: sec-lead\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("preflight.toml"),
        "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n[custom.change]\nyaml = \"change.yaml\"\n[[policy]]\nsource = \"change-approved.wasm\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("run"));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "GO");
    assert_eq!(
        report["sources"]["facts.custom.change"],
        "custom sources (preflight.toml)"
    );
    // An override turns it into a NO_GO decision; a bad value into an error naming the pointer.
    let (code, stdout, _) = run(preflight().current_dir(dir.path()).args([
        "run",
        "--fact",
        "custom.change.approved=false",
    ]));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["blocking_issues"][0]["id"], "change.not_approved");
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).args([
        "run",
        "--fact",
        "custom.change.ticket=JIRA-9",
    ]));
    assert_eq!(code, 2, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let message = report["blocking_issues"][0]["message"].as_str().unwrap();
    assert!(message.contains("at `/custom/change/ticket`"), "{message}");

    // `policy inspect` and `policy lock` show the declaration.
    let (code, stdout, _) = run(preflight().args(["policy", "inspect"]).arg(&path));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("reads:   custom.change (required)"),
        "{stdout}"
    );
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).args(["policy", "lock"]));
    assert_eq!(code, 0, "{stderr}");
    let lock = std::fs::read_to_string(dir.path().join("preflight.lock")).unwrap();
    assert!(
        lock.contains("namespace = \"change\"") && lock.contains("required = true"),
        "{lock}"
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_same_definitions() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, stdout, stderr) = run(preflight().args(["completions", shell]));
        assert_eq!(code, 0, "{stderr}");
        for word in ["run", "canary", "policy", "format", "path-base"] {
            assert!(stdout.contains(word), "{shell} completions lack `{word}`");
        }
        if shell == "bash" {
            let (_dir, path) = crate::support::temp_file("preflight.bash", stdout.as_bytes());
            let check = std::process::Command::new("bash")
                .arg("-n")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
    let (code, stdout, _) = run(preflight().args(["completions", "tcsh"]));
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    let (code, man, _) = run(preflight().arg("man"));
    assert_eq!(code, 0);
    assert!(man.contains(".TH preflight 1"), "{man}");
    assert!(man.contains("completions"));
}

/// A step summary that cannot be written is a warning naming the variable: the decision does
/// not depend on it, so GO stays exit 0.
#[test]
fn an_unwritable_step_summary_warns_and_keeps_the_decision() {
    let (code, stdout, stderr) =
        run(seed().env("GITHUB_STEP_SUMMARY", "/nonexistent-folder/summary.md"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&stdout)["decision"], "GO");
    assert!(stderr.contains("$GITHUB_STEP_SUMMARY"), "{stderr}");
    assert!(
        stderr.contains("/nonexistent-folder/summary.md"),
        "{stderr}"
    );
}
