//! `preflight run`: gather facts, run the policies, emit the report.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::evaluate::{self, PolicySource, PolicySpec};
use crate::exit::ExitCode;
use crate::facts::{self, FactSources, artifacts::ArtifactSpec};
use crate::report::{Format, Report, text::Color};
use crate::sandbox::{Limits, Runtime};
use crate::{builtin, diagnostic};

/// Mode of the standard gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Aggressive.
    #[value(name = "A", alias = "a")]
    A,
    /// Balanced (default).
    #[value(name = "B", alias = "b")]
    B,
    /// Safe.
    #[value(name = "S", alias = "s")]
    S,
}

/// Arguments of `preflight run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A fact set file (JSON); repeatable, merged in order.
    #[arg(long = "facts", value_name = "FILE")]
    pub facts: Vec<PathBuf>,
    /// Override one fact, e.g. `scores.readiness=7.5`; VALUE is JSON when it parses.
    #[arg(long = "fact", value_name = "KEY=VALUE")]
    pub fact: Vec<String>,
    /// Mode of the standard gate: A (aggressive), B (balanced), S (safe).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// An extra policy module to run; repeatable.
    #[arg(long = "policy", value_name = "FILE.wasm")]
    pub policy: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Evaluate and print, but write no files; exit 0 unless there is an error.
    #[arg(long)]
    pub dry_run: bool,
    /// Project folder the collectors look in.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// Skip the collectors: use only `--facts` and `--fact` (replay a recorded fact set).
    #[arg(long)]
    pub no_collect: bool,
    /// A required artifact (missing blocks); repeatable.
    #[arg(long = "require-artifact", value_name = "PATH")]
    pub require_artifact: Vec<String>,
    /// An optional artifact (missing is listed); repeatable. Default: docs/DOD_CHECKLIST.md.
    #[arg(long = "artifact", value_name = "PATH")]
    pub artifact: Vec<String>,
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
}

impl RunArgs {
    fn limits(&self) -> Limits {
        Limits {
            memory_bytes: self.memory_limit.saturating_mul(1 << 20),
            timeout: Duration::from_millis(self.timeout_ms),
            fuel: self.fuel,
            ..Limits::default()
        }
    }

    fn sources(&self) -> FactSources {
        let mut artifacts = ArtifactSpec::default();
        if !self.artifact.is_empty() {
            artifacts.optional = self.artifact.clone();
        }
        artifacts.required = self.require_artifact.clone();
        FactSources {
            files: self.facts.clone(),
            overrides: self.fact.clone(),
            root: self.root.clone(),
            artifacts,
            collect: !self.no_collect,
        }
    }

    fn specs(&self) -> Vec<PolicySpec> {
        let mut settings = Map::new();
        if let Some(mode) = self.mode {
            let mode = match mode {
                ModeArg::A => "A",
                ModeArg::B => "B",
                ModeArg::S => "S",
            };
            settings.insert("mode".to_owned(), json!(mode));
        }
        let mut specs = vec![PolicySpec {
            source: PolicySource::Builtin(builtin::GATE.to_owned()),
            settings: Value::Object(settings),
            enforce: true,
        }];
        specs.extend(self.policy.iter().map(|path| PolicySpec {
            source: PolicySource::File(path.clone()),
            settings: json!({}),
            enforce: true,
        }));
        specs
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The report.
    pub report: Report,
    /// The exit code.
    pub exit: ExitCode,
}

/// Gathers facts and evaluates every policy; never fails: errors become a `NO_GO` report with
/// exit code 2, and their diagnostics are printed to stderr.
pub fn evaluate(args: &RunArgs) -> RunOutcome {
    let facts = match facts::gather(&args.sources()) {
        Ok(facts) => facts,
        Err(err) => {
            let id = err.id();
            let message = err.to_string();
            diagnostic::print(err);
            return failed(id, message, args.dry_run);
        }
    };
    let runtime = match Runtime::new(args.limits()) {
        Ok(runtime) => runtime,
        Err(err) => {
            let id = err.id();
            let message = err.to_string();
            diagnostic::print(err);
            return failed(id, message, args.dry_run);
        }
    };
    let mut results = Vec::new();
    for spec in args.specs() {
        match evaluate::load(&runtime, &spec) {
            Ok(loaded) => {
                let (result, logs) = evaluate::run_one(&runtime, &loaded, &facts);
                if let Some(error) = &result.error {
                    eprintln!("error: {error}");
                }
                if args.verbose {
                    for line in &logs.lines {
                        eprintln!("[{} {}] {}", logs.policy, line.level, line.message);
                    }
                    if logs.dropped > 0 {
                        eprintln!(
                            "[{}] {} log line(s) dropped at the log cap",
                            logs.policy, logs.dropped
                        );
                    }
                    eprintln!(
                        "[{}] {} in {:.3} ms, fuel {}",
                        result.name,
                        result.decision,
                        result.elapsed_ms,
                        result.fuel_used.unwrap_or(0)
                    );
                }
                results.push(result);
            }
            Err(failure) => {
                results.push(evaluate::failed_load(&failure, spec.enforce));
                diagnostic::print(*failure.error);
            }
        }
    }
    let errored = results.iter().any(|result| result.error.is_some());
    let report = evaluate::assemble(Some(&facts), results, args.dry_run);
    let exit = if errored {
        ExitCode::Error
    } else if args.dry_run {
        ExitCode::Go
    } else {
        ExitCode::from_decision(report.decision)
    };
    RunOutcome { report, exit }
}

fn failed(id: &str, message: String, dry_run: bool) -> RunOutcome {
    RunOutcome {
        report: evaluate::failed_report(id, message, dry_run),
        exit: ExitCode::Error,
    }
}

/// `preflight run`.
pub fn run(args: &RunArgs) -> ExitCode {
    let outcome = evaluate(args);
    match emit(args, &outcome.report) {
        Ok(()) => outcome.exit,
        Err(err) => {
            diagnostic::print(err);
            ExitCode::Error
        }
    }
}

/// The report could not be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot write the report to `{path}`: {source}")]
#[diagnostic(help("check that the folder exists and is writable"))]
pub struct WriteError {
    /// Where.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

fn emit(args: &RunArgs, report: &Report) -> Result<(), WriteError> {
    let stdout = std::io::stdout();
    match (&args.output, args.dry_run) {
        (Some(path), false) => {
            let color = Color::Off;
            std::fs::write(path, report.render(args.format, color)).map_err(|source| {
                WriteError {
                    path: path.clone(),
                    source,
                }
            })?;
            eprintln!(
                "preflight: {} — report written to {}",
                report.decision,
                path.display()
            );
            Ok(())
        }
        _ => {
            let color = Color::detect(stdout.is_terminal());
            let mut lock = stdout.lock();
            lock.write_all(report.render(args.format, color).as_bytes())
                .and_then(|()| lock.flush())
                .map_err(|source| WriteError {
                    path: PathBuf::from("<stdout>"),
                    source,
                })
        }
    }
}
