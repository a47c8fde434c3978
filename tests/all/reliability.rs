//! Regression tests for issue #11 ("trustworthy under attack"): every fail-open, data-loss and
//! crash path found by attacking the gate, each with the item number it covers.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{preflight, repo, returning, run};

const GO: &[u8] = br#"{"decision":"GO","blocking_issues":[],"warnings":[],"details":{}}"#;

/// Facts whose risk is 85 with the standard gate: a NO_GO.
fn risky_facts() -> Value {
    json!({
        "scores": {"readiness": 1.0, "mvp": 1.0},
        "security": {"gate": "PASS"},
        "complexity": "high"
    })
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

fn report(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|err| panic!("not a JSON report ({err}): {stdout}"))
}

fn cache_entries(home: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(home.join("compiled"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    entries.sort();
    entries
}

/// #11.1: another module's compiled entry copied over the gate's is a miss, never a run.
#[test]
fn a_compiled_entry_copied_over_another_is_not_run() {
    let work = tempfile::tempdir().unwrap();
    let facts = write_json(work.path(), "facts.json", &risky_facts());
    let always_go = work.path().join("go.wasm");
    std::fs::write(&always_go, returning("always-go", GO)).unwrap();

    // Home A compiles the gate only; home B the gate and the always-GO module.
    let gate_home = tempfile::tempdir().unwrap();
    let both_home = tempfile::tempdir().unwrap();
    let run_with = |home: &Path, extra: &[&str]| {
        run(preflight()
            .env("PREFLIGHT_HOME", home)
            .env("PREFLIGHT_PRECOMPILED", "0")
            .arg("run")
            .arg("--facts")
            .arg(&facts)
            .args(extra))
    };
    let (code, stdout, stderr) = run_with(gate_home.path(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report(&stdout)["decision"], "NO_GO");
    let (_, _, stderr) = run_with(both_home.path(), &["--policy", always_go.to_str().unwrap()]);
    let gate_entries = cache_entries(gate_home.path());
    let both_entries = cache_entries(both_home.path());
    assert_eq!(gate_entries.len(), 1, "{stderr}");
    assert_eq!(both_entries.len(), 2, "{stderr}");
    let gate_entry = &gate_entries[0];
    let gate_name = gate_entry.file_name().unwrap();
    let other = both_entries
        .iter()
        .find(|p| p.file_name().unwrap() != gate_name)
        .unwrap();

    // The poisoned cache: the always-GO module's compiled code under the gate's name.
    std::fs::copy(other, gate_entry).unwrap();
    for locked in [false, true] {
        let mut args = vec![];
        if locked {
            let config = work.path().join("preflight.toml");
            std::fs::write(&config, "").unwrap();
            let (code, _, stderr) = run(preflight()
                .env("PREFLIGHT_HOME", gate_home.path())
                .env("PREFLIGHT_PRECOMPILED", "0")
                .current_dir(work.path())
                .args(["policy", "lock"]));
            assert_eq!(code, 0, "{stderr}");
            args.push("--locked");
        }
        let (code, stdout, stderr) = run(preflight()
            .env("PREFLIGHT_HOME", gate_home.path())
            .env("PREFLIGHT_PRECOMPILED", "0")
            .current_dir(work.path())
            .args(["run", "--facts", "facts.json"])
            .args(&args));
        let report = report(&stdout);
        assert_eq!(code, 1, "locked={locked}: {stderr}");
        assert_eq!(report["decision"], "NO_GO", "locked={locked}");
        assert_eq!(report["risk_score"], 85.0, "locked={locked}");
        std::fs::copy(other, gate_entry).unwrap();
    }
}

/// #11.1: with `PREFLIGHT_CACHE_KEY`, entries written without the key are not trusted.
#[test]
fn a_keyed_cache_refuses_entries_written_without_the_key() {
    let home = tempfile::tempdir().unwrap();
    let seed = repo().join("examples/seed");
    let go = |key: Option<&str>| {
        let mut command = preflight();
        command
            .env("PREFLIGHT_HOME", home.path())
            .env("PREFLIGHT_PRECOMPILED", "0")
            .current_dir(&seed)
            .args(["run", "--facts", "facts.json"]);
        if let Some(key) = key {
            command.env("PREFLIGHT_CACHE_KEY", key);
        }
        let (code, stdout, stderr) = run(&mut command);
        assert_eq!(code, 0, "{stderr}");
        report(&stdout)["risk_score"].clone()
    };
    assert_eq!(go(None), 30.0);
    let entry = cache_entries(home.path()).remove(0);
    let unkeyed = std::fs::read(&entry).unwrap();
    assert_eq!(go(Some("ci-secret")), 30.0);
    let keyed = std::fs::read(&entry).unwrap();
    assert_ne!(unkeyed, keyed, "the keyed run replaced the unkeyed entry");
    assert_eq!(go(Some("ci-secret")), 30.0);
    assert_eq!(
        std::fs::read(&entry).unwrap(),
        keyed,
        "the keyed entry was used"
    );
    assert_eq!(go(Some("another-secret")), 30.0);
    assert_ne!(
        std::fs::read(&entry).unwrap(),
        keyed,
        "another key is a miss"
    );
}

/// #11.2: a `policy lock` that fails leaves the committed lock file exactly as it was.
#[test]
fn a_failed_lock_keeps_the_old_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("team.wasm"), returning("team-rule", GO)).unwrap();
    let config = dir.path().join("preflight.toml");
    std::fs::write(&config, "[[policy]]\nsource = \"team.wasm\"\n").unwrap();
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).args(["policy", "lock"]));
    assert_eq!(code, 0, "{stderr}");
    let lock = dir.path().join("preflight.lock");
    let good = std::fs::read(&lock).unwrap();

    let broken = [
        "[[policy]]\nsource = \"missing.wasm\"\n",
        "[[policy]]\nsource = \"https://127.0.0.1:9/unreachable.wasm\"\nsha256 = \"00\"\n",
        "[[policy]]\nsource = \"nometa.wasm\"\n",
        "[[policy]]\nsource = \"team.wasm\"\nversion = \"not a requirement\"\n",
    ];
    std::fs::write(
        dir.path().join("nometa.wasm"),
        wat::parse_str("(module)").unwrap(),
    )
    .unwrap();
    for text in broken {
        std::fs::write(&config, text).unwrap();
        let (code, _, stderr) = run(preflight().current_dir(dir.path()).args(["policy", "lock"]));
        assert_eq!(code, 2, "{text}: {stderr}");
        assert_eq!(
            std::fs::read(&lock).unwrap(),
            good,
            "{text}: the lock file changed"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

/// Runs a shell snippet with the built binary as `$PREFLIGHT`.
pub fn shell(script: &str, dir: &Path) -> (i32, String, String) {
    run(Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PREFLIGHT", env!("CARGO_BIN_EXE_preflight"))
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY"))
}

/// The canary flags every test below passes: nothing listens on port 9.
fn canary_args(command: &str) -> Vec<String> {
    [
        "canary",
        command,
        "--prometheus",
        "http://127.0.0.1:9",
        "--baseline",
        "job=\"b\"",
        "--canary",
        "job=\"c\"",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// #11.3 and #11.16: every time and duration flag is checked: a usage error naming the flag,
/// exit 2 and a NO_GO report; never a panic, never an unbounded replay.
#[test]
fn canary_time_flags_are_checked_and_fail_closed() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &str); 12] = [
        ("monitor", &["--start", "inf"], "--start inf"),
        ("monitor", &["--start", "1e20"], "--start 1e20"),
        ("monitor", &["--start", "NaN"], "--start NaN"),
        ("monitor", &["--start=-5"], "--start -5"),
        ("analyze", &["--end", "inf"], "--end inf"),
        ("analyze", &["--window", "0s"], "--window 0s"),
        ("analyze", &["--window", "1000000y"], "--window 1000000y"),
        ("analyze", &["--step", "0s"], "--step 0s"),
        ("analyze", &["--window", "1m", "--step", "5m"], "--step 5m"),
        ("analyze", &["--window", "90d", "--step", "1s"], "--step 1s"),
        (
            "monitor",
            &["--interval", "1ms", "--duration", "10d"],
            "--interval 1ms",
        ),
        (
            "monitor",
            &["--interval", "1s", "--duration", "10d"],
            "--interval 1s",
        ),
    ];
    for (command, flags, named) in cases {
        let (code, stdout, stderr) = run(preflight()
            .current_dir(dir.path())
            .args(canary_args(command))
            .args(flags));
        assert_eq!(code, 2, "{flags:?}: {stderr}");
        assert!(stderr.contains(named), "{flags:?}: {stderr}");
        let report = report(&stdout);
        assert_eq!(report["decision"], "NO_GO", "{flags:?}");
        assert_eq!(report["blocking_issues"][0]["id"], "canary.setup");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A server that accepts connections and never answers: a query in flight forever.
fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(20) {
            held.push(stream);
        }
    });
    port
}

/// #11.4: Ctrl-C while a Prometheus query is in flight still writes a NO_GO report and the diff
/// report, for `analyze` and for `monitor`.
#[test]
fn ctrl_c_during_a_query_writes_the_report_so_far() {
    for command in ["analyze", "monitor"] {
        let port = silent_server();
        let dir = tempfile::tempdir().unwrap();
        let mut args = canary_args(command);
        args[3] = format!("http://127.0.0.1:{port}");
        args.extend(["--query-timeout".to_owned(), "60s".to_owned()]);
        if command == "monitor" {
            // A start in the past: the first interval's query runs at once.
            args.extend(
                [
                    "--start",
                    "1700000000",
                    "--interval",
                    "1m",
                    "--duration",
                    "5m",
                ]
                .map(str::to_owned),
            );
        }
        let child = preflight()
            .current_dir(dir.path())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        crate::support::send_signal(child.id(), "INT");
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        let report = report(&String::from_utf8_lossy(&output.stdout));
        assert_eq!(report["decision"], "NO_GO", "{command}");
        assert!(
            report["blocking_issues"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == "canary.interrupted"),
            "{command}: {report:#}"
        );
        let diff =
            std::fs::read_to_string(dir.path().join(".playbook/canary_diff_report.json")).unwrap();
        let diff: Value = serde_json::from_str(&diff).unwrap();
        assert_eq!(diff["verdict"], "FAIL", "{command}");
    }
}

/// The names of the temporary files (`.NAME.PID.N.tmp`) in `dir`.
fn temporary_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect()
}

