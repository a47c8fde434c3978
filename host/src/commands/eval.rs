//! `preflight eval`: one policy on one fact set, nothing else — no collectors, no other
//! policies, no report. Prints what the policy returned, its logs, the fuel and the time, for
//! a policy author debugging a case or a surprising decision.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};

use crate::diagnostic;
use crate::exit::ExitCode;
use crate::limits::LimitArgs;

/// Arguments of `preflight eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The policy: a `.wasm` file, `builtin:NAME`, a URL, or the name of a policy in
    /// preflight.toml.
    #[arg(long, short, value_name = "POLICY")]
    pub policy: String,
    /// The fact set (JSON), checked against the facts schema first.
    #[arg(long, value_name = "FILE")]
    pub facts: PathBuf,
    /// The policy's settings (a JSON object); default: its settings in preflight.toml, or `{}`.
    #[arg(long, value_name = "JSON")]
    pub settings: Option<String>,
    /// Configuration file to look a configured policy up in.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also time each stage: loading the module (fetch, verify, compile or cache), checking
    /// the facts, evaluating.
    #[arg(long)]
    pub stage: bool,
    /// Sandbox limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// `preflight eval`: prints one JSON object; exits as `run` would for the policy's decision
/// (0 GO, 3 GO_WITH_CAUTION, 1 NO_GO) and 2 when the policy, the facts or the settings fail.
pub fn eval(rt: &tokio::runtime::Runtime, args: &EvalArgs) -> ExitCode {
    let fail = |message: &str| {
        diagnostic::error(message);
        ExitCode::Error
    };
    let (spec, configured) = match super::test::resolve_policy(&args.policy, args.config.clone()) {
        Ok(found) => found,
        Err(message) => return fail(&message),
    };
    let settings = match &args.settings {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => value,
            Ok(_) => return fail("--settings: give a JSON object, e.g. '{\"mode\": \"B\"}'"),
            Err(err) => return fail(&format!("--settings is not JSON: {err}")),
        },
        None => configured,
    };
    let started = Instant::now();
    let Some((runtime, policy)) = super::test::load_one(rt, &spec, &args.limits, false) else {
        return ExitCode::Error;
    };
    let load_ms = ms(started);
    let started = Instant::now();
    let facts = match preflight_engine::facts::read_file(&args.facts)
        .and_then(preflight_engine::facts::from_value)
    {
        Ok(facts) => facts,
        Err(err) => return fail(&format!("`{}`: {err}", args.facts.display())),
    };
    let facts_ms = ms(started);
    let started = Instant::now();
    let (result, logs) = runtime.evaluate_policy(&policy, &settings, true, &facts);
    let evaluate_ms = ms(started);
    let output = result.error.is_none().then(|| {
        json!({
            "decision": result.decision,
            "blocking_issues": result.blocking_issues,
            "warnings": result.warnings,
            "details": result.details,
        })
    });
    let mut printed = json!({
        "policy": {
            "name": result.name,
            "version": result.version,
            "sha256": result.sha256,
            "source": result.source,
        },
        "facts_sha256": facts.sha256,
        "settings": settings,
        "output": output,
        "error": result.error,
        "logs": logs.lines.iter().map(|line| json!({"level": line.level, "message": line.message})).collect::<Vec<_>>(),
        "logs_dropped": logs.dropped,
        "fuel_used": result.fuel_used,
        "elapsed_ms": result.elapsed_ms,
    });
    if args.stage {
        printed["stages_ms"] = json!({
            "load": load_ms,
            "facts": facts_ms,
            "evaluate": evaluate_ms,
        });
    }
    // A closed pipe (`| head`) does not change the evaluation's outcome.
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        serde_json::to_string_pretty(&printed).unwrap_or_default()
    );
    if let Some(error) = &result.error {
        diagnostic::error(error);
        return ExitCode::Error;
    }
    // Settings the policy refuses are an error, as in `run`.
    if let Some(issue) = result
        .blocking_issues
        .iter()
        .find(|issue| issue.id == preflight_engine::IssueId::SettingsInvalid.as_str())
    {
        diagnostic::error(&format!("settings.invalid: {}", issue.message));
        return ExitCode::Error;
    }
    let decision = if result.blocking_issues.is_empty() {
        result.decision
    } else {
        preflight_sdk::Decision::NoGo
    };
    ExitCode::from_decision(decision)
}
