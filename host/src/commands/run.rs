//! `preflight run`: gather facts, run the policies, emit the report in every asked format.

use std::path::PathBuf;

use preflight_engine::{Facts, PolicyEntry, Runtime};

use crate::diagnostic;
use crate::emit::{self, Outcome, OutputArgs};
use crate::exit::ExitCode;
use crate::inputs::{self, InputArgs, Plan};
use crate::limits::LimitArgs;

/// Arguments of `preflight run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Inputs: config, facts, flags.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Where the report goes.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Try the gate without gating: every report is written as asked (and says `dry_run`), and
    /// the exit code is 0 whatever the decision, unless there is an error (2).
    #[arg(long)]
    pub dry_run: bool,
    /// Show policy logs and timings on stderr.
    #[arg(long, short)]
    pub verbose: bool,
    /// Sandbox limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Evaluate every line of an NDJSON file (`-`: stdin) as a complete fact set and print one
    /// JSON report per line, in input order: each as `--no-collect --facts LINE` would give.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["facts", "fact"])]
    pub facts_stream: Option<PathBuf>,
    /// Threads that evaluate `--facts-stream` lines (default: the machine's available
    /// parallelism, at most 64). Reports stay in input order.
    #[arg(long, value_name = "N", requires = "facts_stream")]
    pub jobs: Option<std::num::NonZeroUsize>,
    /// Signed decision record.
    #[command(flatten)]
    pub attest: AttestArgs,
}

/// `--attest FILE --signing-key KEY.pem [--subject ...]`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AttestArgs {
    /// Write a signed decision record here: a DSSE envelope holding an in-toto statement about
    /// the subjects, its predicate the decision and what it rests on (docs/audit.md).
    #[arg(
        long,
        value_name = "FILE",
        requires = "signing_key",
        conflicts_with = "facts_stream"
    )]
    pub attest: Option<PathBuf>,
    /// The Ed25519 private key (PKCS#8 PEM) that signs the record: `preflight keygen` or
    /// `openssl genpkey -algorithm ed25519`.
    #[arg(long, value_name = "KEY.pem", requires = "attest")]
    pub signing_key: Option<PathBuf>,
    /// What the decision is about: a file (hashed) or NAME@sha256:HEX; repeatable. Default: the
    /// fact set, by its sha256.
    #[arg(long, value_name = "PATH|NAME@sha256:HEX", requires = "attest")]
    pub subject: Vec<String>,
}

/// The sandbox runtime for these limits, with the compiled-module cache from the environment;
/// pooled when it evaluates many fact sets. `PREFLIGHT_PRECOMPILED=0` makes it compile the
/// built-ins instead of using the binary's machine code.
///
/// # Errors
/// When wasmtime cannot be configured on this machine.
pub fn runtime(limits: &LimitArgs, pooled: bool) -> Result<Runtime, preflight_engine::PolicyError> {
    let runtime = if pooled {
        Runtime::pooled(limits.limits())
    } else {
        Runtime::new(limits.limits())
    };
    let precompiled = std::env::var_os("PREFLIGHT_PRECOMPILED").is_none_or(|v| v != "0");
    runtime.map(|r| {
        r.with_cache(preflight_engine::sandbox::cache::from_env())
            .with_precompiled(precompiled)
    })
}

/// The loaded policies of a plan, or the outcome of a run that cannot start.
///
/// # Errors
/// An [`Outcome`] that says `NO_GO` with exit 2 when the sandbox or the fetcher cannot start.
pub fn load(
    rt: &tokio::runtime::Runtime,
    runtime: &Runtime,
    plan: &Plan,
    dry_run: bool,
) -> Result<Vec<PolicyEntry>, Box<Outcome>> {
    let fetcher = crate::load::fetcher(plan.offline).map_err(|err| {
        let outcome = Outcome::failed(err.id(), err.to_string(), dry_run);
        diagnostic::print(err);
        Box::new(outcome)
    })?;
    // A module being fetched may take its time; Ctrl-C or SIGTERM ends the wait at once.
    let entries = rt.block_on(async {
        tokio::select! {
            entries = crate::load::entries(runtime, &fetcher, &plan.specs) => Some(entries),
            () = crate::interrupt::flag::wait() => None,
        }
    });
    let Some(entries) = entries else {
        return Err(Box::new(interrupted(dry_run)));
    };
    warn_duplicate_names(&entries);
    Ok(entries)
}