/// SIGTERM (or Ctrl-C) during `--facts-stream -o FILE` used to kill the process: the output
/// never written and a hidden temporary file as large as the reports so far left beside it.
/// Now the lines read are finished, the file ends with a `facts.interrupted` report line, no
/// temporary file is left, and the exit is 2.
#[test]
fn an_interrupted_stream_writes_the_lines_done_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string(repo().join("examples/seed/facts.json")).unwrap();
    let line = serde_json::from_str::<Value>(&seed).unwrap().to_string();
    let total = 20_000;
    std::fs::write(
        dir.path().join("stream.ndjson"),
        format!("{line}\n").repeat(total),
    )
    .unwrap();
    std::fs::write(dir.path().join("reports.ndjson"), "previous\n").unwrap();
    for signal in ["TERM", "INT"] {
        let child = preflight()
            .current_dir(dir.path())
            .args([
                "run",
                "--no-collect",
                "--jobs",
                "1",
                "--facts-stream",
                "stream.ndjson",
            ])
            .args(["--format", "json=reports.ndjson"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until reports reach the temporary file, then interrupt.
        let started = std::time::Instant::now();
        loop {
            let writing = temporary_files(dir.path()).iter().any(|name| {
                std::fs::metadata(dir.path().join(name)).is_ok_and(|meta| meta.len() > 0)
            });
            if writing {
                break;
            }
            assert!(
                started.elapsed().as_secs() < 60,
                "{signal}: no reports written"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        crate::support::send_signal(child.id(), signal);
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "{signal}: {stderr}");
        let leftovers = temporary_files(dir.path());
        assert!(leftovers.is_empty(), "{signal}: {leftovers:?}");
        let text = std::fs::read_to_string(dir.path().join("reports.ndjson")).unwrap();
        let reports: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let (last, done) = reports.split_last().unwrap();
        assert!(done.len() < total, "{signal}: the stream ran to its end");
        assert!(
            done.iter().all(|report| report["decision"] == "GO"),
            "{signal}"
        );
        assert_eq!(last["decision"], "NO_GO", "{signal}");
        let issue = &last["blocking_issues"][0];
        assert_eq!(issue["id"], "facts.interrupted", "{signal}: {issue}");
        let message = issue["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("after {} line(s)", done.len())),
            "{signal}: {} reports before it; {message}",
            done.len()
        );
    }

    // A stream waiting on a quiet stdin cannot stop between chunks: a second signal ends it
    // at once, with the previous output file as it was and no temporary file.
    std::fs::write(dir.path().join("reports.ndjson"), "previous\n").unwrap();
    let mut child = preflight()
        .current_dir(dir.path())
        .args(["run", "--no-collect", "--facts-stream", "-"])
        .args(["--format", "json=reports.ndjson"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, format!("{line}\n").repeat(40).as_bytes()).unwrap();
    // Until the reader (the main thread) waits in `read` on stdin (descriptor 0).
    let read = if cfg!(target_arch = "aarch64") {
        "63 0x0 "
    } else {
        "0 0x0 "
    };
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(format!("/proc/{}/syscall", child.id()))
        .is_ok_and(|syscall| syscall.starts_with(read))
    {
        assert!(
            started.elapsed().as_secs() < 60,
            "the stream never waited on stdin"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for _ in 0..2 {
        crate::support::send_signal(child.id(), "TERM");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let output = child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted again"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("reports.ndjson")).unwrap(),
        "previous\n"
    );
    let leftovers = temporary_files(dir.path());
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A policy whose issue id, message and logs carry escape sequences and forged lines.
fn hostile_output() -> Vec<u8> {
    let output = json!({
        "decision": "GO",
        "blocking_issues": [],
        "warnings": [{
            "id": "evil\u{1b}[2J",
            "message": "ok\u{1b}]0;pwned\u{7}\nFAKE LINE: GO\n::error::forged\r\n<script>alert(1)</script> `x` [a](javascript:b)\u{9b}",
            "locations": [{"path": "src/a\nb.py", "line": 3}]
        }],
        "details": {}
    });
    returning("hostile", output.to_string().as_bytes())
}

/// #11.5: control characters from a policy never reach a terminal or a CI log raw: text,
/// GitHub annotations, Markdown and stderr show them escaped; JSON keeps them exact.
#[test]
fn untrusted_text_is_escaped_in_every_human_format() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hostile.wasm"), hostile_output()).unwrap();
    let facts = write_json(
        dir.path(),
        "facts.json",
        &json!({"scores": {"readiness": 9.0, "mvp": 9.0}, "security": {"gate": "PASS"}, "complexity": "low"}),
    );
    let run_format = |format: &str| {
        run(preflight()
            .current_dir(dir.path())
            .args([
                "run",
                "--no-collect",
                "--verbose",
                "--policy",
                "hostile.wasm",
                "--facts",
            ])
            .arg(&facts)
            .args(["--format", format]))
    };
    for format in ["text", "github", "markdown"] {
        let (code, stdout, stderr) = run_format(format);
        assert_eq!(code, 0, "{format}: {stderr}");
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{format} {stream} carries a control character: {text:?}"
            );
            assert!(
                !text.lines().any(
                    |line| line.starts_with("FAKE LINE") || line.starts_with("::error::forged")
                ),
                "{format} {stream} has a forged line: {text}"
            );
        }
        assert!(stdout.contains("\\u001b"), "{format}: {stdout}");
        if format == "markdown" {
            assert!(!stdout.contains("<script>"), "{stdout}");
            assert!(!stdout.contains("[a](javascript"), "{stdout}");
        }
    }
    let (_, stdout, _) = run_format("json");
    let json = report(&stdout);
    assert!(
        json["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("ok\u{1b}]0;pwned\u{7}\n"),
        "JSON keeps the exact text"
    );

    // Metadata shown by `policy inspect` is escaped too.
    let description = "a\u{1b}[31mred\nFAKE LINE";
    let meta =
        json!({"name": "inspected", "version": "1.0.0", "abi": 1, "description": description});
    let module = crate::support::module(
        r#"(func (export "preflight_evaluate") (param i32 i32) (result i64) i64.const 0)"#,
        Some(&meta.to_string()),
    );
    std::fs::write(dir.path().join("inspected.wasm"), module).unwrap();
    let (code, stdout, _) =
        run(preflight()
            .current_dir(dir.path())
            .args(["policy", "inspect", "inspected.wasm"]));
    assert_eq!(code, 0);
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(
        !stdout.lines().any(|l| l.starts_with("FAKE LINE")),
        "{stdout}"
    );
}

/// #11.6: JUnit output stays well-formed XML whatever characters a policy wrote, from `run`
/// and from `preflight test`.
#[test]
fn junit_output_is_well_formed_with_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hostile.wasm"), hostile_output()).unwrap();
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args(["run", "--no-collect", "--policy", "hostile.wasm"])
        .args(["--fact", "scores.readiness=9", "--fact", "scores.mvp=9"])
        .args(["--fact", "security.gate=PASS", "--fact", "complexity=low"])
        .args(["--format", "junit"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains('\u{1b}'));
    if let Some(result) = crate::support::xmllint(&stdout, &[]) {
        result.unwrap();
    }

    // A case file whose name carries control characters, in `preflight test --format junit`.
    let cases = dir.path().join("cases");
    std::fs::create_dir(&cases).unwrap();
    write_json(
        &cases,
        "bad-name.json",
        &json!({
            "name": "case\u{1}\u{1b}[2J\u{7f}",
            "facts": {"scores": {"readiness": 9.0, "mvp": 9.0}, "security": {"gate": "PASS"}, "complexity": "low"},
            "expect": {"decision": "NO_GO"}
        }),
    );
    let (code, stdout, _) = run(preflight().current_dir(dir.path()).args([
        "test",
        "--policy",
        "hostile.wasm",
        "--format",
        "junit",
        "cases",
    ]));
    assert_eq!(code, 1, "the case fails: GO is not NO_GO");
    assert!(!stdout.contains('\u{1}'), "{stdout:?}");
    if let Some(result) = crate::support::xmllint(&stdout, &[]) {
        result.unwrap();
    }
}

/// Runs `preflight` with a deadline; a hang fails the test instead of blocking it.
fn run_bounded(command: &mut Command, limit: std::time::Duration) -> (i32, String, String) {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the command did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// #11.7: FIFOs and devices are refused as inputs, never read; files over their cap are refused
/// before they are read.
#[test]
fn fifos_devices_and_oversized_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("docs/DOD.md")).unwrap();
    let configs = [
        (
            "readiness = { json = \"fifo\", pointer = \"/x\" }",
            "a FIFO",
        ),
        (
            "readiness = { checklist = \"docs/DOD.md\" }",
            "a character device",
        ),
    ];
    for (scores, what) in configs {
        std::fs::write(
            dir.path().join("preflight.toml"),
            format!(
                "complexity = \"low\"\n[scores]\n{scores}\nmvp = 7\n[security]\ngate = \"PASS\"\n"
            ),
        )
        .unwrap();
        let (code, stdout, stderr) = run_bounded(
            preflight().current_dir(dir.path()).arg("run"),
            std::time::Duration::from_secs(20),
        );
        assert_eq!(code, 2, "{scores}: {stderr}");
        assert!(stderr.contains(what), "{scores}: {stderr}");
        assert_eq!(report(&stdout)["decision"], "NO_GO");
    }
    std::fs::remove_file(dir.path().join("preflight.toml")).unwrap();
    for facts in ["/dev/zero", fifo.to_str().unwrap()] {
        let (code, stdout, stderr) = run_bounded(
            preflight()
                .current_dir(dir.path())
                .args(["run", "--no-collect", "--facts", facts]),
            std::time::Duration::from_secs(20),
        );
        assert_eq!(code, 2, "{facts}: {stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
        assert_eq!(report(&stdout)["decision"], "NO_GO");
    }
    let (code, _, stderr) = run_bounded(
        preflight()
            .current_dir(dir.path())
            .args(["run", "--facts-stream", "/dev/zero"]),
        std::time::Duration::from_secs(20),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");

    // A sparse 65 MiB facts file: over the 64 MiB cap, refused without being read.
    let big = dir.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let (code, _, stderr) = run_bounded(
        preflight()
            .current_dir(dir.path())
            .args(["run", "--no-collect", "--facts", "big.json"]),
        std::time::Duration::from_secs(20),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("over the 67108864-byte limit"), "{stderr}");
}

/// #11.7 and #11.8: a stream line over its cap, a line that is not UTF-8 and blank lines: each
/// bad line gets its NO_GO report, the stream goes on, and stderr counts what was skipped.
#[test]
fn stream_lines_are_bounded_and_a_bad_line_does_not_stop_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let seed = json!({"scores": {"readiness": 7.0, "mvp": 7.0}, "security": {"gate": "PASS"}, "complexity": "medium"});
    let mut input = Vec::new();
    input.extend_from_slice(format!("{seed}\n").as_bytes());
    input.extend_from_slice(b"{\"scores\": \"\xff\xfe\"}\n");
    input.extend_from_slice(b"\n   \n");
    input.extend_from_slice(&vec![b'['; (16 << 20) + 10]);
    input.push(b'\n');
    input.extend_from_slice(format!("{seed}\n").as_bytes());
    input.extend_from_slice(format!("{seed}").as_bytes());
    let stream = dir.path().join("facts.ndjson");
    std::fs::write(&stream, input).unwrap();
    let (code, stdout, stderr) =
        run(preflight()
            .current_dir(dir.path())
            .args(["run", "--facts-stream", "facts.ndjson"]));
    assert_eq!(code, 2, "{stderr}");
    let reports: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(&str, &str)> = reports
        .iter()
        .map(|r| {
            (
                r["decision"].as_str().unwrap(),
                r["blocking_issues"][0]["id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("GO", ""),
            ("NO_GO", "facts.not_json"),
            ("NO_GO", "facts.too_large"),
            ("GO", ""),
            ("GO", ""),
        ]
    );
    assert!(stderr.contains("line 2: not UTF-8"), "{stderr}");
    assert!(stderr.contains("7 line(s)"), "{stderr}");
    assert!(stderr.contains("2 blank line(s) skipped"), "{stderr}");
}

/// A module with `count` functions that each return 0.
fn many_functions(count: usize) -> Vec<u8> {
    let mut body = String::from(
        r#"(func (export "preflight_evaluate") (param i32 i32) (result i64) i64.const 0)"#,
    );
    for _ in 0..count {
        body.push_str("(func (result i32) i32.const 0)");
    }
    crate::support::module(&body, Some(&crate::support::metadata("many")))
}

/// #11.9: compiling is bounded: too many functions, too many bytes, or a compile over its time
/// budget is `policy.compile_limit`, refused quickly.
#[test]
fn compilation_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("many.wasm"), many_functions(60_000)).unwrap();
    let mut huge = returning("huge", GO);
    // A custom section pads the module past the 16 MiB cap.
    let padding = vec![0u8; 17 << 20];
    huge.push(0);
    let mut size = Vec::new();
    let mut n = padding.len() + 4;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            size.push(byte);
            break;
        }
        size.push(byte | 0x80);
    }
    huge.extend_from_slice(&size);
    huge.extend_from_slice(&[3, b'p', b'a', b'd']);
    huge.extend_from_slice(&padding);
    std::fs::write(dir.path().join("huge.wasm"), huge).unwrap();
    let seed = repo().join("examples/seed/facts.json");
    for module in ["many.wasm", "huge.wasm"] {
        let started = std::time::Instant::now();
        let (code, stdout, stderr) = run(preflight()
            .current_dir(dir.path())
            .env("PREFLIGHT_CACHE", "off")
            .args(["run", "--no-collect", "--facts"])
            .arg(&seed)
            .args(["--policy", module]));
        assert_eq!(code, 2, "{module}: {stderr}");
        let report = report(&stdout);
        assert!(
            report["blocking_issues"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == "policy.compile_limit"),
            "{module}: {report:#}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{module}"
        );
    }
    // The gate itself takes longer than 1 ms to compile: the budget stops it.
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .env("PREFLIGHT_CACHE", "off")
        .env("PREFLIGHT_PRECOMPILED", "0")
        .args([
            "run",
            "--no-collect",
            "--compile-timeout-ms",
            "1",
            "--facts",
        ])
        .arg(&seed));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        report(&stdout)["blocking_issues"][0]["id"],
        "policy.compile_limit"
    );
}

