//! Grype findings, and VEX statements that clear them: OpenVEX v0.2 and CycloneDX VEX. The
//! Grype report (`tests/fixtures/vex/grype.json`) follows Grype's published JSON format for the
//! Python environment of the SBOM fixtures; the CycloneDX VEX passes cyclonedx-python-lib's
//! schema validation.

use serde_json::Value;

use crate::support::{preflight, repo, run};

fn project(security: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo().join("tests/fixtures/vex");
    for name in ["grype.json", "openvex.json", "cdx-vex.json"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(
        dir.path().join("preflight.toml"),
        format!(
            "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[artifacts]\noptional = []\n[security]\n{security}\n"
        ),
    )
    .unwrap();
    dir
}

fn ids(report: &Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn vex_statements_clear_matching_grype_findings() {
    // Without VEX: the high setuptools vulnerability fails the security gate.
    let dir = project("grype = [\"grype.json\"]");
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("run"));
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(ids(&report, "blocking_issues").contains(&"security.vulnerability".to_owned()));

    // With VEX: requests' netrc CVE (OpenVEX, not_affected) and setuptools' RCE (CycloneDX,
    // not_affected) are cleared; the medium setuptools and the low pip findings stay.
    let dir = project("grype = [\"grype.json\"]\nvex = [\"openvex.json\", \"cdx-vex.json\"]");
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("facts"));
    assert_eq!(code, 0, "{stderr}");
    let facts: Value = serde_json::from_str(&stdout).unwrap();
    let security = &facts["security"];
    let remaining: Vec<&str> = security["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(remaining, ["CVE-2022-40897", "CVE-2023-5752"]);
    assert_eq!(security["counts"]["vulnerability"]["high"], 0);
    let cleared = security["cleared"].as_array().unwrap();
    assert_eq!(cleared.len(), 2);
    assert_eq!(cleared[0]["finding"]["rule"], "CVE-2024-47081");
    assert_eq!(
        cleared[0]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    assert_eq!(
        cleared[0]["author"],
        "Shop API security team <security@example.com>"
    );
    assert_eq!(cleared[1]["finding"]["rule"], "CVE-2024-6345");
    assert_eq!(cleared[1]["document"], "cdx-vex.json");
    let matched: Vec<(String, u64)> = security["vex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["vulnerability"].as_str().unwrap().to_owned(),
                s["matched"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        [
            ("CVE-2024-47081".to_owned(), 1),
            ("CVE-2023-5752".to_owned(), 0),
            ("CVE-2021-33503".to_owned(), 0),
            ("CVE-2024-6345".to_owned(), 1),
        ]
    );

    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("run"));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let warnings = ids(&report, "warnings");
    assert_eq!(
        warnings.iter().filter(|id| *id == "vex.cleared").count(),
        2,
        "{warnings:?}"
    );
    // The statement for a vulnerability nothing reported is listed as unused; the
    // under_investigation one changes nothing and is not.
    assert_eq!(warnings.iter().filter(|id| *id == "vex.unused").count(), 1);
    let unused = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "vex.unused")
        .unwrap();
    assert!(
        unused["message"]
            .as_str()
            .unwrap()
            .contains("CVE-2021-33503")
    );
}

#[test]
fn bad_vex_documents_are_errors_naming_the_file_and_place() {
    let cases = [
        (r#"{"statements": []}"#, "not a VEX document"),
        (
            r#"{"@context": "https://openvex.dev/ns/v0.1.0", "statements": []}"#,
            "is not supported; preflight reads v0.2",
        ),
        (
            r#"{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:pypi/x"}], "status": "fine"}]}"#,
            "at `/statements/0/status`",
        ),
        (
            r#"{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:pypi/x"}], "status": "not_affected"}]}"#,
            "needs a `justification` or an `impact_statement`",
        ),
    ];
    for (text, expected) in cases {
        let dir = project("grype = [\"grype.json\"]\nvex = [\"bad.json\"]");
        std::fs::write(dir.path().join("bad.json"), text).unwrap();
        let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("run"));
        assert_eq!(code, 2, "{text}: {stderr}");
        assert!(
            stderr.contains(expected) && stderr.contains("bad.json"),
            "{stderr}"
        );
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["decision"], "NO_GO");
    }
}
