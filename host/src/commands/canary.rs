//! `preflight canary analyze` and `preflight canary monitor`: baseline against canary from
//! Prometheus, judged by the `canary-judge` policy, with the standard report and
//! `.playbook/canary_diff_report.json`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use preflight_sdk::{Decision, Issue};
use serde_json::{Value, json};

use preflight_canary::{
    self as canary, Window,
    prometheus::{self, Client},
};
use preflight_engine::{Facts, IssueId, PolicyEntry, ReportIssue, Runtime, failed_report};
use preflight_report::Format;
use preflight_sources::PolicySource;

use crate::commands::run::{self, Reporting};
use crate::emit::{self, Outcome, OutputArgs, Target};
use crate::exit::ExitCode;
use crate::inputs::PolicySpec;
use crate::interrupt::Interrupt;
use crate::limits::LimitArgs;
use crate::{config, diagnostic};

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

/// The latest time accepted: the end of year 9999.
const MAX_TIME: f64 = 253_402_300_799.0;
/// The longest analysis window or monitoring run: 90 days.
const MAX_SPAN: Duration = Duration::from_secs(90 * 24 * 3600);
/// Points per series Prometheus returns at most (its own limit is 11 000).
const MAX_POINTS: f64 = 11_000.0;
/// Intervals one monitoring run may have.
const MAX_INTERVALS: f64 = 10_000.0;
/// The longest client-side timeout of a query.
const MAX_QUERY_TIMEOUT: Duration = Duration::from_secs(600);

/// A time or duration flag that cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("invalid `{flag} {value}`: {reason}")]
#[diagnostic(help(
    "durations look like 30s, 10m or 1h30m; times are Unix seconds or RFC 3339 (2026-11-29T08:00:00Z)"
))]
pub struct FlagError {
    flag: &'static str,
    value: String,
    reason: String,
}

fn flag_error(flag: &'static str, value: &str, reason: impl Into<String>) -> FlagError {
    FlagError {
        flag,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// A duration flag: more than zero and at most `max`.
fn duration_flag(flag: &'static str, text: &str, max: Duration) -> Result<Duration, FlagError> {
    let duration = humantime::parse_duration(text).map_err(|err| {
        flag_error(
            flag,
            text,
            format!("not a duration like 10m or 30s ({err})"),
        )
    })?;
    if duration.is_zero() {
        return Err(flag_error(flag, text, "it must be more than zero"));
    }
    if duration > max {
        return Err(flag_error(
            flag,
            text,
            format!("it must be at most {}", humantime::format_duration(max)),
        ));
    }
    Ok(duration)
}

/// A time flag: Unix seconds or RFC 3339, finite, from 1970 to the end of year 9999.
fn time_flag(flag: &'static str, text: &str) -> Result<f64, FlagError> {
    let seconds = match text.trim().parse::<f64>() {
        Ok(seconds) => seconds,
        Err(_) => humantime::parse_rfc3339_weak(text.trim())
            .map_err(|err| {
                flag_error(
                    flag,
                    text,
                    format!("not Unix seconds or an RFC 3339 time ({err})"),
                )
            })?
            .duration_since(UNIX_EPOCH)
            .map_err(|_| flag_error(flag, text, "it is before 1970"))?
            .as_secs_f64(),
    };
    if !seconds.is_finite() || !(0.0..=MAX_TIME).contains(&seconds) {
        return Err(flag_error(
            flag,
            text,
            "it must be a finite time from 1970 to the end of year 9999",
        ));
    }
    Ok(seconds)
}

/// `--step` against a window: more than zero, at most the window, at most 11 000 points.
fn step_within(step: Duration, window: Duration, text: &str) -> Result<(), FlagError> {
    if step > window {
        return Err(flag_error(
            "--step",
            text,
            format!(
                "it is longer than the window ({}); the window must be at least one step",
                humantime::format_duration(window)
            ),
        ));
    }
    if window.as_secs_f64() / step.as_secs_f64() > MAX_POINTS {
        return Err(flag_error(
            "--step",
            text,
            format!(
                "a {} window at this step is over {MAX_POINTS} points per series, more than Prometheus returns; use a longer step",
                humantime::format_duration(window)
            ),
        ));
    }
    Ok(())
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
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub step: String,
    /// Client-side timeout of each Prometheus request (at most 10m).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub query_timeout: String,
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
    /// Where the report goes.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Sandbox limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Where to write the diff report.
    #[arg(
        long,
        value_name = "FILE",
        default_value = ".playbook/canary_diff_report.json"
    )]
    pub report: PathBuf,
    /// Try the analysis without gating: the `--format` reports are written as asked, the diff
    /// report is not, and the exit code is 0 unless there is an error.
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
    /// Length of the window (at most 90 days, and at most 11 000 steps).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub window: String,
    /// End of the window: Unix seconds or RFC 3339 (default now).
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
}