/// Two loaded policies with one name: their results, logs and SARIF rules cannot be told
/// apart in the report, which is almost always a configuration mistake (a module listed twice,
/// or a team policy named like a built-in).
fn warn_duplicate_names(entries: &[PolicyEntry]) {
    let loaded: Vec<(&str, &str)> = entries
        .iter()
        .filter_map(|entry| entry.policy.as_ref().ok())
        .map(|policy| (policy.metadata.name.as_str(), policy.source.as_str()))
        .collect();
    for (index, (name, source)) in loaded.iter().enumerate() {
        if let Some((_, first)) = loaded[..index].iter().find(|(other, _)| other == name) {
            diagnostic::warning(&format!(
                "two policies are named `{name}` (`{first}` and `{source}`): the report cannot tell their results apart; rename one or remove the duplicate"
            ));
        }
    }
}

/// Evaluates loaded policies on facts: the engine's one evaluation, the CLI's logs and errors
/// on stderr (each prefixed with `context`, e.g. a stream's line number), the plan's provenance.
pub fn evaluate(
    runtime: &Runtime,
    entries: &[PolicyEntry],
    plan: &Plan,
    facts: &Facts,
    args: &Reporting,
    context: &str,
) -> Outcome {
    let evaluation = runtime.evaluate_all(entries, facts);
    let evaluated = entries.iter().map(|entry| entry.policy.is_ok());
    for ((result, logs), evaluated) in evaluation
        .report
        .policies
        .iter()
        .zip(&evaluation.logs)
        .zip(evaluated)
    {
        // A policy that could not be loaded was reported when loading it.
        if evaluated {
            diagnostic::policy(result, logs, args.verbose, context);
        }
    }
    let mut report = evaluation.report;
    if let Some(waivers) = &plan.waivers {
        waivers.apply_to_report(&mut report, &facts.waived);
    }
    report.warnings.extend(facts.warnings.iter().cloned());
    report.dry_run = args.dry_run;
    report.sources = plan.provenance.clone();
    report.sources.extend(
        facts
            .sources
            .iter()
            .map(|(k, v)| (format!("facts.{k}"), v.clone())),
    );
    Outcome::of(report, args.dry_run)
}

