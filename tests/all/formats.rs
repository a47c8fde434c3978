//! Every report format of every kind of run, through its consumer's validator (see
//! `consumers.rs`): a GO, a blocked release with findings from real scanners, failed tests and
//! low coverage, an SBOM and VEX, an error, a failed policy, hostile text, and a monorepo.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{preflight, repo, returning, run};

fn fixture(path: &str) -> PathBuf {
    repo().join("tests/fixtures").join(path)
}

/// Runs `preflight run ARGS` in `dir` with every format written to `out/`; returns the exit
/// code, the GitHub annotations (stdout) and the parsed JSON, SARIF and Code Quality reports.
struct Formats {
    code: i32,
    github: String,
    report: Value,
    sarif: Value,
    codeclimate: Value,
    junit: String,
    markdown: String,
}

fn every_format(dir: &Path, args: &[&str]) -> Formats {
    let out = tempfile::tempdir().unwrap();
    let file = |name: &str| out.path().join(name).display().to_string();
    let mut command = preflight();
    command.current_dir(dir).arg("run").args(args);
    for (format, name) in [
        ("json", "report.json"),
        ("sarif", "report.sarif"),
        ("junit", "junit.xml"),
        ("markdown", "report.md"),
        ("codeclimate", "codequality.json"),
    ] {
        command
            .arg("--format")
            .arg(format!("{format}={}", file(name)));
    }
    command.args(["--format", "github"]);
    let (code, github, stderr) = run(&mut command);
    let read = |name: &str| {
        std::fs::read_to_string(out.path().join(name))
            .unwrap_or_else(|err| panic!("{name}: {err}\n{stderr}"))
    };
    let json = |name: &str| -> Value { serde_json::from_str(&read(name)).unwrap() };
    Formats {
        code,
        github,
        report: json("report.json"),
        sarif: json("report.sarif"),
        codeclimate: json("codequality.json"),
        junit: read("junit.xml"),
        markdown: read("report.md"),
    }
}

fn results(sarif: &Value) -> &Vec<Value> {
    sarif["runs"][0]["results"].as_array().unwrap()
}

fn uri(result: &Value) -> &str {
    result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap()
}

/// Every result has a location, a fingerprint, and a rule with a description and help.
fn github_shape(sarif: &Value) {
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    for result in results(sarif) {
        assert_eq!(
            result["locations"].as_array().map(Vec::len),
            Some(1),
            "{result}"
        );
        assert!(!uri(result).is_empty());
        assert!(
            result["partialFingerprints"]["preflightIssue/v1"].is_string(),
            "{result}"
        );
        let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], result["ruleId"]);
        assert!(rule["fullDescription"]["text"].is_string(), "{rule}");
        assert!(rule["help"]["text"].is_string(), "{rule}");
        assert!(
            rule.get("name").is_none(),
            "a name equal to the id is not a name"
        );
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

#[test]
fn the_seed_and_the_python_service_in_every_format() {
    let seed = every_format(
        &repo(),
        &[
            "--root",
            "examples/seed",
            "--facts",
            "examples/seed/facts.json",
        ],
    );
    assert_eq!(seed.code, 0);
    assert_eq!(seed.report["risk_score"], 30.0);
    github_shape(&seed.sarif);
    // The seed's missing optional artifact has no place of its own: it points at the facts
    // file, relative to the repository root.
    assert_eq!(uri(&results(&seed.sarif)[0]), "examples/seed/facts.json");

    let service = every_format(
        &repo(),
        &["--config", "examples/python-service/preflight.toml"],
    );
    assert_eq!(service.code, 0, "{}", service.report);
    github_shape(&service.sarif);
    assert!(service.markdown.starts_with("## preflight: ✅ GO"));
}

