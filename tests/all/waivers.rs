//! Waivers: finding waivers applied to the fact set before any policy runs, issue waivers to
//! the results, expiry, and the mistakes a team makes writing them. `PREFLIGHT_TODAY` fixes
//! the date, so the tests do not age.

use serde_json::Value;

use crate::support::{preflight, repo, run};

const TODAY: &str = "2026-11-29";

const PROJECT: &str = r#"complexity = "low"
[scores]
readiness = 9
mvp = 9
[artifacts]
optional = []
[security]
grype = ["grype.json"]
"#;

const WAIVERS: &str = r#"
[[waiver]]
id = "W-1"
match = { cve = "CVE-2022-40897", package = "setuptools" }
reason = "setuptools is only used at build time"
owner = "alice@example.com"
expires = 2026-12-20
approved_by = "bob@example.com"
ticket = "SEC-12"

[[waiver]]
id = "W-2"
match = { cve = "cve-2024-6345" }
reason = "package_index is not used"
owner = "alice@example.com"
expires = "2026-12-31"

[[waiver]]
id = "W-3"
match = { tool = "bandit", rule = "B101", path = "tests/**" }
reason = "asserts in tests"
owner = "carol@example.com"
expires = 2026-11-01
"#;

fn project(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/vex/grype.json"),
        dir.path().join("grype.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("preflight.toml"), config).unwrap();
    dir
}

fn preflight_on(dir: &tempfile::TempDir, today: &str) -> std::process::Command {
    let mut command = preflight();
    command
        .current_dir(dir.path())
        .env("PREFLIGHT_TODAY", today);
    command
}

fn ids(report: &Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn finding_waivers_move_findings_out_before_policies_run() {
    // Without waivers: the high setuptools vulnerability blocks.
    let dir = project(PROJECT);
    let (code, stdout, _) = run(preflight_on(&dir, TODAY).arg("run"));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(ids(&report, "blocking_issues").contains(&"security.vulnerability".to_owned()));

    let dir = project(&format!("{PROJECT}{WAIVERS}"));
    let (code, stdout, stderr) = run(preflight_on(&dir, TODAY).arg("facts"));
    assert_eq!(code, 0, "{stderr}");
    let facts: Value = serde_json::from_str(&stdout).unwrap();
    let security = &facts["security"];
    let waived: Vec<(&str, &str)> = security["waived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["waiver"].as_str().unwrap(),
                w["finding"]["rule"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        waived,
        [("W-1", "CVE-2022-40897"), ("W-2", "CVE-2024-6345")]
    );
    assert_eq!(security["waived"][0]["owner"], "alice@example.com");
    // Out of the findings and the counts: every policy sees the same thing.
    assert!(
        security["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] != "CVE-2022-40897")
    );
    assert_eq!(security["counts"]["vulnerability"]["high"], 0);

    let (code, stdout, stderr) = run(preflight_on(&dir, TODAY).arg("run"));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "GO");
    let summary = &report["waivers"];
    assert_eq!(summary["applied"][0]["id"], "W-1");
    assert_eq!(summary["applied"][0]["matched"][0], "1 findings");
    assert_eq!(summary["expired"], serde_json::json!(["W-3"]));
    assert_eq!(summary["sha256"].as_str().unwrap().len(), 64);
    // The expired waiver warns and names its line; it never applied.
    let warnings = ids(&report, "warnings");
    assert!(
        warnings.contains(&"waivers.expired".to_owned()),
        "{warnings:?}"
    );
    let expired = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "waivers.expired")
        .unwrap();
    assert!(
        expired["message"]
            .as_str()
            .unwrap()
            .contains("preflight.toml line 26"),
        "{expired}"
    );

    // Ten days later W-1 expires within warn_days; a month later W-1 and W-2 have expired and
    // the vulnerability blocks again.
    let (_, stdout, _) = run(preflight_on(&dir, "2026-12-10").arg("run"));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(ids(&report, "warnings").contains(&"waivers.expiring".to_owned()));
    assert_eq!(report["waivers"]["expiring"], serde_json::json!(["W-1"]));
    let (code, stdout, _) = run(preflight_on(&dir, "2027-01-02").arg("run"));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(ids(&report, "blocking_issues").contains(&"security.vulnerability".to_owned()));

    // `expired = "block"`: an expired waiver blocks.
    let dir = project(&format!(
        "{PROJECT}[waivers]\nexpired = \"block\"\n{WAIVERS}"
    ));
    let (code, stdout, _) = run(preflight_on(&dir, TODAY).arg("run"));
    assert_eq!(code, 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert!(ids(&report, "blocking_issues").contains(&"waivers.expired".to_owned()));
}

/// An issue waiver turns a blocking issue into a warning naming the waiver; the policy that
/// said NO_GO answers GO_WITH_CAUTION. A waiver that matches nothing is reported unused.
#[test]
fn issue_waivers_turn_blocking_issues_into_named_warnings() {
    let config = r#"complexity = "high"
[scores]
readiness = 3
mvp = 3
[security]
gate = "PASS"
[artifacts]
optional = []

[[waiver]]
id = "W-9"
match = { policy = "preflight-gate", issue = "risk.above_canary" }
reason = "hotfix, rolled out behind a flag"
owner = "release-manager@example.com"
expires = 2026-12-05

[[waiver]]
id = "W-10"
match = { issue = "coverage.below_minimum" }
reason = "coverage is not measured for this service yet"
owner = "dave@example.com"
expires = 2026-12-15
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("preflight.toml"), config).unwrap();
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .env("PREFLIGHT_TODAY", TODAY)
        .args(["run", "--format", "json", "--format", "markdown=summary.md"]));
    assert_eq!(code, 3, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "GO_WITH_CAUTION");
    assert!(ids(&report, "blocking_issues").is_empty());
    let waived = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "risk.above_canary")
        .unwrap();
    assert!(
        waived["message"]
            .as_str()
            .unwrap()
            .starts_with("waived by W-9 (release-manager@example.com, until 2026-12-05): "),
        "{waived}"
    );
    assert_eq!(report["policies"][0]["decision"], "GO_WITH_CAUTION");
    assert_eq!(report["waivers"]["unused"], serde_json::json!(["W-10"]));
    assert!(ids(&report, "warnings").contains(&"waivers.unused".to_owned()));
    assert!(ids(&report, "warnings").contains(&"waivers.expiring".to_owned()));
    let markdown = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        markdown.contains("| W-9 | preflight-gate/risk.above\\_canary |"),
        "{markdown}"
    );

    // Signed and replayed: the waiver the record names applies again.
    let on = |args: &[&str]| {
        run(preflight()
            .current_dir(dir.path())
            .env("PREFLIGHT_TODAY", TODAY)
            .args(args))
    };
    assert_eq!(on(&["facts", "-o", "facts.json"]).0, 0);
    assert_eq!(on(&["keygen", "k"]).0, 0);
    let (code, _, stderr) = on(&[
        "run",
        "--no-collect",
        "--facts",
        "facts.json",
        "--attest",
        "d.dsse",
        "--signing-key",
        "k.pem",
    ]);
    assert_eq!(code, 3, "{stderr}");
    let (code, stdout, stderr) = on(&[
        "verify-decision",
        "d.dsse",
        "--public-key",
        "k.pub.pem",
        "--facts",
        "facts.json",
        "--replay",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("replayed: GO_WITH_CAUTION"), "{stdout}");
}

