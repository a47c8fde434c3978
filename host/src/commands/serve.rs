//! `preflight serve`: the gate as a decision service. Pipelines POST a fact set and get the
//! standard report; the service keeps one verified policy set (reloaded atomically), a decision
//! log, Prometheus metrics, and sheds load instead of queueing without bound.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};

use preflight_engine::{IssueId, PolicyEntry, Report, Runtime};

use crate::diagnostic;
use crate::exit::ExitCode;
use crate::inputs::{self, InputArgs, Plan};
use crate::limits::LimitArgs;

/// Arguments of `preflight serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8181")]
    pub addr: SocketAddr,
    /// Configuration file: its policies, settings and waivers (default: found as `run` finds it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run only modules pinned in preflight.lock.
    #[arg(long)]
    pub locked: bool,
    /// Bearer tokens, one per line; requests without one of them get 401.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Listen on a non-loopback address without a token file.
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// Append one JSON line per decision here (`-`: stdout); reopened on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub decision_log: Option<PathBuf>,
    /// Put each decision's fact set in the decision log too.
    #[arg(long)]
    pub decision_log_facts: bool,
    /// Largest request body: bytes, or with KiB/MiB.
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    pub max_body: u64,
    /// Requests evaluated or waiting at once; more get 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub max_inflight: usize,
    /// How long a client may take to send a request's headers (slow clients are cut off).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// Sandbox limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(index) => text.split_at(index),
        None => (text, ""),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: give bytes, or a number with KiB or MiB"))?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        other => return Err(format!("`{other}` is not a size unit: use KiB or MiB")),
    };
    number
        .checked_mul(factor)
        .filter(|size| *size > 0)
        .ok_or_else(|| format!("`{text}` is not a usable size"))
}

/// One verified policy set, as loaded at start or by a reload.
struct PolicySet {
    runtime: Runtime,
    entries: Vec<PolicyEntry>,
    plan: Plan,
    generation: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    policy: String,
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IdLabels {
    id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    policy_decisions: Family<PolicyLabels, Counter>,
    errors: Family<IdLabels, Counter>,
    latency: Histogram,
    inflight: Gauge,
    shed: Counter,
    reloads: Family<OutcomeLabels, Counter>,
    requests: Family<OutcomeLabels, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("preflight");
        let decisions = Family::<DecisionLabels, Counter>::default();
        let policy_decisions = Family::<PolicyLabels, Counter>::default();
        let errors = Family::<IdLabels, Counter>::default();
        let latency = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        let inflight = Gauge::default();
        let shed = Counter::default();
        let reloads = Family::<OutcomeLabels, Counter>::default();
        let requests = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "decisions",
            "Decisions by overall decision",
            decisions.clone(),
        );
        registry.register(
            "policy_decisions",
            "Decisions by policy and its decision",
            policy_decisions.clone(),
        );
        registry.register(
            "policy_errors",
            "Failed evaluations and refused requests by issue id",
            errors.clone(),
        );
        registry.register(
            "evaluation_seconds",
            "Time to decide one fact set, request body read to report",
            latency.clone(),
        );
        registry.register(
            "inflight_requests",
            "Decision requests in flight",
            inflight.clone(),
        );
        registry.register(
            "shed_requests",
            "Requests refused with 503 under load",
            shed.clone(),
        );
        registry.register("reloads", "Policy set reloads by outcome", reloads.clone());
        registry.register(
            "http_requests",
            "HTTP requests by status class",
            requests.clone(),
        );
        Metrics {
            registry,
            decisions,
            policy_decisions,
            errors,
            latency,
            inflight,
            shed,
            reloads,
            requests,
        }
    }
}

struct State {
    args: ServeArgs,
    current: RwLock<Arc<PolicySet>>,
    tokens: Vec<Vec<u8>>,
    metrics: Metrics,
    log: Mutex<Option<Box<dyn std::io::Write + Send>>>,
    inflight: Arc<tokio::sync::Semaphore>,
    last_reload_error: Mutex<Option<String>>,
    requests: AtomicU64,
    generations: AtomicU64,
    reload_lock: tokio::sync::Mutex<()>,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

// The bodies of the service's own endpoints; their OpenAPI schemas are generated from these
// types. Fields in name order, as the bodies have always listed them.

/// `GET /readyz`: whether the service answers, and the policy set it answers with.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Ready {
    /// The policy set's generation: 1 at start, one more for each successful reload.
    generation: u64,
    /// Why the last reload failed, if it did (the previous set keeps serving); `null` after a
    /// successful one.
    last_reload_error: Option<String>,
    /// How many policies the set has.
    policies: usize,
    /// Always `true` once the service listens.
    ready: bool,
}

