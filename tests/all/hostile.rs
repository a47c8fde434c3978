//! Hostile and broken modules, written in WAT: each must fail closed with its named error.

use std::time::{Duration, Instant};

use preflight::inputs::PolicySpec;
use preflight_engine::{Limits, PolicyError, PolicyResult, facts};
use preflight_sdk::Decision;
use preflight_sources::{Fetcher, PolicySource};
use serde_json::json;

use crate::support::{
    metadata, module, returning, runtime, runtimes, seed_facts, temp_file, test_limits,
};

fn input() -> Vec<u8> {
    serde_json::to_vec(&json!({"facts": seed_facts(), "settings": {}})).unwrap()
}

/// Loads and evaluates; returns the error.
/// The error a module fails with, the same under both sandbox allocators.
fn error_of(bytes: &[u8], limits: Limits) -> PolicyError {
    let [(_, on_demand), (_, pooled)] = runtimes(limits);
    let errors = [on_demand, pooled].map(|runtime| {
        let policy = match runtime.load("test.wasm", bytes) {
            Ok(policy) => policy,
            Err(err) => return err,
        };
        match runtime.evaluate(&policy, &input()) {
            Ok(evaluation) => panic!("expected an error, got {:?}", evaluation.output),
            Err(failure) => *failure.error,
        }
    });
    let [first, second] = errors;
    assert_eq!(
        std::mem::discriminant(&first),
        std::mem::discriminant(&second),
        "on-demand: {first:?}\npooled: {second:?}"
    );
    first
}

/// Runs the module the way `preflight run --policy` does and returns its result.
fn result_of(bytes: &[u8]) -> PolicyResult {
    let runtime = runtime(test_limits());
    let (_dir, path) = temp_file("hostile.wasm", bytes);
    let facts = facts::from_value(seed_facts()).unwrap();
    let spec = PolicySpec::new(PolicySource::File(path));
    let fetcher = Fetcher::new().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (entry, _) = rt.block_on(preflight::load::entry(&runtime, &fetcher, &spec));
    runtime.evaluate_entry(&entry, &facts).0
}

/// Asserts the policy's result is NO_GO with one blocking issue `id`.
fn assert_fails_closed(bytes: &[u8], id: &str) {
    let result = result_of(bytes);
    assert_eq!(result.decision, Decision::NoGo);
    assert_eq!(
        result.blocking_issues.len(),
        1,
        "{:?}",
        result.blocking_issues
    );
    assert_eq!(result.blocking_issues[0].id, id);
    assert!(result.error.is_some());
}

const LOOP: &str = r#"(func (export "preflight_evaluate") (param i32 i32) (result i64)
    (loop $l (br $l)) (i64.const 0))"#;

/// The error of a module that never finishes, under a 100 ms deadline and unbounded fuel, in
/// both engines (`error_of`): a deadline, reached within a second for the two.
fn stopped_at_the_deadline(name: &str, body: &str) -> PolicyError {
    let bytes = module(body, Some(&metadata(name)));
    let limits = Limits {
        timeout: Duration::from_millis(100),
        fuel: u64::MAX,
        ..Limits::default()
    };
    let started = Instant::now();
    let err = error_of(&bytes, limits);
    let elapsed = started.elapsed();
    assert!(
        matches!(err, PolicyError::Deadline { .. }),
        "{name}: {err:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1000),
        "{name}: stopped after {elapsed:?}"
    );
    err
}

#[test]
fn infinite_loop_stops_at_the_deadline() {
    let err = stopped_at_the_deadline("loop", LOOP);
    assert!(err.to_string().contains("deadline of 100 ms"), "{err}");
}

