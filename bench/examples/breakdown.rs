//! Where the time of one fresh-sandbox evaluation goes, stage by stage, under several engine
//! configurations. Run: `cargo run --release --example breakdown` in `bench/`;
//! `... --example breakdown -- compilers` compares Cranelift with Winch on the built-ins;
//! `... -- stages MODULE` times the stages of a judge built with the SDK's `stage-clock` feature
//! (`bench/judge-stages.sh`). For `stages`: `BREAKDOWN_AS_RUN_ONLY=1` measures only the bounds
//! the sandbox runs with; `BREAKDOWN_PERFMAP=1` (or `=jit`) writes wasmtime's perf map (or jitdump)
//! so `perf record` names the guest's functions (a module built with
//! `CARGO_PROFILE_POLICY_STRIP=none` keeps their names).

use std::time::Instant;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module,
    PoolingAllocationConfig, Store,
};

const N: u32 = 20_000;

fn median_us(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn measure(mut f: impl FnMut()) -> f64 {
    for _ in 0..2_000 {
        f();
    }
    let mut samples = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        for _ in 0..N / 20 {
            f();
        }
        samples.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(N / 20));
    }
    median_us(samples)
}

/// One module in an engine, as the host runs it: a linked `InstancePre` and fresh stores.
struct Sandbox {
    engine: Engine,
    pre: InstancePre<()>,
    fuel: Option<u64>,
}

impl Sandbox {
    fn new(config: &Config, wasm: &[u8], fuel: Option<u64>) -> Sandbox {
        let engine = Engine::new(config).expect("engine");
        let module = Module::new(&engine, wasm).expect("module");
        let mut linker: Linker<()> = Linker::new(&engine);
        linker
            .func_wrap("preflight", "log", |_: i32, _: i32, _: i32| {})
            .expect("link");
        let pre = linker.instantiate_pre(&module).expect("pre");
        Sandbox { engine, pre, fuel }
    }

    fn store(&self) -> Store<()> {
        let mut store = Store::new(&self.engine, ());
        store.set_epoch_deadline(1_000_000);
        if let Some(fuel) = self.fuel {
            store.set_fuel(fuel).expect("fuel");
        }
        store
    }

    /// Instantiates, copies `input` in and evaluates; `mark(1)` after instantiating, `mark(2)`
    /// after the exports and the first allocation, `mark(3)` after evaluating. Returns the
    /// output's (pointer, length) and the memory.
    fn evaluate(
        &self,
        store: &mut Store<()>,
        input: &[u8],
        mut mark: impl FnMut(usize),
    ) -> (usize, usize, Memory) {
        let instance = self.pre.instantiate(&mut *store).expect("instantiate");
        mark(1);
        let memory = instance.get_memory(&mut *store, "memory").expect("memory");
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut *store, "preflight_alloc")
            .expect("alloc");
        let evaluate = instance
            .get_typed_func::<(i32, i32), i64>(&mut *store, "preflight_evaluate")
            .expect("evaluate");
        let ptr = alloc.call(&mut *store, input.len() as i32).expect("alloc");
        mark(2);
        memory
            .write(&mut *store, ptr as usize, input)
            .expect("write");
        let packed = evaluate
            .call(&mut *store, (ptr, input.len() as i32))
            .expect("call") as u64;
        mark(3);
        (
            (packed >> 32) as usize,
            (packed & 0xffff_ffff) as usize,
            memory,
        )
    }
}

fn run(label: &str, config: &Config, wasm: &[u8], input: &[u8], fuel: bool) {
    let sandbox = Sandbox::new(config, wasm, fuel.then_some(2_000_000_000));
    let instantiate = measure(|| {
        let mut store = sandbox.store();
        sandbox.pre.instantiate(&mut store).expect("instantiate");
    });
    let mut output = Vec::new();
    let full = measure(|| {
        let mut store = sandbox.store();
        let (p, l, memory) = sandbox.evaluate(&mut store, input, |_| {});
        output.clear();
        output.extend_from_slice(&memory.data(&store)[p..p + l]);
    });
    println!(
        "{label:<44} instantiate {instantiate:>7.2} µs   instantiate+alloc+evaluate+copy {full:>7.2} µs"
    );
}

/// Minor page faults of this process so far (field 10 of `/proc/self/stat`), 0 where unknown.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces; count after it.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7))
        .and_then(|field| field.parse().ok())
        .unwrap_or(0)
}

