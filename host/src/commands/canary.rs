//! `preflight canary analyze` and `preflight canary monitor`: baseline against canary from
//! Prometheus, judged by the `canary-judge` policy, with the standard report and
//! `.playbook/canary_diff_report.json`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use preflight_sdk::{Decision, Issue};
use serde_json::{Value, json};

use crate::canary::{self, Window};
use crate::commands::run::{self, RunArgs, Target};
use crate::config;
use crate::evaluate::{PolicySource, PolicySpec};
use crate::exit::ExitCode;
use crate::facts::{self, Collectors, FactSources, Facts};
use crate::inputs::{InputArgs, Plan};
use crate::prometheus::{self, Client};
use crate::report::{Format, ReportIssue};
use crate::{builtin, diagnostic, evaluate};

/// Arguments of `preflight canary`.
#[derive(Debug, Clone, clap::Args)]
pub struct CanaryArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: CanaryCommand,
}

/// The canary subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CanaryCommand {
    /// One analysis of a window ending now (or at `--end`).
    Analyze(AnalyzeArgs),
    /// Repeated analyses over a growing window; stops early at the failure limit.
    Monitor(MonitorArgs),
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|err| format!("`{text}` is not a duration like 10m or 30s: {err}"))
}

fn parse_time(text: &str) -> Result<f64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok(seconds);
    }
    humantime::parse_rfc3339_weak(text)
        .map_err(|err| format!("`{text}` is not Unix seconds or an RFC 3339 time: {err}"))
        .and_then(|time| {
            time.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .map_err(|_| format!("`{text}` is before 1970"))
        })
}

/// Where the data comes from and where the results go.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Prometheus base URL (or `[canary] prometheus` in preflight.toml).
    #[arg(long, env = "PREFLIGHT_PROMETHEUS_URL", value_name = "URL")]
    pub prometheus: Option<String>,
    /// Label selector of the baseline, e.g. `job="api",track="baseline"`.
    #[arg(long, value_name = "SELECTOR")]
    pub baseline: Option<String>,
    /// Label selector of the canary.
    #[arg(long, value_name = "SELECTOR")]
    pub canary: Option<String>,
    /// Resolution of the range queries. 10 m at 10 s gives 61 points, above the judge's 50.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub step: Duration,
    /// Client-side timeout of each Prometheus request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub query_timeout: Duration,
    /// Retries on connection errors and 5xx.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retries: u32,
    /// Bearer token for Prometheus.
    #[arg(
        long,
        env = "PREFLIGHT_PROMETHEUS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub bearer_token: Option<String>,
    /// Basic auth for Prometheus, `USER:PASSWORD`.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub basic_auth: Option<String>,
    /// Extra request header `NAME: VALUE`; repeatable.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Configuration file (default: preflight.toml in the working directory, when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Replay a recorded fact set with a `canary` section instead of querying Prometheus.
    #[arg(long = "facts", value_name = "FILE")]
    pub facts: Vec<PathBuf>,
    /// An extra policy module judging the same facts; repeatable.
    #[arg(long = "policy", value_name = "FILE.wasm")]
    pub policy: Vec<PathBuf>,
    /// Report format, optionally with a file (`json`, `text`, `markdown`, `junit`, ...).
    #[arg(long = "format", value_name = "FORMAT[=FILE]", value_parser = run::parse_target)]
    pub format: Vec<Target>,
    /// Write the report to FILE; paired in order with formats that name no file.
    #[arg(long, short, value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// Where to write the diff report.
    #[arg(
        long,
        value_name = "FILE",
        default_value = ".playbook/canary_diff_report.json"
    )]
    pub report: PathBuf,
    /// Evaluate and print, but write no files; exit 0 unless there is an error.
    #[arg(long)]
    pub dry_run: bool,
    /// Show policy logs and timings on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Arguments of `preflight canary analyze`.
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyzeArgs {
    /// Inputs and outputs.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Length of the window.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub window: Duration,
    /// End of the window: Unix seconds or RFC 3339 (default now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub end: Option<f64>,
}

