//! SBOMs written by real generators (`tests/fixtures/sbom/generate.sh`: cyclonedx-py,
//! @cyclonedx/cyclonedx-npm, spdx-tools; each validated by its format's own tooling) read into
//! the fact set, and the standard gate's license rules over them.

use serde_json::Value;

use crate::support::{preflight, repo, run};

fn project(sbom: &str, gate: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo().join("tests/fixtures/sbom");
    for name in ["py-env.cdx.json", "npm-app.cdx.json", "py-env.spdx.json"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(
        dir.path().join("preflight.toml"),
        format!(
            "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n[sbom]\n{sbom}\n[gate]\n{gate}\n"
        ),
    )
    .unwrap();
    dir
}

fn gate(dir: &tempfile::TempDir) -> (i32, Value, String) {
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("run"));
    (
        code,
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr,
    )
}

#[test]
fn real_sboms_are_read_into_the_fact_set() {
    let dir = project(
        "cyclonedx = [\"py-env.cdx.json\", \"npm-app.cdx.json\"]\nspdx = [\"py-env.spdx.json\"]",
        "",
    );
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("facts"));
    assert_eq!(code, 0, "{stderr}");
    let facts: Value = serde_json::from_str(&stdout).unwrap();
    let documents = facts["sbom"]["documents"].as_array().unwrap();
    let summary: Vec<(String, String, u64)> = documents
        .iter()
        .map(|d| {
            (
                d["format"].as_str().unwrap().to_owned(),
                d["spec_version"].as_str().unwrap().to_owned(),
                d["components"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("cyclonedx".to_owned(), "1.6".to_owned(), 15),
            // 71 top-level components, and 2 nested in `send`.
            ("cyclonedx".to_owned(), "1.5".to_owned(), 73),
            ("spdx".to_owned(), "SPDX-2.3".to_owned(), 15),
        ]
    );
    let components = facts["sbom"]["components"].as_array().unwrap();
    let pylint = components
        .iter()
        .find(|c| c["name"] == "pylint" && c["origin"] == "py-env.cdx.json")
        .unwrap();
    assert_eq!(pylint["purl"], "pkg:pypi/pylint@3.3.1");
    assert_eq!(
        pylint["licenses"],
        serde_json::json!([{"expression": "GPL-2.0-only"}, {"expression": "GPL-2.0-or-later"}])
    );
    assert_eq!(
        facts["sources"].as_object().map(|_| ()),
        None,
        "the fact set itself carries no provenance"
    );
}

#[test]
fn the_license_gate_refuses_denied_licenses_on_real_sboms() {
    // pylint is GPL-2.0: a GPL deny list refuses it, naming the component and its purl.
    let dir = project(
        "cyclonedx = [\"py-env.cdx.json\"]",
        "licenses = { deny = [\"GPL-2.0-only\", \"AGPL-3.0-only\"] }",
    );
    let (code, report, stderr) = gate(&dir);
    assert_eq!(code, 1, "{stderr}");
    let refused: Vec<&str> = report["blocking_issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["id"] == "licenses.refused")
        .map(|i| i["message"].as_str().unwrap())
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("`pylint` 3.3.1 (pkg:pypi/pylint@3.3.1)"),
        "{}",
        refused[0]
    );
    // chardet's license is a classifier, not an SPDX expression: unknown, a warning.
    assert!(
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == "licenses.unknown"
                && w["message"].as_str().unwrap().contains("chardet")),
        "{report:#}"
    );

    // left-pad is WTFPL in the npm SBOM; everything else there is permissive.
    let dir = project(
        "cyclonedx = [\"npm-app.cdx.json\"]",
        "licenses = { allow = [\"MIT\", \"ISC\", \"BSD-3-Clause\", \"Apache-2.0\"] }",
    );
    let (code, report, _) = gate(&dir);
    assert_eq!(code, 1);
    let refused: Vec<&Value> = report["blocking_issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["id"] == "licenses.refused")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("pkg:npm/left-pad@1.3.0")
    );
    assert_eq!(refused[0]["locations"][0]["path"], "npm-app.cdx.json");

    // The SPDX document of the same environment: an allow list that admits everything in it.
    let dir = project(
        "spdx = [\"py-env.spdx.json\"]",
        "licenses = { allow = [\"MIT\", \"Apache-2.0\", \"BSD-3-Clause\", \"MPL-2.0\", \"LGPL-2.1-or-later\", \"GPL-2.0-or-later\"], unknown = \"off\" }",
    );
    let (code, report, stderr) = gate(&dir);
    assert_eq!(code, 0, "{stderr}: {report:#}");
}

#[test]
fn bad_sboms_are_errors_naming_the_file_and_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "old.cdx.json",
            r#"{"bomFormat": "CycloneDX", "specVersion": "1.2", "components": []}"#,
            "CycloneDX spec version `1.2` is not supported",
        ),
        (
            "bad.cdx.json",
            r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "x", "licenses": [{"expression": "MIT OR"}]}]}"#,
            "at `/components/0/licenses/0/expression`: `MIT OR` is not an SPDX license expression",
        ),
        (
            "not.cdx.json",
            r#"{"spdxVersion": "SPDX-2.3"}"#,
            "not a CycloneDX document",
        ),
    ];
    for (name, text, expected) in cases {
        std::fs::write(dir.path().join(name), text).unwrap();
        std::fs::write(
            dir.path().join("preflight.toml"),
            format!("complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[sbom]\ncyclonedx = [\"{name}\"]\n"),
        )
        .unwrap();
        let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("run"));
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(
            stderr.contains(expected) && stderr.contains(name),
            "{name}: {stderr}"
        );
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["decision"], "NO_GO");
    }
    std::fs::write(
        dir.path().join("old.spdx.json"),
        r#"{"spdxVersion": "SPDX-2.1"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("preflight.toml"),
        "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[sbom]\nspdx = [\"old.spdx.json\"]\n",
    )
    .unwrap();
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).arg("run"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("SPDX version `SPDX-2.1` is not supported"),
        "{stderr}"
    );
}