/// One evaluation split into stages (time and minor page faults per evaluation, averaged over
/// many): instantiate; look up the exports and the guest's first allocation; copy the input in
/// and evaluate; drop the store (which unmaps, or resets a pooled slot).
fn stages(label: &str, config: &Config, wasm: &[u8], input: &[u8]) {
    let sandbox = Sandbox::new(config, wasm, Some(2_000_000_000));
    let mut time = [0.0f64; 4];
    let mut faults = [0u64; 4];
    let rounds = 5_000u32;
    // Two passes: reading the fault counter costs a few µs, so the timed pass does not read it.
    for counting in [false, true] {
        for round in 0..rounds + 500 {
            let mut marks = [(Instant::now(), 0u64); 5];
            let mut mark =
                |i: usize| marks[i] = (Instant::now(), if counting { minor_faults() } else { 0 });
            mark(0);
            let mut store = sandbox.store();
            sandbox.evaluate(&mut store, input, &mut mark);
            drop(store);
            mark(4);
            if round >= 500 {
                for i in 0..4 {
                    if counting {
                        faults[i] += marks[i + 1].1 - marks[i].1;
                    } else {
                        time[i] += (marks[i + 1].0 - marks[i].0).as_secs_f64() * 1e6;
                    }
                }
            }
        }
    }
    let n = f64::from(rounds);
    let f = |i: usize| faults[i] as f64 / n;
    println!(
        "{label:<34} instantiate {:.2} µs ({:.1} faults), exports + first alloc {:.2} µs ({:.1}), input + evaluate {:.2} µs ({:.1}), drop {:.2} µs ({:.1})",
        time[0] / n,
        f(0),
        time[1] / n,
        f(1),
        time[2] / n,
        f(2),
        time[3] / n,
        f(3)
    );
}

/// The judge's input: 3 metrics × 10 000 samples per side.
fn judge_input() -> Vec<u8> {
    let series = |offset: f64| -> Vec<f64> {
        (0..10_000)
            .map(|i| 0.2 + offset + ((i * 7919) % 1000) as f64 / 100_000.0)
            .collect()
    };
    let metric = |name: &str| {
        serde_json::json!({
            "name": name, "kind": "compare", "direction": "increase",
            "baseline": { "query": "q", "values": series(0.0) },
            "canary": { "query": "q", "values": series(0.001) },
        })
    };
    serde_json::to_vec(&serde_json::json!({ "facts": { "canary": {
        "baseline": "b", "canary": "c", "start": 0.0, "end": 1.0, "step": 1.0,
        "metrics": [metric("a"), metric("b"), metric("c")] } }, "settings": {} }))
    .expect("input")
}

/// `canary-judge` on 3 metrics × 10 000 samples per side, fresh instance each time, with and
/// without fuel metering.
fn judge(fuel: bool) -> f64 {
    let wasm = preflight_engine::builtin::find("canary-judge")
        .expect("judge")
        .wasm;
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .max_wasm_stack(512 << 10)
        .consume_fuel(fuel);
    let sandbox = Sandbox::new(&config, wasm, fuel.then_some(u64::MAX / 2));
    let input = judge_input();
    let mut samples = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        let mut store = sandbox.store();
        sandbox.evaluate(&mut store, &input, |_| {});
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    median_us(samples)
}