/// Arguments of `preflight canary monitor`.
#[derive(Debug, Clone, clap::Args)]
pub struct MonitorArgs {
    /// Inputs and outputs.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Time between analyses (at least 1s).
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    pub interval: String,
    /// Total monitoring time (at most 90 days and 10 000 intervals).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub duration: String,
    /// Stop as soon as this many intervals have failed.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub failure_limit: u32,
    /// History before the start that every window includes.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub window: String,
    /// When monitoring starts: Unix seconds or RFC 3339 (default now). A start in the past
    /// replays recorded data without waiting.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
}

/// The time flags of `analyze`, checked.
#[derive(Debug, Clone, Copy)]
struct AnalyzeTiming {
    window: Window,
}

impl AnalyzeArgs {
    fn timing(&self) -> Result<AnalyzeTiming, FlagError> {
        let window = duration_flag("--window", &self.window, MAX_SPAN)?;
        let step = duration_flag("--step", &self.source.step, MAX_SPAN)?;
        step_within(step, window, &self.source.step)?;
        let end = match &self.end {
            Some(text) => time_flag("--end", text)?,
            None => now(),
        };
        let start = end - window.as_secs_f64();
        if start < 0.0 {
            return Err(flag_error(
                "--window",
                &self.window,
                "the window would start before 1970",
            ));
        }
        Ok(AnalyzeTiming {
            window: Window {
                start,
                end,
                step: step.as_secs_f64(),
            },
        })
    }
}

/// The time flags of `monitor`, checked.
#[derive(Debug, Clone, Copy)]
struct MonitorTiming {
    start: f64,
    interval: f64,
    count: u64,
    history: f64,
    step: f64,
}

impl MonitorArgs {
    fn timing(&self) -> Result<MonitorTiming, FlagError> {
        let interval = duration_flag("--interval", &self.interval, MAX_SPAN)?;
        if interval < Duration::from_secs(1) {
            return Err(flag_error(
                "--interval",
                &self.interval,
                "it must be at least 1s",
            ));
        }
        let duration = duration_flag("--duration", &self.duration, MAX_SPAN)?;
        if duration < interval {
            return Err(flag_error(
                "--duration",
                &self.duration,
                format!("it is shorter than the interval ({})", self.interval),
            ));
        }
        let intervals = (duration.as_secs_f64() / interval.as_secs_f64()).floor();
        if intervals > MAX_INTERVALS {
            return Err(flag_error(
                "--interval",
                &self.interval,
                format!(
                    "{intervals} intervals over {}; at most {MAX_INTERVALS} (use a longer interval)",
                    self.duration
                ),
            ));
        }
        let history = duration_flag("--window", &self.window, MAX_SPAN)?;
        let step = duration_flag("--step", &self.source.step, MAX_SPAN)?;
        // The longest window is the history plus the whole run.
        step_within(step, history + duration, &self.source.step)?;
        let start = match &self.start {
            Some(text) => time_flag("--start", text)?,
            None => now(),
        };
        if start + duration.as_secs_f64() > MAX_TIME {
            return Err(flag_error(
                "--start",
                self.start.as_deref().unwrap_or("now"),
                "monitoring would end after the year 9999",
            ));
        }
        if start - history.as_secs_f64() < 0.0 {
            return Err(flag_error(
                "--window",
                &self.window,
                "the first window would start before 1970",
            ));
        }
        Ok(MonitorTiming {
            start,
            interval: interval.as_secs_f64(),
            count: intervals as u64,
            history: history.as_secs_f64(),
            step: step.as_secs_f64(),
        })
    }
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
    facts: Vec<PathBuf>,
    runtime: Runtime,
    entries: Vec<PolicyEntry>,
    provenance: std::collections::BTreeMap<String, String>,
    reporting: Reporting,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64().floor())
}