/// A project with real scanner outputs, failing tests, low coverage, an SBOM and VEX.
fn blocked_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for (from, to) in [
        ("scanners/bandit.sarif", "reports/bandit.sarif"),
        ("scanners/semgrep.sarif", "reports/semgrep.sarif"),
        ("scanners/trivy.json", "reports/trivy.json"),
        ("scanners/gitleaks.json", "reports/gitleaks.json"),
        ("scanners/ruff.json", "reports/ruff.json"),
        ("vex/grype.json", "reports/grype.json"),
        ("vex/openvex.json", "vex/openvex.json"),
        ("sbom/py-env.cdx.json", "sbom/py-env.cdx.json"),
        ("junit/pytest-xunit1.xml", "reports/junit.xml"),
        ("coverage/lcov.info", "reports/lcov.info"),
    ] {
        copy(&fixture(from), &p.join(to));
    }
    std::fs::write(
        p.join("preflight.toml"),
        r#"complexity = "low"
[scores]
readiness = 9
mvp = 9
[security]
sarif = ["reports/bandit.sarif", "reports/semgrep.sarif"]
trivy = ["reports/trivy.json"]
grype = ["reports/grype.json"]
gitleaks = ["reports/gitleaks.json"]
ruff = ["reports/ruff.json"]
vex = ["vex/openvex.json"]
[sbom]
cyclonedx = ["sbom/py-env.cdx.json"]
[tests]
junit = ["reports/junit.xml"]
[coverage]
lcov = "reports/lcov.info"
[artifacts]
required = ["docs/RUNBOOK.md"]
optional = []
[gate]
coverage = { minimum = 95 }
licenses = { deny = ["GPL-2.0-only"] }
"#,
    )
    .unwrap();
    dir
}