/// Cranelift (optimizing) against Winch (wasmtime's baseline compiler) on the built-ins, with the
/// sandbox's fuel and epoch settings: compile time, machine code size, and run time (the gate on
/// the seed, fresh instance each; the judge at 3 × 10 000 samples).
fn compilers(gate_input: &[u8]) {
    let judge = judge_input();
    for (label, strategy) in [
        ("cranelift", wasmtime::Strategy::Cranelift),
        ("winch", wasmtime::Strategy::Winch),
    ] {
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .max_wasm_stack(512 << 10)
            .consume_fuel(true)
            .strategy(strategy);
        let engine = match Engine::new(&config) {
            Ok(engine) => engine,
            Err(err) => {
                println!("{label}: no engine with the sandbox's settings: {err}");
                continue;
            }
        };
        for (name, input) in [
            ("preflight-gate", gate_input),
            ("canary-judge", judge.as_slice()),
        ] {
            let wasm = preflight_engine::builtin::find(name).expect("builtin").wasm;
            let mut times = Vec::new();
            let mut size = 0;
            for _ in 0..5 {
                let start = Instant::now();
                match engine.precompile_module(wasm) {
                    Ok(code) => size = code.len(),
                    Err(err) => {
                        println!("{label} {name}: does not compile: {err}");
                        break;
                    }
                }
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
            if times.len() < 5 {
                continue;
            }
            let compile = median_us(times);
            let sandbox = Sandbox::new(&config, wasm, Some(u64::MAX / 2));
            let run_time = if name == "preflight-gate" {
                format!(
                    "{:.2} µs",
                    measure(|| {
                        let mut store = sandbox.store();
                        sandbox.evaluate(&mut store, input, |_| {});
                    })
                )
            } else {
                let mut samples = Vec::new();
                for _ in 0..15 {
                    let start = Instant::now();
                    let mut store = sandbox.store();
                    sandbox.evaluate(&mut store, input, |_| {});
                    samples.push(start.elapsed().as_secs_f64() * 1e3);
                }
                format!("{:.2} ms", median_us(samples))
            };
            println!(
                "{label:<10} {name:<15} compile {compile:>8.1} ms, machine code {:>5} KB, evaluation {run_time}",
                size / 1024
            );
        }
    }
}

/// Median of each guest stage of one policy, from a module built with the SDK's `stage-clock`
/// feature (`bench/judge-stages.sh`): the guest marks 0 (start), 1 (input parsed), 2 (evaluated)
/// and 3 (output serialized) through `preflight_bench.stage`, which this harness links to a
/// clock. Beside it, the same three stages natively.
/// How an evaluation is bounded.
#[derive(Clone, Copy, PartialEq)]
enum Bounds {
    /// As the sandbox runs it: fuel, and the deadline checked at a yield every
    /// `YIELD_FUEL` fuel (async calls polled with the clock read at each yield).
    FuelYields,
    /// Fuel and an epoch deadline checked at every loop back-edge and call.
    FuelEpoch,
    /// Fuel only, no deadline at all.
    Fuel,
    /// Neither.
    Neither,
}

/// The sandbox's fuel between two deadline checks (`host/engine/src/sandbox/config.rs`).
const YIELD_FUEL: u64 = 100_000;

/// Polls a guest call to its end, reading the clock at each yield as the sandbox does.
fn poll_to_end<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        assert!(Instant::now() < deadline, "deadline");
    }
}

/// Runs of each side in [`guest_stages`].
const RUNS: usize = 31;

/// The judge's three stages natively, once.
fn native_stages(input: &[u8], native: &mut [Vec<f64>; 3]) {
    let t0 = Instant::now();
    let parsed: preflight_sdk::PolicyInput = serde_json::from_slice(input).expect("input");
    let t1 = Instant::now();
    let output = canary_judge::evaluate(parsed);
    let t2 = Instant::now();
    let bytes = serde_json::to_vec(&output).expect("output");
    let t3 = Instant::now();
    std::hint::black_box(bytes);
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    native[0].push(ms(t0, t1));
    native[1].push(ms(t1, t2));
    native[2].push(ms(t2, t3));
}

