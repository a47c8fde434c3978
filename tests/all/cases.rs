//! The policy's decision cases, run as wasm through the host: the same files `cargo test -p
//! preflight-gate` runs natively.

use preflight_engine::facts;
use preflight_sdk::testing::Case;

use crate::support::{builtin, repo, runtime, test_limits};

#[test]
fn preflight_gate_cases_run_as_wasm() {
    run_builtin_cases("preflight-gate", 20);
}

#[test]
fn canary_judge_cases_run_as_wasm() {
    run_builtin_cases("canary-judge", 20);
}

fn run_builtin_cases(name: &str, at_least: usize) {
    let dir = repo().join("policies").join(name).join("cases");
    let cases = Case::load_dir(&dir).unwrap();
    assert!(cases.len() >= at_least, "only {} cases", cases.len());
    let runtime = runtime(test_limits());
    let mut failures = Vec::new();
    for (path, case) in &cases {
        let facts = facts::from_value(case.facts().clone()).unwrap_or_else(|err| {
            panic!("{}: facts do not match the schema: {err}", path.display())
        });
        let entry = builtin(&runtime, name, case.settings.clone());
        let (result, _logs) = runtime.evaluate_entry(&entry, &facts);
        let problems = match &result.error {
            Some(error) => case.check_error(error),
            None => {
                let output = preflight_sdk::PolicyOutput {
                    decision: result.decision,
                    blocking_issues: result.blocking_issues.clone(),
                    warnings: result.warnings.clone(),
                    details: result.details.clone(),
                };
                case.check(&output)
            }
        };
        for problem in problems {
            failures.push(format!("{}: {problem}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