/// `GET /v1/policies`: the policy set decisions run.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Policies {
    /// The policy set's generation.
    generation: u64,
    /// The loaded policies, in the order they run.
    policies: Vec<ServedPolicy>,
}

/// One policy of the set.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ServedPolicy {
    /// Whether its decision counts (`false`: advisory).
    enforced: bool,
    /// The name in the module's metadata.
    name: String,
    /// The module's sha256, lowercase hex.
    sha256: String,
    /// Where the module came from (`builtin:NAME`, a path, an OCI reference).
    source: String,
    /// The version in the module's metadata.
    version: String,
}

/// `POST /v1/admin/reload`: whether the new set was swapped in.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Reload {
    /// Why the reload failed; absent when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The generation now serving.
    generation: u64,
    /// Whether the new set is serving.
    reloaded: bool,
}

fn json_reply(status: StatusCode, value: &impl serde::Serialize) -> Reply {
    reply(
        status,
        "application/json",
        serde_json::to_vec_pretty(value).unwrap_or_default(),
    )
}

/// A report reply: the JSON report and the `Preflight-Decision` header.
fn report_reply(status: StatusCode, report: &Report) -> Reply {
    let text = preflight_report::render(
        report,
        preflight_report::Format::Json,
        preflight_report::Color::Off,
    );
    let mut response = reply(status, "application/json", text);
    if let Ok(value) = HeaderValue::from_str(&report.decision.to_string()) {
        response.headers_mut().insert("preflight-decision", value);
    }
    response
}

fn failed(status: StatusCode, id: IssueId, message: String) -> Reply {
    report_reply(status, &preflight_engine::failed_report(id, message))
}

/// Loads and verifies every configured policy; any failure fails the whole set.
async fn load_set(args: &ServeArgs, generation: u64) -> Result<PolicySet, String> {
    let plan = inputs::plan(&InputArgs {
        config: args.config.clone(),
        locked: args.locked,
        no_collect: true,
        ..InputArgs::default()
    })
    .map_err(|err| err.to_string())?;
    let runtime = super::run::runtime(&args.limits, true).map_err(|err| err.to_string())?;
    let fetcher = crate::load::fetcher(plan.offline).map_err(|err| err.to_string())?;
    let mut entries = Vec::with_capacity(plan.specs.len());
    for spec in &plan.specs {
        let (entry, error) = crate::load::entry(&runtime, &fetcher, spec).await;
        if let Some(error) = error {
            return Err(error.to_string());
        }
        entries.push(entry);
    }
    Ok(PolicySet {
        runtime,
        entries,
        plan,
        generation,
    })
}

fn open_log(args: &ServeArgs) -> Result<Option<Box<dyn std::io::Write + Send>>, String> {
    match &args.decision_log {
        None => Ok(None),
        Some(path) if path.as_os_str() == "-" => Ok(Some(Box::new(std::io::stdout()))),
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(|file| Some(Box::new(file) as Box<dyn std::io::Write + Send>))
            .map_err(|err| format!("decision log `{}`: {err}", path.display())),
    }
}

fn read_tokens(args: &ServeArgs) -> Result<Vec<Vec<u8>>, String> {
    let Some(path) = &args.token_file else {
        if !args.addr.ip().is_loopback() && !args.allow_unauthenticated {
            return Err(format!(
                "refusing to listen on {} without --token-file: anyone who can reach it could ask for decisions; give --token-file FILE, or --allow-unauthenticated",
                args.addr
            ));
        }
        return Ok(Vec::new());
    };
    let text =
        preflight_engine::files::read_to_string(path, preflight_engine::files::InputKind::Config)
            .map_err(|err| format!("--token-file: {err}"))?;
    let tokens: Vec<Vec<u8>> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.as_bytes().to_vec())
        .collect();
    if tokens.is_empty() {
        return Err(format!("--token-file `{}` holds no token", path.display()));
    }
    if tokens.iter().any(|token| token.len() < 16) {
        return Err(format!(
            "--token-file `{}`: every token must be at least 16 characters",
            path.display()
        ));
    }
    Ok(tokens)
}

