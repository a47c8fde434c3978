//! The policy's decision cases, run as wasm through the host: the same files `cargo test -p
//! preflight-gate` runs natively.

use preflight::{evaluate, facts};
use preflight_sdk::testing::Case;

use crate::support::{builtin_gate, repo, runtime, test_limits};

#[test]
fn preflight_gate_cases_run_as_wasm() {
    let dir = repo().join("policies/preflight-gate/cases");
    let cases = Case::load_dir(&dir).unwrap();
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    let runtime = runtime(test_limits());
    let mut failures = Vec::new();
    for (path, case) in &cases {
        let facts = facts::from_value(case.facts().clone()).unwrap_or_else(|err| {
            panic!("{}: facts do not match the schema: {err}", path.display())
        });
        let loaded = builtin_gate(&runtime, case.settings.clone());
        let (result, _logs) = evaluate::run_one(&runtime, &loaded, &facts);
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