/// The deadline is read where the guest yields, every slice of fuel, so it also stops a guest
/// that never returns from its start function (run while instantiating), whose loop makes no
/// call, or that spins in a deep recursion that never overflows (calls, no loop).
#[test]
fn the_deadline_stops_a_start_function_a_callless_loop_and_endless_calls() {
    let bodies = [
        (
            "start",
            r#"(func $spin (loop $l (br $l))) (start $spin)
               (func (export "preflight_evaluate") (param i32 i32) (result i64) (i64.const 0))"#,
        ),
        (
            "arith",
            r#"(func (export "preflight_evaluate") (param i32 i32) (result i64) (local i64)
                 (loop $l (local.set 2 (i64.add (local.get 2) (i64.const 3))) (br $l))
                 (local.get 2))"#,
        ),
        (
            "calls",
            r#"(func $f (param i32) (result i32)
                 (if (result i32) (i32.eqz (local.get 0))
                   (then (i32.const 0))
                   (else (call $f (i32.sub (local.get 0) (i32.const 1))))))
               (func (export "preflight_evaluate") (param i32 i32) (result i64)
                 (loop $l (drop (call $f (i32.const 1000))) (br $l)) (i64.const 0))"#,
        ),
    ];
    for (name, body) in bodies {
        stopped_at_the_deadline(name, body);
    }
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let bytes = module(LOOP, Some(&metadata("loop")));
    let limits = Limits {
        fuel: 1_000_000,
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let started = Instant::now();
    let err = error_of(&bytes, limits);
    assert!(
        matches!(
            err,
            PolicyError::OutOfFuel {
                fuel: 1_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn infinite_loop_fails_closed_with_default_bound() {
    let bytes = module(LOOP, Some(&metadata("loop")));
    let started = Instant::now();
    let result = result_of(&bytes);
    assert_eq!(result.decision, Decision::NoGo);
    let id = result.blocking_issues[0].id.as_str();
    assert!(
        id == "policy.deadline" || id == "policy.out_of_fuel",
        "{id}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn runaway_recursion_is_a_stack_overflow() {
    let body = r#"(func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))
        (func (export "preflight_evaluate") (param i32 i32) (result i64)
          (drop (call $down (i32.const 0))) (i64.const 0))"#;
    let bytes = module(body, Some(&metadata("recursion")));
    let err = error_of(&bytes, test_limits());
    assert!(matches!(err, PolicyError::StackOverflow { .. }), "{err:?}");
    assert_fails_closed(&bytes, "policy.stack_overflow");
}

#[test]
fn memory_grow_bomb_hits_the_cap() {
    let body = r#"(func (export "preflight_evaluate") (param i32 i32) (result i64)
        (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
        (i64.const 0))"#;
    let bytes = module(body, Some(&metadata("bomb")));
    let limits = Limits {
        memory_bytes: 8 << 20,
        ..test_limits()
    };
    let err = error_of(&bytes, limits);
    match err {
        PolicyError::MemoryLimit { requested, cap, .. } => {
            assert_eq!(cap, 8 << 20);
            assert!(requested > cap);
        }
        other => panic!("{other:?}"),
    }
    assert_fails_closed(&bytes, "policy.memory_limit");
}

#[test]
fn initial_memory_over_the_cap_is_refused() {
    let text = format!(
        r#"(module (memory (export "memory") 2000)
            (func (export "preflight_alloc") (param i32) (result i32) i32.const 0)
            (func (export "preflight_evaluate") (param i32 i32) (result i64) i64.const 0)
            (@custom "preflight.policy" "{}"))"#,
        crate::support::wat_string(&metadata("big"))
    );
    let bytes = wat::parse_str(text).unwrap();
    let err = error_of(&bytes, test_limits());
    assert!(matches!(err, PolicyError::MemoryLimit { .. }), "{err:?}");
}

#[test]
fn trap_is_named() {
    let body = r#"(func (export "preflight_evaluate") (param i32 i32) (result i64) unreachable)"#;
    let bytes = module(body, Some(&metadata("trap")));
    let err = error_of(&bytes, test_limits());
    match &err {
        PolicyError::Trap { message, .. } => assert!(message.contains("unreachable"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_fails_closed(&bytes, "policy.trap");
}

#[test]
fn out_of_bounds_output_pointer() {
    let body = r#"(func (export "preflight_evaluate") (param i32 i32) (result i64)
        (i64.or (i64.shl (i64.const 0xfff00000) (i64.const 32)) (i64.const 16)))"#;
    let bytes = module(body, Some(&metadata("oob")));
    let err = error_of(&bytes, test_limits());
    assert!(
        matches!(
            err,
            PolicyError::OutputOutOfBounds {
                ptr: 0xfff0_0000,
                len: 16,
                memory_size: 65536,
                ..
            }
        ),
        "{err:?}"
    );
    assert_fails_closed(&bytes, "policy.output_out_of_bounds");
}

#[test]
fn output_straddling_the_end_of_memory() {
    let body = r#"(func (export "preflight_evaluate") (param i32 i32) (result i64)
        (i64.or (i64.shl (i64.const 65530) (i64.const 32)) (i64.const 16)))"#;
    let bytes = module(body, Some(&metadata("straddle")));
    assert!(matches!(
        error_of(&bytes, test_limits()),
        PolicyError::OutputOutOfBounds { .. }
    ));
}

#[test]
fn huge_output_is_refused() {
    let body = r#"(func (export "preflight_evaluate") (param i32 i32) (result i64)
        (drop (memory.grow (i32.const 40)))
        (i64.or (i64.shl (i64.const 0) (i64.const 32)) (i64.const 2000000)))"#;
    let bytes = module(body, Some(&metadata("huge")));
    let err = error_of(&bytes, test_limits());
    assert!(
        matches!(
            err,
            PolicyError::OutputTooLarge {
                len: 2_000_000,
                cap: 1_048_576,
                ..
            }
        ),
        "{err:?}"
    );
    assert_fails_closed(&bytes, "policy.output_too_large");
}

#[test]
fn invalid_utf8_output() {
    let bytes = returning("utf8", b"{\"decision\":\"GO\xff\xfe\"}");
    let err = error_of(&bytes, test_limits());
    assert!(
        matches!(err, PolicyError::OutputNotUtf8 { offset: 15, .. }),
        "{err:?}"
    );
    assert_fails_closed(&bytes, "policy.output_not_utf8");
}

#[test]
fn invalid_json_output() {
    let bytes = returning("json", b"{\"decision\": GO}");
    let err = error_of(&bytes, test_limits());
    assert!(
        matches!(err, PolicyError::OutputNotJson { line: 1, .. }),
        "{err:?}"
    );
    assert_fails_closed(&bytes, "policy.output_not_json");
}

#[test]
fn unknown_decision_breaks_the_output_schema() {
    let bytes = returning(
        "maybe",
        br#"{"decision":"MAYBE","blocking_issues":[],"warnings":[],"details":{}}"#,
    );
    let err = error_of(&bytes, test_limits());
    match &err {
        PolicyError::OutputSchema { violations, .. } => {
            assert_eq!(violations[0].pointer, "/decision", "{violations:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_fails_closed(&bytes, "policy.output_schema");
}

#[test]
fn output_with_issue_missing_a_message_breaks_the_schema() {
    let bytes = returning(
        "nomsg",
        br#"{"decision":"GO","blocking_issues":[{"id":"x"}],"warnings":[],"details":{}}"#,
    );
    let err = error_of(&bytes, test_limits());
    match &err {
        PolicyError::OutputSchema { violations, .. } => {
            assert_eq!(
                violations[0].pointer, "/blocking_issues/0",
                "{violations:?}"
            );
            assert!(violations[0].message.contains("message"), "{violations:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn go_with_blocking_issues_counts_as_no_go() {
    let bytes = returning(
        "liar",
        br#"{"decision":"GO","blocking_issues":[{"id":"x.y","message":"bad"}],"warnings":[],"details":{}}"#,
    );
    let result = result_of(&bytes);
    assert_eq!(result.decision, Decision::NoGo);
    assert!(result.error.is_none());
}

#[test]
fn well_behaved_wat_policy_goes() {
    let bytes = returning(
        "fine",
        br#"{"decision":"GO","blocking_issues":[],"warnings":[],"details":{"n":1}}"#,
    );
    let result = result_of(&bytes);
    assert_eq!(result.decision, Decision::Go, "{result:?}");
    assert_eq!(result.details, json!({"n": 1}));
}

#[test]
fn missing_export_is_named() {
    let bytes = module("", Some(&metadata("noeval")));
    let err = error_of(&bytes, test_limits());
    assert!(
        matches!(
            err,
            PolicyError::MissingExport {
                name: "preflight_evaluate",
                ..
            }
        ),
        "{err:?}"
    );
    assert_fails_closed(&bytes, "policy.missing_export");
}

#[test]
fn export_with_wrong_type_is_named() {
    let body = r#"(func (export "preflight_evaluate") (param i32 i32) (result i32) i32.const 0)"#;
    let bytes = module(body, Some(&metadata("badtype")));
    let err = error_of(&bytes, test_limits());
    assert!(
        matches!(
            err,
            PolicyError::BadExport {
                name: "preflight_evaluate",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("func (i32, i32) -> (i32)"),
        "{err}"
    );
}

#[test]
fn forbidden_import_is_named() {
    let body = r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (func (export "preflight_evaluate") (param i32 i32) (result i64) i64.const 0)"#;
    let bytes = module(body, Some(&metadata("wasi")));
    let err = error_of(&bytes, test_limits());
    match &err {
        PolicyError::ForbiddenImport { module, name, .. } => {
            assert_eq!(
                (module.as_str(), name.as_str()),
                ("wasi_snapshot_preview1", "fd_write")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("`wasi_snapshot_preview1.fd_write`")
    );
    assert_fails_closed(&bytes, "policy.forbidden_import");
}

/// Issue #11.16: the right import with the wrong type is named as such, not as a forbidden
/// import; it still fails closed.
#[test]
fn log_import_with_wrong_signature_is_a_bad_import() {
    let body = r#"(import "preflight" "log" (func (param i32)))
        (func (export "preflight_evaluate") (param i32 i32) (result i64) i64.const 0)"#;
    let bytes = module(body, Some(&metadata("badlog")));
    let err = error_of(&bytes, test_limits());
    assert!(matches!(err, PolicyError::BadImport { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("imports `preflight.log` as func (i32) -> (); expected func (i32, i32, i32)"),
        "{err}"
    );
    assert_fails_closed(&bytes, "policy.bad_import");
}

#[test]
fn missing_metadata_is_refused() {
    let bytes = module(LOOP, None);
    let err = error_of(&bytes, test_limits());
    assert!(
        matches!(err, PolicyError::MissingMetadata { .. }),
        "{err:?}"
    );
    assert_fails_closed(&bytes, "policy.missing_metadata");
}

#[test]
fn other_abi_is_refused() {
    let meta = r#"{"name":"future","version":"1.0.0","abi":2,"description":""}"#;
    let err = error_of(&module(LOOP, Some(meta)), test_limits());
    assert!(
        matches!(
            err,
            PolicyError::UnsupportedAbi {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn bad_metadata_is_refused() {
    for meta in [
        "not json",
        r#"{"name":"x","abi":1}"#,
        r#"{"name":"x","version":"one","abi":1,"description":""}"#,
        r#"{"name":"Bad Name","version":"1.0.0","abi":1,"description":""}"#,
        r#"{"name":"x","version":"1.0.0","abi":1,"description":"","extra":true}"#,
    ] {
        let err = error_of(&module(LOOP, Some(meta)), test_limits());
        assert!(
            matches!(err, PolicyError::BadMetadata { .. }),
            "{meta}: {err:?}"
        );
    }
}

#[test]
fn newer_host_required_is_refused() {
    let meta =
        r#"{"name":"x","version":"1.0.0","abi":1,"description":"","min_host_version":"99.0.0"}"#;
    let err = error_of(&module(LOOP, Some(meta)), test_limits());
    assert!(matches!(err, PolicyError::HostTooOld { .. }), "{err:?}");
}

#[test]
fn not_wasm_at_all() {
    let err = error_of(b"\x7fELF not a module", test_limits());
    assert!(matches!(err, PolicyError::InvalidModule { .. }), "{err:?}");
}

#[test]
fn log_with_out_of_bounds_pointer_is_an_abi_violation() {
    let body = r#"(import "preflight" "log" (func $log (param i32 i32 i32)))
        (func (export "preflight_evaluate") (param i32 i32) (result i64)
          (call $log (i32.const 2) (i32.const 65530) (i32.const 100)) (i64.const 0))"#;
    let bytes = module(body, Some(&metadata("badlogcall")));
    let err = error_of(&bytes, test_limits());
    assert!(matches!(err, PolicyError::AbiViolation { .. }), "{err:?}");
}

#[test]
fn alloc_returning_out_of_bounds_is_an_abi_violation() {
    let text = format!(
        r#"(module (memory (export "memory") 1)
            (func (export "preflight_alloc") (param i32) (result i32) i32.const 65500)
            (func (export "preflight_evaluate") (param i32 i32) (result i64) i64.const 0)
            (@custom "preflight.policy" "{}"))"#,
        crate::support::wat_string(&metadata("badalloc"))
    );
    let err = error_of(&wat::parse_str(text).unwrap(), test_limits());
    assert!(matches!(err, PolicyError::AbiViolation { .. }), "{err:?}");
}

#[test]
fn logs_reach_the_host_and_are_capped() {
    let message = "x".repeat(1000);
    let body = format!(
        r#"(import "preflight" "log" (func $log (param i32 i32 i32)))
        (data (i32.const 1024) "{message}")
        (data (i32.const 3000) "{{\"decision\":\"GO\"}}")
        (func (export "preflight_evaluate") (param i32 i32) (result i64)
          (local $i i32)
          (loop $l
            (call $log (i32.const 1) (i32.const 1024) (i32.const 1000))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 200))))
          (i64.or (i64.shl (i64.const 3000) (i64.const 32)) (i64.const 17)))"#
    );
    let bytes = module(&body, Some(&metadata("chatty")));
    // Room for exactly ten lines, each counted with its overhead.
    let runtime = runtime(Limits {
        log_bytes: 10 * (1000 + preflight_engine::sandbox::LOG_LINE_OVERHEAD),
        ..test_limits()
    });
    let policy = runtime.load("chatty.wasm", &bytes).unwrap();
    let evaluation = runtime.evaluate(&policy, &input()).unwrap();
    assert_eq!(evaluation.logs.len(), 10);
    assert_eq!(evaluation.logs_dropped, 190);
    assert_eq!(evaluation.logs[0].level, "warn");
    assert_eq!(evaluation.logs[0].message, message);
}

#[test]
fn no_state_leaks_between_evaluations() {
    // A global counter that a reused instance would carry from one call to the next.
    let body = r#"(global $calls (mut i32) (i32.const 0))
        (data (i32.const 1024) "{\"decision\":\"GO\",\"details\":{\"calls\":0}}")
        (func (export "preflight_evaluate") (param i32 i32) (result i64)
          (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
          (i32.store8 (i32.const 1060) (i32.add (i32.const 48) (global.get $calls)))
          (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 39)))"#;
    let bytes = module(body, Some(&metadata("counter")));
    for (allocator, runtime) in runtimes(test_limits()) {
        let policy = runtime.load("counter.wasm", &bytes).unwrap();
        for _ in 0..3 {
            let evaluation = runtime.evaluate(&policy, &input()).unwrap();
            assert_eq!(
                evaluation.output.details,
                json!({"calls": 1}),
                "{allocator}"
            );
        }
    }
}

#[test]
fn memory_written_by_one_evaluation_is_zero_in_the_next() {
    // Grows memory, reads three bytes (in the initial page, in grown memory that stays mapped
    // between evaluations, and further out), then writes 1 to each. A reused sandbox that was not
    // wiped would report a non-zero sum. More evaluations than the pool has slots, so slots are
    // reused.
    let body = r#"(data (i32.const 1024) "{\"decision\":\"GO\",\"details\":{\"seen\":0}}")
        (func (export "preflight_evaluate") (param i32 i32) (result i64)
          (local $sum i32)
          (drop (memory.grow (i32.const 19)))
          (local.set $sum (i32.add (i32.add
            (i32.load8_u (i32.const 0x8000))
            (i32.load8_u (i32.const 0x30000)))
            (i32.load8_u (i32.const 0x110000))))
          (i32.store8 (i32.const 0x8000) (i32.const 1))
          (i32.store8 (i32.const 0x30000) (i32.const 1))
          (i32.store8 (i32.const 0x110000) (i32.const 1))
          (i32.store8 (i32.const 1059) (i32.add (i32.const 48) (local.get $sum)))
          (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 38)))"#;
    let bytes = module(body, Some(&metadata("scribbler")));
    for (allocator, runtime) in runtimes(test_limits()) {
        let policy = runtime.load("scribbler.wasm", &bytes).unwrap();
        for round in 0..150 {
            let evaluation = runtime.evaluate(&policy, &input()).unwrap();
            assert_eq!(
                evaluation.output.details,
                json!({"seen": 0}),
                "{allocator}, round {round}"
            );
        }
    }
}