/// Arguments of `preflight canary monitor`.
#[derive(Debug, Clone, clap::Args)]
pub struct MonitorArgs {
    /// Inputs and outputs.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Time between analyses.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_duration)]
    pub interval: Duration,
    /// Total monitoring time.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub duration: Duration,
    /// Stop as soon as this many intervals have failed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub failure_limit: u32,
    /// History before the start that every window includes.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub window: Duration,
    /// When monitoring starts: Unix seconds or RFC 3339 (default now). A start in the past
    /// replays recorded data without waiting.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start: Option<f64>,
}

/// A canary setup that cannot run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{0}")]
#[diagnostic(help(
    "pass --prometheus, --baseline and --canary, or set them in [canary] of preflight.toml"
))]
pub struct SetupError(String);

/// Everything fixed before the first query.
struct Setup {
    client: Option<Client>,
    prometheus: String,
    baseline: String,
    canary: String,
    metrics: Vec<canary::MetricDef>,
    plan: Plan,
    run: RunArgs,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64().floor())
}

fn setup(args: &SourceArgs) -> Result<Setup, SetupError> {
    let loaded = config::load(args.config.as_deref()).map_err(|err| SetupError(err.to_string()))?;
    let section = loaded.config.canary.clone().unwrap_or_default();
    let replay = !args.facts.is_empty();
    let pick =
        |flag: &Option<String>, file: &Option<String>, name: &str| -> Result<String, SetupError> {
            match flag.clone().or_else(|| file.clone()) {
                Some(value) => Ok(value),
                None if replay => Ok(String::new()),
                None => Err(SetupError(format!("no {name} given"))),
            }
        };
    let prometheus = pick(&args.prometheus, &section.prometheus, "Prometheus URL")?;
    let baseline = pick(&args.baseline, &section.baseline, "baseline selector")?;
    let canary_selector = pick(&args.canary, &section.canary, "canary selector")?;
    let client = if replay {
        None
    } else {
        let mut options = prometheus::Options::new(prometheus.clone());
        options.timeout = args.query_timeout;
        options.retries = args.retries;
        options.bearer_token = args.bearer_token.clone();
        if let Some(pair) = &args.basic_auth {
            let (user, password) = pair
                .split_once(':')
                .ok_or_else(|| SetupError("--basic-auth must be USER:PASSWORD".to_owned()))?;
            options.basic_auth = Some((user.to_owned(), password.to_owned()));
        }
        for header in &args.headers {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| SetupError(format!("--header `{header}` must be `NAME: VALUE`")))?;
            options
                .headers
                .push((name.trim().to_owned(), value.trim().to_owned()));
        }
        Some(Client::new(options).map_err(|err| SetupError(err.to_string()))?)
    };
    let metrics = if section.metrics.is_empty() {
        canary::default_metrics()
    } else {
        section.metrics.clone()
    };
    let judge_settings = match &section.judge {
        Some(settings) => {
            serde_json::to_value(settings).map_err(|err| SetupError(err.to_string()))?
        }
        None => json!({}),
    };
    let mut specs = vec![PolicySpec {
        source: PolicySource::Builtin(builtin::JUDGE.to_owned()),
        settings: judge_settings,
        enforce: true,
        pin: crate::evaluate::Pin::default(),
    }];
    specs.extend(args.policy.iter().map(|path| PolicySpec {
        source: PolicySource::File(path.clone()),
        settings: json!({}),
        enforce: true,
        pin: crate::evaluate::Pin::default(),
    }));
    let mut provenance = std::collections::BTreeMap::new();
    provenance.insert(
        "config".to_owned(),
        loaded
            .path
            .as_ref()
            .map_or_else(|| "none".to_owned(), |p| p.display().to_string()),
    );
    let plan = Plan {
        sources: FactSources {
            files: args.facts.clone(),
            overrides: Vec::new(),
            root: PathBuf::from("."),
            collect: false,
            collectors: Collectors::default(),
        },
        specs,
        provenance,
    };
    let run = RunArgs {
        inputs: InputArgs::default(),
        format: args.format.clone(),
        output: args.output.clone(),
        dry_run: args.dry_run,
        verbose: args.verbose,
        timeout_ms: 1000,
        fuel: crate::sandbox::Limits::default().fuel,
        memory_limit: 64,
        facts_stream: None,
    };
    Ok(Setup {
        client,
        prometheus,
        baseline,
        canary: canary_selector,
        metrics,
        plan,
        run,
    })
}

