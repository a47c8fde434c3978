//! Each collector on fixtures produced by the real tools (see `tests/fixtures/generate.sh`), with
//! the exact counts each must yield; malformed inputs give errors naming the file and position.

use std::path::PathBuf;

use preflight_collectors::coverage::{self, CoverageInput};
use preflight_collectors::input::CollectError;
use preflight_collectors::input::Root;
use preflight_collectors::junit;
use preflight_collectors::security::{self, SecurityInputs};
use preflight_sdk::facts::{FindingCounts, Security, SeverityCounts};

use crate::support::repo;

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures")
}

fn scan(inputs: SecurityInputs) -> Security {
    let (value, _) = security::collect(&Root::new(fixtures()), &inputs).unwrap();
    serde_json::from_value(value["security"].clone()).unwrap()
}

fn counts(critical: u64, high: u64, medium: u64, low: u64, info: u64) -> SeverityCounts {
    SeverityCounts {
        critical,
        high,
        medium,
        low,
        info,
        total: critical + high + medium + low + info,
    }
}

#[test]
fn bandit_sarif() {
    let security = scan(SecurityInputs {
        sarif: vec!["scanners/bandit.sarif".into()],
        ..Default::default()
    });
    assert_eq!(security.findings.len(), 27);
    assert_eq!(security.counts.vulnerability, counts(0, 8, 3, 16, 0));
    assert_eq!(security.counts.total, 27);
    let scans = security.scans.unwrap();
    assert_eq!(
        (
            scans[0].tool.as_str(),
            scans[0].format.as_str(),
            scans[0].findings
        ),
        ("Bandit", "sarif", 27)
    );
    let first = &security.findings[0];
    assert_eq!(first.rule, "B101");
    assert_eq!(first.location.as_ref().unwrap().path, "paramiko/_winapi.py");
    assert_eq!(first.location.as_ref().unwrap().line, Some(172));
}

#[test]
fn semgrep_sarif_uses_security_severity_and_default_levels() {
    let security = scan(SecurityInputs {
        sarif: vec!["scanners/semgrep.sarif".into()],
        ..Default::default()
    });
    assert_eq!(security.counts.total, 12);
    assert_eq!(
        security.counts.lint,
        counts(0, 0, 0, 11, 0),
        "bare-except: level note from defaultConfiguration"
    );
    assert_eq!(
        security.counts.vulnerability,
        counts(0, 0, 1, 0, 0),
        "weak-hash-md5: security-severity 5.3"
    );
    assert!(security.findings.iter().all(|f| f.tool == "Semgrep OSS"));
}

#[test]
fn ruff_sarif_and_json_agree() {
    let sarif = scan(SecurityInputs {
        sarif: vec!["scanners/ruff.sarif".into()],
        ..Default::default()
    });
    let json = scan(SecurityInputs {
        ruff: vec!["scanners/ruff.json".into()],
        ..Default::default()
    });
    assert_eq!(sarif.counts.lint, counts(0, 84, 0, 0, 0));
    assert_eq!(json.counts.lint, counts(0, 84, 0, 0, 0));
    let rules = |s: &Security| {
        s.findings
            .iter()
            .map(|f| f.rule.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(rules(&sarif), rules(&json));
}

#[test]
fn trivy_json() {
    let security = scan(SecurityInputs {
        trivy: vec!["scanners/trivy.json".into()],
        ..Default::default()
    });
    assert_eq!(
        security.counts.vulnerability,
        counts(1, 1, 1, 1, 1),
        "UNKNOWN counts as info"
    );
    assert_eq!(
        security.counts.misconfiguration,
        counts(0, 1, 0, 0, 0),
        "the PASS check is not a finding"
    );
    assert_eq!(security.counts.secret, counts(1, 0, 0, 0, 0));
    assert_eq!(security.scans.as_ref().unwrap()[0].suppressed, 1);
    let cve = security
        .findings
        .iter()
        .find(|f| f.rule == "CVE-2024-35195")
        .unwrap();
    assert!(
        cve.message.contains("requests 2.31.0") && cve.message.contains("fixed in 2.32.0"),
        "{}",
        cve.message
    );
    assert_eq!(cve.location.as_ref().unwrap().path, "app/requirements.txt");
}

#[test]
fn gitleaks_json_never_copies_the_secret() {
    let security = scan(SecurityInputs {
        gitleaks: vec!["scanners/gitleaks.json".into()],
        ..Default::default()
    });
    assert_eq!(security.counts.secret.total, 2);
    let text = serde_json::to_string(&security).unwrap();
    assert!(
        !text.contains("REDACTED\""),
        "the secret value must not reach the facts"
    );
    assert_eq!(
        security.findings[0].location.as_ref().unwrap().line,
        Some(8)
    );
}

#[test]
fn several_reports_add_up() {
    let security = scan(SecurityInputs {
        sarif: vec!["scanners/*.sarif".into()],
        trivy: vec!["scanners/trivy.json".into()],
        gitleaks: vec!["scanners/gitleaks.json".into()],
        ..Default::default()
    });
    assert_eq!(security.counts.total, 27 + 84 + 12 + 7 + 2);
    assert_eq!(security.counts, FindingCounts::of(&security.findings));
    assert_eq!(security.scans.unwrap().len(), 5);
}

#[test]
fn pytest_junit() {
    let (results, _) =
        junit::collect(&Root::new(fixtures()), &["junit/pytest.xml".into()]).unwrap();
    assert_eq!(
        (
            results.total,
            results.passed,
            results.failures,
            results.errors,
            results.skipped
        ),
        (9, 6, 1, 1, 1)
    );
    let names: Vec<&str> = results.failed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tests.test_cart.test_coupon_rounding_bug",
            "tests.test_shipping.test_uses_broken_fixture"
        ]
    );
    assert_eq!(results.failed[0].message, "assert 0.3 == 0.31");
}