/// How a run reports: what `evaluate` needs of the flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reporting {
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--verbose`.
    pub verbose: bool,
}

impl RunArgs {
    fn reporting(&self) -> Reporting {
        Reporting {
            dry_run: self.dry_run,
            verbose: self.verbose,
        }
    }
}

/// Gathers facts and evaluates every policy. Never fails: errors become a `NO_GO` outcome with
/// exit code 2, and their diagnostics are printed to stderr. The plan it ran, when the inputs
/// made one: a decision record describes that plan, not the files read again.
pub fn outcome(rt: &tokio::runtime::Runtime, args: &RunArgs) -> (Outcome, Option<Plan>) {
    let plan = match inputs::plan(&args.inputs) {
        Ok(plan) => plan,
        Err(err) => {
            let outcome = Outcome::failed(err.id(), err.to_string(), args.dry_run);
            diagnostic::print(err);
            return (outcome, None);
        }
    };
    let outcome = outcome_of(rt, args, &plan);
    (outcome, Some(plan))
}

fn outcome_of(rt: &tokio::runtime::Runtime, args: &RunArgs, plan: &Plan) -> Outcome {
    let facts = match preflight_collectors::gather(&plan.sources) {
        Ok(facts) => facts,
        Err(err) => {
            if let Some(missing) = MissingFacts::of(&err, plan.config_file.is_some()) {
                let mut outcome = Outcome::failed(err.id(), missing.to_string(), args.dry_run);
                diagnostic::print(missing);
                outcome.inputs = plan.input_files();
                outcome.anchors = crate::anchors::of(plan, None, &outcome.report);
                return outcome;
            }
            let mut outcome = Outcome::failed(err.id(), err.to_string(), args.dry_run);
            diagnostic::print(err);
            outcome.inputs = plan.input_files();
            outcome.anchors = crate::anchors::of(plan, None, &outcome.report);
            outcome.paths = Some(preflight_report::PathBase::new(
                &plan.sources.root,
                &plan.path_base,
            ));
            return outcome;
        }
    };
    let runtime = match runtime(&args.limits, false) {
        Ok(runtime) => runtime,
        Err(err) => {
            let outcome = Outcome::failed(err.id(), err.to_string(), args.dry_run);
            diagnostic::print(err);
            return outcome;
        }
    };
    let entries = match load(rt, &runtime, plan, args.dry_run) {
        Ok(entries) => entries,
        Err(outcome) => {
            // Its report is never written over one of the run's inputs either.
            let mut outcome = *outcome;
            outcome.inputs = plan.input_files();
            outcome.inputs.extend(facts.inputs.iter().cloned());
            return outcome;
        }
    };
    let mut outcome = evaluate(&runtime, &entries, plan, &facts, &args.reporting(), "");
    outcome.anchors = crate::anchors::of(plan, Some(&facts.value), &outcome.report);
    outcome.paths = Some(preflight_report::PathBase::new(
        &plan.sources.root,
        &plan.path_base,
    ));
    outcome.inputs = plan.input_files();
    outcome.inputs.extend(facts.inputs.iter().cloned());
    outcome
}

/// The outcome of a run interrupted by Ctrl-C or SIGTERM.
fn interrupted(dry_run: bool) -> Outcome {
    let message = "the run was interrupted (Ctrl-C or SIGTERM) before its report".to_owned();
    Outcome::failed(preflight_engine::IssueId::RunInterrupted, message, dry_run)
}

/// A run that cannot start (no async runtime: `message` names why): exit 2 and, for a single
/// run, the `NO_GO` report where it was asked for.
pub fn cannot_start(args: &RunArgs, message: String) -> ExitCode {
    diagnostic::error(&message);
    if args.facts_stream.is_some() {
        return ExitCode::Error;
    }
    let Ok(targets) = args.output.targets() else {
        return ExitCode::Error;
    };
    let mut outcome = Outcome::failed(
        preflight_engine::IssueId::HostResources,
        message,
        args.dry_run,
    );
    emit::emit(&targets, &mut outcome);
    outcome.exit
}

/// `preflight run`.
pub fn run(rt: &tokio::runtime::Runtime, args: &RunArgs) -> ExitCode {
    let targets = match args.output.targets() {
        Ok(targets) => targets,
        Err(message) => {
            diagnostic::error(&message);
            return ExitCode::Error;
        }
    };
    if let Some(stream) = &args.facts_stream {
        return super::stream::run(rt, args, stream, &targets);
    }
    // The key and subjects are checked before anything runs: a record that cannot be signed
    // fails the run, closed.
    let signing = match &args.attest.attest {
        Some(file) => match attest_inputs(&args.attest) {
            Ok((key, subjects)) => Some((file, key, subjects)),
            Err(message) => {
                diagnostic::error(&message);
                let mut outcome = Outcome::failed(
                    preflight_engine::IssueId::ConfigInvalid,
                    message,
                    args.dry_run,
                );
                emit::emit(&targets, &mut outcome);
                return outcome.exit;
            }
        },
        None => None,
    };
    // From here a signal ends the run with its `NO_GO` report, not with no report.
    crate::interrupt::flag::install();
    let (mut outcome, plan) = outcome(rt, args);
    if crate::interrupt::flag::caught() {
        let inputs = std::mem::take(&mut outcome.inputs);
        outcome = interrupted(args.dry_run);
        outcome.inputs = inputs;
        diagnostic::error("the run was interrupted (Ctrl-C or SIGTERM): its report says NO_GO");
    }
    if let Some((file, key, subjects)) = signing
        && let Err(message) = write_record(args, &outcome, plan.as_ref(), file, &key, subjects)
    {
        diagnostic::error(&message);
        outcome = Outcome::failed(
            preflight_engine::IssueId::ReportUnwritable,
            message,
            args.dry_run,
        );
    }
    emit::emit(&targets, &mut outcome);
    outcome.exit
}

fn attest_inputs(
    args: &AttestArgs,
) -> Result<(ed25519_dalek::SigningKey, Vec<serde_json::Value>), String> {
    let key_path = args
        .signing_key
        .as_ref()
        .ok_or("--attest needs --signing-key KEY.pem")?;
    let key = crate::attest::read_signing_key(key_path)?;
    let subjects = args
        .subject
        .iter()
        .map(|text| crate::attest::subject(text))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((key, subjects))
}

/// Signs and writes the decision record of a run.
fn write_record(
    args: &RunArgs,
    outcome: &Outcome,
    plan: Option<&Plan>,
    file: &std::path::Path,
    key: &ed25519_dalek::SigningKey,
    subjects: Vec<serde_json::Value>,
) -> Result<(), String> {
    if outcome
        .inputs
        .iter()
        .any(|input| preflight_engine::files::same_file(input, file))
    {
        return Err(format!(
            "--attest `{}` is an input of this run; write the record elsewhere",
            file.display()
        ));
    }
    // What the report does not carry, from the plan that ran: each policy's settings, the lock
    // and the waivers.
    let settings = plan
        .map(|plan| {
            plan.specs
                .iter()
                .map(|spec| spec.settings.clone())
                .collect()
        })
        .unwrap_or_default();
    let lock_sha256 = plan.and_then(|plan| plan.lock_sha256.clone());
    let limits = &args.limits;
    let context = crate::attest::Context {
        subjects,
        settings,
        lock_sha256,
        waivers_sha256: plan
            .and_then(|plan| plan.waivers.as_ref())
            .map(preflight_engine::waivers::Waivers::sha256),
        limits: serde_json::json!({
            "timeout_ms": limits.timeout_ms,
            "fuel": limits.fuel,
            "memory_mib": limits.memory_limit,
            "compile_timeout_ms": limits.compile_timeout_ms,
        }),
        exit_code: outcome.exit.code(),
    };
    let statement = crate::attest::statement(&outcome.report, &context);
    let envelope = crate::attest::sign(&statement, key);
    let bytes = serde_json::to_vec(&envelope).map_err(|err| err.to_string())?;
    preflight_engine::files::write_atomic(file, &bytes).map_err(|err| {
        format!(
            "cannot write the decision record `{}`: {err}",
            file.display()
        )
    })
}

/// The fact set lacks sections every run needs: which, and the config key or flag that gives
/// each; without a configuration, that there is none here or above.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{}the fact set does not match the facts schema: at `/`: it has no {}; {}", if *.configured { "" } else { "no preflight.toml here or above, and " }, .missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "), .providers.join("; "))]
#[diagnostic(help("{}", if *.configured { "add the keys to preflight.toml, or pass the facts with `--facts FILE` or `--fact`" } else { "run `preflight init` to write a preflight.toml for this project, or pass the facts with `--facts FILE` or `--fact`" }))]
pub struct MissingFacts {
    missing: Vec<String>,
    providers: Vec<String>,
    configured: bool,
}

impl MissingFacts {
    /// The missing top-level sections of a schema error, if that is what it is.
    fn of(err: &preflight_collectors::GatherError, configured: bool) -> Option<MissingFacts> {
        let preflight_collectors::GatherError::Facts(preflight_engine::FactsError::Invalid {
            violations,
        }) = err
        else {
            return None;
        };
        let mut missing = Vec::new();
        let mut providers = Vec::new();
        for violation in violations.iter().filter(|v| v.pointer.is_empty()) {
            let Some(name) = violation
                .message
                .strip_suffix(" is a required property")
                .map(|quoted| quoted.trim_matches('"'))
            else {
                continue;
            };
            let provider = match name {
                "scores" => {
                    "`scores` comes from `[scores] readiness = ...` and `mvp = ...` (numbers or checklists) in preflight.toml, or `--fact scores.readiness=7 --fact scores.mvp=7`"
                }
                "security" => {
                    "`security` from `[security]` scanner reports or `gate = \"PASS\"` in preflight.toml, or `--fact security.gate=PASS`"
                }
                "complexity" => {
                    "`complexity` from `complexity = \"low\"` (or medium, high) in preflight.toml, or `--fact complexity=low`"
                }
                _ => continue,
            };
            missing.push(name.to_owned());
            providers.push(provider.to_owned());
        }
        // Only when every violation is a missing section: anything else keeps its own message.
        (!missing.is_empty() && missing.len() == violations.len()).then_some(MissingFacts {
            missing,
            providers,
            configured,
        })
    }
}