/// Each mistake is a config error naming the file and line, exit 2 and NO_GO: never a waiver
/// silently applied or silently ignored.
#[test]
fn bad_waivers_are_config_errors_with_the_line() {
    let waiver = |body: &str| format!("{PROJECT}\n[[waiver]]\nid = \"W-1\"\n{body}\n");
    let cases: &[(&str, &str)] = &[
        (
            "match = { cve = \"CVE-1\" }\nreason = \"r\"\nexpires = 2026-12-01",
            "missing field `owner`",
        ),
        (
            "match = { cwe = \"CWE-79\" }\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-12-01",
            "unknown field `cwe`",
        ),
        (
            "match = { cve = \"CVE-1\" }\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-12-01",
            "more than the 90 days",
        ),
        (
            "match = { cve = \"CVE-1\", issue = \"risk.above_go\" }\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-12-01",
            "mixes finding keys",
        ),
        (
            "match = {}\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-12-01",
            "`match` is empty",
        ),
        (
            "match = { issue = \"policy.trap\" }\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-12-01",
            "errors cannot be waived",
        ),
        (
            "match = { cve = \"CVE-1\" }\nreason = \"r\"\nowner = \"o\"\nexpires = \"next week\"",
            "is not a date",
        ),
        (
            "match = { cve = \"CVE-1\" }\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-12-01\n[[waiver]]\nid = \"W-1\"\nmatch = { cve = \"CVE-2\" }\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-12-01",
            "another waiver has this id",
        ),
    ];
    for (body, expected) in cases {
        let dir = project(&waiver(body));
        let (code, stdout, stderr) = run(preflight_on(&dir, TODAY).arg("run"));
        assert_eq!(code, 2, "{body}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{body}: expected `{expected}` in {stderr}"
        );
        assert!(stderr.contains("preflight.toml"), "{stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["decision"], "NO_GO");
    }
    // A waivers file: its own name and line.
    let dir = project(&format!("{PROJECT}[waivers]\nfile = \"waivers.toml\"\n"));
    std::fs::write(
        dir.path().join("waivers.toml"),
        "[[waiver]]\nid = \"W-1\"\nmatch = { cve = \"CVE-1\" }\nreason = \"r\"\nowner = \"o\"\nexpire = 2026-12-01\n",
    )
    .unwrap();
    let (code, _, stderr) = run(preflight_on(&dir, TODAY).arg("run"));
    assert_eq!(code, 2);
    assert!(stderr.contains("waivers.toml` line 6"), "{stderr}");
}

/// A waivers file's entries apply like inline ones, and the decision record binds their digest.
#[test]
fn a_waivers_file_applies_and_the_record_binds_its_digest() {
    let dir = project(&format!("{PROJECT}[waivers]\nfile = \"waivers.toml\"\n"));
    std::fs::write(dir.path().join("waivers.toml"), WAIVERS).unwrap();
    let (code, _, stderr) = run(preflight_on(&dir, TODAY).args(["keygen", "k"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(preflight_on(&dir, TODAY).args([
        "run",
        "--attest",
        "decision.dsse",
        "--signing-key",
        "k.pem",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let envelope: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("decision.dsse")).unwrap()).unwrap();
    use base64::Engine as _;
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        statement["predicate"]["waivers_sha256"],
        report["waivers"]["sha256"]
    );
}

/// A run on a fact set `preflight facts` wrote (waivers applied already) reports the same
/// waivers as used, and a signed record of a run with an issue waiver replays to the same
/// decision.
#[test]
fn recorded_facts_keep_their_waivers_and_replay() {
    let dir = project(&format!(
        "{PROJECT}{WAIVERS}\n[[waiver]]\nid = \"W-4\"\nmatch = {{ policy = \"preflight-gate\", issue = \"vex.unused\" }}\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-12-24\n"
    ));
    let (code, _, stderr) = run(preflight_on(&dir, TODAY).args(["facts", "-o", "facts.json"]));
    assert_eq!(code, 0, "{stderr}");
    run(preflight_on(&dir, TODAY).args(["keygen", "k"]));
    let (code, stdout, stderr) = run(preflight_on(&dir, TODAY).args([
        "run",
        "--no-collect",
        "--facts",
        "facts.json",
        "--attest",
        "d.dsse",
        "--signing-key",
        "k.pem",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let applied: Vec<&str> = report["waivers"]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(applied, ["W-1", "W-2"]);
    let (code, stdout, stderr) = run(preflight_on(&dir, TODAY).args([
        "verify-decision",
        "d.dsse",
        "--public-key",
        "k.pub.pem",
        "--facts",
        "facts.json",
        "--replay",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// A `--facts-stream` line gets the finding waivers and the baseline a single run on the same
/// fact set gets (the stream once evaluated lines without them: a waived finding blocked).
#[test]
fn stream_lines_get_waivers_and_the_baseline_like_a_single_run() {
    let dir = project(PROJECT);
    let (code, stdout, stderr) = run(preflight_on(&dir, TODAY).arg("facts"));
    assert_eq!(code, 0, "{stderr}");
    let facts: Value = serde_json::from_str(&stdout).unwrap();
    std::fs::write(dir.path().join("facts.json"), facts.to_string()).unwrap();
    std::fs::write(dir.path().join("facts.ndjson"), format!("{facts}\n")).unwrap();
    // The baseline: the same findings, so every one is unchanged.
    std::fs::write(dir.path().join("baseline.json"), facts.to_string()).unwrap();
    std::fs::write(
        dir.path().join("preflight.toml"),
        format!("{PROJECT}{WAIVERS}"),
    )
    .unwrap();
    for extra in [&[][..], &["--baseline", "baseline.json"][..]] {
        let (_, single, stderr) = run(preflight_on(&dir, TODAY)
            .args(["run", "--no-collect", "--facts", "facts.json"])
            .args(extra));
        let single: Value = serde_json::from_str(&single).unwrap_or_else(|_| panic!("{stderr}"));
        assert_eq!(single["decision"], "GO", "{single}");
        let (_, streamed, stderr) = run(preflight_on(&dir, TODAY)
            .args(["run", "--facts-stream", "facts.ndjson"])
            .args(extra));
        let streamed: Value = serde_json::from_str(streamed.lines().next().unwrap())
            .unwrap_or_else(|_| panic!("{stderr}"));
        for key in [
            "decision",
            "blocking_issues",
            "warnings",
            "facts_sha256",
            "waivers",
            "finding_keys",
        ] {
            assert_eq!(streamed[key], single[key], "{extra:?} {key}");
        }
    }
}