fn guest_stages(wasm_path: &str, bounds: Bounds) {
    let fuel = bounds != Bounds::Neither;
    let epoch = bounds == Bounds::FuelEpoch;
    let yields = bounds == Bounds::FuelYields;
    let wasm = std::fs::read(wasm_path).expect("a module built by bench/judge-stages.sh");
    let input = judge_input();
    let mut config = Config::new();
    config
        .epoch_interruption(epoch)
        .max_wasm_stack(512 << 10)
        .consume_fuel(fuel);
    if std::env::var_os("BREAKDOWN_PERFMAP").is_some() {
        config.profiler(
            if std::env::var_os("BREAKDOWN_PERFMAP").is_some_and(|v| v == "jit") {
                wasmtime::ProfilingStrategy::JitDump
            } else {
                wasmtime::ProfilingStrategy::PerfMap
            },
        );
    }
    let engine = Engine::new(&config).expect("engine");
    let module = Module::new(&engine, &wasm).expect("module");
    let mut linker: Linker<Vec<(i32, Instant)>> = Linker::new(&engine);
    linker
        .func_wrap("preflight", "log", |_: i32, _: i32, _: i32| {})
        .expect("link");
    linker
        .func_wrap(
            "preflight_bench",
            "stage",
            |mut caller: wasmtime::Caller<'_, Vec<(i32, Instant)>>, mark: i32| {
                caller.data_mut().push((mark, Instant::now()));
            },
        )
        .expect("link");
    let pre = linker.instantiate_pre(&module).expect("pre");
    let mut stages: [Vec<f64>; 4] = Default::default();
    let mut native: [Vec<f64>; 3] = Default::default();
    // The wasm run and the native run alternate, so a slower stretch of a shared machine falls
    // on both sides of the ratio.
    for _ in 0..RUNS {
        native_stages(&input, &mut native);
        let start = Instant::now();
        let mut store = Store::new(&engine, Vec::new());
        store.set_epoch_deadline(1_000_000);
        if fuel {
            store.set_fuel(u64::MAX / 2).expect("fuel");
        }
        if yields {
            store
                .fuel_async_yield_interval(Some(YIELD_FUEL))
                .expect("yields");
        }
        let instance = if yields {
            poll_to_end(pre.instantiate_async(&mut store))
        } else {
            pre.instantiate(&mut store)
        }
        .expect("instantiate");
        let memory = instance.get_memory(&mut store, "memory").expect("memory");
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, "preflight_alloc")
            .expect("alloc");
        let evaluate = instance
            .get_typed_func::<(i32, i32), i64>(&mut store, "preflight_evaluate")
            .expect("evaluate");
        let len = input.len() as i32;
        let ptr = if yields {
            poll_to_end(alloc.call_async(&mut store, len))
        } else {
            alloc.call(&mut store, len)
        }
        .expect("alloc");
        memory
            .write(&mut store, ptr as usize, &input)
            .expect("write");
        if yields {
            poll_to_end(evaluate.call_async(&mut store, (ptr, len)))
        } else {
            evaluate.call(&mut store, (ptr, len))
        }
        .expect("call");
        let marks = store.data();
        assert_eq!(
            marks.iter().map(|m| m.0).collect::<Vec<_>>(),
            [0, 1, 2, 3],
            "stage marks"
        );
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        stages[0].push(ms(start, marks[0].1));
        for i in 1..4 {
            stages[i].push(ms(marks[i - 1].1, marks[i].1));
        }
    }
    let wasm_stages: Vec<f64> = stages.into_iter().map(median_us).collect();
    let native: Vec<f64> = native.into_iter().map(median_us).collect();
    println!(
        "canary-judge, 3 metrics × 10 000 samples per side, {} input bytes, {} (medians of {RUNS}, alternating with the native runs, ms):",
        input.len(),
        match bounds {
            Bounds::FuelYields => "fuel, deadline checked every 100 000 fuel (as run)",
            Bounds::FuelEpoch => "fuel and an epoch deadline (before)",
            Bounds::Fuel => "fuel only, no deadline",
            Bounds::Neither => "neither fuel nor a deadline",
        }
    );
    println!("  stage                         wasm     native   ratio");
    println!("  instantiate + input in     {:>8.2}", wasm_stages[0]);
    for (i, name) in ["parse the input", "evaluate", "serialize the output"]
        .iter()
        .enumerate()
    {
        println!(
            "  {name:<26} {:>8.2} {:>10.2} {:>6.2}×",
            wasm_stages[i + 1],
            native[i],
            wasm_stages[i + 1] / native[i]
        );
    }
    let (w, n): (f64, f64) = (wasm_stages.iter().sum(), native.iter().sum());
    println!(
        "  total                      {w:>8.2} {n:>10.2} {:>6.2}×",
        w / n
    );
}

