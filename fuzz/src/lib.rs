//! The bodies of preflight's fuzz targets, one function per parser. `fuzz_targets/*.rs` hand
//! libFuzzer's input to them; the end-to-end suite (`tests/all/fuzz.rs`) runs every file of
//! `fuzz/corpus/TARGET/` through the same function, so each input the fuzzer kept (and each
//! crash it found) stays a regression test.
//!
//! Every function must return for every input: a panic, a hang or an allocation without bound
//! is a finding. Where two readers must agree, the function asserts it.

use std::path::Path;

use serde_json::Value;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The targets by name: the name of `fuzz_targets/NAME.rs` and of `corpus/NAME/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("facts", facts),
    ("fact_override", fact_override),
    ("config", config),
    ("sarif", sarif),
    ("trivy", trivy),
    ("gitleaks", gitleaks),
    ("ruff", ruff),
    ("grype", grype),
    ("vex", vex),
    ("junit", junit),
    ("lcov", lcov),
    ("cobertura", cobertura),
    ("checklist", checklist),
    ("cyclonedx", cyclonedx),
    ("spdx", spdx),
    ("custom", custom),
    ("policy_output", policy_output),
    ("metadata", metadata),
    ("lock", lock),
    ("prometheus", prometheus),
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A fact set: strict JSON, then the schema, the derived counts and the canonical form. A fact
/// set that is accepted hashes the same after a round trip through its canonical JSON.
pub fn facts(data: &[u8]) {
    let Ok(value) = preflight_engine::json::from_slice(data) else {
        return;
    };
    if let Ok(facts) = preflight_engine::facts::from_value(value) {
        let again = preflight_engine::json::from_str(&facts.json)
            .map(preflight_engine::facts::from_value)
            .map(|facts| facts.map(|f| f.sha256));
        assert!(
            matches!(&again, Ok(Ok(sha)) if *sha == facts.sha256),
            "the canonical JSON of an accepted fact set must be accepted with the same hash"
        );
    }
}

/// `--fact KEY=VALUE` overrides, one per line, onto an empty fact document.
pub fn fact_override(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let mut value = Value::Object(serde_json::Map::new());
    for line in text.lines().take(64) {
        let _ = preflight_engine::facts::apply_override(&mut value, line);
    }
}

/// `preflight.toml`.
pub fn config(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let _ = preflight::config::parse(Path::new("preflight.toml"), text);
}

fn report(format: preflight_collectors::security::ReportFormat, name: &str, data: &[u8]) {
    let Some(text) = text(data) else { return };
    let _ = preflight_collectors::security::read_report(
        format,
        &preflight_collectors::input::Root::new("/project"),
        Path::new(name),
        text,
    );
}

/// SARIF 2.1.0 from any tool.
pub fn sarif(data: &[u8]) {
    report(
        preflight_collectors::security::ReportFormat::Sarif,
        "scan.sarif",
        data,
    );
}

/// Trivy JSON.
pub fn trivy(data: &[u8]) {
    report(
        preflight_collectors::security::ReportFormat::Trivy,
        "trivy.json",
        data,
    );
}

/// Gitleaks JSON.
pub fn gitleaks(data: &[u8]) {
    report(
        preflight_collectors::security::ReportFormat::Gitleaks,
        "gitleaks.json",
        data,
    );
}

/// Ruff JSON.
pub fn ruff(data: &[u8]) {
    report(
        preflight_collectors::security::ReportFormat::Ruff,
        "ruff.json",
        data,
    );
}

/// Grype JSON.
pub fn grype(data: &[u8]) {
    report(
        preflight_collectors::security::ReportFormat::Grype,
        "grype.json",
        data,
    );
}

/// VEX documents (OpenVEX, CycloneDX): statements apply to findings without panicking, and a
/// statement never clears more findings than there are.
pub fn vex(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(mut statements) =
        preflight_collectors::security::vex::read(Path::new("vex.json"), "vex.json", text)
    {
        let finding = preflight_sdk::facts::Finding {
            tool: "grype".to_owned(),
            category: preflight_sdk::facts::Category::Vulnerability,
            severity: preflight_sdk::facts::Severity::High,
            rule: "CVE-2024-47081".to_owned(),
            message: String::new(),
            location: None,
            package: Some(preflight_sdk::facts::Package {
                name: "requests".to_owned(),
                version: Some("2.32.3".to_owned()),
                purl: Some("pkg:pypi/requests@2.32.3".to_owned()),
            }),
            fingerprint: None,
            baseline: None,
        };
        let mut findings = vec![finding.clone(), finding];
        let cleared = preflight_collectors::security::vex::apply(&mut findings, &mut statements);
        assert_eq!(cleared.len() + findings.len(), 2);
    }
}

/// JUnit XML: counts always add up.
pub fn junit(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(results) = preflight_collectors::junit::read_report(Path::new("junit.xml"), text) {
        assert_eq!(
            results.passed + results.failures + results.errors + results.skipped,
            results.total
        );
    }
}

fn coverage(lcov: bool, data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(coverage) = preflight_collectors::coverage::read_report(
        lcov,
        &preflight_collectors::input::Root::new("/project"),
        Path::new("c"),
        text,
    ) {
        assert!(
            coverage.lines_total > 0,
            "a report without lines is an error"
        );
        assert!(coverage.lines_covered <= coverage.lines_total);
        assert!((0.0..=100.0).contains(&coverage.line_percent));
    }
}

/// lcov tracefiles.
pub fn lcov(data: &[u8]) {
    coverage(true, data);
}

/// Cobertura XML.
pub fn cobertura(data: &[u8]) {
    coverage(false, data);
}

/// Markdown checklists: done never exceeds total.
pub fn checklist(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let parsed = preflight_collectors::checklist::parse(text, &Default::default());
    assert!(parsed.done <= parsed.total);
}

/// Policy output: the typed fast path never accepts what the schema path refuses, and agrees
/// with it where both accept.
pub fn policy_output(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let fast = preflight_engine::sandbox::output::read(text).ok();
    let slow = preflight_engine::sandbox::output::read_through_schema(text).ok();
    assert_eq!(fast, slow, "the two output readers disagree on {text:?}");
}

/// Module metadata: the bytes are read as a module, and its custom section as metadata.
pub fn metadata(data: &[u8]) {
    let _ = preflight_engine::sandbox::metadata::read("fuzz.wasm", data);
    // The section's JSON alone, wrapped in a minimal module.
    let mut module = b"\0asm\x01\0\0\0\0".to_vec();
    let name = b"preflight.policy";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(data);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            module.push(byte);
            break;
        }
        module.push(byte | 0x80);
    }
    module.extend_from_slice(&payload);
    let _ = preflight_engine::sandbox::metadata::read("fuzz.wasm", &module);
}

/// `preflight.lock`.
pub fn lock(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let _ = preflight_sources::lock::LockFile::parse(Path::new("preflight.lock"), text);
}

/// Prometheus API responses: the first byte picks the HTTP status class.
pub fn prometheus(data: &[u8]) {
    let Some((first, body)) = data.split_first() else {
        return;
    };
    let status = [200, 400, 422, 500, 503, 302][usize::from(*first) % 6];
    let _ = preflight_canary::prometheus::parse_response("http://prometheus", status, body);
}

/// CycloneDX JSON SBOMs: every component it returns has a name and licenses that parse.
pub fn cyclonedx(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok((document, components)) =
        preflight_collectors::sbom::cyclonedx(Path::new("bom.json"), "bom.json", text)
    {
        assert_eq!(document.components, components.len() as u64);
        for license in components.iter().flat_map(|c| &c.licenses) {
            if let Some(expression) = &license.expression {
                assert!(preflight_sdk::license::parse(expression).is_ok());
            }
        }
    }
}

/// SPDX JSON SBOMs.
pub fn spdx(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let _ = preflight_collectors::sbom::spdx(Path::new("sbom.spdx.json"), "sbom.spdx.json", text);
}

/// Custom fact sections in a fact set: the size cap and the namespace rule hold.
pub fn custom(data: &[u8]) {
    let Ok(section) = preflight_engine::json::from_slice(data) else {
        return;
    };
    let mut facts = serde_json::json!({
        "scores": {"readiness": 7.0, "mvp": 7.0},
        "security": {"gate": "PASS"},
        "complexity": "low",
    });
    facts["custom"] = section;
    if let Ok(accepted) = preflight_engine::facts::from_value(facts)
        && let Some(custom) = accepted.value.get("custom").and_then(Value::as_object)
    {
        for (namespace, value) in custom {
            assert!(preflight_sdk::facts::is_custom_namespace(namespace));
            assert!(
                serde_json::to_vec(value).map_or(0, |b| b.len())
                    <= preflight_sdk::facts::CUSTOM_SECTION_MAX_BYTES
            );
        }
    }
}