#[test]
fn a_blocked_release_points_every_result_at_its_place() {
    let project = blocked_project();
    let out = every_format(project.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.report);
    github_shape(&out.sarif);
    let by_rule = |id: &str| -> Vec<&Value> {
        results(&out.sarif)
            .iter()
            .filter(|r| r["ruleId"] == id)
            .collect()
    };
    // One result per failed test, at the test's line (pytest writes it 0-based).
    let failing = by_rule("tests.failing");
    assert_eq!(failing.len(), 2, "{failing:?}");
    let rounding = failing
        .iter()
        .find(|r| {
            r["message"]["text"]
                .as_str()
                .unwrap()
                .contains("test_coupon_rounding_bug")
        })
        .unwrap();
    assert_eq!(uri(rounding), "tests/test_cart.py");
    assert_eq!(
        rounding["locations"][0]["physicalLocation"]["region"]["startLine"],
        23
    );
    // Coverage below the minimum points at the coverage report; a missing required artifact
    // at the line of preflight.toml that requires it.
    assert_eq!(
        uri(by_rule("coverage.below_minimum")[0]),
        "reports/lcov.info"
    );
    let artifact = by_rule("artifacts.missing_required")[0];
    assert_eq!(uri(artifact), "preflight.toml");
    assert_eq!(
        artifact["locations"][0]["physicalLocation"]["region"]["startLine"], 19,
        "the `required = [...]` line"
    );
    // One result per offending finding, each with its own text; security rules are tagged
    // and carry GitHub's security-severity.
    let secrets = by_rule("security.secret");
    assert!(!secrets.is_empty());
    let texts: Vec<&str> = secrets
        .iter()
        .map(|r| r["message"]["text"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .all(|t| t.starts_with("[gitleaks]") || t.starts_with("[trivy]")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with("[gitleaks]")),
        "{texts:?}"
    );
    let rules = out.sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let vulnerability = rules
        .iter()
        .find(|r| r["id"] == "security.vulnerability")
        .unwrap();
    assert_eq!(vulnerability["properties"]["security-severity"], "9.5");
    assert!(
        vulnerability["properties"]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("security"))
    );
    // Fingerprints are stable across runs and distinct across places.
    let again = every_format(project.path(), &[]);
    let prints = |sarif: &Value| -> Vec<String> {
        results(sarif)
            .iter()
            .map(|r| {
                r["partialFingerprints"]["preflightIssue/v1"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(prints(&out.sarif), prints(&again.sarif));
    let distinct: std::collections::BTreeSet<String> = prints(&out.sarif).into_iter().collect();
    assert_eq!(
        distinct.len(),
        results(&out.sarif).len(),
        "one fingerprint per place"
    );
    // JUnit test identities are the same in both runs (times may differ).
    assert_eq!(case_names(&out.junit), case_names(&again.junit));
    assert!(
        case_names(&out.junit)
            .iter()
            .all(|name| !name.contains("NO_GO"))
    );
    // Code Quality: one entry per result, blocking security findings by severity.
    let quality = out.codeclimate.as_array().unwrap();
    assert_eq!(quality.len(), results(&out.sarif).len());
    assert!(
        quality
            .iter()
            .any(|e| e["check_name"] == "security.vulnerability" && e["severity"] == "blocker")
    );
    // GitHub annotations name the same files.
    assert!(
        out.github.contains("file=tests/test_cart.py,line=23"),
        "{}",
        out.github
    );
}

/// `classname/name` of every `<testcase>`.
fn case_names(junit: &str) -> Vec<String> {
    junit
        .split("<testcase ")
        .skip(1)
        .map(|case| {
            let attr = |key: &str| {
                case.split(&format!("{key}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("")
                    .to_owned()
            };
            format!("{}/{}", attr("classname"), attr("name"))
        })
        .collect()
}

#[test]
fn errors_and_failed_policies_are_valid_reports_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("facts.json"), "{\"scores\": ").unwrap();
    let broken = every_format(dir.path(), &["--facts", "facts.json"]);
    assert_eq!(broken.code, 2);
    assert_eq!(
        broken.sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
    assert_eq!(uri(&results(&broken.sarif)[0]), "facts.json");

    // A policy that traps, and one that is not enforced, beside the standard gate.
    let trap = crate::support::module(
        r#"(func (export "preflight_evaluate") (param i32 i32) (result i64) unreachable)"#,
        Some(&crate::support::metadata("trapper")),
    );
    let blocking = returning(
        "advisor",
        br#"{"decision":"NO_GO","blocking_issues":[{"id":"advice.ignored","message":"not yet"}],"warnings":[],"details":{}}"#,
    );
    std::fs::write(dir.path().join("trap.wasm"), trap).unwrap();
    std::fs::write(dir.path().join("advisor.wasm"), blocking).unwrap();
    std::fs::write(
        dir.path().join("preflight.toml"),
        "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n\n[[policy]]\nsource = \"trap.wasm\"\n\n[[policy]]\nsource = \"advisor.wasm\"\nenforce = false\n",
    )
    .unwrap();
    let failed = every_format(dir.path(), &[]);
    assert_eq!(failed.code, 2);
    let trapped = results(&failed.sarif)
        .iter()
        .find(|r| r["ruleId"] == "policy.trap")
        .unwrap();
    // It points at the `[[policy]]` entry that configures it.
    assert_eq!(uri(trapped), "preflight.toml");
    assert_eq!(
        trapped["locations"][0]["physicalLocation"]["region"]["startLine"], 10,
        "the first `[[policy]]`"
    );
    let advice = results(&failed.sarif)
        .iter()
        .find(|r| r["ruleId"] == "advice.ignored")
        .unwrap();
    assert_eq!(advice["level"], "warning", "not enforced");
    assert_eq!(
        advice["locations"][0]["physicalLocation"]["region"]["startLine"], 13,
        "the second `[[policy]]`"
    );
}

#[test]
fn hostile_text_stays_text_in_every_format() {
    let output = json!({
        "decision": "NO_GO",
        "blocking_issues": [{
            "id": "hostile.text",
            "message": "<script>alert(1)</script> `code` ]]> **bold** [link](javascript:alert(1)) \u{1b}[31mred\u{7} | pipe",
            "locations": [
                {"path": "src/my file <1>.py", "line": 3, "message": "<img src=x onerror=alert(1)>"},
                {"path": "/abs/outside/x.py", "line": 0},
                {"path": "C:\\src\\win.py", "line": 4294967295_u64}
            ]
        }],
        "warnings": [{"id": "hostile.warning", "message": "</td></tr></table><iframe>"}],
        "details": {}
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hostile.wasm"),
        returning("hostile", output.to_string().as_bytes()),
    )
    .unwrap();
    let out = every_format(
        dir.path(),
        &[
            "--policy",
            "hostile.wasm",
            "--fact",
            "scores.readiness=9",
            "--fact",
            "scores.mvp=9",
            "--fact",
            "security.gate=PASS",
            "--fact",
            "complexity=low",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.report);
    github_shape(&out.sarif);
    let uris: Vec<&str> = results(&out.sarif).iter().map(uri).collect();
    assert!(uris.contains(&"src/my%20file%20%3C1%3E.py"), "{uris:?}");
    assert!(uris.contains(&"file:///abs/outside/x.py"), "{uris:?}");
    assert!(uris.contains(&"file:///C:/src/win.py"), "{uris:?}");
    assert!(!out.github.contains('\u{1b}'));
    assert!(!out.junit.contains('\u{1b}'));
}

#[test]
fn a_monorepo_project_reports_paths_from_the_repository_root() {
    let repo_dir = tempfile::tempdir().unwrap();
    let root = repo_dir.path();
    std::fs::create_dir(root.join(".git")).unwrap();
    let api = root.join("services/api");
    std::fs::create_dir_all(api.join("reports")).unwrap();
    // Scanners write every kind of path: relative, `./`, absolute file URIs (with a space),
    // and paths outside the project but inside the repository.
    let absolute = api.join("src/a b.py");
    let sarif = json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "semgrep", "rules": []}},
            "results": [
                {"ruleId": "r1", "level": "error", "message": {"text": "one"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/c.py"}, "region": {"startLine": 2}}}]},
                {"ruleId": "r2", "level": "error", "message": {"text": "two"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": format!("file://{}", absolute.display()).replace(' ', "%20")}, "region": {"startLine": 3}}}]},
                {"ruleId": "r3", "level": "error", "message": {"text": "three"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "../../libs/shared/d.py"}, "region": {"startLine": 4}}}]}
            ]
        }]
    });
    std::fs::write(api.join("reports/semgrep.sarif"), sarif.to_string()).unwrap();
    std::fs::write(
        api.join("preflight.toml"),
        "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\nsarif = [\"reports/semgrep.sarif\"]\n[artifacts]\noptional = []\n[gate]\nsecurity = { fail_on = { lint = \"high\" } }\n",
    )
    .unwrap();
    let from_root = every_format(root, &["--config", "services/api/preflight.toml"]);
    assert_eq!(from_root.code, 1, "{}", from_root.report);
    let mut uris: Vec<&str> = results(&from_root.sarif).iter().map(uri).collect();
    uris.sort_unstable();
    assert_eq!(
        uris,
        [
            "libs/shared/d.py",
            "services/api/src/a%20b.py",
            "services/api/src/c.py"
        ]
    );
    // Facts (and the JSON report) stay relative to the project: what path rules are written
    // against.
    let findings = &from_root.report["policies"][0]["blocking_issues"][0]["locations"];
    assert!(findings.to_string().contains("\"src/c.py\""), "{findings}");
    // From inside the project, found by searching upward... no: the config is in the project
    // folder itself; `--path-base` changes the base.
    let based = every_format(&api, &["--path-base", "."]);
    let mut uris: Vec<&str> = results(&based.sarif).iter().map(uri).collect();
    uris.sort_unstable();
    assert_eq!(uris[1..], ["src/a%20b.py", "src/c.py"]);
    // Code Quality and annotations use the same base.
    assert!(
        from_root
            .codeclimate
            .to_string()
            .contains("\"services/api/src/c.py\""),
        "{}",
        from_root.codeclimate
    );
    assert!(
        from_root
            .github
            .contains("file=services/api/src/c.py,line=2"),
        "{}",
        from_root.github
    );
}

#[test]
fn the_config_is_found_in_a_folder_above() {
    let repo_dir = tempfile::tempdir().unwrap();
    let root = repo_dir.path();
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::write(
        root.join("preflight.toml"),
        "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n",
    )
    .unwrap();
    let nested = root.join("src/deep");
    std::fs::create_dir_all(&nested).unwrap();
    let (code, stdout, stderr) = run(preflight().current_dir(&nested).arg("run"));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report["sources"]["config"]
            .as_str()
            .unwrap()
            .ends_with("preflight.toml")
    );
    // The search stops at the repository root.
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(outside.path().join(".git")).unwrap();
    let inner = outside.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    std::fs::create_dir(inner.join(".git")).unwrap();
    std::fs::write(outside.path().join("preflight.toml"), "mode = \"B\"\n").unwrap();
    let (code, _, stderr) = run(preflight().current_dir(&inner).arg("run"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no preflight.toml here or above"),
        "{stderr}"
    );
    assert!(stderr.contains("preflight init"), "{stderr}");
}