fn setup(rt: &tokio::runtime::Runtime, args: &SourceArgs) -> Result<Setup, SetupError> {
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
        options.timeout = duration_flag("--query-timeout", &args.query_timeout, MAX_QUERY_TIMEOUT)
            .map_err(|err| SetupError(err.to_string()))?;
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
    if let Some(metric) = metrics.iter().find(|m| {
        m.kind == preflight_sdk::canary::MetricKind::Unknown
            || m.direction == preflight_sdk::canary::Direction::Unknown
    }) {
        return Err(SetupError(format!(
            "[[canary.metric]] `{}`: `kind` is compare or threshold, `direction` increase, decrease or either",
            metric.name
        )));
    }
    let judge_settings = section
        .judge
        .as_ref()
        .map_or_else(|| json!({}), config::to_json);
    let mut judge = PolicySpec::new(PolicySource::Builtin(canary::JUDGE.to_owned()));
    judge.settings = judge_settings;
    let mut specs = vec![judge];
    specs.extend(
        args.policy
            .iter()
            .map(|path| PolicySpec::new(PolicySource::File(path.clone()))),
    );
    let mut provenance = std::collections::BTreeMap::new();
    provenance.insert(
        "config".to_owned(),
        loaded
            .path
            .as_ref()
            .map_or_else(|| "none".to_owned(), |p| p.display().to_string()),
    );
    let runtime = run::runtime(&args.limits, false).map_err(|err| SetupError(err.to_string()))?;
    let fetcher = crate::load::fetcher(false).map_err(|err| SetupError(err.to_string()))?;
    let entries = rt.block_on(crate::load::entries(&runtime, &fetcher, &specs));
    Ok(Setup {
        client,
        prometheus,
        baseline,
        canary: canary_selector,
        metrics,
        facts: args.facts.clone(),
        runtime,
        entries,
        provenance,
        reporting: Reporting {
            dry_run: args.dry_run,
            verbose: args.verbose,
        },
    })
}

/// One analysis: fetch (or replay), judge, and the outcome with its exit code.
async fn analyze_once(setup: &Setup, window: Window) -> (Outcome, Option<Value>) {
    let gathered: Result<Facts, (IssueId, String)> = match &setup.client {
        None => {
            let sources = preflight_collectors::FactSources {
                files: setup.facts.clone(),
                ..preflight_collectors::FactSources::default()
            };
            preflight_collectors::gather(&sources).map_err(|err| {
                let failure = (err.id(), err.to_string());
                diagnostic::print(err);
                failure
            })
        }
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
            preflight_engine::facts::from_value(value).map_err(|err| (err.id(), err.to_string()))
        }
    };
    let facts = match gathered {
        Ok(facts) => facts,
        Err((id, message)) => {
            return (Outcome::failed(id, message, setup.reporting.dry_run), None);
        }
    };
    let plan = crate::inputs::Plan {
        lock_sha256: None,
        waivers: None,
        sources: preflight_collectors::FactSources::default(),
        specs: Vec::new(),
        provenance: setup.provenance.clone(),
        base: PathBuf::from("."),
        offline: false,
        config_file: None,
        path_base: PathBuf::from("."),
    };
    let mut outcome = run::evaluate(
        &setup.runtime,
        &setup.entries,
        &plan,
        &facts,
        &setup.reporting,
        "",
    );
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
            diagnostic::error(error);
        }
        // The data could not be fetched: never a PASS, and a distinct exit code.
        outcome.exit = ExitCode::Error;
        outcome.report.decision = Decision::NoGo;
        outcome.report.blocking_issues.push(ReportIssue::new(
            IssueId::CanaryQueryFailed,
            format!(
                "{} Prometheus quer(ies) failed: {}",
                query_errors.len(),
                query_errors.join("; ")
            ),
        ));
    }
    (outcome, section)
}

fn finish(args: &SourceArgs, mut outcome: Outcome, diff: &Value) -> ExitCode {
    let targets = match args.output.targets() {
        Ok(targets) => targets,
        Err(message) => {
            diagnostic::error(&message);
            return ExitCode::Error;
        }
    };
    outcome.inputs.extend(args.facts.iter().cloned());
    emit::emit(&targets, &mut outcome);
    if !args.dry_run
        && outcome
            .inputs
            .iter()
            .any(|input| preflight_engine::files::same_file(input, &args.report))
    {
        diagnostic::error(&format!(
            "refusing to write the diff report to `{}`: it is an input of this run",
            args.report.display()
        ));
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
                preflight_engine::files::write_atomic(&args.report, text.as_bytes())
                    .map_err(|err| err.source)
            });
        match written {
            Ok(()) => eprintln!(
                "preflight: canary {} — diff report written to {}",
                outcome.report.decision,
                args.report.display()
            ),
            Err(err) => {
                diagnostic::error(&format!(
                    "cannot write the diff report to `{}`: {err}",
                    args.report.display()
                ));
                return ExitCode::Error;
            }
        }
    }
    outcome.exit
}

/// SIGINT (Ctrl-C) and SIGTERM, caught from the start of a command to its end: whatever is in
/// flight — a query, an evaluation, a wait — the command stops and writes its report so far.
/// Must be called inside the runtime.
fn catch_interrupts() -> Interrupt {
    let interrupt = Interrupt::install();
    if !interrupt.is_caught() {
        diagnostic::warning("cannot catch Ctrl-C; an interrupted run writes no report");
    }
    interrupt
}

/// `preflight canary`.
pub fn canary(rt: &tokio::runtime::Runtime, args: &CanaryArgs) -> ExitCode {
    match &args.command {
        CanaryCommand::Analyze(args) => analyze(rt, args),
        CanaryCommand::Monitor(args) => monitor(rt, args),
    }
}

