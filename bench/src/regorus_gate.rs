//! The peer CLI: load the Rego gate and a fact set, evaluate, print the result — what a
//! hand-rolled regorus gate would be. `regorus-gate FACTS.json`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: regorus-gate FACTS.json");
        return ExitCode::from(2);
    };
    let run = || -> Result<String, String> {
        let facts = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let mut engine = regorus::Engine::new();
        engine.add_policy("gate.rego".into(), preflight_bench::GATE_REGO.into()).map_err(|e| e.to_string())?;
        let input = format!("{{\"facts\": {facts}, \"settings\": {{\"mode\": \"B\"}}}}");
        engine.set_input(regorus::Value::from_json_str(&input).map_err(|e| e.to_string())?);
        let result = engine.eval_rule("data.preflight.gate.result".into()).map_err(|e| e.to_string())?;
        result.to_json_str().map_err(|e| e.to_string())
    };
    match run() {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}
