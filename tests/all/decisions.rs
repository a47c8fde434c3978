//! Signed decision records: `keygen`, `run --attest`, `verify-decision`, checked against an
//! independent DSSE implementation (securesystemslib with `cryptography`, from PyPI).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{binary, preflight, repo, run};

/// The independent verifier: `tests/attest/dsse.py`, or `None` (a failure when validators
/// are required) when Python lacks securesystemslib.
fn python() -> Option<PathBuf> {
    let python = binary("python3")?;
    let ok = Command::new(&python)
        .args(["-c", "import securesystemslib.dsse, cryptography"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !ok {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_VALIDATORS").is_none(),
            "PREFLIGHT_REQUIRE_VALIDATORS is set but python3 cannot import securesystemslib (pip install 'securesystemslib[crypto]')"
        );
        eprintln!("no securesystemslib: skipping the independent checks");
        return None;
    }
    Some(python)
}

fn dsse_py(python: &Path, args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(python)
        .arg(repo().join("tests/attest/dsse.py"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A project folder with the seed's facts, a key pair, and a signed record of a run.
fn signed_run(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("examples/seed/facts.json"),
        dir.path().join("facts.json"),
    )
    .unwrap();
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).args(["keygen", "team"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args([
            "run",
            "--no-collect",
            "--facts",
            "facts.json",
            "--attest",
            "decision.dsse",
            "--signing-key",
            "team.pem",
        ])
        .args(extra));
    assert_eq!(code, 0, "{stdout}{stderr}");
    dir
}

fn verify(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(preflight()
        .current_dir(dir)
        .arg("verify-decision")
        .args(args))
}

fn statement(dir: &Path) -> Value {
    let envelope: Value =
        serde_json::from_slice(&std::fs::read(dir.join("decision.dsse")).unwrap()).unwrap();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn a_signed_record_verifies_here_and_independently_and_replays() {
    let dir = signed_run(&[
        "--subject",
        "facts.json",
        "--subject",
        "app@sha256:ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12",
    ]);
    let path = dir.path();
    let stmt = statement(path);
    assert_eq!(stmt["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(stmt["subject"].as_array().unwrap().len(), 2);
    assert_eq!(stmt["subject"][1]["name"], "app");
    let predicate = &stmt["predicate"];
    assert_eq!(predicate["decision"], "GO");
    assert_eq!(predicate["exit_code"], 0);
    assert_eq!(
        predicate["facts_sha256"],
        "25c2e7c61585e33817da6ba31ec9227149314b24d06a73de3c016dc70828718c"
    );
    assert_eq!(predicate["policies"][0]["name"], "preflight-gate");
    assert!(predicate["policies"][0]["sha256"].as_str().unwrap().len() == 64);
    assert_eq!(predicate["host"]["name"], "preflight");
    assert!(predicate["limits"]["fuel"].as_u64().unwrap() > 0);
    assert!(predicate["time"].as_str().unwrap().ends_with('Z'));

    let (code, stdout, stderr) = verify(path, &["decision.dsse", "--public-key", "team.pub.pem"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("verified: "), "{stdout}");
    let (code, stdout, stderr) = verify(
        path,
        &[
            "decision.dsse",
            "--public-key",
            "team.pub.pem",
            "--facts",
            "facts.json",
            "--replay",
            "--subject",
            "facts.json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("replayed: GO with the same blocking issues"),
        "{stdout}"
    );

    // Changed facts, another key, another subject: not verified.
    let mut facts: Value =
        serde_json::from_slice(&std::fs::read(path.join("facts.json")).unwrap()).unwrap();
    facts["scores"]["readiness"] = 6.9.into();
    std::fs::write(path.join("changed.json"), facts.to_string()).unwrap();
    let (code, _, stderr) = verify(
        path,
        &[
            "decision.dsse",
            "--public-key",
            "team.pub.pem",
            "--facts",
            "changed.json",
            "--replay",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("are not the ones decided on"), "{stderr}");
    run(preflight().current_dir(path).args(["keygen", "other"]));
    let (code, _, stderr) = verify(path, &["decision.dsse", "--public-key", "other.pub.pem"]);
    assert_eq!(code, 1, "{stderr}");
    let (code, _, stderr) = verify(
        path,
        &[
            "decision.dsse",
            "--public-key",
            "team.pub.pem",
            "--subject",
            "app@sha256:cd12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12",
        ],
    );
    assert_eq!(code, 1, "{stderr}");

    // The independent implementation agrees: ours verifies, the other key does not.
    let Some(python) = python() else { return };
    let (code, stdout, stderr) = dsse_py(
        &python,
        &[
            "verify".as_ref(),
            path.join("decision.dsse").as_os_str(),
            path.join("team.pub.pem").as_os_str(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let independent: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(independent, stmt);
    let (code, _, _) = dsse_py(
        &python,
        &[
            "verify".as_ref(),
            path.join("decision.dsse").as_os_str(),
            path.join("other.pub.pem").as_os_str(),
        ],
    );
    assert_eq!(code, 1);
}

/// Every single flipped byte of an envelope fails verification, here and independently.
#[test]
fn a_flipped_byte_anywhere_fails_verification() {
    let dir = signed_run(&[]);
    let bytes = std::fs::read(dir.path().join("decision.dsse")).unwrap();
    let key = preflight::attest::read_public_key(&dir.path().join("team.pub.pem")).unwrap();
    assert!(preflight::attest::verify(&bytes, &key).is_ok());
    for index in 0..bytes.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut changed = bytes.clone();
            changed[index] ^= flip;
            assert!(
                preflight::attest::verify(&changed, &key).is_err(),
                "byte {index} ^ {flip:#x} still verifies"
            );
        }
    }
    // Through the command line and the independent verifier, at a few places.
    let python = python();
    for index in [
        0,
        12,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 40,
        bytes.len() - 2,
    ] {
        let mut changed = bytes.clone();
        changed[index] ^= 0x01;
        std::fs::write(dir.path().join("flipped.dsse"), &changed).unwrap();
        let (code, stdout, _) = verify(
            dir.path(),
            &["flipped.dsse", "--public-key", "team.pub.pem"],
        );
        assert_ne!(code, 0, "byte {index}: {stdout}");
        if let Some(python) = &python {
            let (code, _, _) = dsse_py(
                python,
                &[
                    "verify".as_ref(),
                    dir.path().join("flipped.dsse").as_os_str(),
                    dir.path().join("team.pub.pem").as_os_str(),
                ],
            );
            assert_ne!(code, 0, "byte {index} verifies independently");
        }
    }
}

/// An envelope signed by the independent implementation, with a key openssl made, verifies.
#[test]
fn records_signed_elsewhere_verify_here() {
    let (Some(python), Some(openssl)) = (python(), binary("openssl")) else {
        return;
    };
    let dir = signed_run(&[]);
    let path = dir.path();
    let ok = |cmd: &mut Command| assert!(cmd.current_dir(path).status().unwrap().success());
    ok(Command::new(&openssl).args(["genpkey", "-algorithm", "ed25519", "-out", "ossl.pem"]));
    ok(Command::new(&openssl).args(["pkey", "-in", "ossl.pem", "-pubout", "-out", "ossl.pub.pem"]));
    let der = Command::new(&openssl)
        .current_dir(path)
        .args(["pkey", "-pubin", "-in", "ossl.pub.pem", "-outform", "DER"])
        .output()
        .unwrap()
        .stdout;
    use sha2::Digest as _;
    let keyid = hex::encode(sha2::Sha256::digest(&der));
    std::fs::write(
        path.join("statement.json"),
        serde_json::to_vec(&statement(path)).unwrap(),
    )
    .unwrap();
    let (code, _, stderr) = dsse_py(
        &python,
        &[
            "sign".as_ref(),
            path.join("statement.json").as_os_str(),
            path.join("ossl.pem").as_os_str(),
            keyid.as_ref(),
            path.join("theirs.dsse").as_os_str(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = verify(
        path,
        &[
            "theirs.dsse",
            "--public-key",
            "ossl.pub.pem",
            "--facts",
            "facts.json",
            "--replay",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("replayed: GO"), "{stdout}");
    // Our own key did not sign it.
    let (code, _, _) = verify(path, &["theirs.dsse", "--public-key", "team.pub.pem"]);
    assert_eq!(code, 1);
    // And a record signed with the openssl key by `run` verifies independently.
    let (code, _, stderr) = run(preflight().current_dir(path).args([
        "run",
        "--no-collect",
        "--facts",
        "facts.json",
        "--attest",
        "ossl.dsse",
        "--signing-key",
        "ossl.pem",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = dsse_py(
        &python,
        &[
            "verify".as_ref(),
            path.join("ossl.dsse").as_os_str(),
            path.join("ossl.pub.pem").as_os_str(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
}

/// A record whose decision a replay does not reproduce, and one naming a module this machine
/// does not have.
#[test]
fn a_replay_that_disagrees_or_cannot_run_is_not_a_verification() {
    let dir = signed_run(&[]);
    let path = dir.path();
    let key = preflight::attest::read_signing_key(&path.join("team.pem")).unwrap();
    let mut stmt = statement(path);
    stmt["predicate"]["decision"] = "NO_GO".into();
    stmt["predicate"]["blocking_issues"] =
        serde_json::json!([{"policy": "preflight-gate", "id": "risk.above_canary"}]);
    let envelope = preflight::attest::sign(&stmt, &key);
    std::fs::write(
        path.join("claims-no-go.dsse"),
        serde_json::to_vec(&envelope).unwrap(),
    )
    .unwrap();
    let (code, _, stderr) = verify(
        path,
        &[
            "claims-no-go.dsse",
            "--public-key",
            "team.pub.pem",
            "--facts",
            "facts.json",
            "--replay",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the replay decides GO"), "{stderr}");

    let mut stmt = statement(path);
    stmt["predicate"]["policies"][0]["sha256"] = "0".repeat(64).into();
    let envelope = preflight::attest::sign(&stmt, &key);
    std::fs::write(
        path.join("unknown-module.dsse"),
        serde_json::to_vec(&envelope).unwrap(),
    )
    .unwrap();
    let (code, _, stderr) = verify(
        path,
        &[
            "unknown-module.dsse",
            "--public-key",
            "team.pub.pem",
            "--facts",
            "facts.json",
            "--replay",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("refusing to replay: no module with sha256:0000"),
        "{stderr}"
    );
}

#[test]
fn bad_keys_and_records_are_errors_naming_the_file() {
    let dir = signed_run(&[]);
    let path = dir.path();
    // A public key where the private one belongs: exit 2, NO_GO, the file named.
    let (code, stdout, stderr) = run(preflight().current_dir(path).args([
        "run",
        "--no-collect",
        "--facts",
        "facts.json",
        "--attest",
        "x.dsse",
        "--signing-key",
        "team.pub.pem",
    ]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`team.pub.pem` is not an Ed25519 private key"),
        "{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert!(!path.join("x.dsse").exists());
    // A missing key.
    let (code, _, stderr) = run(preflight().current_dir(path).args([
        "run",
        "--no-collect",
        "--facts",
        "facts.json",
        "--attest",
        "x.dsse",
        "--signing-key",
        "none.pem",
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("none.pem"), "{stderr}");
    // An RSA key.
    if let Some(openssl) = binary("openssl") {
        assert!(
            Command::new(openssl)
                .current_dir(path)
                .args([
                    "genpkey",
                    "-algorithm",
                    "rsa",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-out",
                    "rsa.pem"
                ])
                .output()
                .unwrap()
                .status
                .success()
        );
        let (code, _, stderr) = run(preflight().current_dir(path).args([
            "run",
            "--no-collect",
            "--facts",
            "facts.json",
            "--attest",
            "x.dsse",
            "--signing-key",
            "rsa.pem",
        ]));
        assert_eq!(code, 2);
        assert!(
            stderr.contains("`rsa.pem` is not an Ed25519 private key"),
            "{stderr}"
        );
    }
    // Not an envelope; a private key given to verify.
    std::fs::write(path.join("report.json"), "{\"decision\": \"GO\"}").unwrap();
    let (code, _, stderr) = verify(path, &["report.json", "--public-key", "team.pub.pem"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`report.json`: not a DSSE envelope"),
        "{stderr}"
    );
    let (code, _, stderr) = verify(path, &["decision.dsse", "--public-key", "team.pem"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`team.pem` is not an Ed25519 public key"),
        "{stderr}"
    );
    // keygen never overwrites.
    let (code, _, stderr) = run(preflight().current_dir(path).args(["keygen", "team"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("exists"), "{stderr}");
    // The record is never written over an input.
    let (code, _, stderr) = run(preflight().current_dir(path).args([
        "run",
        "--no-collect",
        "--facts",
        "facts.json",
        "--attest",
        "facts.json",
        "--signing-key",
        "team.pem",
    ]));
    assert_eq!(code, 2, "{stderr}");
    let facts: Value =
        serde_json::from_slice(&std::fs::read(path.join("facts.json")).unwrap()).unwrap();
    assert_eq!(facts["scores"]["readiness"], 7.0);
}

/// The record binds the digest of the lock file the run took its pins from: read once with the
/// pins, not again when the record is signed; no lock, no digest.
#[test]
fn the_record_binds_the_lock_the_run_took_its_pins_from() {
    let dir = signed_run(&[]);
    let path = dir.path();
    assert!(statement(path)["predicate"]["lock_sha256"].is_null());
    let (code, _, stderr) = run(preflight().current_dir(path).args(["policy", "lock"]));
    assert_eq!(code, 0, "{stderr}");
    let lock = std::fs::read(path.join("preflight.lock")).unwrap();
    let (code, stdout, stderr) = run(preflight().current_dir(path).args([
        "run",
        "--no-collect",
        "--facts",
        "facts.json",
        "--locked",
        "--attest",
        "decision.dsse",
        "--signing-key",
        "team.pem",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        statement(path)["predicate"]["lock_sha256"],
        preflight_engine::sandbox::sha256_hex(&lock)
    );
}