#[test]
fn lcov_and_cobertura_agree() {
    let lcov = coverage::collect(
        &Root::new(fixtures()),
        &CoverageInput {
            lcov: Some("coverage/lcov.info".into()),
            cobertura: None,
        },
    )
    .unwrap();
    let cobertura = coverage::collect(
        &Root::new(fixtures()),
        &CoverageInput {
            lcov: None,
            cobertura: Some("coverage/cobertura.xml".into()),
        },
    )
    .unwrap();
    for (report, _) in [&lcov, &cobertura] {
        assert_eq!(
            (
                report.lines_total,
                report.lines_covered,
                report.line_percent
            ),
            (52, 42, 80.77)
        );
        assert_eq!(report.under("shop/"), Some((16, 24, 100.0 * 16.0 / 24.0)));
        assert_eq!(
            report.under("shop/cart.py").map(|(c, t, _)| (c, t)),
            Some((8, 11))
        );
        assert_eq!(report.under("nothing/"), None);
    }
}

// ---- malformed inputs -------------------------------------------------------------------

fn write(name: &str, bytes: &[u8]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    (dir, name.to_owned())
}

fn sarif_error(bytes: &[u8]) -> CollectError {
    let (dir, name) = write("bad.sarif", bytes);
    security::collect(
        &Root::new(dir.path()),
        &SecurityInputs {
            sarif: vec![name],
            ..Default::default()
        },
    )
    .unwrap_err()
}

#[test]
fn truncated_json_names_file_and_position() {
    let full = std::fs::read(fixtures().join("scanners/semgrep.sarif")).unwrap();
    let err = sarif_error(&full[..full.len() / 2]);
    let text = err.to_string();
    assert!(matches!(err, CollectError::Syntax { .. }), "{err:?}");
    assert!(
        text.contains("bad.sarif") && text.contains("line "),
        "{text}"
    );
}

