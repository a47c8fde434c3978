//! The engine in-process, as an embedder calls it: the built-in gate on the seed facts in a
//! pooled sandbox, on T threads for S seconds. One JSON line: decisions per second.
//!
//!   cargo run --release --example inprocess -- THREADS SECONDS

use std::time::{Duration, Instant};

use preflight_engine::{PolicyEntry, Runtime, facts};

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let seconds: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let runtime = Runtime::pooled(preflight_engine::Limits::default()).expect("a runtime");
    let gate = preflight_engine::builtin::find(preflight_engine::builtin::GATE).expect("the gate");
    let policy = runtime.load_builtin(gate).expect("the gate loads");
    let entries = vec![PolicyEntry::loaded(policy, serde_json::json!({"mode": "B"}))];
    let value: serde_json::Value = serde_json::from_str(preflight_bench::SEED_FACTS).expect("facts");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        // What a service does per request: check the facts, evaluate.
                        let facts = facts::from_value(value.clone()).expect("valid facts");
                        std::hint::black_box(runtime.evaluate_all(&entries, &facts));
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a worker")).sum()
    });
    println!(
        "{{\"peer\": \"engine in-process, {threads} threads\", \"per_second\": {:.0}}}",
        total as f64 / started.elapsed().as_secs_f64()
    );
}