fn main() {
    if let Some(path) = std::env::args().skip_while(|arg| arg != "stages").nth(1) {
        // As the sandbox runs it, with the epoch deadline it had before, with fuel alone, bare.
        for bounds in [
            Bounds::FuelYields,
            Bounds::FuelEpoch,
            Bounds::Fuel,
            Bounds::Neither,
        ] {
            if std::env::var_os("BREAKDOWN_AS_RUN_ONLY").is_some() && bounds != Bounds::FuelYields {
                continue;
            }
            guest_stages(&path, bounds);
        }
        return;
    }
    if std::env::args().any(|arg| arg == "compilers") {
        let facts: serde_json::Value =
            serde_json::from_str(preflight_bench::SEED_FACTS).expect("seed facts");
        let input =
            serde_json::to_vec(&serde_json::json!({"facts": facts, "settings": {"mode": "B"}}))
                .expect("input");
        compilers(&input);
        return;
    }
    let native = {
        let input = judge_input();
        let mut samples = Vec::new();
        for _ in 0..15 {
            let start = Instant::now();
            preflight_sdk::guest::evaluate_bytes(&input, canary_judge::evaluate);
            samples.push(start.elapsed().as_secs_f64() * 1e3);
        }
        median_us(samples)
    };
    let (with_fuel, without) = (judge(true), judge(false));
    println!(
        "canary-judge 3 × 10 000: native {native:.2} ms; wasm with fuel {with_fuel:.2} ms ({:.2}×), without fuel {without:.2} ms ({:.2}×)",
        with_fuel / native,
        without / native
    );
    // `BREAKDOWN_GATE=FILE` measures another build of the gate (a variant of the SDK).
    let other = std::env::var_os("BREAKDOWN_GATE").map(|path| std::fs::read(path).expect("gate"));
    let wasm = other.as_deref().unwrap_or(
        preflight_engine::builtin::find("preflight-gate")
            .expect("gate")
            .wasm,
    );
    let facts: serde_json::Value =
        serde_json::from_str(preflight_bench::SEED_FACTS).expect("seed facts");
    let input = serde_json::to_vec(&serde_json::json!({"facts": facts, "settings": {"mode": "B"}}))
        .expect("input");
    println!(
        "preflight-gate: {} bytes; input {} bytes",
        wasm.len(),
        input.len()
    );

    let base = || {
        let mut config = Config::new();
        config.epoch_interruption(true).max_wasm_stack(512 << 10);
        config
    };
    let mut c = base();
    c.consume_fuel(true);
    run("on-demand, fuel (`run`)", &c, wasm, &input, true);
    run("on-demand, no fuel", &base(), wasm, &input, false);
    let pooled_with = |fuel: bool, keep: usize, scan: bool| {
        let mut pool = PoolingAllocationConfig::default();
        if scan {
            pool.pagemap_scan(wasmtime::Enabled::Auto);
        }
        pool.total_memories(64)
            .total_tables(64)
            .total_core_instances(64)
            .max_memory_size(64 << 20)
            .linear_memory_keep_resident(keep)
            .table_keep_resident(keep);
        let mut c = base();
        c.consume_fuel(fuel)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true)
            .memory_reservation(64 << 20)
            .memory_guard_size(64 << 10);
        c
    };
    let pooled = |fuel: bool, keep: usize| pooled_with(fuel, keep, false);
    run("pooling + CoW, fuel", &pooled(true, 0), wasm, &input, true);
    run(
        "pooling + CoW + keep 256 KiB, fuel",
        &pooled(true, 256 << 10),
        wasm,
        &input,
        true,
    );
    run(
        "pooling + CoW + keep 256 KiB, no fuel",
        &pooled(false, 256 << 10),
        wasm,
        &input,
        false,
    );

    stages("on-demand (`run`)", &c, wasm, &input);
    stages(
        "pooled, keep 256 KiB",
        &pooled(true, 256 << 10),
        wasm,
        &input,
    );
    stages(
        "pooled, keep 256 KiB, pagemap scan",
        &pooled_with(true, 256 << 10, true),
        wasm,
        &input,
    );

    let native = measure(|| {
        preflight_sdk::guest::evaluate_bytes(&input, preflight_gate::evaluate_typed);
    });
    let parsed: preflight_sdk::PolicyInput = serde_json::from_slice(&input).expect("input");
    let native_logic = measure(|| {
        preflight_gate::evaluate_typed(parsed.clone());
    });
    println!(
        "native: evaluate_bytes {native:.2} µs, of which the policy function on parsed input {native_logic:.2} µs"
    );

    // Host-side work after the guest returns.
    let runtime =
        preflight_engine::sandbox::Runtime::new(preflight_engine::sandbox::Limits::default())
            .expect("runtime");
    let pooled =
        preflight_engine::sandbox::Runtime::pooled(preflight_engine::sandbox::Limits::default())
            .expect("runtime");
    let policy = runtime.load("gate", wasm).expect("load");
    let pooled_policy = pooled.load("gate", wasm).expect("load");
    let evaluation = runtime.evaluate(&policy, &input).expect("evaluate");
    let text = serde_json::to_vec(&evaluation.output).expect("output");
    let parse = measure(|| {
        let _: serde_json::Value = serde_json::from_slice(&text).expect("parse");
    });
    let value: serde_json::Value = serde_json::from_slice(&text).expect("parse");
    let check = measure(|| {
        preflight_engine::schema::policy_output(value.clone()).expect("valid");
    });
    let whole = measure(|| {
        runtime.evaluate(&policy, &input).expect("evaluate");
    });
    let whole_pooled = measure(|| {
        pooled.evaluate(&pooled_policy, &input).expect("evaluate");
    });
    let text = String::from_utf8(text).expect("utf-8");
    let typed = measure(|| {
        preflight_engine::sandbox::output::read(&text).expect("valid");
    });
    println!(
        "host: the schema path: parse output {parse:.2} µs, schema-check + convert {check:.2} µs; the typed read (what the runtime does) {typed:.2} µs"
    );
    println!("Runtime::evaluate {whole:.2} µs; Runtime::pooled, evaluate {whole_pooled:.2} µs");
}
