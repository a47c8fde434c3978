//! End to end on `examples/python-service`: a project folder with checklists, SARIF, Ruff JSON,
//! JUnit and lcov written by the real tools, gated in every report format.

use std::path::PathBuf;

use preflight::commands::run::{self, RunArgs};
use preflight::emit::OutputArgs;
use preflight::inputs::InputArgs;
use preflight::limits::LimitArgs;
use preflight_engine::Report;
use preflight_report::{Color, Format, render};
use serde_json::{Value, json};

use crate::support::{preflight, repo, returning, run};

fn example() -> PathBuf {
    repo().join("examples/python-service")
}

fn config() -> PathBuf {
    example().join("preflight.toml")
}

#[test]
fn the_example_goes_with_an_explained_report() {
    let (code, stdout, stderr) = run(preflight().arg("run").arg("--config").arg(config()));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "GO");
    assert_eq!(
        report["scores"],
        json!({"readiness": 8.0, "mvp": 9.0, "security_gate": "PASS"})
    );
    assert_eq!(report["risk_score"], 17.5);
    assert_eq!(report["artifacts_missing"], json!(["CHANGELOG.md"]));
    let details = &report["policies"][0]["details"];
    assert_eq!(
        details["security"]["counts"]["vulnerability"]["low"], 4,
        "bandit: B311, B404, B607, B603"
    );
    assert_eq!(
        details["security"]["counts"]["vulnerability"]["medium"], 1,
        "semgrep weak-hash-md5"
    );
    assert_eq!(details["security"]["counts"]["total"], 5);
    let sources = &report["sources"];
    assert!(
        sources["config"]
            .as_str()
            .unwrap()
            .ends_with("preflight.toml")
    );
    assert!(
        sources["facts.scores.readiness"]
            .as_str()
            .unwrap()
            .contains("checklist docs/DOD_CHECKLIST.md")
    );
    assert_eq!(sources["mode"], sources["config"]);
    assert!(sources["facts.tests"].as_str().unwrap().contains("JUnit"));
}

#[test]
fn flags_override_the_file_and_say_so() {
    let (code, stdout, _) = run(preflight()
        .arg("run")
        .arg("--config")
        .arg(config())
        .args(["--mode", "S"]));
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["mode"], "S");
    assert_eq!(report["sources"]["mode"], "--mode");
}

#[test]
fn stricter_settings_block_with_the_offending_findings() {
    let dir = tempfile::tempdir().unwrap();
    let strict = std::fs::read_to_string(config()).unwrap().replace(
        "[gate]\n",
        "[gate]\nsecurity = { fail_on = { vulnerability = \"low\" } }\n",
    );
    let path = dir.path().join("strict.toml");
    std::fs::write(&path, strict).unwrap();
    let (code, stdout, _) = run(preflight()
        .arg("run")
        .arg("--config")
        .arg(&path)
        .arg("--root")
        .arg(example()));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    let issue = &report["blocking_issues"][0];
    assert_eq!(issue["id"], "security.vulnerability");
    let message = issue["message"].as_str().unwrap();
    assert!(
        message
            .starts_with("5 vulnerability finding(s) at or above low (1 medium, 4 low); 0 allowed"),
        "{message}"
    );
    assert!(
        message.contains("weak-hash-md5"),
        "the most severe finding is quoted first: {message}"
    );
    assert_eq!(issue["locations"][0]["path"], "src/orders/pricing.py");
}

#[test]
fn every_format_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let summary = out("summary.md");
    std::fs::write(&summary, "# earlier step\n").unwrap();
    let mut command = preflight();
    command
        .env("GITHUB_STEP_SUMMARY", &summary)
        .arg("run")
        .arg("--config")
        .arg(config())
        .arg(format!("--format=json={}", out("report.json").display()))
        .arg(format!("--format=junit={}", out("junit.xml").display()))
        .arg(format!("--format=sarif={}", out("report.sarif").display()))
        .args(["--format", "markdown", "--output"])
        .arg(out("report.md"))
        .args(["--format", "github"]);
    let (code, stdout, stderr) = run(&mut command);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("::group::preflight-gate 1.0.0: GO"),
        "{stdout}"
    );
    assert!(
        stdout.contains("::warning title=preflight-gate%3A artifacts.missing::"),
        "{stdout}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out("report.json")).unwrap()).unwrap();
    assert_eq!(report["decision"], "GO");
    let junit = std::fs::read_to_string(out("junit.xml")).unwrap();
    // Test identities are stable across runs: the decision is a message, never a name.
    assert!(
        junit.contains("<testsuites name=\"preflight\" tests=\"2\" failures=\"0\" errors=\"0\""),
        "{junit}"
    );
    assert!(
        junit.contains("<testcase classname=\"preflight-gate\" name=\"decision\" time=\""),
        "{junit}"
    );
    assert!(!junit.contains("name=\"decision: "), "{junit}");
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(out("report.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"][0]["ruleId"],
        "artifacts.missing"
    );
    // An issue without a place of its own points at the line of preflight.toml that configures
    // it, relative to the repository root (GitHub refuses a result without a location).
    let config_text = std::fs::read_to_string(config()).unwrap();
    let artifacts_line = config_text
        .lines()
        .position(|line| line.starts_with("optional = "))
        .unwrap()
        + 1;
    assert_eq!(
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"],
        json!({
            "artifactLocation": { "uri": "examples/python-service/preflight.toml" },
            "region": { "startLine": artifacts_line },
        })
    );
    assert!(
        std::fs::read_to_string(out("report.md"))
            .unwrap()
            .starts_with("## preflight: ✅ GO")
    );
    let appended = std::fs::read_to_string(&summary).unwrap();
    assert!(
        appended.starts_with("# earlier step\n## preflight: ✅ GO"),
        "{appended}"
    );
}