/// #11.10: a full disk (here: a file size limit) while writing a report leaves the previous
/// report whole, the other formats are still written, and the run says NO_GO with exit 2.
#[test]
fn a_failed_report_write_keeps_the_previous_report() {
    let dir = tempfile::tempdir().unwrap();
    let seed = repo().join("examples/seed/facts.json");
    // The gate's memory image must come from a cache file: built from the binary's machine
    // code it goes through a `memfd`, which the file size limit below also caps (the gate then
    // fails closed before any report is written). So: a cache of its own, warmed first.
    let home = dir.path().join("home");
    let (code, _, stderr) = run(preflight()
        .current_dir(dir.path())
        .env("PREFLIGHT_HOME", &home)
        .env("PREFLIGHT_PRECOMPILED", "0")
        .args(["run", "--no-collect", "--facts"])
        .arg(&seed)
        .args(["-o", "report.json"]));
    assert_eq!(code, 0, "{stderr}");
    let good = std::fs::read(dir.path().join("report.json")).unwrap();
    assert!(
        good.len() > 2048,
        "the report must be larger than the limit below"
    );
    // 2 KiB file size limit. SIGXFSZ keeps its default action, which would end the process:
    // preflight ignores it, so a write past the limit fails with EFBIG.
    let script = format!(
        "ulimit -f 2; PREFLIGHT_HOME='{}' PREFLIGHT_PRECOMPILED=0 exec \"$PREFLIGHT\" run --no-collect --facts '{}' --format json=report.json --format text=summary.txt",
        home.display(),
        seed.display()
    );
    let (code, stdout, stderr) = shell(&script, dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("report.json")).unwrap(),
        good,
        "the previous report is whole"
    );
    assert!(stderr.contains("report.json"), "{stderr}");
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
    assert!(summary.contains("NO_GO"), "{summary}");
    let written = report(&stdout);
    assert_eq!(written["decision"], "NO_GO");
    assert_eq!(written["blocking_issues"][0]["id"], "report.unwritable");

    // #11.16: `-o` into a missing folder still gives a NO_GO report on stdout.
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args(["run", "--no-collect", "--facts"])
        .arg(&seed)
        .args(["-o", "no/such/folder/report.json"]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(report(&stdout)["decision"], "NO_GO");
}

