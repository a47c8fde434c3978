//! Baselines on real scanner output of two releases of one project: paramiko 3.0.0 and 3.4.0
//! from PyPI, scanned at the same path by bandit, ruff and semgrep
//! (`tests/fixtures/generate.sh`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{preflight, repo, run};

/// A project holding one release's scanner reports; `only_new` sets the gate's setting.
fn release(version: &str, only_new: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for tool in ["bandit", "ruff", "semgrep"] {
        std::fs::copy(
            repo().join(format!("tests/fixtures/baseline/{version}/{tool}.sarif")),
            dir.path().join(format!("{tool}.sarif")),
        )
        .unwrap();
    }
    let gate = if only_new {
        "[gate.security]\nonly_new = true\n"
    } else {
        ""
    };
    std::fs::write(
        dir.path().join("preflight.toml"),
        format!(
            "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[artifacts]\noptional = []\n[security]\nsarif = [\"bandit.sarif\", \"ruff.sarif\", \"semgrep.sarif\"]\n{gate}"
        ),
    )
    .unwrap();
    dir
}

fn facts(dir: &tempfile::TempDir, baseline: Option<&std::path::Path>) -> Value {
    let mut command = preflight();
    command.current_dir(dir.path()).arg("facts");
    if let Some(baseline) = baseline {
        command.arg("--baseline").arg(baseline);
    }
    let (code, stdout, stderr) = run(&mut command);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn states(facts: &Value) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for finding in facts["security"]["findings"].as_array().unwrap() {
        let key = (
            finding["tool"].as_str().unwrap().to_owned(),
            finding["baseline"].as_str().unwrap_or("none").to_owned(),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[test]
fn findings_carried_over_between_releases_match_although_lines_moved() {
    let old = release("3.0.0", false);
    let (_, stdout, _) = run(preflight().current_dir(old.path()).arg("run"));
    let old_report = old.path().join("old-report.json");
    std::fs::write(&old_report, &stdout).unwrap();
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["finding_keys"].as_array().unwrap().len(), 121);

    let new = release("3.4.0", false);
    let marked = facts(&new, Some(&old_report));
    let want: BTreeMap<(String, String), usize> = [
        (("Bandit".to_owned(), "unchanged".to_owned()), 27),
        (("Semgrep OSS".to_owned(), "unchanged".to_owned()), 12),
        (("ruff".to_owned(), "new".to_owned()), 2),
        (("ruff".to_owned(), "unchanged".to_owned()), 82),
    ]
    .into();
    assert_eq!(states(&marked), want);
    // The two new ones are what 3.4.0 added to transport.py.
    let new_rules: Vec<&str> = marked["security"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["baseline"] == "new")
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(new_rules, ["B904", "B007"]);

    // Lines moved: many unchanged findings sit on other lines than in 3.0.0.
    let before = facts(&old, None);
    let lines = |facts: &Value| -> Vec<(String, String, i64)> {
        facts["security"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_owned(),
                    f["location"]["path"].as_str().unwrap().to_owned(),
                    f["location"]["line"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let old_lines = lines(&before);
    let moved = lines(&marked)
        .into_iter()
        .zip(marked["security"]["findings"].as_array().unwrap())
        .filter(|(place, finding)| finding["baseline"] == "unchanged" && !old_lines.contains(place))
        .count();
    assert_eq!(moved, 65, "unchanged findings on other lines than in 3.0.0");

    // A fact set works as a baseline too.
    let old_facts = old.path().join("old-facts.json");
    std::fs::write(&old_facts, serde_json::to_vec(&before).unwrap()).unwrap();
    assert_eq!(states(&facts(&new, Some(&old_facts))), want);
}

/// `security.only_new`: the two new findings block; the 121 old ones are one warning.
#[test]
fn only_new_findings_count_toward_fail_on() {
    let old = release("3.0.0", true);
    let (_, stdout, _) = run(preflight().current_dir(old.path()).arg("run"));
    let baseline = old.path().join("old.json");
    std::fs::write(&baseline, &stdout).unwrap();

    let new = release("3.4.0", true);
    let (code, stdout, stderr) = run(preflight()
        .current_dir(new.path())
        .arg("run")
        .arg("--baseline")
        .arg(&baseline));
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let blocking = report["blocking_issues"].as_array().unwrap();
    assert_eq!(blocking.len(), 1, "{blocking:?}");
    assert_eq!(blocking[0]["id"], "security.lint");
    let message = blocking[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("2 lint finding(s) at or above high"),
        "{message}"
    );
    let unchanged = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "security.unchanged")
        .unwrap();
    assert!(
        unchanged["message"]
            .as_str()
            .unwrap()
            .starts_with("121 findings were in the baseline already (28 vulnerability, 93 lint)"),
        "{unchanged}"
    );
    // Without the baseline every finding counts.
    let (code, stdout, _) = run(preflight().current_dir(new.path()).arg("run"));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let ids: Vec<&str> = report["blocking_issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"security.vulnerability"), "{ids:?}");
}

/// A baseline from another project matches nothing: said, and every finding is new. A file
/// that is no report or fact set is an error naming it.
#[test]
fn a_baseline_from_elsewhere_or_of_another_kind_is_said_so() {
    let new = release("3.4.0", true);
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/vex/grype.json"),
        other.path().join("grype.json"),
    )
    .unwrap();
    std::fs::write(
        other.path().join("preflight.toml"),
        "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[artifacts]\noptional = []\n[security]\ngrype = [\"grype.json\"]\n",
    )
    .unwrap();
    let (_, stdout, _) = run(preflight().current_dir(other.path()).arg("run"));
    let elsewhere = other.path().join("report.json");
    std::fs::write(&elsewhere, stdout).unwrap();
    let (code, stdout, _) = run(preflight()
        .current_dir(new.path())
        .arg("run")
        .arg("--baseline")
        .arg(&elsewhere));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let warning = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "baseline.no_match")
        .expect("a baseline.no_match warning");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("matched none of the 123 findings (it has 4)"),
        "{warning}"
    );

    for (text, expected) in [
        (
            "{\"name\": \"something else\"}",
            "neither a preflight report",
        ),
        ("not json", "not JSON"),
    ] {
        let path = new.path().join("bad.json");
        std::fs::write(&path, text).unwrap();
        let (code, stdout, stderr) =
            run(preflight()
                .current_dir(new.path())
                .args(["run", "--baseline", "bad.json"]));
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("baseline `bad.json`"), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["decision"], "NO_GO");
        assert_eq!(report["blocking_issues"][0]["id"], "baseline.invalid");
    }
}

/// The scanner's own `baselineState` is honoured; a fingerprint every result shares (Semgrep
/// without a login) is not taken as an identity.
#[test]
fn sarif_baseline_state_and_shared_fingerprints() {
    let new = release("3.4.0", true);
    let plain = facts(&new, None);
    assert!(
        plain["security"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["tool"] == "Semgrep OSS")
            .all(|f| f.get("fingerprint").is_none())
    );
    // Mark every ruff result unchanged, as a scanner comparing runs itself would.
    let path = new.path().join("ruff.sarif");
    let mut sarif: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for result in sarif["runs"][0]["results"].as_array_mut().unwrap() {
        result["baselineState"] = "unchanged".into();
    }
    std::fs::write(&path, serde_json::to_vec(&sarif).unwrap()).unwrap();
    let marked = facts(&new, None);
    assert_eq!(
        states(&marked)[&("ruff".to_owned(), "unchanged".to_owned())],
        84
    );
}
