//! Minisign signatures: a module signed with the real minisign CLI runs when its config names
//! the public key; changed bytes, another key, a missing signature and bad configs are refused
//! before the module is compiled.

use std::path::Path;

use serde_json::Value;

use crate::support::{preflight, repo, run};

/// A project holding the signed fixture module and its signatures.
fn signed_project(policy_entry: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo().join("tests/fixtures/minisign");
    for file in [
        "always-careful.wasm",
        "always-careful.wasm.minisig",
        "always-careful.wasm.legacy.minisig",
    ] {
        std::fs::copy(fixtures.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::write(
        dir.path().join("preflight.toml"),
        format!(
            "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n[[policy]]\n{policy_entry}\n"
        ),
    )
    .unwrap();
    dir
}

/// The `RW…` line of a fixture public key.
fn key(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/minisign").join(name))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned()
}

fn run_in(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let (code, stdout, stderr) = run(preflight().current_dir(dir).args(args));
    (
        code,
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr,
    )
}

fn assert_refused(dir: &Path, expected: &str) {
    let (code, report, stderr) = run_in(dir, &["run"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(
        report["blocking_issues"][0]["id"], "policy.signature_invalid",
        "{report}"
    );
    assert!(stderr.contains(expected), "{stderr}");
}

#[test]
fn signed_modules_run_in_both_minisign_formats() {
    let signed = signed_project(&format!(
        "source = \"always-careful.wasm\"\npublic_key = \"{}\"",
        key("key.pub")
    ));
    let (code, report, stderr) = run_in(signed.path(), &["run"]);
    assert_eq!(code, 3, "GO_WITH_CAUTION from the signed policy: {stderr}");
    assert_eq!(report["policies"][1]["name"], "always-careful");
    assert_eq!(report["policies"][1]["decision"], "GO_WITH_CAUTION");

    // The whole .pub file's text works as the key, and a legacy signature named explicitly.
    let pub_file = std::fs::read_to_string(repo().join("tests/fixtures/minisign/key.pub")).unwrap();
    let legacy = signed_project(&format!(
        "source = \"always-careful.wasm\"\npublic_key = \"\"\"\n{pub_file}\"\"\"\nsignature = \"always-careful.wasm.legacy.minisig\""
    ));
    let (code, _, stderr) = run_in(legacy.path(), &["run"]);
    assert_eq!(code, 3, "{stderr}");

    // Locking verifies the signature too.
    let (code, _, stderr) = run_in(signed.path(), &["policy", "lock"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn changed_bytes_other_keys_and_missing_signatures_are_refused() {
    let entry = format!(
        "source = \"always-careful.wasm\"\npublic_key = \"{}\"",
        key("key.pub")
    );

    // One byte of the module's metadata changed.
    let tampered = signed_project(&entry);
    let path = tampered.path().join("always-careful.wasm");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(7)
        .position(|window| window == b"careful")
        .unwrap();
    bytes[at] = b'C';
    std::fs::write(&path, bytes).unwrap();
    assert_refused(tampered.path(), "does not match the module's bytes");
    let (code, _, stderr) = run_in(tampered.path(), &["policy", "lock"]);
    assert_eq!(code, 2, "locking refuses it too: {stderr}");
    assert!(!tampered.path().join("preflight.lock").exists());

    // Signed by another key than the one configured.
    let other = signed_project(&format!(
        "source = \"always-careful.wasm\"\npublic_key = \"{}\"",
        key("other.pub")
    ));
    assert_refused(other.path(), "made with another key");

    // No signature beside the module.
    let unsigned = signed_project(&entry);
    std::fs::remove_file(unsigned.path().join("always-careful.wasm.minisig")).unwrap();
    assert_refused(unsigned.path(), "cannot read the signature");

    // A file that is not a signature.
    let garbage = signed_project(&entry);
    std::fs::write(
        garbage.path().join("always-careful.wasm.minisig"),
        "not a signature",
    )
    .unwrap();
    assert_refused(garbage.path(), "is not a minisign signature");
}

#[test]
fn signature_settings_are_checked_when_the_config_is_read() {
    for (entry, message) in [
        (
            "source = \"always-careful.wasm\"\npublic_key = \"RWnotakey\"".to_owned(),
            "is not a minisign public key",
        ),
        (
            "source = \"always-careful.wasm\"\nsignature = \"always-careful.wasm.minisig\""
                .to_owned(),
            "no `public_key`",
        ),
        (
            format!(
                "source = \"builtin:canary-judge\"\npublic_key = \"{}\"",
                key("key.pub")
            ),
            "cannot carry a signature",
        ),
    ] {
        let project = signed_project(&entry);
        let (code, report, stderr) = run_in(project.path(), &["run"]);
        assert_eq!(code, 2, "{entry}: {stderr}");
        assert_ne!(report["decision"], "GO");
        assert!(stderr.contains(message), "{entry}: {stderr}");
    }
}
