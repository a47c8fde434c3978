//! Policies in a real OCI registry: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1,
//! one per test. Modules are pushed with `preflight policy push` and pulled by tag and by
//! digest; a tag moved to other bytes is refused. With `PREFLIGHT_REQUIRE_REGISTRY=1` (CI) a
//! missing `docker-registry` fails the suite.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, binary, free_port, preflight, returning, run};

const GO: &[u8] = br#"{"decision":"GO","blocking_issues":[],"warnings":[],"details":{}}"#;

/// Starts a registry with its own storage; `None` when `docker-registry` is not installed.
fn registry() -> Option<Server> {
    let Some(program) = binary("docker-registry") else {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_REGISTRY").is_none(),
            "PREFLIGHT_REQUIRE_REGISTRY is set but docker-registry is not installed"
        );
        eprintln!("docker-registry not found: skipping the OCI registry tests");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new(program)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        port,
        _dir: dir,
    }
    .wait_until_ready("/v2/", Duration::from_secs(30), "docker-registry");
    Some(server)
}

/// A project whose one extra policy comes from `source`.
fn project(source: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("preflight.toml"),
        format!(
            "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n[[policy]]\nsource = \"{source}\"\n"
        ),
    )
    .unwrap();
    dir
}

/// Runs preflight in `dir` with its own module store.
fn in_dir(dir: &Path, home: &Path, args: &[&str]) -> (i32, String, String) {
    run(preflight()
        .env("PREFLIGHT_HOME", home)
        .current_dir(dir)
        .args(args))
}

/// Pushes `bytes` to `reference`; returns the manifest digest `preflight policy push` printed.
fn push(bytes: &[u8], reference: &str) -> String {
    let (dir, path) = crate::support::temp_file("policy.wasm", bytes);
    let (code, stdout, stderr) = in_dir(
        dir.path(),
        dir.path(),
        &["policy", "push", path.to_str().unwrap(), reference],
    );
    assert_eq!(code, 0, "{stderr}");
    let digest = stdout
        .lines()
        .find_map(|line| line.strip_prefix("manifest digest: "))
        .unwrap()
        .to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "module sha256: {}",
            preflight_engine::sandbox::sha256_hex(bytes)
        )),
        "{stdout}"
    );
    digest
}

