//! Policy authors: the C header and example, what a module may use, readable metadata errors.

use std::path::PathBuf;

use preflight_engine::PolicyError;

use crate::support::{binary, metadata, module, preflight, repo, run, runtime, test_limits};

/// Debian's clang, or `PREFLIGHT_REQUIRE_WASM` makes its absence a failure.
fn clang() -> Option<PathBuf> {
    let found = binary("clang-19").or_else(|| binary("clang"));
    if found.is_none() {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_WASM").is_none(),
            "PREFLIGHT_REQUIRE_WASM is set but clang-19 is not installed"
        );
        eprintln!("no clang: skipping");
    }
    found
}

/// `examples/c-policy` builds with clang and `sdk/c/preflight.h` alone and passes its cases
/// through the sandbox, its metadata and settings schema read from the custom section.
#[test]
fn the_c_example_builds_and_passes_its_cases() {
    let Some(clang) = clang() else { return };
    let work = tempfile::tempdir().unwrap();
    let wasm = work.path().join("min-readiness.wasm");
    let example = repo().join("examples/c-policy");
    let output = std::process::Command::new(example.join("build.sh"))
        .arg(&wasm)
        .env("CLANG", &clang)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let (code, stdout, stderr) = run(preflight().args(["policy", "inspect"]).arg(&wasm));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("name:    min-readiness"), "{stdout}");
    assert!(stdout.contains("settings: checked"), "{stdout}");
    assert!(stdout.contains("imports: preflight.log"), "{stdout}");

    let (code, stdout, stderr) = run(preflight()
        .current_dir(&example)
        .args(["test", "-v", "--policy"])
        .arg(&wasm)
        .arg("cases"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("5 passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("[info] readiness below the minimum"),
        "{stdout}"
    );

    // And as one policy of a real run on the seed's facts: readiness 7.0 is above 6.0.
    let (code, stdout, stderr) = run(preflight()
        .current_dir(repo())
        .args([
            "run",
            "--no-collect",
            "--facts",
            "examples/seed/facts.json",
            "--policy",
        ])
        .arg(&wasm));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "GO");
    let names: Vec<&str> = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"min-readiness"), "{names:?}");
}

