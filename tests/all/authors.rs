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
