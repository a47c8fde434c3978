//! `preflight run`: gather facts, run the policies, emit the report in every asked format.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use crate::diagnostic;
use crate::evaluate;
use crate::exit::ExitCode;
use crate::facts::{self, Facts};
use crate::inputs::{self, InputArgs, Plan};
use crate::report::{Format, Report, text::Color};
use crate::sandbox::{Limits, Runtime};

/// A format and where it goes: `json`, or `junit=reports/preflight.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The format.
    pub format: Format,
    /// The file, or stdout.
    pub path: Option<PathBuf>,
}

/// Parses `FORMAT` or `FORMAT=FILE` for `--format`.
///
/// # Errors
/// A message naming the unknown format or the missing file.
pub fn parse_target(text: &str) -> Result<Target, String> {
    use clap::ValueEnum as _;
    let (name, path) = match text.split_once('=') {
        Some((name, path)) if !path.is_empty() => (name, Some(PathBuf::from(path))),
        Some((name, _)) => return Err(format!("`{name}=` needs a file after `=`")),
        None => (text, None),
    };
    let format = Format::from_str(name, true).map_err(|_| {
        format!("unknown format `{name}` (json, text, markdown, junit, sarif, github)")
    })?;
    Ok(Target { format, path })
}

/// Arguments of `preflight run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Inputs: config, facts, flags.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Report format, optionally with a file: `json`, `text`, `markdown`, `junit`, `sarif`,
    /// `github`, or `FORMAT=FILE`; repeatable. Default: json to stdout.
    #[arg(long = "format", value_name = "FORMAT[=FILE]", value_parser = parse_target)]
    pub format: Vec<Target>,
    /// Write the report to FILE; repeatable, paired in order with the `--format`s that name no
    /// file.
    #[arg(long, short, value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// Evaluate and print, but write no files; exit 0 unless there is an error.
    #[arg(long)]
    pub dry_run: bool,
    /// Show policy logs and timings on stderr.
    #[arg(long, short)]
    pub verbose: bool,
    /// Wall-clock deadline per policy evaluation, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub timeout_ms: u64,
    /// Fuel per policy evaluation (about one unit per wasm instruction).
    #[arg(long, value_name = "UNITS", default_value_t = Limits::default().fuel)]
    pub fuel: u64,
    /// Memory cap per policy, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub memory_limit: usize,
    /// Wall-clock budget for compiling one policy module, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub compile_timeout_ms: u64,
    /// Evaluate every line of an NDJSON file (`-`: stdin) as a complete fact set and print one
    /// JSON report per line, in input order: each as `--no-collect --facts LINE` would give.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["facts", "fact"])]
    pub facts_stream: Option<PathBuf>,
}

impl RunArgs {
    /// Runtime limits from the flags.
    pub fn limits(&self) -> Limits {
        Limits {
            memory_bytes: self.memory_limit.saturating_mul(1 << 20),
            timeout: Duration::from_millis(self.timeout_ms),
            fuel: self.fuel,
            compile_timeout: Duration::from_millis(self.compile_timeout_ms),
            ..Limits::default()
        }
    }

    /// The sandbox runtime these limits describe, with the compiled-module cache from the
    /// environment; pooled for `--facts-stream`, which evaluates many fact sets.
    ///
    /// # Errors
    /// When wasmtime cannot be configured on this machine.
    pub fn runtime(&self) -> Result<Runtime, crate::sandbox::PolicyError> {
        let runtime = if self.facts_stream.is_some() {
            Runtime::pooled(self.limits())
        } else {
            Runtime::new(self.limits())
        };
        runtime.map(|r| r.with_cache(crate::sandbox::cache::from_env()))
    }

