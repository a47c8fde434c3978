//! Evaluates `examples/seed/facts.json` with the built-in gate and prints the decision:
//! `cargo run -p preflight-engine --example evaluate_seed`.

use preflight_engine::{Limits, PolicyEntry, Runtime, builtin, facts};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed/facts.json");
    let facts = facts::from_value(facts::read_file(&path)?)?;

    let runtime = Runtime::new(Limits::default())?;
    let gate = builtin::find(builtin::GATE).ok_or("the gate is not built in")?;
    let entry = PolicyEntry::loaded(runtime.load_builtin(gate)?, serde_json::json!({}));

    let report = runtime.evaluate_all(&[entry], &facts).report;
    println!(
        "{} (risk {}, facts sha256 {})",
        report.decision,
        report.risk_score.unwrap_or(f64::NAN),
        report.facts_sha256.unwrap_or_default()
    );
    for issue in report.blocking_issues.iter().chain(&report.warnings) {
        println!("  {}: {}", issue.id, issue.message);
    }
    Ok(())
}