#[test]
fn record_and_replay_give_the_same_decision() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("facts.json");
    let (code, _, stderr) = run(preflight()
        .arg("facts")
        .arg("--config")
        .arg(config())
        .arg("--output")
        .arg(&saved));
    assert_eq!(code, 0, "{stderr}");
    let (code, live, _) = run(preflight().arg("run").arg("--config").arg(config()));
    assert_eq!(code, 0);
    let (replay_code, replay, stderr) = run(preflight()
        .current_dir(dir.path())
        .arg("run")
        .arg("--config")
        .arg(config())
        .arg("--facts")
        .arg(&saved)
        .arg("--no-collect"));
    assert_eq!(replay_code, code, "{stderr}");
    let (live, replay): (Value, Value) = (
        serde_json::from_str(&live).unwrap(),
        serde_json::from_str(&replay).unwrap(),
    );
    assert_eq!(live["facts_sha256"], replay["facts_sha256"]);
    assert_eq!(live["decision"], replay["decision"]);
    assert_eq!(
        live["policies"][0]["details"],
        replay["policies"][0]["details"]
    );
}

#[test]
fn a_policy_that_is_not_enforced_cannot_change_the_decision() {
    let dir = tempfile::tempdir().unwrap();
    let module = returning(
        "no-fridays",
        br#"{"decision":"NO_GO","blocking_issues":[{"id":"calendar.friday","message":"no deploys on Fridays"}],"warnings":[],"details":{}}"#,
    );
    std::fs::write(dir.path().join("no-fridays.wasm"), module).unwrap();
    let text = std::fs::read_to_string(config()).unwrap()
        + "\n[[policy]]\nsource = \"no-fridays.wasm\"\nenforce = false\n";
    std::fs::write(dir.path().join("preflight.toml"), text).unwrap();
    let (code, stdout, _) = run(preflight()
        .arg("run")
        .arg("--config")
        .arg(dir.path().join("preflight.toml"))
        .arg("--root")
        .arg(example()));
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "GO");
    assert_eq!(report["policies"][1]["enforced"], false);
    assert_eq!(report["policies"][1]["decision"], "NO_GO");
    let warning = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "calendar.friday")
        .unwrap();
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .starts_with("(not enforced)")
    );

    // Enforced, the same policy blocks.
    let text = std::fs::read_to_string(dir.path().join("preflight.toml"))
        .unwrap()
        .replace("enforce = false", "enforce = true");
    std::fs::write(dir.path().join("preflight.toml"), text).unwrap();
    let (code, _, _) = run(preflight()
        .arg("run")
        .arg("--config")
        .arg(dir.path().join("preflight.toml"))
        .arg("--root")
        .arg(example()));
    assert_eq!(code, 1);
}

#[test]
fn unknown_config_key_names_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preflight.toml");
    std::fs::write(&path, "mode = \"B\"\n\n[security]\nsarfi = [\"x.sarif\"]\n").unwrap();
    let (code, stdout, stderr) = run(preflight().arg("run").arg("--config").arg(&path));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("line 4") && stderr.contains("sarfi"),
        "{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(report["blocking_issues"][0]["id"], "config.invalid");
}

#[test]
fn missing_scanner_report_is_an_error_not_a_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preflight.toml");
    std::fs::write(&path, "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\nsarif = [\"reports/semgrep.sarif\"]\n").unwrap();
    let (code, stdout, stderr) = run(preflight().arg("run").arg("--config").arg(&path));
    assert_eq!(code, 2);
    assert!(stderr.contains("reports/semgrep.sarif"), "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["decision"],
        "NO_GO"
    );
}

#[test]
fn empty_security_section_is_not_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preflight.toml");
    std::fs::write(
        &path,
        "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\n",
    )
    .unwrap();
    let (code, stdout, _) = run(preflight().arg("run").arg("--config").arg(&path));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["blocking_issues"][0]["id"], "security.no_evidence");
}

#[test]
fn init_writes_a_starter_that_parses() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, _) = run(preflight().current_dir(dir.path()).args(["init", "--bare"]));
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(dir.path().join("preflight.toml")).unwrap();
    preflight::config::parse(&dir.path().join("preflight.toml"), &text).unwrap();
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).arg("init"));
    assert_eq!(code, 2);
    assert!(stderr.contains("already exists"));
    // With the checklist it names in place, the starter runs end to end.
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(
        dir.path().join("docs/DOD_CHECKLIST.md"),
        "- [x] a\n- [x] b\n",
    )
    .unwrap();
    let (code, stdout, stderr) =
        run(preflight()
            .current_dir(dir.path())
            .args(["run", "--fact", "security.gate=PASS"]));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    // readiness 10, mvp 7, PASS, medium: (5 + 3.5 + 2) / 1.2 = 8.75 → 17.5
    assert_eq!(report["risk_score"], 17.5);
}