/// `preflight serve`.
pub fn serve(args: &ServeArgs) -> ExitCode {
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.min(4))
        .max_blocking_threads(threads.max(2))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            diagnostic::error(&format!("cannot start the async runtime: {err}"));
            return ExitCode::Error;
        }
    };
    match rt.block_on(run(args.clone())) {
        Ok(()) => ExitCode::Go,
        Err(message) => {
            diagnostic::error(&message);
            ExitCode::Error
        }
    }
}

async fn run(args: ServeArgs) -> Result<(), String> {
    let tokens = read_tokens(&args)?;
    let set = load_set(&args, 1).await?;
    let log = open_log(&args)?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", args.addr))?;
    let local = listener.local_addr().map_err(|err| err.to_string())?;
    eprintln!(
        "preflight serve: listening on http://{local} ({} policies, generation 1)",
        set.entries.len()
    );
    let state = Arc::new(State {
        inflight: Arc::new(tokio::sync::Semaphore::new(args.max_inflight.max(1))),
        args,
        current: RwLock::new(Arc::new(set)),
        tokens,
        metrics: Metrics::new(),
        log: Mutex::new(log),
        last_reload_error: Mutex::new(None),
        requests: AtomicU64::new(0),
        generations: AtomicU64::new(1),
        reload_lock: tokio::sync::Mutex::new(()),
    });
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|err| err.to_string())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|err| err.to_string())?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|err| err.to_string())?;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let header_timeout = state.args.header_timeout;
                let state = state.clone();
                let service = hyper::service::service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(state, request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = hangup.recv() => {
                let outcome = reload(&state).await;
                match &outcome {
                    Ok(generation) => eprintln!("preflight serve: reloaded (SIGHUP), generation {generation}"),
                    Err(message) => diagnostic::error(&format!("reload (SIGHUP) failed, still serving the old set: {message}")),
                }
                match open_log(&state.args) {
                    Ok(log) => *state.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = log,
                    Err(message) => diagnostic::error(&message),
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    // Stop accepting; let in-flight requests finish, up to the timeout.
    drop(listener);
    eprintln!("preflight serve: shutting down");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(state.args.shutdown_timeout) => {
            diagnostic::warning("in-flight requests did not finish within --shutdown-timeout");
        }
    }
    if let Some(log) = state
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_mut()
    {
        let _ = log.flush();
    }
    Ok(())
}

/// Loads a new set and swaps it in; on any failure the old set keeps serving.
async fn reload(state: &State) -> Result<u64, String> {
    let _one_at_a_time = state.reload_lock.lock().await;
    let generation = state.generations.load(Ordering::SeqCst) + 1;
    match load_set(&state.args, generation).await {
        Ok(set) => {
            *state
                .current
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
            state.generations.store(generation, Ordering::SeqCst);
            *state
                .last_reload_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            state
                .metrics
                .reloads
                .get_or_create(&OutcomeLabels {
                    outcome: "success".to_owned(),
                })
                .inc();
            Ok(generation)
        }
        Err(message) => {
            *state
                .last_reload_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message.clone());
            state
                .metrics
                .reloads
                .get_or_create(&OutcomeLabels {
                    outcome: "failure".to_owned(),
                })
                .inc();
            Err(message)
        }
    }
}