/// `preflight canary analyze`.
pub fn analyze(rt: &tokio::runtime::Runtime, args: &AnalyzeArgs) -> ExitCode {
    let timing = match args.timing() {
        Ok(timing) => timing,
        Err(err) => return setup_failed(&args.source, err),
    };
    // Ctrl-C is caught from here on, through the setup too.
    let mut interrupt = rt.block_on(async { catch_interrupts() });
    let setup = match setup(rt, &args.source) {
        Ok(setup) => setup,
        Err(err) => return setup_failed(&args.source, err),
    };
    rt.block_on(async {
        let (outcome, section) = tokio::select! {
            done = analyze_once(&setup, timing.window) => done,
            () = interrupt.recv() => (
                interrupted(
                    args.source.dry_run,
                    "the analysis was interrupted before it finished".to_owned(),
                ),
                None,
            ),
        };
        let diff = canary::diff_report(&outcome.report, section.as_ref());
        finish(&args.source, outcome, &diff)
    })
}

/// The outcome of a command interrupted before any analysis finished.
fn interrupted(dry_run: bool, message: String) -> Outcome {
    let mut report = failed_report(IssueId::CanaryInterrupted, message);
    report.dry_run = dry_run;
    Outcome {
        report,
        exit: if dry_run {
            ExitCode::Go
        } else {
            ExitCode::NoGo
        },
        inputs: Vec::new(),
        anchors: preflight_report::Anchors::default(),
        paths: None,
    }
}

fn setup_failed<E: miette::Diagnostic + Send + Sync + 'static>(
    args: &SourceArgs,
    err: E,
) -> ExitCode {
    let message = err.to_string();
    diagnostic::print(err);
    failed(args, IssueId::CanarySetup, message)
}

/// An analysis that cannot start (no async runtime: `message` names why): exit 2 and the
/// `NO_GO` report.
pub fn cannot_start(args: &CanaryArgs, message: String) -> ExitCode {
    diagnostic::error(&message);
    let source = match &args.command {
        CanaryCommand::Analyze(args) => &args.source,
        CanaryCommand::Monitor(args) => &args.source,
    };
    failed(source, IssueId::HostResources, message)
}

fn failed(args: &SourceArgs, id: IssueId, message: String) -> ExitCode {
    let mut outcome = Outcome::failed(id, message, args.dry_run);
    outcome.inputs = args.facts.clone();
    let targets = args.output.targets().unwrap_or_else(|_| {
        vec![Target {
            format: Format::Json,
            path: None,
        }]
    });
    emit::emit(&targets, &mut outcome);
    ExitCode::Error
}

/// `preflight canary monitor`.
pub fn monitor(rt: &tokio::runtime::Runtime, args: &MonitorArgs) -> ExitCode {
    let timing = match args.timing() {
        Ok(timing) => timing,
        Err(err) => return setup_failed(&args.source, err),
    };
    let interrupt = rt.block_on(async { catch_interrupts() });
    let setup = match setup(rt, &args.source) {
        Ok(setup) => setup,
        Err(err) => return setup_failed(&args.source, err),
    };
    rt.block_on(monitor_loop(args, timing, &setup, interrupt))
}

async fn monitor_loop(
    args: &MonitorArgs,
    timing: MonitorTiming,
    setup: &Setup,
    mut interrupt: Interrupt,
) -> ExitCode {
    let MonitorTiming {
        start,
        interval,
        count,
        history,
        step,
    } = timing;
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
    let mut last: Option<(Outcome, Option<Value>)> = None;
    let mut stop_reason: Option<Issue> = None;
    for index in 1..=count {
        let end = start + interval * index as f64;
        let stop = |done: u64| {
            Some(Issue::new(
                IssueId::CanaryInterrupted.as_str(),
                format!("monitoring was interrupted after {done} of {count} intervals"),
            ))
        };
        let wait = (end - now()).max(0.0);
        if wait > 0.0 {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
                () = interrupt.recv() => {
                    stop_reason = stop(index - 1);
                    break;
                }
            }
        }
        let window = Window {
            start: start - history,
            end,
            step,
        };
        let (outcome, section) = tokio::select! {
            done = analyze_once(setup, window) => done,
            () = interrupt.recv() => {
                stop_reason = stop(index - 1);
                break;
            }
        };
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
            None => eprintln!("{}", preflight_report::escape::control(&line)),
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
                IssueId::CanaryFailureLimit.as_str(),
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
    let (mut outcome, section) = match last {
        Some(last) => last,
        None => {
            let reason = stop_reason
                .take()
                .map_or_else(|| "no interval completed".to_owned(), |issue| issue.message);
            (interrupted(args.source.dry_run, reason), None)
        }
    };
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
    finish(&args.source, outcome, &diff)
}