/// The built-ins' machine code goes to wasmtime through an in-memory file where the system
/// allows it; a file size limit below the code's size (about 1.6 MB for the gate) must send it
/// back to the copy, never end the process: a write past `ulimit -f` raises SIGXFSZ, which
/// kills by default. A limit below what the sandbox must write is `policy.host_error`.
#[test]
fn a_file_size_limit_below_the_machine_code_still_runs_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let seed = repo().join("examples/seed/facts.json");
    for blocks in [1024, 4096] {
        let script = format!(
            "ulimit -f {blocks}; PREFLIGHT_HOME='{}' exec \"$PREFLIGHT\" run --no-collect --facts '{}' --format json",
            dir.path().join(format!("home-{blocks}")).display(),
            seed.display()
        );
        let (code, stdout, stderr) = shell(&script, dir.path());
        assert_eq!(code, 0, "ulimit -f {blocks}: {stderr}");
        let written = report(&stdout);
        assert_eq!(written["decision"], "GO", "ulimit -f {blocks}");
        assert_eq!(written["risk_score"], 30.0, "ulimit -f {blocks}");
    }
    // Below even the gate's memory image (which wasmtime writes to an in-memory file when the
    // module is not mapped from a file): SIGXFSZ used to end the process with no report; now
    // the write fails, and the run says why and how to fix it.
    let script = format!(
        "ulimit -f 2; PREFLIGHT_HOME='{}' exec \"$PREFLIGHT\" run --no-collect --facts '{}' --format json",
        dir.path().join("home-2").display(),
        seed.display()
    );
    let (code, stdout, stderr) = shell(&script, dir.path());
    assert_eq!(code, 2, "{stderr}");
    let written = report(&stdout);
    assert_eq!(written["decision"], "NO_GO");
    let issue = &written["blocking_issues"][0];
    assert_eq!(issue["id"], "policy.host_error", "{issue}");
    let message = issue["message"].as_str().unwrap();
    assert!(message.contains("preflight-gate"), "{message}");
    assert!(message.contains("`ulimit -f`"), "{message}");
    assert!(stderr.contains("`ulimit -f`"), "{stderr}");
}