fn authorized(state: &State, request: &Request<Incoming>) -> bool {
    if state.tokens.is_empty() {
        return true;
    }
    let Some(given) = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    // Constant time in the token's bytes; every token is compared.
    let mut found = subtle::Choice::from(0);
    for token in &state.tokens {
        if token.len() == given.len() {
            found |= subtle::ConstantTimeEq::ct_eq(token.as_slice(), given.as_bytes());
        }
    }
    found.into()
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Reply {
    let response = route(&state, request).await;
    let class = format!("{}xx", response.status().as_u16() / 100);
    state
        .metrics
        .requests
        .get_or_create(&OutcomeLabels { outcome: class })
        .inc();
    response
}

async fn route(state: &Arc<State>, request: Request<Incoming>) -> Reply {
    let path = request.uri().path().to_owned();
    match (request.method(), path.as_str()) {
        (&Method::GET, "/healthz") => reply(StatusCode::OK, "text/plain", "ok\n"),
        (&Method::GET, "/readyz") => {
            let set = current(state);
            let error = state
                .last_reload_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            json_reply(
                StatusCode::OK,
                &Ready {
                    generation: set.generation,
                    last_reload_error: error,
                    policies: set.entries.len(),
                    ready: true,
                },
            )
        }
        (&Method::GET, "/metrics") => {
            let mut text = String::new();
            match prometheus_client::encoding::text::encode(&mut text, &state.metrics.registry) {
                Ok(()) => reply(
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    classic_exposition(&text),
                ),
                Err(err) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    err.to_string(),
                ),
            }
        }
        (&Method::GET, "/v1/policies") => {
            if !authorized(state, &request) {
                return unauthorized(state);
            }
            let set = current(state);
            let policies = set
                .entries
                .iter()
                .filter_map(|entry| entry.policy.as_ref().ok().map(|p| (entry, p)))
                .map(|(entry, policy)| ServedPolicy {
                    enforced: entry.enforce,
                    name: policy.metadata.name.clone(),
                    sha256: policy.sha256.clone(),
                    source: policy.source.clone(),
                    version: policy.metadata.version.clone(),
                })
                .collect();
            json_reply(
                StatusCode::OK,
                &Policies {
                    generation: set.generation,
                    policies,
                },
            )
        }
        (&Method::POST, "/v1/admin/reload") => {
            if state.tokens.is_empty() {
                return failed(
                    StatusCode::FORBIDDEN,
                    IssueId::ConfigInvalid,
                    "reloading needs --token-file: the admin endpoint is never open without a token".to_owned(),
                );
            }
            if !authorized(state, &request) {
                return unauthorized(state);
            }
            match reload(state).await {
                Ok(generation) => json_reply(
                    StatusCode::OK,
                    &Reload {
                        error: None,
                        generation,
                        reloaded: true,
                    },
                ),
                Err(message) => json_reply(
                    StatusCode::CONFLICT,
                    &Reload {
                        error: Some(message),
                        generation: current(state).generation,
                        reloaded: false,
                    },
                ),
            }
        }
        (&Method::POST, "/v1/decisions") => {
            if !authorized(state, &request) {
                return unauthorized(state);
            }
            decide(state, request).await
        }
        (
            _,
            "/healthz" | "/readyz" | "/metrics" | "/v1/policies" | "/v1/admin/reload"
            | "/v1/decisions",
        ) => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

fn unauthorized(state: &State) -> Reply {
    state
        .metrics
        .errors
        .get_or_create(&IdLabels {
            id: "unauthorized".to_owned(),
        })
        .inc();
    let mut response = failed(
        StatusCode::UNAUTHORIZED,
        IssueId::ConfigInvalid,
        "a bearer token from the service's --token-file is required: `Authorization: Bearer TOKEN`"
            .to_owned(),
    );
    response
        .headers_mut()
        .insert("www-authenticate", HeaderValue::from_static("Bearer"));
    response
}

fn current(state: &State) -> Arc<PolicySet> {
    state
        .current
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

async fn decide(state: &Arc<State>, request: Request<Incoming>) -> Reply {
    let started = Instant::now();
    let json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(';')
                .next()
                .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return failed(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IssueId::FactsNotJson,
            "send the fact set as `Content-Type: application/json`".to_owned(),
        );
    }
    let max = state.args.max_body;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max) {
        return too_large(max);
    }
    // Shed instead of queueing without bound.
    let Ok(permit) = state.inflight.clone().try_acquire_owned() else {
        state.metrics.shed.inc();
        let mut response = failed(
            StatusCode::SERVICE_UNAVAILABLE,
            IssueId::ConfigInvalid,
            format!(
                "the service is at --max-inflight {} requests; retry shortly",
                state.args.max_inflight
            ),
        );
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return response;
    };
    state.metrics.inflight.inc();
    let body = Limited::new(
        request.into_body(),
        usize::try_from(max).unwrap_or(usize::MAX),
    );
    let bytes = match tokio::time::timeout(Duration::from_secs(30), body.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) => {
            state.metrics.inflight.dec();
            drop(permit);
            return if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                too_large(max)
            } else {
                failed(
                    StatusCode::BAD_REQUEST,
                    IssueId::FactsUnreadable,
                    format!("the request body could not be read: {err}"),
                )
            };
        }
        Err(_) => {
            state.metrics.inflight.dec();
            drop(permit);
            return failed(
                StatusCode::REQUEST_TIMEOUT,
                IssueId::FactsUnreadable,
                "the request body did not arrive within 30 s".to_owned(),
            );
        }
    };
    let set = current(state);
    let id = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let log_facts = state.args.decision_log_facts;
    let worked = tokio::task::spawn_blocking(move || evaluate(&set, &bytes, log_facts)).await;
    state.metrics.inflight.dec();
    drop(permit);
    let (status, report, facts) = match worked {
        Ok(done) => done,
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            preflight_engine::failed_report(
                IssueId::PolicyTrap,
                format!("the evaluation failed: {err}"),
            ),
            None,
        ),
    };
    let seconds = started.elapsed().as_secs_f64();
    record(state, id, &report, facts, seconds);
    let mut response = report_reply(status, &report);
    if let Ok(value) = HeaderValue::from_str(&format!("{id}")) {
        response.headers_mut().insert("preflight-request-id", value);
    }
    response
}

