//! Sandboxed evaluation of the built-in policies against a peer in the same run.
//!
//! - `gate/fresh_sandbox`: `preflight-gate` on the seed facts: new Store + instance, input in,
//!   output parsed and schema-checked (what every `preflight run` does per policy).
//! - `gate/fresh_sandbox_pooled`: the same with `Runtime::pooled`, the sandbox allocator of
//!   `--facts-stream` and `preflight test` (memory slots reused, wiped between evaluations).
//! - `gate/regorus`: regorus evaluating the equivalent Rego (`bench/gate.rego`) on the same input,
//!   with the policy already parsed.
//! - `compile/*`: compiling a module, and loading it from the compiled cache.
//! - `judge/*`: `canary-judge` on 3 metrics × N samples per side, as wasm (both allocators) and
//!   natively.
//! - `scale/findings/*`: the gate's fresh-sandbox evaluation as the fact set grows (N security
//!   findings), host-side input serialization included.

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use preflight_engine::builtin;
use preflight_engine::sandbox::{Limits, Runtime, cache::Cache};
use serde_json::{Value, json};

fn seed_input() -> Vec<u8> {
    let facts: Value = serde_json::from_str(preflight_bench::SEED_FACTS).unwrap_or(Value::Null);
    serde_json::to_vec(&json!({ "facts": facts, "settings": { "mode": "B" } })).unwrap_or_default()
}

fn gate(c: &mut Criterion) {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let gate = builtin::find("preflight-gate").expect("built-in gate");
    let policy = runtime.load("builtin:preflight-gate", gate.wasm).expect("load");
    let input = seed_input();
    let mut group = c.benchmark_group("gate");
    group.bench_function("fresh_sandbox", |b| {
        b.iter(|| {
            let evaluation = runtime.evaluate(&policy, &input).expect("evaluation");
            assert_eq!(evaluation.output.details["risk_score"], 30.0);
        })
    });
    let pooled = Runtime::pooled(Limits::default()).expect("runtime");
    let pooled_policy = pooled.load("builtin:preflight-gate", gate.wasm).expect("load");
    group.bench_function("fresh_sandbox_pooled", |b| {
        b.iter(|| {
            let evaluation = pooled.evaluate(&pooled_policy, &input).expect("evaluation");
            assert_eq!(evaluation.output.details["risk_score"], 30.0);
        })
    });
    let mut engine = regorus::Engine::new();
    engine.add_policy("gate.rego".into(), preflight_bench::GATE_REGO.into()).expect("rego");
    let rego_input = regorus::Value::from_json_str(std::str::from_utf8(&input).expect("utf-8")).expect("input");
    group.bench_function("regorus", |b| {
        b.iter(|| {
            engine.set_input(rego_input.clone());
            let result = engine.eval_rule("data.preflight.gate.result".into()).expect("eval");
            assert_eq!(result["details"]["risk_score"], regorus::Value::from(30.0));
        })
    });
    group.finish();
}

fn compile(c: &mut Criterion) {
    let gate = builtin::find("preflight-gate").expect("built-in gate");
    let dir = std::env::temp_dir().join(format!("preflight-bench-{}", std::process::id()));
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    // A runtime remembers the modules it loaded, so each iteration gets a new one (its
    // creation is not timed).
    let fresh = || Runtime::new(Limits::default()).expect("runtime");
    group.bench_function("preflight-gate/no_cache", |b| {
        b.iter_batched(fresh, |runtime| runtime.load("gate", gate.wasm).expect("load"), BatchSize::PerIteration)
    });
    let cached = || fresh().with_cache(Some(Cache::new(dir.clone())));
    cached().load("gate", gate.wasm).expect("warm the cache");
    group.bench_function("preflight-gate/warm_cache", |b| {
        b.iter_batched(cached, |runtime| runtime.load("gate", gate.wasm).expect("load"), BatchSize::PerIteration)
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

fn canary_input(samples: usize) -> (Value, preflight_sdk::PolicyInput) {
    let series = |offset: f64| -> Vec<f64> {
        (0..samples).map(|i| 0.2 + offset + ((i * 7919) % 1000) as f64 / 100_000.0).collect()
    };
    let metric = |name: &str| {
        json!({
            "name": name, "kind": "compare", "direction": "increase",
            "baseline": { "query": "q", "values": series(0.0) },
            "canary": { "query": "q", "values": series(0.001) },
        })
    };
    let facts = json!({ "canary": {
        "baseline": "b", "canary": "c", "start": 0.0, "end": 1.0, "step": 1.0,
        "metrics": [metric("a"), metric("b"), metric("c")],
    }});
    let native = preflight_sdk::PolicyInput {
        facts: serde_json::from_value(facts.clone()).expect("facts"),
        settings: json!({}),
    };
    (json!({ "facts": facts, "settings": {} }), native)
}

fn judge(c: &mut Criterion) {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let judge = builtin::find("canary-judge").expect("built-in judge");
    let policy = runtime.load("builtin:canary-judge", judge.wasm).expect("load");
    let pooled = Runtime::pooled(Limits::default()).expect("runtime");
    let pooled_policy = pooled.load("builtin:canary-judge", judge.wasm).expect("load");
    let mut group = c.benchmark_group("judge");
    group.sample_size(10);
    for samples in [100usize, 1_000, 10_000] {
        let (input, native) = canary_input(samples);
        let bytes = serde_json::to_vec(&input).expect("input");
        group.bench_with_input(BenchmarkId::new("wasm", samples), &bytes, |b, bytes| {
            b.iter(|| runtime.evaluate(&policy, bytes).expect("evaluation"))
        });
        group.bench_with_input(BenchmarkId::new("wasm_pooled", samples), &bytes, |b, bytes| {
            b.iter(|| pooled.evaluate(&pooled_policy, bytes).expect("evaluation"))
        });
        group.bench_with_input(BenchmarkId::new("native", samples), &bytes, |b, bytes| {
            // Same work as the guest: parse the input, judge, serialise the output.
            let _ = &native;
            b.iter(|| preflight_sdk::guest::evaluate_bytes(bytes, canary_judge::evaluate))
        });
    }
    group.finish();
}

fn scale(c: &mut Criterion) {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let gate = builtin::find("preflight-gate").expect("built-in gate");
    let policy = runtime.load("builtin:preflight-gate", gate.wasm).expect("load");
    let mut group = c.benchmark_group("scale");
    for findings in [10usize, 100, 1_000] {
        let mut facts: Value = serde_json::from_str(preflight_bench::SEED_FACTS).unwrap_or(Value::Null);
        facts["security"]["findings"] = (0..findings)
            .map(|i| {
                json!({
                    "tool": "ruff", "category": "lint", "severity": "low", "rule": format!("E{}", 100 + i % 50),
                    "message": "line too long (101 > 100)",
                    "location": { "path": format!("src/module_{}.py", i % 40), "line": i + 1 },
                })
            })
            .collect();
        facts["security"]["counts"] = json!({ "lint": { "low": findings } });
        group.bench_with_input(BenchmarkId::new("findings", findings), &facts, |b, facts| {
            b.iter(|| {
                let input = serde_json::to_vec(&json!({ "facts": facts, "settings": {} })).expect("input");
                let evaluation = runtime.evaluate(&policy, &input).expect("evaluation");
                assert_eq!(evaluation.output.decision, preflight_sdk::Decision::Go);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, gate, compile, judge, scale);
criterion_main!(benches);