#[test]
fn push_then_lock_and_run_by_tag_then_offline() {
    let Some(registry) = registry() else { return };
    let module = returning("oci-rule", GO);
    let sha = preflight_engine::sandbox::sha256_hex(&module);
    let reference = format!("oci://127.0.0.1:{}/policies/oci-rule:1.0.0", registry.port);
    push(&module, &reference);

    let project = project(&reference);
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = in_dir(
        project.path(),
        home.path(),
        &["policy", "inspect", &reference],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("sha256:  {sha}")) && stdout.contains("name:    oci-rule"),
        "{stdout}"
    );
    let (code, stdout, stderr) = in_dir(project.path(), home.path(), &["policy", "lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("locked oci-rule 0.1.0 {reference} sha256:{sha}")),
        "{stdout}"
    );
    let lock = std::fs::read_to_string(project.path().join("preflight.lock")).unwrap();
    assert!(lock.contains(&reference) && lock.contains(&sha), "{lock}");

    let (code, stdout, stderr) = in_dir(project.path(), home.path(), &["run", "--locked"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "GO");
    assert_eq!(report["policies"][1]["name"], "oci-rule");
    assert_eq!(report["policies"][1]["sha256"], sha);
    assert_eq!(report["policies"][1]["source"], reference);

    // With the registry gone, the store serves the locked bytes.
    drop(registry);
    let (code, stdout, stderr) = in_dir(
        project.path(),
        home.path(),
        &["run", "--locked", "--offline"],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["policies"][1]["sha256"], sha);
}

#[test]
fn pull_by_digest_survives_the_tag_moving() {
    let Some(registry) = registry() else { return };
    let good = returning("oci-rule", GO);
    let later = returning(
        "oci-rule",
        br#"{"decision":"NO_GO","blocking_issues":[{"id":"later","message":"m"}],"warnings":[],"details":{}}"#,
    );
    let tag = format!("oci://127.0.0.1:{}/policies/oci-rule:stable", registry.port);
    let digest = push(&good, &tag);
    push(&later, &tag);

    let by_digest = format!(
        "oci://127.0.0.1:{}/policies/oci-rule@{digest}",
        registry.port
    );
    let project = project(&by_digest);
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = in_dir(project.path(), home.path(), &["policy", "lock"]);
    assert_eq!(code, 0, "{stderr}");
    let good_sha = preflight_engine::sandbox::sha256_hex(&good);
    assert!(stdout.contains(&good_sha), "{stdout}");
    let (code, _, stderr) = in_dir(project.path(), home.path(), &["policy", "pull"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = in_dir(project.path(), home.path(), &["run", "--locked"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "GO");
    assert_eq!(report["policies"][1]["sha256"], good_sha);
}

#[test]
fn a_tag_moved_to_other_bytes_is_refused_and_not_stored() {
    let Some(registry) = registry() else { return };
    let approved = returning("oci-rule", GO);
    let evil = returning(
        "oci-rule",
        br#"{"decision":"GO","blocking_issues":[],"warnings":[],"details":{"evil":true}}"#,
    );
    let reference = format!("oci://127.0.0.1:{}/policies/oci-rule:1.0.0", registry.port);
    push(&approved, &reference);
    let project = project(&reference);
    let locking_home = tempfile::tempdir().unwrap();
    let (code, _, stderr) = in_dir(project.path(), locking_home.path(), &["policy", "lock"]);
    assert_eq!(code, 0, "{stderr}");

    // The tag now names other bytes; a CI machine with an empty store pulls them.
    push(&evil, &reference);
    let home = tempfile::tempdir().unwrap();
    let (code, _, stderr) = in_dir(project.path(), home.path(), &["policy", "pull"]);
    assert_eq!(code, 2);
    let evil_sha = preflight_engine::sandbox::sha256_hex(&evil);
    assert!(
        stderr.contains("sha256 mismatch") && stderr.contains(&evil_sha),
        "{stderr}"
    );
    let (code, stdout, stderr) = in_dir(project.path(), home.path(), &["run", "--locked"]);
    assert_eq!(code, 2, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(report["blocking_issues"][0]["id"], "policy.digest_mismatch");
    assert!(stderr.contains(&evil_sha), "{stderr}");
    let stored = home.path().join("modules/sha256");
    assert!(
        !stored.exists() || std::fs::read_dir(&stored).unwrap().next().is_none(),
        "nothing may be stored"
    );
}

#[test]
fn missing_tags_other_artifacts_and_dead_registries_fail_closed() {
    let Some(registry) = registry() else { return };
    let port = registry.port;
    let home = tempfile::tempdir().unwrap();
    let pin = "0".repeat(64);

    // A tag that does not exist.
    let missing = project(&format!("oci://127.0.0.1:{port}/policies/none:1.0.0"));
    std::fs::write(
        missing.path().join("preflight.toml"),
        std::fs::read_to_string(missing.path().join("preflight.toml")).unwrap()
            + &format!("sha256 = \"{pin}\"\n"),
    )
    .unwrap();
    let (code, stdout, stderr) = in_dir(missing.path(), home.path(), &["run"]);
    assert_eq!(code, 2, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(
        report["blocking_issues"][0]["id"],
        "policy.remote_unavailable"
    );
    assert!(
        stderr.contains("cannot pull") && stderr.contains("manifest unknown"),
        "{stderr}"
    );

    // An artifact that is not a wasm policy (a container image layer).
    let image = format!("127.0.0.1:{port}/images/app:1");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(async {
            let client = oci_client::Client::new(oci_client::client::ClientConfig {
                protocol: oci_client::client::ClientProtocol::Http,
                ..Default::default()
            });
            let layer = oci_client::client::ImageLayer::oci_v1(b"not wasm".to_vec(), None);
            let config = oci_client::client::Config::oci_v1(b"{}".to_vec(), None);
            client
                .push(
                    &image.parse().unwrap(),
                    &[layer],
                    config,
                    &oci_client::secrets::RegistryAuth::Anonymous,
                    None,
                )
                .await
        })
        .unwrap();
    let other = project(&format!("oci://{image}"));
    let (code, _, stderr) = in_dir(other.path(), home.path(), &["policy", "lock"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("is not a policy artifact")
            && stderr.contains("application/vnd.oci.image.layer.v1.tar"),
        "{stderr}"
    );

    // A registry that is down.
    drop(registry);
    let (code, stdout, stderr) = in_dir(missing.path(), home.path(), &["run"]);
    assert_eq!(code, 2, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert!(stderr.contains("cannot pull"), "{stderr}");
}

#[test]
fn bad_references_and_non_policies_are_refused_before_the_network() {
    let home = tempfile::tempdir().unwrap();
    let bad = project("oci://gate:1.0");
    let (code, _, stderr) = in_dir(bad.path(), home.path(), &["run"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("does not name a registry"), "{stderr}");

    // `push` reads the module's metadata first; a file that is not a policy never leaves.
    let (dir, path) = crate::support::temp_file("x.wasm", b"\0asm\x01\0\0\0");
    let (code, _, stderr) = in_dir(
        dir.path(),
        home.path(),
        &[
            "policy",
            "push",
            path.to_str().unwrap(),
            &format!("oci://127.0.0.1:{}/p/x:1", free_port()),
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("metadata"), "{stderr}");
}

#[test]
fn signed_oci_modules_verify_online_and_offline() {
    let Some(registry) = registry() else { return };
    let fixtures = crate::support::repo().join("tests/fixtures/minisign");
    let module = std::fs::read(fixtures.join("always-careful.wasm")).unwrap();
    let signature = std::fs::read(fixtures.join("always-careful.wasm.minisig")).unwrap();
    let key = std::fs::read_to_string(fixtures.join("key.pub")).unwrap();
    let key = key.lines().nth(1).unwrap();
    let reference = format!(
        "oci://127.0.0.1:{}/policies/always-careful:1.0.0",
        registry.port
    );
    push(&module, &reference);
    let signature_port = crate::support::serve(signature);
    let project = project(&reference);
    let config = project.path().join("preflight.toml");
    let with_signature = |port: u16| {
        let text = std::fs::read_to_string(&config).unwrap();
        let base = text.split("public_key").next().unwrap().to_owned();
        std::fs::write(
            &config,
            format!(
                "{base}public_key = \"{key}\"\nsignature = \"http://127.0.0.1:{port}/always-careful.wasm.minisig\"\n"
            ),
        )
        .unwrap();
    };
    with_signature(signature_port);
    let home = tempfile::tempdir().unwrap();
    let (code, _, stderr) = in_dir(project.path(), home.path(), &["policy", "lock"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = in_dir(project.path(), home.path(), &["run", "--locked"]);
    assert_eq!(code, 3, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["policies"][1]["name"], "always-careful");

    // Registry and signature server gone: the store holds both, and the signature still
    // verifies.
    drop(registry);
    with_signature(free_port());
    let (code, stdout, stderr) = in_dir(
        project.path(),
        home.path(),
        &["run", "--locked", "--offline"],
    );
    assert_eq!(code, 3, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["policies"][1]["decision"], "GO_WITH_CAUTION");

    // A stored signature that was corrupted is refused, never trusted.
    let sha = preflight_engine::sandbox::sha256_hex(&module);
    let stored = home.path().join(format!("modules/sha256/{sha}.minisig"));
    let text = std::fs::read_to_string(&stored).unwrap();
    assert_eq!(
        text.as_bytes(),
        std::fs::read(fixtures.join("always-careful.wasm.minisig")).unwrap()
    );
    std::fs::write(
        &stored,
        text.replacen("trusted comment: preflight", "trusted comment: evil", 1),
    )
    .unwrap();
    let (code, stdout, stderr) = in_dir(
        project.path(),
        home.path(),
        &["run", "--locked", "--offline"],
    );
    assert_eq!(code, 2, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["blocking_issues"][0]["id"],
        "policy.signature_invalid"
    );
}
