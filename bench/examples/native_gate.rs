fn main() {
    let facts: serde_json::Value = serde_json::from_str(preflight_bench::SEED_FACTS).expect("facts");
    let input = serde_json::to_vec(&serde_json::json!({"facts": facts, "settings": {"mode": "B"}})).expect("input");
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    for _ in 0..n {
        std::hint::black_box(preflight_sdk::guest::evaluate_bytes(&input, preflight_gate::evaluate_typed));
    }
}