/// One analysis: fetch (or replay), judge, and the outcome with its exit code.
async fn analyze_once(setup: &Setup, window: Window) -> (run::RunOutcome, Option<Value>) {
    let gathered: Result<Facts, String> = match &setup.client {
        None => facts::gather(&setup.plan.sources).map_err(|err| {
            let message = err.to_string();
            diagnostic::print(err);
            message
        }),
        Some(client) => {
            let section = canary::collect(
                client,
                &setup.prometheus,
                &setup.metrics,
                &setup.baseline,
                &setup.canary,
                window,
            )
            .await;
            let value = json!({ "canary": section });
            facts::from_value(value).map_err(|err| err.to_string())
        }
    };
    let facts = match gathered {
        Ok(facts) => facts,
        Err(message) => {
            return (
                run::RunOutcome {
                    report: evaluate::failed_report("facts.invalid", message, setup.run.dry_run),
                    exit: ExitCode::Error,
                },
                None,
            );
        }
    };
    let mut outcome = run::evaluate_facts(&setup.run, &setup.plan, &facts);
    let section = facts.value.get("canary").cloned();
    let query_errors: Vec<String> = section
        .as_ref()
        .and_then(|c| c.get("metrics"))
        .and_then(Value::as_array)
        .map(|metrics| {
            metrics
                .iter()
                .flat_map(|m| {
                    ["baseline", "canary"].map(|side| {
                        (
                            m.get("name").cloned(),
                            m.pointer(&format!("/{side}/error")).cloned(),
                        )
                    })
                })
                .filter_map(|(name, error)| {
                    Some(format!(
                        "{}: {}",
                        name?.as_str()?.to_owned(),
                        error?.as_str()?.to_owned()
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if !query_errors.is_empty() {
        for error in &query_errors {
            eprintln!("error: {error}");
        }
        // The data could not be fetched: never a PASS, and a distinct exit code.
        outcome.exit = ExitCode::Error;
        outcome.report.decision = Decision::NoGo;
        outcome.report.blocking_issues.push(ReportIssue {
            policy: "preflight".to_owned(),
            id: "canary.query_failed".to_owned(),
            message: format!(
                "{} Prometheus quer(ies) failed: {}",
                query_errors.len(),
                query_errors.join("; ")
            ),
            locations: Vec::new(),
        });
    }
    (outcome, section)
}

fn finish(args: &SourceArgs, setup: &Setup, outcome: &run::RunOutcome, diff: &Value) -> ExitCode {
    let targets = match setup.run.targets() {
        Ok(targets) => targets,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::Error;
        }
    };
    if let Err(err) = run::emit(&targets, args.dry_run, &outcome.report) {
        diagnostic::print(err);
        return ExitCode::Error;
    }
    if !args.dry_run {
        let written = args
            .report
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let mut text = serde_json::to_string_pretty(diff).unwrap_or_default();
                text.push('\n');
                std::fs::write(&args.report, text)
            });
        match written {
            Ok(()) => eprintln!(
                "preflight: canary {} — diff report written to {}",
                outcome.report.decision,
                args.report.display()
            ),
            Err(err) => {
                eprintln!(
                    "error: cannot write the diff report to `{}`: {err}",
                    args.report.display()
                );
                return ExitCode::Error;
            }
        }
    }
    outcome.exit
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| {
            eprintln!("error: cannot start the async runtime: {err}");
            ExitCode::Error
        })
}

/// `preflight canary`.
pub fn canary(args: &CanaryArgs) -> ExitCode {
    match &args.command {
        CanaryCommand::Analyze(args) => analyze(args),
        CanaryCommand::Monitor(args) => monitor(args),
    }
}

/// `preflight canary analyze`.
pub fn analyze(args: &AnalyzeArgs) -> ExitCode {
    let setup = match setup(&args.source) {
        Ok(setup) => setup,
        Err(err) => return setup_failed(&args.source, err),
    };
    let end = args.end.unwrap_or_else(now);
    let window = Window {
        start: end - args.window.as_secs_f64(),
        end,
        step: args.source.step.as_secs_f64(),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let (outcome, section) = runtime.block_on(analyze_once(&setup, window));
    let diff = canary::diff_report(&outcome.report, section.as_ref());
    finish(&args.source, &setup, &outcome, &diff)
}

fn setup_failed(args: &SourceArgs, err: SetupError) -> ExitCode {
    let message = err.to_string();
    diagnostic::print(err);
    let report = evaluate::failed_report("canary.setup", message, args.dry_run);
    let targets = [Target {
        format: Format::Json,
        path: None,
    }];
    let _ = run::emit(&targets, true, &report);
    ExitCode::Error
}

/// `preflight canary monitor`.
pub fn monitor(args: &MonitorArgs) -> ExitCode {
    let setup = match setup(&args.source) {
        Ok(setup) => setup,
        Err(err) => return setup_failed(&args.source, err),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(monitor_loop(args, &setup))
}

async fn monitor_loop(args: &MonitorArgs, setup: &Setup) -> ExitCode {
    let start = args.start.unwrap_or_else(now);
    let interval = args.interval.as_secs_f64().max(1.0);
    let count = ((args.duration.as_secs_f64() / interval).floor() as u64).max(1);
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::new(count);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} canary [{bar:30}] {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut intervals = Vec::new();
    let mut failures = 0u32;
    let mut last: Option<(run::RunOutcome, Option<Value>)> = None;
    let mut stop_reason: Option<Issue> = None;
    for index in 1..=count {
        let end = start + interval * index as f64;
        let wait = (end - now()).max(0.0);
        if wait > 0.0 {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
                _ = tokio::signal::ctrl_c() => {
                    stop_reason = Some(Issue::new("canary.interrupted", format!("monitoring was interrupted after {} of {count} intervals", index - 1)));
                    break;
                }
            }
        }
        let window = Window {
            start: start - args.window.as_secs_f64(),
            end,
            step: args.source.step.as_secs_f64(),
        };
        let (outcome, section) = analyze_once(setup, window).await;
        let verdict = canary::diff_report(&outcome.report, section.as_ref());
        let line = format!(
            "interval {index}/{count}: {} score {}",
            outcome.report.decision,
            verdict.get("score").cloned().unwrap_or(Value::Null)
        );
        match &bar {
            Some(bar) => {
                bar.set_message(line.clone());
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
        if outcome.report.decision == Decision::NoGo {
            failures += 1;
        }
        intervals.push(json!({
            "index": index, "end": end, "decision": outcome.report.decision,
            "score": verdict.get("score"), "verdict": verdict.get("verdict"),
        }));
        last = Some((outcome, section));
        if failures >= args.failure_limit {
            stop_reason = Some(Issue::new(
                "canary.failure_limit",
                format!(
                    "{failures} interval(s) failed, reaching the failure limit {} after {index} of {count}",
                    args.failure_limit
                ),
            ));
            break;
        }
    }
    if let Some(bar) = &bar {
        bar.finish();
    }
    let (mut outcome, section) = last.unwrap_or_else(|| {
        (
            run::RunOutcome {
                report: evaluate::failed_report(
                    "canary.interrupted",
                    "no interval completed".to_owned(),
                    args.source.dry_run,
                ),
                exit: ExitCode::NoGo,
            },
            None,
        )
    });
    if let Some(reason) = stop_reason {
        outcome.report.decision = Decision::NoGo;
        outcome
            .report
            .blocking_issues
            .push(ReportIssue::from_issue("preflight", &reason));
        if outcome.exit != ExitCode::Error {
            outcome.exit = if args.source.dry_run {
                ExitCode::Go
            } else {
                ExitCode::NoGo
            };
        }
    }
    let mut diff = canary::diff_report(&outcome.report, section.as_ref());
    diff["intervals"] = Value::Array(intervals);
    diff["failures"] = json!(failures);
    diff["failure_limit"] = json!(args.failure_limit);
    finish(&args.source, setup, &outcome, &diff)
}