/// Copies a folder (files only, recursively).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn init_looks_at_the_project_and_its_first_run_passes() {
    // The example without its configuration: init finds its reports and checklists.
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&example(), dir.path());
    std::fs::remove_file(dir.path().join("preflight.toml")).unwrap();
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).arg("init"));
    assert_eq!(code, 0, "{stderr}");
    for found in [
        "found SARIF: reports/bandit.sarif, reports/semgrep.sarif",
        "found Ruff JSON: reports/ruff.json",
        "found JUnit XML: reports/junit.xml",
        "found lcov: reports/lcov.info",
        "found Markdown checklist: docs/DOD_CHECKLIST.md, docs/MVP_FEATURES.md",
        "left commented (not found): Trivy JSON",
    ] {
        assert!(stderr.contains(found), "`{found}` not in: {stderr}");
    }
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("run"));
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "GO");
    assert_eq!(report["scores"]["readiness"], 8.0);
    assert!(report["policies"][0]["details"]["security"]["counts"].is_object());

    // A fresh, empty project: the first run never errors; without security evidence it is
    // NO_GO (exit 1) and says why.
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(run(preflight().current_dir(empty.path()).arg("init")).0, 0);
    let (code, stdout, stderr) = run(preflight().current_dir(empty.path()).arg("run"));
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["blocking_issues"][0]["id"], "security.no_evidence");
    let (code, _, stderr) =
        run(preflight()
            .current_dir(empty.path())
            .args(["run", "--fact", "security.gate=PASS"]));
    assert_eq!(code, 0, "{stderr}");
}

/// The report with its run-dependent values (timings, module digests, paths) fixed.
fn stable_report() -> Report {
    let args = RunArgs {
        inputs: InputArgs {
            config: Some(config()),
            ..InputArgs::default()
        },
        output: OutputArgs::default(),
        dry_run: false,
        verbose: false,
        limits: LimitArgs::default(),
        facts_stream: None,
        jobs: None,
        attest: Default::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut report = run::outcome(&rt, &args).0.report;
    for policy in &mut report.policies {
        policy.elapsed_ms = 0.0;
        policy.fuel_used = None;
        policy.sha256 = Some("0".repeat(64));
    }
    report.preflight_version = "0.0.0".to_owned();
    report.sources.clear();
    report
}

#[test]
fn snapshots_of_every_format() {
    let report = stable_report();
    insta::assert_snapshot!(
        "python_service_text",
        render(&report, Format::Text, Color::Off)
    );
    insta::assert_snapshot!(
        "python_service_markdown",
        render(&report, Format::Markdown, Color::Off)
    );
    insta::assert_snapshot!(
        "python_service_junit",
        render(&report, Format::Junit, Color::Off)
    );
    insta::assert_snapshot!(
        "python_service_sarif",
        render(&report, Format::Sarif, Color::Off)
    );
    insta::assert_snapshot!(
        "python_service_github",
        render(&report, Format::Github, Color::Off)
    );
    crate::consumers::markdown(&render(&report, Format::Markdown, Color::Off));
    crate::consumers::junit(&render(&report, Format::Junit, Color::Off));
    crate::consumers::sarif(&render(&report, Format::Sarif, Color::Off));
    crate::consumers::codeclimate(&render(&report, Format::Codeclimate, Color::Off));
}

#[test]
fn snapshots_of_a_blocked_release() {
    let mut report = stable_report();
    report.decision = preflight_sdk::Decision::NoGo;
    let issue = preflight_sdk::Issue::new(
        "security.secret",
        "1 secret finding(s) at or above info: \"api_key\" | 100% leaked,\nsee app.py",
    )
    .at(preflight_sdk::Location {
        path: "app/settings, prod.py".into(),
        line: Some(12),
        column: Some(5),
        message: None,
    });
    report.policies[0].blocking_issues.push(issue.clone());
    report.policies[0].decision = preflight_sdk::Decision::NoGo;
    report
        .blocking_issues
        .push(preflight_engine::ReportIssue::from_issue(
            "preflight-gate",
            &issue,
        ));
    insta::assert_snapshot!(
        "blocked_github",
        render(&report, Format::Github, Color::Off)
    );
    insta::assert_snapshot!("blocked_junit", render(&report, Format::Junit, Color::Off));
    insta::assert_snapshot!(
        "blocked_markdown",
        render(&report, Format::Markdown, Color::Off)
    );
    crate::consumers::markdown(&render(&report, Format::Markdown, Color::Off));
    crate::consumers::junit(&render(&report, Format::Junit, Color::Off));
    crate::consumers::sarif(&render(&report, Format::Sarif, Color::Off));
    crate::consumers::codeclimate(&render(&report, Format::Codeclimate, Color::Off));
}