#[test]
fn wrong_sarif_version_is_refused() {
    let err = sarif_error(br#"{"version": "2.0.0", "runs": []}"#).to_string();
    assert!(
        err.contains("SARIF version `2.0.0` is not supported"),
        "{err}"
    );
}

#[test]
fn json_that_is_not_sarif_is_refused() {
    let err = sarif_error(br#"{"results": []}"#).to_string();
    assert!(err.contains("`/version` is missing"), "{err}");
}

#[test]
fn empty_file_is_refused() {
    let err = sarif_error(b"  \n");
    assert!(matches!(err, CollectError::Empty { .. }), "{err:?}");
}

#[test]
fn missing_report_is_refused() {
    let err = security::collect(
        &Root::new(fixtures()),
        &SecurityInputs {
            trivy: vec!["scanners/nope.json".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`scanners/nope.json` matches no file"),
        "{err}"
    );
}

#[test]
fn trivy_without_schema_version_is_refused() {
    let (dir, name) = write("trivy.json", br#"{"Results": []}"#);
    let err = security::collect(
        &Root::new(dir.path()),
        &SecurityInputs {
            trivy: vec![name],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("SchemaVersion"), "{err}");
}

fn junit_error(bytes: &[u8]) -> String {
    let (dir, name) = write("junit.xml", bytes);
    junit::collect(&Root::new(dir.path()), &[name])
        .unwrap_err()
        .to_string()
}

#[test]
fn malformed_junit() {
    let err = junit_error(b"<testsuites>\n  <testsuite name=\"a\">\n    <testcase name=\"x\">\n  </testsuite>\n</testsuites>\n");
    assert!(err.contains("junit.xml") && err.contains("line 4"), "{err}");
    let err =
        junit_error(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><testsuite name=\"caf\xe9\"/>");
    assert!(err.contains("not UTF-8") && err.contains("line 1"), "{err}");
    let err = junit_error(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><testsuite/>");
    assert!(
        err.contains("ISO-8859-1") || err.contains("iso-8859-1"),
        "{err}"
    );
    let err = junit_error(b"<html><body/></html>");
    assert!(err.contains("not a JUnit report"), "{err}");
    let err = junit_error(b"");
    assert!(err.contains("is empty"), "{err}");
}

#[test]
fn malformed_coverage() {
    let (dir, name) = write("lcov.info", b"SF:a.py\nDA:1,1\nDA:two,0\nend_of_record\n");
    let err = coverage::collect(
        &Root::new(dir.path()),
        &CoverageInput {
            lcov: Some(name),
            cobertura: None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("lcov.info") && err.contains("line 3"), "{err}");
    let (dir, name) = write("coverage.xml", b"<coverage><packages><package><classes><class filename=\"a.py\"><lines><line number=\"1\"/>");
    let err = coverage::collect(
        &Root::new(dir.path()),
        &CoverageInput {
            lcov: None,
            cobertura: Some(name),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("coverage.xml"), "{err}");
}

#[test]
fn checklists_score_ten_times_done_over_total() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dod.md"),
        "# DoD\n- [x] tests\n- [x] docs\n- [ ] runbook\n- [x] review\n",
    )
    .unwrap();
    let source = preflight_collectors::checklist::ScoreSource::Checklist {
        checklist: "dod.md".into(),
        sections: Default::default(),
    };
    let score =
        preflight_collectors::checklist::score(&Root::new(dir.path()), "readiness", &source)
            .unwrap();
    assert_eq!(score.value, 7.5);
    assert_eq!(score.checklist.unwrap().open_items, ["runbook"]);
    std::fs::write(dir.path().join("empty.md"), "# nothing to check\n").unwrap();
    let source = preflight_collectors::checklist::ScoreSource::Checklist {
        checklist: "empty.md".into(),
        sections: Default::default(),
    };
    assert!(
        preflight_collectors::checklist::score(&Root::new(dir.path()), "readiness", &source)
            .is_err()
    );
}

#[test]
fn json_pointer_score() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("q.json"),
        r#"{"quality": {"readiness": 6.5, "label": "x"}}"#,
    )
    .unwrap();
    let read = |pointer: &str| {
        let source = preflight_collectors::checklist::ScoreSource::Json {
            json: "q.json".into(),
            pointer: pointer.into(),
        };
        preflight_collectors::checklist::score(&Root::new(dir.path()), "readiness", &source)
    };
    assert_eq!(read("/quality/readiness").unwrap().value, 6.5);
    assert!(
        read("/quality/label")
            .unwrap_err()
            .to_string()
            .contains("not a number")
    );
    assert!(
        read("/missing")
            .unwrap_err()
            .to_string()
            .contains("nothing at JSON pointer `/missing`")
    );
}

/// One ruff run written as SARIF and as JSON, given both, counts each finding once; a report two
/// globs match is read once.
#[test]
fn the_same_scan_given_twice_counts_once() {
    let alone = |inputs: SecurityInputs| {
        let (value, _) = security::collect(&Root::new(fixtures()), &inputs).unwrap();
        value["security"].clone()
    };
    let json_only = alone(SecurityInputs {
        ruff: vec!["scanners/ruff.json".into()],
        ..SecurityInputs::default()
    });
    let both = alone(SecurityInputs {
        sarif: vec!["scanners/ruff.sarif".into()],
        ruff: vec!["scanners/ruff.json".into(), "scanners/ruff.*".into()],
        ..SecurityInputs::default()
    });
    let count = |security: &serde_json::Value| security["findings"].as_array().unwrap().len();
    assert!(count(&json_only) > 50);
    assert_eq!(count(&both), count(&json_only));
    let scans = both["scans"].as_array().unwrap();
    assert_eq!(scans.len(), 2, "ruff.json is read once: {scans:?}");
    assert_eq!(scans[1]["duplicates"], count(&json_only) as u64);
    assert_eq!(scans[1]["findings"], 0);
    assert_eq!(
        both["counts"]["lint"], json_only["counts"]["lint"],
        "the counts the gate reads"
    );
}