/// An address space limit (`ulimit -v`) too low for a sandbox's memory reservation is the
/// host's failure, not the policy's: `policy.host_error` naming the limit, never `policy.trap`
/// ("the policy trapped"); `NO_GO`, exit 2, for a run and for every line of a stream.
#[test]
fn an_address_space_limit_below_a_sandbox_is_a_host_error() {
    let dir = tempfile::tempdir().unwrap();
    let seed = repo().join("examples/seed/facts.json");
    let facts = std::fs::read_to_string(&seed).unwrap();
    let line: serde_json::Value = serde_json::from_str(&facts).unwrap();
    std::fs::write(
        dir.path().join("stream.ndjson"),
        format!("{line}\n{line}\n"),
    )
    .unwrap();
    for (label, input) in [
        ("run", format!("--facts '{}'", seed.display())),
        ("stream", "--facts-stream stream.ndjson".to_owned()),
    ] {
        let script = format!(
            "ulimit -v 1000000; PREFLIGHT_HOME='{}' exec \"$PREFLIGHT\" run --no-collect {input} --format json",
            dir.path().join("home").display(),
        );
        let (code, stdout, stderr) = shell(&script, dir.path());
        assert_eq!(code, 2, "{label}: {stderr}");
        let reports: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            reports.len(),
            if label == "run" { 1 } else { 2 },
            "{label}: {stdout}"
        );
        for written in reports {
            assert_eq!(written["decision"], "NO_GO", "{label}");
            let issue = &written["blocking_issues"][0];
            assert_eq!(issue["id"], "policy.host_error", "{label}: {issue}");
            assert!(
                issue["message"].as_str().unwrap().contains("`ulimit -v`"),
                "{label}: {issue}"
            );
        }
    }
}

