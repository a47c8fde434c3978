//! The Kubernetes manifests in `deploy/kubernetes/`: valid for the API (`kubernetes-validate`
//! from PyPI, strict), and the policy set their ConfigMap carries runs locked on this host.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{binary, preflight, repo, run};

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/kubernetes"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_manifests_pass_kubernetes_validate() {
    let Some(validate) = binary("kubernetes-validate") else {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_VALIDATORS").is_none(),
            "PREFLIGHT_REQUIRE_VALIDATORS is set but kubernetes-validate is not installed (pip install kubernetes-validate)"
        );
        return;
    };
    let files = manifests();
    assert_eq!(files.len(), 4, "{files:?}");
    let out = Command::new(&validate)
        .arg("--strict")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator does refuse a broken manifest.
    let work = tempfile::tempdir().unwrap();
    let broken = work.path().join("deployment.yaml");
    let text = std::fs::read_to_string(repo().join("deploy/kubernetes/deployment.yaml")).unwrap();
    std::fs::write(
        &broken,
        text.replace("containerPort: 8181", "containerPort: \"http-port\""),
    )
    .unwrap();
    let out = Command::new(&validate)
        .arg("--strict")
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a broken manifest passed");
}

/// The ConfigMap's preflight.toml and preflight.lock are a working locked policy set: the lock
/// pins this host's built-in gate (re-lock and update the ConfigMap when the gate changes).
#[test]
fn the_configmap_policy_set_runs_locked() {
    let text = std::fs::read_to_string(repo().join("deploy/kubernetes/configmap.yaml")).unwrap();
    let map: serde_json::Value = serde_norway::from_str(&text).unwrap();
    let work = tempfile::tempdir().unwrap();
    for name in ["preflight.toml", "preflight.lock"] {
        std::fs::write(work.path().join(name), map["data"][name].as_str().unwrap()).unwrap();
    }
    std::fs::copy(
        repo().join("examples/seed/facts.json"),
        work.path().join("facts.json"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(preflight().current_dir(work.path()).args([
        "run",
        "--locked",
        "--no-collect",
        "--facts",
        "facts.json",
    ]));
    assert_eq!(
        code, 0,
        "the ConfigMap's lock no longer matches the built-in gate: run `preflight policy lock` and update deploy/kubernetes/configmap.yaml\n{stdout}{stderr}"
    );
}