fn too_large(max: u64) -> Reply {
    failed(
        StatusCode::PAYLOAD_TOO_LARGE,
        IssueId::FactsTooLarge,
        format!("the fact set is over the service's --max-body of {max} bytes"),
    )
}

/// Decides one fact set as `preflight run --no-collect --facts FILE` would.
fn evaluate(
    set: &PolicySet,
    bytes: &[u8],
    keep_facts: bool,
) -> (StatusCode, Report, Option<Value>) {
    let parsed = preflight_engine::json::from_slice(bytes)
        .map_err(|err| err.to_string())
        .and_then(|value| {
            if value.is_object() {
                Ok(value)
            } else {
                Err(format!("it is {}", preflight_engine::json::kind(&value)))
            }
        });
    let value: Value = match parsed {
        Ok(value) => value,
        Err(message) => {
            return (
                StatusCode::BAD_REQUEST,
                preflight_engine::failed_report(
                    IssueId::FactsNotJson,
                    format!("the request body is not a JSON object: {message}"),
                ),
                None,
            );
        }
    };
    // Checked, then the finding waivers applied as in a run.
    let prepared = preflight_engine::facts::from_value(value)
        .and_then(|facts| preflight_collectors::prepare(facts, set.plan.waivers.as_ref(), None));
    let facts = match prepared {
        Ok(facts) => facts,
        Err(err) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                preflight_engine::failed_report(err.id(), err.to_string()),
                None,
            );
        }
    };
    let evaluation = set.runtime.evaluate_all(&set.entries, &facts);
    let mut report = evaluation.report;
    if let Some(waivers) = &set.plan.waivers {
        waivers.apply_to_report(&mut report, &facts.waived);
    }
    report.sources = set.plan.provenance.clone();
    report.sources.extend(
        facts
            .value
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| (format!("facts.{key}"), "request".to_owned())),
    );
    (StatusCode::OK, report, keep_facts.then_some(facts.value))
}

fn record(state: &State, id: u64, report: &Report, facts: Option<Value>, seconds: f64) {
    let metrics = &state.metrics;
    metrics.latency.observe(seconds);
    metrics
        .decisions
        .get_or_create(&DecisionLabels {
            decision: report.decision.to_string(),
        })
        .inc();
    for policy in &report.policies {
        metrics
            .policy_decisions
            .get_or_create(&PolicyLabels {
                policy: policy.name.clone(),
                decision: policy.decision.to_string(),
            })
            .inc();
    }
    for issue in &report.blocking_issues {
        if IssueId::parse(&issue.id).is_some_and(IssueId::is_error) {
            metrics
                .errors
                .get_or_create(&IdLabels {
                    id: issue.id.clone(),
                })
                .inc();
        }
    }
    let mut guard = state
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(log) = guard.as_mut() else { return };
    let mut line = json!({
        "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "request_id": id,
        "facts_sha256": report.facts_sha256,
        "decision": report.decision,
        "policies": report.policies.iter().map(|p| json!({
            "name": p.name, "version": p.version, "sha256": p.sha256, "decision": p.decision,
        })).collect::<Vec<_>>(),
        "blocking_issues": report.blocking_issues.iter().map(|i| format!("{}/{}", i.policy, i.id)).collect::<Vec<_>>(),
        "latency_ms": (seconds * 1e6).round() / 1e3,
    });
    if let Some(facts) = facts {
        line["facts"] = facts;
    }
    let _ = writeln!(log, "{line}");
    let _ = log.flush();
}