/// #11.11: NaN and infinite settings are `settings.invalid`, exit 2; never replaced by the
/// defaults.
#[test]
fn non_finite_settings_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let seed = repo().join("examples/seed/facts.json");
    for gate in [
        "thresholds = { go = -inf, canary = -inf }",
        "weights = { readiness = nan }",
        "penalties = { high = +inf }",
    ] {
        std::fs::write(
            dir.path().join("preflight.toml"),
            format!("[gate]\n{gate}\n"),
        )
        .unwrap();
        let (code, stdout, stderr) = run(preflight()
            .current_dir(dir.path())
            .args(["run", "--no-collect", "--facts"])
            .arg(&seed));
        assert_eq!(code, 2, "{gate}: {stderr}");
        let report = report(&stdout);
        assert_eq!(report["decision"], "NO_GO");
        assert_eq!(
            report["blocking_issues"][0]["id"], "settings.invalid",
            "{gate}"
        );
        assert!(stderr.contains("line 2"), "{stderr}");
    }
    // #11.16: settings the gate refuses are an error (exit 2), not a NO_GO decision.
    std::fs::write(
        dir.path().join("preflight.toml"),
        "[gate]\nthresholds = { go = 70, canary = 60 }\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args(["run", "--no-collect", "--facts"])
        .arg(&seed));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        report(&stdout)["blocking_issues"][0]["id"],
        "settings.invalid"
    );
}

/// A project with the seed's scores and one configured evidence file.
fn project_with(section: &str, file: &str, content: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file), content).unwrap();
    std::fs::write(
        dir.path().join("preflight.toml"),
        format!(
            "complexity = \"medium\"\n[scores]\nreadiness = 7\nmvp = 7\n[artifacts]\noptional = []\n{section}\n"
        ),
    )
    .unwrap();
    dir
}

/// #11.12: malformed or empty evidence is an error, never a pass.
#[test]
fn malformed_or_empty_evidence_is_an_error() {
    let sarif = |result: Value| {
        json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "scanner"}}, "results": [result]}]})
            .to_string()
    };
    let finding = |extra: Value| {
        let mut result = json!({"ruleId": "R1", "level": "error", "message": {"text": "bad"}});
        for (k, v) in extra.as_object().unwrap() {
            result[k] = v.clone();
        }
        result
    };
    let junit_40 = "<?xml version=\"1.0\"?>\n<testsuite name=\"pytest\" tests=\"40\">\n<testcase classname=\"a\" name=\"t1\"/>\n<testcase classname=\"a\" name=\"t2\"/>\n</testsuite>\n";
    let junit_cut = "<?xml version=\"1.0\"?>\n<testsuites>\n<testsuite name=\"pytest\">\n<testcase classname=\"a\" name=\"t1\"/>\n<testcase classname=\"a\" name=\"t2\"/>\n";
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "[tests]\njunit = [\"junit.xml\"]",
            "junit.xml",
            junit_40.to_owned(),
            "declares 40 tests but holds 2",
        ),
        (
            "[tests]\njunit = [\"junit.xml\"]",
            "junit.xml",
            junit_cut.to_owned(),
            "cut short",
        ),
        (
            "[coverage]\nlcov = \"lcov.info\"",
            "lcov.info",
            "TN:\nSF:src/a.py\nend_of_record\nSF:src/b.py\nend_of_record\n".to_owned(),
            "no line data",
        ),
        (
            "[coverage]\ncobertura = \"coverage.xml\"",
            "coverage.xml",
            "<?xml version=\"1.0\"?>\n<coverage line-rate=\"1\"><packages/></coverage>\n"
                .to_owned(),
            "no line data",
        ),
        (
            "[security]\nsarif = [\"x.sarif\"]",
            "x.sarif",
            sarif(finding(json!({"kind": "FAIL"}))),
            "`FAIL` is not a SARIF 2.1.0 value",
        ),
        (
            "[security]\nsarif = [\"x.sarif\"]",
            "x.sarif",
            sarif(finding(
                json!({"suppressions": [{"kind": "inSource", "status": "REJECTED"}]}),
            )),
            "`REJECTED` is not a SARIF 2.1.0 value",
        ),
        (
            "[security]\nsarif = [\"x.sarif\"]",
            "x.sarif",
            sarif(finding(json!({"suppressions": [{"status": "accepted"}]}))),
            "has no `kind`",
        ),
        (
            "[security]\nsarif = [\"x.sarif\"]",
            "x.sarif",
            sarif(finding(json!({"baselineState": "gone"}))),
            "`gone` is not a SARIF 2.1.0 value",
        ),
    ];
    for (section, file, content, expected) in cases {
        let dir = project_with(section, file, &content);
        let (code, stdout, stderr) =
            run(preflight()
                .current_dir(dir.path())
                .args(["run", "--fact", "security.gate=PASS"]));
        assert_eq!(code, 2, "{file} ({expected}): {stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(report(&stdout)["decision"], "NO_GO");
    }
    // Rejected and under-review suppressions and open/review results still count.
    for extra in [
        json!({"suppressions": [{"kind": "external", "status": "rejected"}]}),
        json!({"suppressions": [{"kind": "inSource", "status": "underReview"}]}),
        json!({"kind": "open"}),
        json!({"kind": "review"}),
    ] {
        let dir = project_with(
            "[security]\nsarif = [\"x.sarif\"]",
            "x.sarif",
            &sarif(finding(extra.clone())),
        );
        let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).arg("run"));
        assert_eq!(code, 1, "{extra}: {stderr}");
        assert_eq!(
            report(&stdout)["blocking_issues"][0]["id"],
            "security.lint",
            "{extra}"
        );
    }
}