    /// Where each format goes.
    ///
    /// # Errors
    /// When more `--output`s are given than formats without a file, or two formats go to stdout.
    pub fn targets(&self) -> Result<Vec<Target>, String> {
        let mut targets = if self.format.is_empty() {
            vec![Target {
                format: Format::Json,
                path: None,
            }]
        } else {
            self.format.clone()
        };
        let mut outputs = self.output.iter();
        for target in targets.iter_mut().filter(|t| t.path.is_none()) {
            match outputs.next() {
                Some(path) => target.path = Some(path.clone()),
                None => break,
            }
        }
        if outputs.next().is_some() {
            return Err("more `--output` files than `--format`s without a file".to_owned());
        }
        if targets.iter().filter(|t| t.path.is_none()).count() > 1 {
            return Err(
                "only one format can go to stdout; give the others a file (`--format junit=FILE`)"
                    .to_owned(),
            );
        }
        Ok(targets)
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The report.
    pub report: Report,
    /// The exit code.
    pub exit: ExitCode,
    /// The files the run read; no report is written over them.
    pub inputs: Vec<PathBuf>,
}

/// Gathers facts and evaluates every policy. Never fails: errors become a `NO_GO` report with
/// exit code 2, and their diagnostics are printed to stderr.
pub fn evaluate(args: &RunArgs) -> RunOutcome {
    let plan = match inputs::plan(&args.inputs) {
        Ok(plan) => plan,
        Err(err) => {
            let (id, message) = (err.id(), err.to_string());
            diagnostic::print(err);
            return failed(id, message, args.dry_run);
        }
    };
    let facts = match facts::gather(&plan.sources) {
        Ok(facts) => facts,
        Err(err) => {
            let id = err.id();
            let message = err.to_string();
            diagnostic::print(err);
            let mut outcome = failed(id, message, args.dry_run);
            outcome.inputs = plan.input_files();
            return outcome;
        }
    };
    let mut outcome = evaluate_facts(args, &plan, &facts);
    outcome.inputs = plan.input_files();
    outcome.inputs.extend(facts.inputs.iter().cloned());
    outcome
}

/// Evaluates every planned policy on gathered facts.
pub fn evaluate_facts(args: &RunArgs, plan: &Plan, facts: &Facts) -> RunOutcome {
    let runtime = match args.runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            let message = err.to_string();
            diagnostic::print(err);
            return failed("policy.host_error", message, args.dry_run);
        }
    };
    let mut results = Vec::new();
    for spec in &plan.specs {
        match evaluate::load(&runtime, spec) {
            Ok(loaded) => {
                results.push(run_policy(args, &runtime, &loaded, facts, ""));
            }
            Err(failure) => {
                results.push(evaluate::failed_load(&failure, spec.enforce));
                diagnostic::print(*failure.error);
            }
        }
    }
    outcome(args, plan, facts, results)
}

/// Runs one loaded policy; prints its error, and with `--verbose` its logs and timing, on
/// stderr, each prefixed with `context` (e.g. a stream's line number).
pub fn run_policy(
    args: &RunArgs,
    runtime: &Runtime,
    loaded: &evaluate::Loaded,
    facts: &Facts,
    context: &str,
) -> crate::report::PolicyResult {
    let (result, logs) = evaluate::run_one(runtime, loaded, facts);
    use crate::escape::control as esc;
    if let Some(error) = &result.error {
        crate::diagnostic::error(&format!("{context}{error}"));
    }
    if args.verbose {
        for line in &logs.lines {
            eprintln!(
                "{context}[{} {}] {}",
                esc(&logs.policy),
                line.level,
                esc(&line.message)
            );
        }
        if logs.dropped > 0 {
            eprintln!(
                "{context}[{}] {} log line(s) dropped at the log cap",
                esc(&logs.policy),
                logs.dropped
            );
        }
        eprintln!(
            "{context}[{}] {} in {:.3} ms, fuel {}",
            esc(&result.name),
            result.decision,
            result.elapsed_ms,
            result.fuel_used.unwrap_or(0)
        );
    }
    result
}

/// The report and exit code from every policy's result.
pub fn outcome(
    args: &RunArgs,
    plan: &Plan,
    facts: &Facts,
    results: Vec<crate::report::PolicyResult>,
) -> RunOutcome {
    let errored = results.iter().any(evaluate::is_error);
    let mut report = evaluate::assemble(Some(facts), results, args.dry_run);
    report.sources = plan.provenance.clone();
    report.sources.extend(
        facts
            .sources
            .iter()
            .map(|(k, v)| (format!("facts.{k}"), v.clone())),
    );
    let exit = if errored {
        ExitCode::Error
    } else if args.dry_run {
        ExitCode::Go
    } else {
        ExitCode::from_decision(report.decision)
    };
    RunOutcome {
        report,
        exit,
        inputs: Vec::new(),
    }
}

fn failed(id: &str, message: String, dry_run: bool) -> RunOutcome {
    RunOutcome {
        report: evaluate::failed_report(id, message, dry_run),
        exit: ExitCode::Error,
        inputs: Vec::new(),
    }
}

/// `preflight run`.
pub fn run(args: &RunArgs) -> ExitCode {
    let targets = match args.targets() {
        Ok(targets) => targets,
        Err(message) => {
            crate::diagnostic::error(&message);
            return ExitCode::Error;
        }
    };
    if let Some(stream) = &args.facts_stream {
        return super::stream::run(args, stream, &targets);
    }
    let mut outcome = evaluate(args);
    emit(&targets, args.dry_run, &mut outcome);
    outcome.exit
}