/// The Prometheus text format (0.0.4) from OpenMetrics text: counters' HELP and TYPE name the
/// `_total` samples, and there is no `# EOF`. What `promtool check metrics` and every
/// Prometheus version read.
fn classic_exposition(open_metrics: &str) -> String {
    let counters: Vec<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The service's API as an OpenAPI 3.1 document, its bodies' schemas generated from the same
/// types as `schemas/`: `preflight schema openapi`, committed as `schemas/openapi.json`.
pub fn openapi() -> Value {
    use preflight_engine::schema::SchemaKind;
    let mut components = serde_json::Map::new();
    let generated = |schema: schemars::Schema| schema.to_value();
    for (name, mut schema) in [
        ("FactSet", SchemaKind::Facts.generate()),
        ("Report", SchemaKind::Report.generate()),
        ("Policies", generated(schemars::schema_for!(Policies))),
        ("Ready", generated(schemars::schema_for!(Ready))),
        ("Reload", generated(schemars::schema_for!(Reload))),
    ] {
        if let Some(map) = schema.as_object_mut() {
            map.remove("$schema");
            map.remove("$id");
            // Each document's definitions under its own name: the fact set's optional fields
            // are absent, the report's are null, so one type has two schemas.
            if let Some(Value::Object(defs)) = map.remove("$defs") {
                for (def, mut body) in defs {
                    rebase_refs(&mut body, name);
                    components.insert(format!("{name}.{def}"), body);
                }
            }
        }
        rebase_refs(&mut schema, name);
        components.insert(name.to_owned(), schema);
    }
    let report = |description: &str| {
        json!({
            "description": description,
            "headers": {
                "Preflight-Decision": {"schema": {"enum": ["GO", "GO_WITH_CAUTION", "NO_GO"]}},
            },
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}},
        })
    };
    let bearer = json!([{"bearer": []}]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "preflight decision service",
            "version": preflight_engine::HOST_VERSION,
            "description": "POST a fact set, get the standard report (docs/serve.md).",
        },
        "paths": {
            "/v1/decisions": {"post": {
                "operationId": "decide",
                "security": bearer,
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/FactSet"},
                }}},
                "responses": {
                    "200": report("The decision: the standard report (NO_GO with a `policy.*` issue when a policy failed)."),
                    "400": report("Not a JSON object: a NO_GO report (`facts.not_json`)."),
                    "401": report("No valid bearer token."),
                    "413": report("Over --max-body: a NO_GO report (`facts.too_large`)."),
                    "415": report("Not `Content-Type: application/json`."),
                    "422": report("The fact set fails the facts schema: a NO_GO report naming each pointer."),
                    "503": {"description": "Over --max-inflight; retry after `Retry-After` seconds.",
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                },
            }},
            "/v1/policies": {"get": {
                "operationId": "policies",
                "security": bearer,
                "responses": {
                    "200": {"description": "The policy set being served.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Policies"}}}},
                    "401": report("No valid bearer token."),
                },
            }},
            "/v1/admin/reload": {"post": {
                "operationId": "reload",
                "security": bearer,
                "responses": {
                    "200": {"description": "Reloaded: the new set serves.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Reload"}}}},
                    "401": report("No valid bearer token."),
                    "403": report("The service has no --token-file: the admin endpoint is closed."),
                    "409": {"description": "The reload failed; the old set still serves.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Reload"}}}},
                },
            }},
            "/healthz": {"get": {"operationId": "health", "responses": {
                "200": {"description": "The process runs.", "content": {"text/plain": {"schema": {"type": "string"}}}},
            }}},
            "/readyz": {"get": {"operationId": "ready", "responses": {
                "200": {"description": "Policies are loaded; the last reload's error, if any.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}},
            }}},
            "/metrics": {"get": {"operationId": "metrics", "responses": {
                "200": {"description": "Prometheus text format 0.0.4.", "content": {"text/plain": {"schema": {"type": "string"}}}},
            }}},
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
}

/// `#/$defs/X` → `#/components/schemas/DOCUMENT.X`.
fn rebase_refs(value: &mut Value, document: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "$ref"
                    && let Value::String(target) = inner
                    && let Some(name) = target.strip_prefix("#/$defs/")
                {
                    *target = format!("#/components/schemas/{document}.{name}");
                } else {
                    rebase_refs(inner, document);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                rebase_refs(item, document);
            }
        }
        _ => {}
    }
}
