//! Pins and locks refuse tampered modules before they are compiled; `preflight test` runs case
//! files against modules written in Rust and by hand in WAT.

use serde_json::Value;

use crate::support::{preflight, repo, returning, run, serve};

fn project_with_policy(bytes: &[u8], extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("team.wasm"), bytes).unwrap();
    let config = format!(
        "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n[[policy]]\nsource = \"team.wasm\"\n{extra}"
    );
    std::fs::write(dir.path().join("preflight.toml"), config).unwrap();
    dir
}

const GO: &[u8] = br#"{"decision":"GO","blocking_issues":[],"warnings":[],"details":{}}"#;

fn run_in(dir: &tempfile::TempDir, args: &[&str]) -> (i32, Value, String) {
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).args(args));
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (code, report, stderr)
}

#[test]
fn lock_then_locked_run_then_tamper_is_refused() {
    let dir = project_with_policy(&returning("team-rule", GO), "");
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).args(["policy", "lock"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("locked team-rule 0.1.0 team.wasm"),
        "{stdout}"
    );
    let lock = std::fs::read_to_string(dir.path().join("preflight.lock")).unwrap();
    assert!(
        lock.contains("source = \"builtin:preflight-gate\"")
            && lock.contains("source = \"team.wasm\""),
        "{lock}"
    );

    let (code, report, stderr) = run_in(&dir, &["run", "--locked"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["decision"], "GO");

    // Different bytes, same name and version: refused before compiling, naming both digests.
    let tampered = returning(
        "team-rule",
        br#"{"decision":"GO","blocking_issues":[],"warnings":[],"details":{"x":1}}"#,
    );
    std::fs::write(dir.path().join("team.wasm"), &tampered).unwrap();
    let (code, report, stderr) = run_in(&dir, &["run", "--locked"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(report["decision"], "NO_GO");
    let issue = &report["blocking_issues"][0];
    assert_eq!(issue["id"], "policy.digest_mismatch");
    let message = issue["message"].as_str().unwrap();
    let expected = lock
        .split("source = \"team.wasm\"\nsha256 = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        message.contains(expected)
            && message.contains(&preflight_engine::sandbox::sha256_hex(&tampered)),
        "{message}"
    );
    // Without --locked the lock still applies.
    let (code, _, _) = run_in(&dir, &["run"]);
    assert_eq!(code, 2);
}

#[test]
fn locked_refuses_modules_outside_the_lock() {
    let dir = project_with_policy(&returning("team-rule", GO), "");
    assert_eq!(
        run(preflight().current_dir(dir.path()).args(["policy", "lock"])).0,
        0
    );
    std::fs::write(dir.path().join("extra.wasm"), returning("extra", GO)).unwrap();
    let (code, report, _) = run_in(&dir, &["run", "--locked", "--policy", "extra.wasm"]);
    assert_eq!(code, 2);
    assert!(
        report["blocking_issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "policy.not_locked"),
        "{report:#}"
    );
    let (code, _, stderr) = run_in(
        &tempfile::tempdir().unwrap(),
        &["run", "--locked", "--fact", "complexity=low"],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("--locked needs a lock file"), "{stderr}");
}

#[test]
fn configured_sha256_and_version_pins() {
    let bytes = returning("team-rule", GO);
    let wrong = "0".repeat(64);
    let dir = project_with_policy(&bytes, &format!("sha256 = \"{wrong}\"\n"));
    let (code, report, _) = run_in(&dir, &["run"]);
    assert_eq!(code, 2);
    assert_eq!(report["blocking_issues"][0]["id"], "policy.digest_mismatch");

    let right = preflight_engine::sandbox::sha256_hex(&bytes);
    let dir = project_with_policy(
        &bytes,
        &format!("sha256 = \"{right}\"\nversion = \"^0.1\"\n"),
    );
    assert_eq!(run_in(&dir, &["run"]).0, 0);

    let dir = project_with_policy(&bytes, "version = \">=1.0\"\n");
    let (code, report, _) = run_in(&dir, &["run"]);
    assert_eq!(code, 2);
    let issue = &report["blocking_issues"][0];
    assert_eq!(issue["id"], "policy.version_mismatch");
    assert!(
        issue["message"]
            .as_str()
            .unwrap()
            .contains("version 0.1.0 does not satisfy the requirement `>=1.0`")
    );
}

#[test]
fn preflight_test_runs_rust_policy_cases_as_wasm() {
    let (code, stdout, _) = run(preflight()
        .args(["test", "--policy", "builtin:preflight-gate"])
        .arg(repo().join("policies/preflight-gate/cases")));
    assert_eq!(code, 0, "{stdout}");
    // Every case file of the gate runs, and passes.
    let cases = std::fs::read_dir(repo().join("policies/preflight-gate/cases"))
        .unwrap()
        .count();
    assert!(cases >= 60, "{cases} case files");
    assert!(
        stdout.contains(&format!("{cases} passed, 0 failed")),
        "{stdout}"
    );
}

#[test]
fn preflight_test_runs_a_hand_written_wat_policy() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("always-careful.wasm");
    std::fs::write(
        &wasm,
        wat::parse_file(repo().join("examples/wat-policy/always-careful.wat")).unwrap(),
    )
    .unwrap();
    let cases = repo().join("examples/wat-policy/cases");
    let (code, stdout, _) = run(preflight()
        .arg("test")
        .arg("--policy")
        .arg(&wasm)
        .arg(&cases)
        .arg("-v"));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("[info] always careful"),
        "-v shows guest logs: {stdout}"
    );

    // A case that expects something else fails, with a non-zero exit and a JUnit failure.
    let wrong = dir.path().join("wrong.json");
    std::fs::write(
        &wrong,
        r#"{"name": "expects GO", "facts": {"scores": {"readiness": 9, "mvp": 9}, "security": {"gate": "PASS"}, "complexity": "low"}, "expect": {"decision": "GO"}}"#,
    )
    .unwrap();
    let (code, stdout, _) = run(preflight()
        .arg("test")
        .arg("--policy")
        .arg(&wasm)
        .arg(&wrong)
        .args(["--format", "junit"]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("failures=\"1\"")
            && stdout.contains("decision: expected GO, got GO_WITH_CAUTION"),
        "{stdout}"
    );
}

#[test]
fn inspect_shows_metadata_and_imports_without_running() {
    let (code, stdout, _) = run(preflight().args(["policy", "inspect", "builtin:preflight-gate"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("name:    preflight-gate") && stdout.contains("imports: preflight.log"),
        "{stdout}"
    );
}

#[test]
fn compiled_cache_is_used_and_corrupt_entries_are_recompiled() {
    let home = tempfile::tempdir().unwrap();
    let seed = repo().join("examples/seed");
    let go = |home: &std::path::Path| {
        let (code, stdout, stderr) = run(preflight()
            .env("PREFLIGHT_HOME", home)
            .env("PREFLIGHT_PRECOMPILED", "0")
            .current_dir(&seed)
            .args(["run", "--facts", "facts.json"]));
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str::<Value>(&stdout).unwrap()["risk_score"].clone()
    };
    assert_eq!(go(home.path()), 30.0);
    let entries: Vec<_> = std::fs::read_dir(home.path().join("compiled"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "one compiled module cached");
    let fresh = std::fs::read(&entries[0]).unwrap();
    assert_eq!(
        go(home.path()),
        30.0,
        "the cached module gives the same report"
    );

    // Flip a byte in the compiled code: detected, removed, recompiled; never trusted.
    let mut corrupt = fresh.clone();
    let last = corrupt.len() - 100;
    corrupt[last] ^= 0xff;
    std::fs::write(&entries[0], &corrupt).unwrap();
    assert_eq!(go(home.path()), 30.0);
    assert_eq!(
        std::fs::read(&entries[0]).unwrap(),
        fresh,
        "the corrupt entry was replaced"
    );

    // The same for a byte in the middle of the code, and for a truncated entry.
    let mut corrupt = fresh.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x01;
    std::fs::write(&entries[0], &corrupt).unwrap();
    assert_eq!(go(home.path()), 30.0);
    assert_eq!(std::fs::read(&entries[0]).unwrap(), fresh);
    std::fs::write(&entries[0], &fresh[..fresh.len() - 10]).unwrap();
    assert_eq!(go(home.path()), 30.0);
    assert_eq!(std::fs::read(&entries[0]).unwrap(), fresh);

    // A foreign file under the same name is not trusted either.
    std::fs::write(&entries[0], b"not a compiled module").unwrap();
    assert_eq!(go(home.path()), 30.0);

    let (code, stdout, _) = run(preflight()
        .env("PREFLIGHT_HOME", home.path())
        .env("PREFLIGHT_PRECOMPILED", "0")
        .args(["cache", "clear"]));
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("removed 1 compiled module(s)"),
        "{stdout}"
    );

    // Disabled: nothing is written.
    let off = tempfile::tempdir().unwrap();
    let (code, _, _) = run(preflight()
        .env("PREFLIGHT_HOME", off.path())
        .env("PREFLIGHT_CACHE", "off")
        .current_dir(&seed)
        .args(["run", "--facts", "facts.json"]));
    assert_eq!(code, 0);
    assert!(!off.path().join("compiled").exists());
}

fn wasm_toolchain() -> bool {
    let rustup = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == "wasm32-unknown-unknown")
        });
    let debian = std::path::Path::new("/usr/bin/rustc").exists()
        && std::process::Command::new("wasm-ld-19")
            .arg("--version")
            .output()
            .is_ok();
    rustup || debian
}

/// Scaffold → native cases → wasm build → `preflight test` → lock → locked run.
#[test]
fn scaffold_build_test_lock_run() {
    if !wasm_toolchain() {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_WASM").is_none(),
            "PREFLIGHT_REQUIRE_WASM is set but no wasm32 toolchain"
        );
        eprintln!("no wasm32 toolchain: skipping the scaffold test");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(preflight()
        .args(["policy", "new", "team-rule", "--dir"])
        .arg(work.path())
        .arg("--sdk-path")
        .arg(repo().join("sdk")));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("created"), "{stdout}");
    let crate_dir = work.path().join("team-rule");
    let clean = |command: &mut std::process::Command| {
        command
            .current_dir(&crate_dir)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    // A rule that panics on a setting no one should give: its message must reach the case
    // natively and from the wasm sandbox alike (the SDK's panic hook).
    let lib = crate_dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let source = source.replacen(
        "    let Some(scores) = input.facts.scores else {",
        "    assert!(settings.min_readiness <= 10.0, \"min_readiness {} is above 10\", settings.min_readiness);\n    let Some(scores) = input.facts.scores else {",
        1,
    );
    assert!(source.contains("is above 10"));
    std::fs::write(&lib, source).unwrap();
    std::fs::write(
        crate_dir.join("cases/panics.yaml"),
        "name: an impossible minimum panics with its message\nfacts:\n  scores: { readiness: 9.0, mvp: 9.0 }\n  security: { gate: PASS }\n  complexity: low\nsettings:\n  min_readiness: 11\nexpect:\n  error: min_readiness 11 is above 10\n",
    )
    .unwrap();
    clean(std::process::Command::new("cargo").args(["test", "--quiet"]));
    clean(&mut std::process::Command::new("./build.sh"));
    let wasm = crate_dir.join("team-rule.wasm");
    let (code, stdout, _) = run(preflight()
        .arg("test")
        .arg("--policy")
        .arg(&wasm)
        .arg(crate_dir.join("cases")));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
    // And the panic as a run reports it: message, place, wasm backtrace, the fuel it used.
    let panicking = project_with_policy(
        &std::fs::read(&wasm).unwrap(),
        "settings = { min_readiness = 11 }\n",
    );
    let (code, report, _) = run_in(&panicking, &["run"]);
    assert_eq!(code, 2, "{report}");
    let team = &report["policies"][1];
    let message = team["error"].as_str().unwrap();
    for part in [
        "policy `team-rule` panicked at src/lib.rs:",
        "min_readiness 11 is above 10",
        "(wasm backtrace: ",
        "team_rule::evaluate",
    ] {
        assert!(message.contains(part), "`{part}` not in: {message}");
    }
    assert!(team["fuel_used"].as_u64().unwrap() > 0, "{team}");

    let bytes = std::fs::read(&wasm).unwrap();
    let project = project_with_policy(&bytes, "settings = { min_readiness = 8 }\n");
    assert_eq!(
        run(preflight()
            .current_dir(project.path())
            .args(["policy", "lock"]))
        .0,
        0
    );
    let (code, report, stderr) = run_in(&project, &["run", "--locked"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["policies"][1]["name"], "team-rule");
    let (code, report, _) = run_in(
        &project,
        &["run", "--locked", "--fact", "scores.readiness=7"],
    );
    assert_eq!(code, 1);
    assert!(
        report["blocking_issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "readiness.below_minimum")
    );
    // The custom section it declares: checked by the host, then read by the policy.
    let (code, report, _) = run_in(
        &project,
        &[
            "run",
            "--locked",
            "--fact",
            "custom.change.ticket=CHG-7",
            "--fact",
            "custom.change.approved=false",
        ],
    );
    assert_eq!(code, 1, "{report}");
    assert!(
        report["blocking_issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "change.not_approved"
                && i["message"].as_str().unwrap().contains("CHG-7")),
        "{report}"
    );
    let (code, report, _) = run_in(
        &project,
        &["run", "--locked", "--fact", "custom.change.approved=true"],
    );
    assert_eq!(code, 2, "{report}");
    let invalid = report["blocking_issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "facts.invalid")
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        invalid["message"].as_str().unwrap().contains("ticket"),
        "{invalid}"
    );
}

fn remote_project(url: &str, pin: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pin = pin
        .map(|sha| format!("sha256 = \"{sha}\"\n"))
        .unwrap_or_default();
    let config = format!(
        "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n[[policy]]\nsource = \"{url}\"\n{pin}"
    );
    std::fs::write(dir.path().join("preflight.toml"), config).unwrap();
    dir
}

#[test]
fn remote_policies_are_pinned_pulled_and_run_offline() {
    let home = tempfile::tempdir().unwrap();
    let good = returning("remote-rule", GO);
    let sha = preflight_engine::sandbox::sha256_hex(&good);
    let port = serve(good.clone());
    let project = remote_project(
        &format!("http://127.0.0.1:{port}/remote-rule.wasm"),
        Some(&sha),
    );
    let in_project = |args: &[&str]| {
        let (code, stdout, stderr) = run(preflight()
            .env("PREFLIGHT_HOME", home.path())
            .current_dir(project.path())
            .args(args));
        (code, stdout, stderr)
    };
    let (code, stdout, stderr) = in_project(&["policy", "pull"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "pulled http://127.0.0.1:{port}/remote-rule.wasm sha256:{sha}"
        )),
        "{stdout}"
    );
    assert!(
        home.path()
            .join("modules/sha256")
            .join(format!("{sha}.wasm"))
            .exists()
    );

    // Offline, with the URL now pointing nowhere: the store serves the pinned bytes.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        project.path().join("preflight.toml"),
        std::fs::read_to_string(project.path().join("preflight.toml"))
            .unwrap()
            .replace(&port.to_string(), &dead.to_string()),
    )
    .unwrap();
    let (code, stdout, stderr) = in_project(&["run", "--offline"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["policies"][1]["name"], "remote-rule");
    assert_eq!(report["policies"][1]["sha256"], sha);
}

#[test]
fn a_server_returning_other_bytes_than_the_pin_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let pinned = preflight_engine::sandbox::sha256_hex(&returning("remote-rule", GO));
    let evil = returning(
        "remote-rule",
        br#"{"decision":"GO","blocking_issues":[],"warnings":[],"details":{"evil":true}}"#,
    );
    let port = serve(evil.clone());
    let project = remote_project(
        &format!("http://127.0.0.1:{port}/remote-rule.wasm"),
        Some(&pinned),
    );
    let (code, _, stderr) = run(preflight()
        .env("PREFLIGHT_HOME", home.path())
        .current_dir(project.path())
        .args(["policy", "pull"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("sha256 mismatch")
            && stderr.contains(&preflight_engine::sandbox::sha256_hex(&evil)),
        "{stderr}"
    );
    let (code, stdout, _) = run(preflight()
        .env("PREFLIGHT_HOME", home.path())
        .current_dir(project.path())
        .arg("run"));
    assert_eq!(code, 2);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(report["blocking_issues"][0]["id"], "policy.digest_mismatch");
    assert!(
        !home
            .path()
            .join("modules/sha256")
            .join(format!("{pinned}.wasm"))
            .exists()
    );

    // Unpinned remote policies are refused outright; offline without the module too.
    let unpinned = remote_project(&format!("http://127.0.0.1:{port}/remote-rule.wasm"), None);
    let (code, stdout, _) = run(preflight()
        .env("PREFLIGHT_HOME", home.path())
        .current_dir(unpinned.path())
        .arg("run"));
    assert_eq!(code, 2);
    assert!(stdout.contains("must be pinned"), "{stdout}");
    let (code, stdout, _) = run(preflight()
        .env("PREFLIGHT_HOME", home.path())
        .current_dir(project.path())
        .args(["run", "--offline"]));
    assert_eq!(code, 2);
    assert!(stdout.contains("--offline forbids downloading"), "{stdout}");
}

#[test]
fn a_server_sending_an_oversized_module_is_cut_off() {
    // Claims 100 MiB; the download is refused on the header, before any body is buffered.
    let port = crate::support::serve_raw(100 << 20, vec![0u8; 1024]);
    let home = tempfile::tempdir().unwrap();
    let project = remote_project(
        &format!("http://127.0.0.1:{port}/huge.wasm"),
        Some(&"0".repeat(64)),
    );
    let (code, stdout, stderr) = run(preflight()
        .env("PREFLIGHT_HOME", home.path())
        .current_dir(project.path())
        .arg("run"));
    assert_eq!(code, 2, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(
        report["blocking_issues"][0]["id"],
        "policy.remote_unavailable"
    );
    assert!(stderr.contains("over the 67108864-byte limit"), "{stderr}");
}

/// The `.cwasm` entries in a compiled-module cache folder.
fn compiled_entries(home: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(home.join("compiled"))
        .map(|dir| {
            dir.flatten()
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries
}

/// A first run on a fresh machine compiles nothing it ships with (the built-ins carry machine
/// code from the build), and `policy lock` compiles a team's policy into the cache for both
/// engines, so neither `run` nor `--facts-stream` compiles it again.
#[test]
fn first_runs_compile_nothing_after_lock() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("facts.json"),
        r#"{"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "medium"}"#,
    )
    .unwrap();
    let in_project = |args: &[&str]| {
        let (code, stdout, stderr) = run(preflight()
            .current_dir(&project)
            .env("PREFLIGHT_HOME", &home)
            .args(args));
        (code, stdout, stderr)
    };

    // The built-in gate alone, with an empty cache: GO, and nothing compiled or cached.
    let (code, stdout, stderr) = in_project(&["run", "--no-collect", "--facts", "facts.json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = in_project(&["run", "--facts-stream", "facts.json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(compiled_entries(&home), Vec::<std::path::PathBuf>::new());

    // A team policy, locked: compiled once per engine, by `lock`.
    std::fs::write(
        project.join("team.wasm"),
        returning("team", br#"{"decision":"GO"}"#),
    )
    .unwrap();
    std::fs::write(
        project.join("preflight.toml"),
        "[[policy]]\nsource = \"team.wasm\"\n",
    )
    .unwrap();
    let (code, _, stderr) = in_project(&["policy", "lock"]);
    assert_eq!(code, 0, "{stderr}");
    let locked = compiled_entries(&home);
    assert_eq!(locked.len(), 2, "one entry per engine: {locked:?}");
    let stamps: Vec<_> = locked
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    let (code, stdout, stderr) =
        in_project(&["run", "--locked", "--no-collect", "--facts", "facts.json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = in_project(&["run", "--locked", "--facts-stream", "facts.json"]);
    assert_eq!(code, 0, "{stderr}");
    let after = compiled_entries(&home);
    assert_eq!(after, locked, "a run compiled the locked policy again");
    for (path, before) in after.iter().zip(&stamps) {
        assert_eq!(&std::fs::read(path).unwrap(), before, "{}", path.display());
    }
}