/// A report that could not be written where it was asked for.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WriteError {
    /// The file is one of the run's inputs.
    #[error("refusing to write the {format} report to `{path}`: it is an input of this run")]
    #[diagnostic(help("write the report to another file"))]
    OverInput {
        /// The file.
        path: PathBuf,
        /// The format.
        format: &'static str,
    },
    /// Writing failed; the previous file, if any, is untouched.
    #[error("cannot write the {format} report to `{path}`: {source}")]
    #[diagnostic(help(
        "check that the folder exists, is writable and has space; the previous file, if any, was left as it was"
    ))]
    Io {
        /// The file.
        path: PathBuf,
        /// The format.
        format: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Writes the report in every target format, each file through a temporary file renamed over
/// the old one; a dry run prints instead of writing files. Appends the Markdown summary to
/// `$GITHUB_STEP_SUMMARY` when it is set (a failure there is a warning).
///
/// Every target is attempted. When any cannot be written (or names one of `outcome.inputs`),
/// the report becomes `NO_GO` with a `report.unwritable` issue per failure, the exit code 2,
/// the files that were written are written again with that report, and the JSON report goes to
/// stdout unless another format already does.
pub fn emit(targets: &[Target], dry_run: bool, outcome: &mut RunOutcome) {
    let failures = write_targets(targets, dry_run, outcome);
    if failures.is_empty() {
        summary(dry_run, &outcome.report);
        return;
    }
    outcome.exit = ExitCode::Error;
    outcome.report.decision = preflight_sdk::Decision::NoGo;
    for failure in &failures {
        outcome
            .report
            .blocking_issues
            .push(crate::report::ReportIssue {
                policy: "preflight".to_owned(),
                id: "report.unwritable".to_owned(),
                message: failure.to_string(),
                locations: Vec::new(),
            });
    }
    let failed: Vec<PathBuf> = failures
        .into_iter()
        .map(|failure| {
            let path = match &failure {
                WriteError::OverInput { path, .. } | WriteError::Io { path, .. } => path.clone(),
            };
            diagnostic::print(failure);
            path
        })
        .collect();
    // The files that were written now say NO_GO too; stdout gets the report if nothing else
    // went there.
    let written: Vec<Target> = targets
        .iter()
        .filter(|t| t.path.as_ref().is_some_and(|p| !failed.contains(p)))
        .cloned()
        .collect();
    for failure in write_targets(&written, dry_run, outcome) {
        diagnostic::print(failure);
    }
    if targets.iter().all(|t| t.path.is_some()) {
        let stdout = [Target {
            format: Format::Json,
            path: None,
        }];
        let _ = write_targets(&stdout, dry_run, outcome);
    }
    summary(dry_run, &outcome.report);
}

/// Writes every target; returns the failures.
fn write_targets(targets: &[Target], dry_run: bool, outcome: &RunOutcome) -> Vec<WriteError> {
    let report = &outcome.report;
    let stdout = std::io::stdout();
    let mut failures = Vec::new();
    // A dry run writes no files; without a stdout target it prints the first format instead.
    let dry_fallback = dry_run && targets.iter().all(|t| t.path.is_some());
    for (index, target) in targets.iter().enumerate() {
        let to_stdout = target.path.is_none() || (dry_fallback && index == 0);
        match &target.path {
            Some(path) if !to_stdout && !dry_run => {
                if outcome
                    .inputs
                    .iter()
                    .any(|input| crate::files::same_file(input, path))
                {
                    failures.push(WriteError::OverInput {
                        path: path.clone(),
                        format: target.format.name(),
                    });
                    continue;
                }
                match crate::files::write_atomic(
                    path,
                    report.render(target.format, Color::Off).as_bytes(),
                ) {
                    Ok(()) => eprintln!(
                        "preflight: {} — {} report written to {}",
                        report.decision,
                        target.format.name(),
                        path.display()
                    ),
                    Err(err) => failures.push(WriteError::Io {
                        path: path.clone(),
                        format: target.format.name(),
                        source: err.source,
                    }),
                }
            }
            Some(_) if !to_stdout => {}
            _ => {
                let color = Color::detect(stdout.is_terminal());
                let mut lock = stdout.lock();
                if let Err(source) = lock
                    .write_all(report.render(target.format, color).as_bytes())
                    .and_then(|()| lock.flush())
                {
                    failures.push(WriteError::Io {
                        path: PathBuf::from("<stdout>"),
                        format: target.format.name(),
                        source,
                    });
                }
            }
        }
    }
    failures
}

/// Appends the Markdown summary to `$GITHUB_STEP_SUMMARY`; a failure is a warning that names
/// the variable, never an error (the decision does not depend on the summary).
fn summary(dry_run: bool, report: &Report) {
    let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) else {
        return;
    };
    if dry_run {
        return;
    }
    let path = PathBuf::from(summary);
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| {
            file.write_all(report.render(Format::Markdown, Color::Off).as_bytes())
        });
    if let Err(err) = appended {
        diagnostic::warning(&format!(
            "cannot append the summary to $GITHUB_STEP_SUMMARY (`{}`): {err}",
            path.display()
        ));
    }
}