/// The recipe `docs/abi.md` used to give: a section attribute makes a data segment, which the
/// host does not read; the error says so instead of only "no metadata", and `policy inspect`
/// exits 2.
#[test]
fn metadata_in_a_data_segment_is_named_as_such() {
    // Without clang: a data segment holding the JSON.
    let json = metadata("in-data");
    let body = format!(
        r#"(data (i32.const 2048) "{}")
           (func (export "preflight_evaluate") (param i32 i32) (result i64) i64.const 0)"#,
        crate::support::wat_string(&json)
    );
    let bytes = module(&body, None);
    let err = runtime(test_limits())
        .load("in-data.wasm", &bytes)
        .unwrap_err();
    assert!(
        matches!(
            err,
            PolicyError::MissingMetadata {
                in_data_segment: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("PREFLIGHT_POLICY"), "{err}");
    // A module with neither: the plain message.
    let bare = module(
        r#"(func (export "preflight_evaluate") (param i32 i32) (result i64) i64.const 0)"#,
        None,
    );
    let err = runtime(test_limits()).load("bare.wasm", &bare).unwrap_err();
    assert!(!err.to_string().contains("data segment"), "{err}");

    // With clang: the old recipe, through `policy inspect`.
    let Some(clang) = clang() else { return };
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("old.c");
    std::fs::write(
        &source,
        r#"__attribute__((section("preflight.policy"), used)) static const char meta[44] =
    "{\"name\":\"old\",\"version\":\"1.0.0\",\"abi\":1}";
__attribute__((export_name("preflight_alloc"))) int preflight_alloc(int n) { return 4096 + n * 0; }
__attribute__((export_name("preflight_evaluate"))) long long preflight_evaluate(int p, int n) {
    return (long long)p + n;
}
"#,
    )
    .unwrap();
    let wasm = work.path().join("old.wasm");
    let output = std::process::Command::new(clang)
        .args([
            "--target=wasm32-unknown-unknown",
            "-O2",
            "-nostdlib",
            "-Wl,--no-entry",
            "-o",
        ])
        .arg(&wasm)
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (code, stdout, stderr) = run(preflight().args(["policy", "inspect"]).arg(&wasm));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("metadata: INVALID"), "{stdout}");
    assert!(stdout.contains("exports: memory"), "{stdout}");
    assert!(
        stderr.contains("a data segment holds it instead"),
        "{stderr}"
    );
}

/// One WAT function per post-MVP feature, loaded as a policy: what `docs/abi.md` says is
/// accepted loads, what it says is refused does not.
#[test]
fn the_documented_wasm_features_are_the_accepted_ones() {
    let features: &[(&str, &str)] = &[
        (
            "sign-extension",
            "(func (param i32) (result i32) local.get 0 i32.extend8_s)",
        ),
        (
            "multi-value",
            "(func (result i32 i32) i32.const 1 i32.const 2)",
        ),
        (
            "reference-types",
            "(table 2 funcref) (func (result funcref) ref.null func)",
        ),
        ("externref", "(func (result externref) ref.null extern)"),
        (
            "bulk-memory",
            "(func (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy)",
        ),
        (
            "mutable-globals",
            r#"(global (export "counter") (mut i32) (i32.const 0))"#,
        ),
        (
            "non-trapping float-to-int",
            "(func (param f32) (result i32) local.get 0 i32.trunc_sat_f32_s)",
        ),
        ("simd", "(func (result v128) v128.const i64x2 0 0)"),
        (
            "relaxed-simd",
            "(func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)",
        ),
        (
            "tail-call",
            "(func $t (result i32) return_call $u) (func $u (result i32) i32.const 0)",
        ),
        (
            "extended-const",
            "(global i32 (i32.add (i32.const 1) (i32.const 2)))",
        ),
        ("multi-memory", "(memory 1)"),
        (
            "threads",
            "(func (param i32) (result i32) local.get 0 i32.atomic.load)",
        ),
        ("exception-handling", "(tag $e) (func throw $e)"),
        (
            "function-references",
            "(type $f (func)) (func (param (ref $f)))",
        ),
        ("gc", "(type (struct (field i32)))"),
    ];
    let doc = std::fs::read_to_string(repo().join("docs/abi.md")).unwrap();
    let runtime = runtime(test_limits());
    let mut wrong = Vec::new();
    for (feature, wat) in features {
        let row = doc
            .lines()
            .find(|line| line.starts_with(&format!("| {feature} |")))
            .unwrap_or_else(|| panic!("docs/abi.md has no row for `{feature}`"));
        let documented = row.contains("| accepted |");
        let body = format!(
            r#"{wat}
               (func (export "preflight_evaluate") (param i32 i32) (result i64) i64.const 0)"#
        );
        let bytes = module(&body, Some(&metadata("feature")));
        let loaded = runtime.load("feature.wasm", &bytes);
        if loaded.is_ok() != documented {
            wrong.push(format!(
                "{feature}: docs/abi.md says {row}, the host says {:?}",
                loaded.err().map(|err| err.to_string())
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let rows = doc
        .lines()
        .filter(|line| line.ends_with("| accepted |") || line.ends_with("| refused |"))
        .count();
    assert_eq!(rows, features.len(), "every documented feature is tested");
}

/// A case folder with a passing case, a case reading its facts from a file in the same folder,
/// a case whose expectation is wrong, and a file that is not a case.
fn case_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let facts = r#"{"scores": {"readiness": 7.0, "mvp": 7.0}, "security": {"gate": "PASS"}, "complexity": "medium"}"#;
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("seed-facts.json", facts);
    write(
        "a-good.json",
        &format!(
            r#"{{"name": "seed is GO", "facts": {facts}, "settings": {{"mode": "B"}}, "expect": {{"decision": "GO", "details": {{"risk_score": 30.0}}}}}}"#
        ),
    );
    write(
        "b-by-file.yaml",
        "name: seed from a facts file\nfacts_file: seed-facts.json\nexpect:\n  decision: GO\n",
    );
    write(
        "c-wrong.yaml",
        "# an outdated expectation\nname: seed expected blocked\nfacts_file: seed-facts.json\nsettings: {mode: B}\nexpect:\n  decision: NO_GO\n  blocking_issues: [risk.above_canary]\n  details: {risk_score: 70.0, band: NO_GO}\n",
    );
    write("d-broken.json", "{ \"name\": \"cut short\", ");
    dir
}

/// `-v` shows every case's output; a failure shows what was expected against what came back;
/// one broken case file is one failed case and the rest run; a case's facts file is not a case.
#[test]
fn test_shows_outputs_diffs_and_keeps_going_past_a_bad_case_file() {
    let dir = case_folder();
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).args([
        "test",
        "-v",
        "--policy",
        "builtin:preflight-gate",
        ".",
    ]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        !stdout.contains("seed-facts.json:"),
        "a facts file ran as a case:\n{stdout}"
    );
    assert!(stdout.contains("seed is GO ... PASS"), "{stdout}");
    assert!(
        stdout.contains("seed from a facts file ... PASS"),
        "{stdout}"
    );
    assert!(
        stdout.contains("seed expected blocked ... FAIL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("d-broken.json: d-broken ... ERROR"),
        "{stdout}"
    );
    assert!(stdout.contains("2 passed, 2 failed"), "{stdout}");
    // The diff: field by field, expected then actual.
    for line in [
        "-decision: \"NO_GO\"",
        "+decision: \"GO\"",
        "-blocking_issues: [\"risk.above_canary\"]",
        "+blocking_issues: []",
        "-details.risk_score: 70.0",
        "+details.risk_score: 30.0",
        "-details.band: \"NO_GO\"",
        "+details.band: \"GO\"",
    ] {
        assert!(stdout.contains(line), "missing `{line}`:\n{stdout}");
    }
    // -v: a passing case's output and logs, and fuel per case.
    assert!(stdout.contains("    decision: GO"), "{stdout}");
    assert!(stdout.contains("    details: {"), "{stdout}");
    assert!(
        stdout.contains("[debug] mode B weighted 7.5000"),
        "{stdout}"
    );
    assert!(stdout.contains(", fuel "), "{stdout}");

    // JUnit: the broken file is an error, the wrong one a failure with the diff, fuel per case.
    let (code, stdout, _) = run(preflight().current_dir(dir.path()).args([
        "test",
        "--policy",
        "builtin:preflight-gate",
        "--format",
        "junit",
        ".",
    ]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains(r#"tests="4" failures="1" errors="1""#),
        "{stdout}"
    );
    assert!(stdout.contains("+details.risk_score: 30.0"), "{stdout}");
    assert!(stdout.contains("<system-out>fuel_used: "), "{stdout}");
}

#[test]
fn run_filter_that_selects_nothing_is_an_error() {
    let dir = case_folder();
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).args([
        "test",
        "--policy",
        "builtin:preflight-gate",
        "--run",
        "no such case",
        ".",
    ]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("selects none of the 4 cases"), "{stderr}");
    let (code, stdout, _) = run(preflight().current_dir(dir.path()).args([
        "test",
        "--policy",
        "builtin:preflight-gate",
        "--run",
        "facts file",
        ".",
    ]));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

/// `--update` rewrites the failing case's expectation (keeping its facts, settings and the
/// details keys it compared) so it passes; the unloadable file stays failing. `--record`
/// writes a new case from a fact set, which then passes, and never overwrites one.
#[test]
fn update_and_record_turn_outputs_into_expectations() {
    let dir = case_folder();
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).args([
        "test",
        "--update",
        "--policy",
        "builtin:preflight-gate",
        ".",
    ]));
    assert_eq!(code, 1, "the broken file cannot be updated: {stderr}");
    assert!(stderr.contains("updated ./c-wrong.yaml"), "{stderr}");
    let rewritten: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(dir.path().join("c-wrong.yaml")).unwrap())
            .unwrap();
    assert_eq!(rewritten["facts_file"], "seed-facts.json");
    assert_eq!(rewritten["settings"]["mode"], "B");
    assert_eq!(rewritten["expect"]["decision"], "GO");
    assert_eq!(
        rewritten["expect"]["blocking_issues"],
        serde_json::json!([])
    );
    assert_eq!(
        rewritten["expect"]["details"],
        serde_json::json!({"risk_score": 30.0, "band": "GO"})
    );
    std::fs::remove_file(dir.path().join("d-broken.json")).unwrap();
    let (code, stdout, _) = run(preflight().current_dir(dir.path()).args([
        "test",
        "--policy",
        "builtin:preflight-gate",
        ".",
    ]));
    assert_eq!(code, 0, "{stdout}");

    // Record a blocked release from a fact set.
    let facts = dir.path().join("blocked.json");
    std::fs::write(
        &facts,
        r#"{"scores": {"readiness": 2.0, "mvp": 3.0}, "security": {"gate": "FAIL"}, "complexity": "high"}"#,
    )
    .unwrap();
    let record = |dir: &std::path::Path| {
        run(preflight().current_dir(dir).args([
            "test",
            "--policy",
            "builtin:preflight-gate",
            "--record",
            "Failed security gate blocks",
            "--facts",
            "blocked.json",
            "recorded",
        ]))
    };
    let (code, stdout, stderr) = record(dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("recorded/failed-security-gate-blocks.json (NO_GO)"),
        "{stdout}"
    );
    let case: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("recorded/failed-security-gate-blocks.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(case["expect"]["decision"], "NO_GO");
    let blocking = case["expect"]["blocking_issues"].as_array().unwrap();
    assert!(
        blocking.contains(&serde_json::json!("security.gate_failed")),
        "{blocking:?}"
    );
    let (code, _, stderr) = record(dir.path());
    assert_eq!(code, 2, "an existing case is never overwritten");
    assert!(stderr.contains("exists"), "{stderr}");
    let (code, stdout, _) = run(preflight().current_dir(dir.path()).args([
        "test",
        "--policy",
        "builtin:preflight-gate",
        "recorded",
    ]));
    assert_eq!(code, 0, "{stdout}");
}

/// Rule coverage of the built-in policies over their own case files, as lcov and with a
/// minimum; a policy marking a rule with `rule!` (here by hand, in WAT) counts it.
#[test]
fn coverage_reports_the_rules_the_cases_exercised() {
    let work = tempfile::tempdir().unwrap();
    let lcov = work.path().join("gate.lcov");
    let (code, stdout, stderr) = run(preflight()
        .current_dir(repo())
        .args([
            "test",
            "--policy",
            "builtin:preflight-gate",
            "policies/preflight-gate/cases",
            "--coverage-file",
        ])
        .arg(&lcov));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|line| line.starts_with("rule coverage: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    // Three of the gate's rules guard what the facts schema already refuses (a score outside
    // 0..10, an unknown gate verdict or finding category): no fact set through the host
    // reaches them.
    assert!(line.starts_with("rule coverage: 25/28 rules"), "{line}");
    assert!(
        stdout.contains(
            "not exercised: facts.score_out_of_range, security.gate_unknown, security.unknown"
        ),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&lcov).unwrap();
    assert!(text.contains("FNF:28\nFNH:25\n"), "{text}");
    assert!(text.contains("FN:1,risk.above_go"), "{text}");

    let (code, _, stderr) = run(preflight().current_dir(repo()).args([
        "test",
        "--policy",
        "builtin:canary-judge",
        "policies/canary-judge/cases",
        "--min-coverage",
        "100",
    ]));
    assert_eq!(code, 0, "the judge's cases cover all its rules: {stderr}");
    let (code, _, stderr) = run(preflight().current_dir(repo()).args([
        "test",
        "--policy",
        "builtin:preflight-gate",
        "policies/preflight-gate/cases",
        "--min-coverage",
        "95",
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("below --min-coverage 95%"), "{stderr}");

    // A module that marks one of its two declared rules.
    let marker = format!("{}demo.checked", preflight_sdk::abi::RULE_PREFIX);
    let body = format!(
        r#"(import "preflight" "log" (func $log (param i32 i32 i32)))
           (data (i32.const 1024) "{marker}")
           (data (i32.const 2048) "{{\"decision\":\"GO\"}}")
           (func (export "preflight_evaluate") (param i32 i32) (result i64)
             (call $log (i32.const 3) (i32.const 1024) (i32.const {len}))
             (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.const 17)))"#,
        len = marker.len()
    );
    let bytes = module(
        &body,
        Some(r#"{"name":"marks","version":"1.0.0","abi":1,"rules":["demo.checked","demo.other"]}"#),
    );
    let wasm = work.path().join("marks.wasm");
    std::fs::write(&wasm, bytes).unwrap();
    std::fs::write(
        work.path().join("case.yaml"),
        "name: marks one rule\nfacts: {scores: {readiness: 7, mvp: 7}, security: {gate: PASS}, complexity: low}\nexpect: {decision: GO}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(preflight().current_dir(work.path()).args([
        "test",
        "-v",
        "--coverage",
        "--policy",
        "marks.wasm",
        "case.yaml",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("rule coverage: 1/2 rules (50.0%)"),
        "{stdout}"
    );
    assert!(stdout.contains("not exercised: demo.other"), "{stdout}");
    assert!(
        !stdout.contains("rule exercised:"),
        "marks are not shown as logs:\n{stdout}"
    );
}

/// `preflight eval`: one policy, one fact set, the raw output, logs, fuel and stage times;
/// exit codes as `run`'s.
#[test]
fn eval_runs_one_policy_on_one_fact_set() {
    let (code, stdout, stderr) = run(preflight().current_dir(repo()).args([
        "eval",
        "--policy",
        "builtin:preflight-gate",
        "--facts",
        "examples/seed/facts.json",
        "--settings",
        r#"{"mode": "B"}"#,
        "--stage",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["policy"]["name"], "preflight-gate");
    assert_eq!(printed["output"]["decision"], "GO");
    assert_eq!(printed["output"]["details"]["risk_score"], 30.0);
    assert!(printed["fuel_used"].as_u64().unwrap() > 0);
    assert!(printed["stages_ms"]["evaluate"].as_f64().unwrap() > 0.0);
    assert!(
        printed["logs"][0]["message"]
            .as_str()
            .unwrap()
            .contains("risk 30"),
        "{stdout}"
    );
    // A misspelt setting: exit 2, named.
    let (code, _, stderr) = run(preflight().current_dir(repo()).args([
        "eval",
        "--policy",
        "builtin:preflight-gate",
        "--facts",
        "examples/seed/facts.json",
        "--settings",
        r#"{"mdoe": "B"}"#,
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("'mdoe' was unexpected"), "{stderr}");
    // NO_GO is 1.
    let work = tempfile::tempdir().unwrap();
    let facts = work.path().join("facts.json");
    std::fs::write(
        &facts,
        r#"{"scores": {"readiness": 1, "mvp": 1}, "security": {"gate": "FAIL"}, "complexity": "high"}"#,
    )
    .unwrap();
    let (code, stdout, _) = run(preflight()
        .args(["eval", "--policy", "builtin:preflight-gate", "--facts"])
        .arg(&facts));
    assert_eq!(code, 1, "{stdout}");
}

/// Two policies with one name in a run are almost always a mistake; `run` says so.
#[test]
fn run_warns_about_two_policies_with_one_name() {
    let work = tempfile::tempdir().unwrap();
    let wasm = work.path().join("careful.wasm");
    std::fs::write(
        &wasm,
        crate::support::returning("twice", br#"{"decision":"GO"}"#),
    )
    .unwrap();
    let copy = work.path().join("careful-copy.wasm");
    std::fs::copy(&wasm, &copy).unwrap();
    let (code, _, stderr) = run(preflight()
        .current_dir(repo())
        .args([
            "run",
            "--no-collect",
            "--facts",
            "examples/seed/facts.json",
            "--policy",
        ])
        .arg(&wasm)
        .arg("--policy")
        .arg(&copy));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("two policies are named `twice`"),
        "{stderr}"
    );
}

/// `--watch` runs again when a case file changes.
#[test]
fn watch_reruns_when_a_case_changes() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("seed.yaml");
    let text = "name: seed\nfacts: {scores: {readiness: 7, mvp: 7}, security: {gate: PASS}, complexity: medium}\nexpect: {decision: GO}\n";
    std::fs::write(&case, text).unwrap();
    let mut child = preflight()
        .current_dir(dir.path())
        .args([
            "test",
            "--watch",
            "--policy",
            "builtin:preflight-gate",
            "seed.yaml",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |text: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    };
    let first = wait_for("1 passed, 0 failed");
    // A later modification time and another size, whatever the file system's resolution.
    std::thread::sleep(std::time::Duration::from_millis(50));
    std::fs::write(&case, text.replace("decision: GO", "decision: NO_GO")).unwrap();
    let second = wait_for("0 passed, 1 failed");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first, "the first run did not pass");
    assert!(second, "no second run after the case changed");
}