/// #11.13: `security.counts` is derived from the findings for every fact set, however it came;
/// counts that disagree with the findings are refused.
#[test]
fn finding_counts_are_derived_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut facts = json!({
        "scores": {"readiness": 7.0, "mvp": 7.0},
        "complexity": "medium",
        "security": {"findings": [{
            "tool": "trivy", "category": "vulnerability", "severity": "critical",
            "rule": "CVE-2024-0001", "message": "remote code execution"
        }]}
    });
    let path = write_json(dir.path(), "facts.json", &facts);
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args(["facts", "--no-collect", "--facts"])
        .arg(&path));
    assert_eq!(code, 0, "{stderr}");
    let gathered: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        gathered["security"]["counts"]["vulnerability"]["critical"],
        1
    );
    assert_eq!(gathered["security"]["counts"]["total"], 1);

    facts["security"]["counts"] = json!({"total": 0});
    let path = write_json(dir.path(), "facts.json", &facts);
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args(["run", "--no-collect", "--facts"])
        .arg(&path));
    assert_eq!(code, 2, "{stderr}");
    let report = report(&stdout);
    assert_eq!(report["blocking_issues"][0]["id"], "facts.invalid");
    assert!(stderr.contains("/security/counts"), "{stderr}");
}

/// #11.14: a report is never written over one of the run's inputs.
#[test]
fn a_report_never_overwrites_an_input() {
    let dir = project_with(
        "[security]\nsarif = [\"scan.sarif\"]",
        "scan.sarif",
        &json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "scanner"}}, "results": []}]}).to_string(),
    );
    let facts = write_json(
        dir.path(),
        "facts.json",
        &json!({"security": {"gate": "PASS"}}),
    );
    for target in ["facts.json", "scan.sarif", "preflight.toml"] {
        let before = std::fs::read(dir.path().join(target)).unwrap();
        let (code, stdout, stderr) = run(preflight()
            .current_dir(dir.path())
            .args(["run", "--facts"])
            .arg(&facts)
            .args(["--format", &format!("json={target}")]));
        assert_eq!(code, 2, "{target}: {stderr}");
        assert!(stderr.contains("it is an input of this run"), "{stderr}");
        assert_eq!(
            std::fs::read(dir.path().join(target)).unwrap(),
            before,
            "{target}"
        );
        assert_eq!(report(&stdout)["decision"], "NO_GO");
    }
    let stream = dir.path().join("stream.ndjson");
    std::fs::write(&stream, "{}\n").unwrap();
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).args([
        "run",
        "--facts-stream",
        "stream.ndjson",
        "-o",
        "stream.ndjson",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(std::fs::read_to_string(&stream).unwrap(), "{}\n");
}

/// #11.15: a dangling symlink does not satisfy a required artifact.
#[test]
fn a_dangling_symlink_is_not_an_artifact() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("nowhere.md", dir.path().join("RELEASE.md")).unwrap();
    std::fs::create_dir(dir.path().join("notes")).unwrap();
    std::os::unix::fs::symlink("../nowhere.md", dir.path().join("notes/a.md")).unwrap();
    let seed = repo().join("examples/seed/facts.json");
    for artifact in ["RELEASE.md", "notes/*.md"] {
        let (code, stdout, stderr) = run(preflight()
            .current_dir(dir.path())
            .args(["run", "--facts"])
            .arg(&seed)
            .args(["--require-artifact", artifact]));
        assert_eq!(code, 1, "{artifact}: {stderr}");
        assert_eq!(
            report(&stdout)["blocking_issues"][0]["id"],
            "artifacts.missing_required",
            "{artifact}"
        );
    }
}

/// #11.16: repeated keys in a fact set are refused.
#[test]
fn repeated_keys_in_facts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("facts.json");
    std::fs::write(
        &path,
        r#"{"scores": {"readiness": 1, "mvp": 1, "readiness": 10}, "security": {"gate": "PASS"}, "complexity": "low"}"#,
    )
    .unwrap();
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).args([
        "run",
        "--no-collect",
        "--facts",
        "facts.json",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("repeated key `readiness`"), "{stderr}");
    assert_eq!(
        report(&stdout)["blocking_issues"][0]["id"],
        "facts.not_json"
    );
    let (code, stdout, _) =
        run(preflight()
            .current_dir(dir.path())
            .args(["run", "--facts-stream", "facts.json"]));
    assert_eq!(code, 2);
    assert_eq!(
        report(&stdout)["blocking_issues"][0]["id"],
        "facts.not_json"
    );
}

/// #11.16: globs stay inside the project root.
#[test]
fn globs_are_bounded_to_the_project_root() {
    let dir = tempfile::tempdir().unwrap();
    for pattern in ["/**/*.sarif", "../**/*.sarif", "reports/../../*.sarif"] {
        std::fs::write(
            dir.path().join("preflight.toml"),
            format!("complexity = \"low\"\n[scores]\nreadiness = 7\nmvp = 7\n[security]\nsarif = [\"{pattern}\"]\n"),
        )
        .unwrap();
        let (code, stdout, stderr) = run_bounded(
            preflight().current_dir(dir.path()).arg("run"),
            std::time::Duration::from_secs(20),
        );
        assert_eq!(code, 2, "{pattern}: {stderr}");
        assert!(stderr.contains("stays inside it"), "{pattern}: {stderr}");
        assert_eq!(report(&stdout)["decision"], "NO_GO");
    }
}

/// Serves one canned HTTP response (status line, headers, body) to every request.
fn serve_response(response: Vec<u8>) -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(&response);
        }
    });
    port
}

/// #11.16: a Prometheus response over the cap is refused, and so is a redirect to another
/// origin; either way the analysis fails closed.
#[test]
fn prometheus_responses_are_capped_and_cross_origin_redirects_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = {
        let body = vec![b' '; 33 << 20];
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(&body);
        response
    };
    let other = serve_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec());
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: http://localhost:{other}/api/v1/query_range\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for (response, expected) in [
        (big, "over the 33554432-byte limit"),
        (redirect, "refused a redirect to another origin"),
    ] {
        let port = serve_response(response);
        let mut args = canary_args("analyze");
        args[3] = format!("http://127.0.0.1:{port}");
        let (code, stdout, stderr) = run_bounded(
            preflight()
                .current_dir(dir.path())
                .args(&args)
                .args(["--retries", "0"]),
            std::time::Duration::from_secs(60),
        );
        assert_eq!(code, 2, "{expected}: {stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(report(&stdout)["decision"], "NO_GO");
    }
}

/// #11.16: the log cap bounds what reaches stderr, however small the lines, and the lines
/// dropped are counted also when the policy then fails.
#[test]
fn the_log_cap_bounds_stderr() {
    let body = r#"(import "preflight" "log" (func $log (param i32 i32 i32)))
        (func (export "preflight_evaluate") (param i32 i32) (result i64)
          (local $i i32)
          (loop $l
            (call $log (i32.const 2) (i32.const 0) (i32.const 0))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 200000))))
          unreachable)"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chatty.wasm"),
        crate::support::module(body, Some(&crate::support::metadata("chatty"))),
    )
    .unwrap();
    let seed = repo().join("examples/seed/facts.json");
    let (code, _, stderr) = run(preflight()
        .current_dir(dir.path())
        .args([
            "run",
            "--no-collect",
            "--verbose",
            "--policy",
            "chatty.wasm",
            "--facts",
        ])
        .arg(&seed));
    assert_eq!(code, 2);
    assert!(stderr.len() < 128 << 10, "{} bytes on stderr", stderr.len());
    assert!(
        stderr.contains("log line(s) dropped at the log cap"),
        "{}",
        &stderr[stderr.len().saturating_sub(2000)..]
    );
}

/// A small stack limit (`ulimit -s`) once overflowed the main thread before the run began: an
/// abort, no report. The command runs on a thread whose stack it reserves itself, so the gate
/// runs as on any machine, in a single run and in a stream.
#[test]
fn a_small_stack_limit_still_runs_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let seed = repo().join("examples/seed/facts.json");
    std::fs::write(
        dir.path().join("stream.ndjson"),
        format!(
            "{}\n",
            std::fs::read_to_string(&seed).unwrap().replace('\n', "")
        ),
    )
    .unwrap();
    for kib in [32, 64, 256] {
        let script = format!(
            "ulimit -s {kib}; PREFLIGHT_HOME='{}' exec \"$PREFLIGHT\" run --no-collect --facts '{}' --format json",
            dir.path().join("home").display(),
            seed.display()
        );
        let (code, stdout, stderr) = shell(&script, dir.path());
        assert_eq!(code, 0, "ulimit -s {kib}: {stderr}");
        let written = report(&stdout);
        assert_eq!(written["decision"], "GO", "ulimit -s {kib}");
        assert_eq!(written["risk_score"], 30.0, "ulimit -s {kib}");
        let script = format!(
            "ulimit -s {kib}; PREFLIGHT_HOME='{}' exec \"$PREFLIGHT\" run --no-collect --facts-stream stream.ndjson",
            dir.path().join("home").display(),
        );
        let (code, stdout, stderr) = shell(&script, dir.path());
        assert_eq!(code, 0, "ulimit -s {kib}, stream: {stderr}");
        assert_eq!(report(stdout.trim())["risk_score"], 30.0, "{stdout}");
    }
}

/// So few open files (`ulimit -n 8`) that the async runtime cannot start: once exit 2 with a
/// message and no report; now the `NO_GO` report a failed run owes, `host.resources`, naming
/// the limit to raise, for `run` and for `canary`.
#[test]
fn too_few_open_files_to_start_is_a_no_go_report() {
    let dir = tempfile::tempdir().unwrap();
    let seed = repo().join("examples/seed/facts.json");
    let run = format!(
        "run --no-collect --facts '{}' --format json",
        seed.display()
    );
    let canary = canary_args("analyze").join(" ");
    for command in [run, canary] {
        let script = format!("ulimit -n 8; exec \"$PREFLIGHT\" {command}");
        let (code, stdout, stderr) = shell(&script, dir.path());
        assert_eq!(code, 2, "{command}: {stderr}");
        let written = report(&stdout);
        assert_eq!(written["decision"], "NO_GO", "{command}");
        let issue = &written["blocking_issues"][0];
        assert_eq!(issue["id"], "host.resources", "{command}: {issue}");
        let message = issue["message"].as_str().unwrap();
        assert!(message.contains("`ulimit -n`"), "{message}");
        assert!(stderr.contains("`ulimit -n`"), "{stderr}");
    }
}

/// A single run stopped while it fetched a module (here from a server that accepts and never
/// answers) once ended with no report at all. Ctrl-C or SIGTERM now ends the wait, and the run
/// writes the `NO_GO` report, `run.interrupted`, to stdout and to every file asked for; exit 2.
#[test]
fn an_interrupted_run_writes_its_no_go_report() {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted, connections) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(16).flatten() {
            held.push(stream);
            let _ = accepted.send(());
        }
    });
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("preflight.toml"),
            format!(
                "complexity = \"low\"\n[scores]\nreadiness = 9\nmvp = 9\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n[[policy]]\nsource = \"http://127.0.0.1:{port}/slow.wasm\"\nsha256 = \"{}\"\n",
                "0".repeat(64)
            ),
        )
        .unwrap();
        let mut child = preflight()
            .current_dir(dir.path())
            .env("PREFLIGHT_HOME", dir.path().join("home"))
            .args(["run", "--format", "json", "--format", "json=report.json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        connections
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the run connects to fetch the module");
        crate::support::send_signal(child.id(), signal);
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "SIG{signal}: the run did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let (mut stdout, mut stderr) = (String::new(), String::new());
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(2), "SIG{signal}: {stderr}");
        for written in [
            report(&stdout),
            report(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()),
        ] {
            assert_eq!(written["decision"], "NO_GO", "SIG{signal}");
            assert_eq!(
                written["blocking_issues"][0]["id"], "run.interrupted",
                "SIG{signal}: {written}"
            );
        }
        assert!(stderr.contains("interrupted"), "{stderr}");
    }
}
