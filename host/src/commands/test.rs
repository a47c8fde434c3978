//! `preflight test`: run decision case files against a policy module, a configured policy or a
//! built-in, through the same sandbox as `run`. Output like `opa test`; `--format junit` for CI.

use std::path::{Path, PathBuf};
use std::time::Instant;

use preflight_sdk::PolicyOutput;
use preflight_sdk::testing::Case;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use preflight_engine::sandbox::LogLine;
use preflight_engine::{Policy, Runtime};
use preflight_report::escape::{control as esc, xml};
use preflight_sdk::abi;
use preflight_sources::PolicySource;
use serde_json::Value;

use crate::diagnostic;
use crate::exit::ExitCode;
use crate::inputs::{self, InputArgs, PolicySpec};
use crate::limits::LimitArgs;

/// Output format of `preflight test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TestFormat {
    /// One line per case, then a summary.
    Text,
    /// JUnit XML.
    Junit,
}

/// Arguments of `preflight test`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// Case files (JSON or YAML) or folders of them. Default: `cases/`.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The policy: a `.wasm` file, `builtin:NAME`, or the name of a policy in preflight.toml.
    #[arg(long, short, value_name = "POLICY")]
    pub policy: String,
    /// Configuration file to look configured policies up in.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only cases whose name or file contains this text.
    #[arg(long, value_name = "TEXT")]
    pub run: Option<String>,
    /// Show guest logs and every case's output.
    #[arg(long, short)]
    pub verbose: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TestFormat,
    /// Write the output to FILE.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rewrite the expectation of every failing case to what the policy returns now; review
    /// the change with `git diff`. YAML case files are rewritten without their comments.
    #[arg(long, conflicts_with = "record")]
    pub update: bool,
    /// Record a new case named NAME from `--facts`, its expectation what the policy returns
    /// now; written to the first PATH folder (default `cases/`).
    #[arg(long, value_name = "NAME", requires = "facts")]
    pub record: Option<String>,
    /// The fact set (JSON) a recorded case holds.
    #[arg(long, value_name = "FILE", requires = "record")]
    pub facts: Option<PathBuf>,
    /// Settings (JSON) of a recorded case; default: the policy's settings in preflight.toml.
    #[arg(long, value_name = "JSON", requires = "record")]
    pub settings: Option<String>,
    /// Report which of the policy's rules the cases exercised: the rules its metadata lists,
    /// the issue ids the cases returned and the `rule!` marks they passed.
    #[arg(long)]
    pub coverage: bool,
    /// Write the rule coverage as lcov (one function per rule); implies `--coverage`.
    #[arg(long, value_name = "FILE")]
    pub coverage_file: Option<PathBuf>,
    /// Fail (exit 1) when fewer than PERCENT of the rules are covered; implies `--coverage`.
    #[arg(long, value_name = "PERCENT")]
    pub min_coverage: Option<f64>,
    /// Run again whenever a case file or the module changes, until Ctrl-C.
    #[arg(long, conflicts_with_all = ["update", "record"])]
    pub watch: bool,
    /// Sandbox limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What a case's evaluation produced.
#[derive(Debug)]
pub enum Outcome {
    /// The policy's output.
    Output(PolicyOutput),
    /// The evaluation failed (bad facts, a trap, settings the host refused).
    Error(String),
    /// The case file could not be loaded.
    NotLoaded(String),
}

/// One case's outcome.
#[derive(Debug)]
pub struct CaseResult {
    /// The case file.
    pub path: PathBuf,
    /// The case's name.
    pub name: String,
    /// Why it failed; empty when it passed.
    pub problems: Vec<String>,
    /// Guest logs, without the `rule!` marks.
    pub logs: Vec<LogLine>,
    /// Milliseconds.
    pub elapsed_ms: f64,
    /// Fuel the evaluation used.
    pub fuel_used: Option<u64>,
    /// What the evaluation produced.
    pub outcome: Outcome,
    /// Rules exercised: the ids of the issues returned and the `rule!` marks.
    pub rules: Vec<String>,
}

/// The policy `--policy` names: a `.wasm` file, `builtin:NAME`, a URL or `oci://` reference,
/// or a policy configured in `preflight.toml` (by source, file stem or built-in name), with the
/// pins the config and lock give it.
fn resolve(args: &TestArgs) -> Result<(PolicySpec, Value), String> {
    resolve_policy(&args.policy, args.config.clone())
}

/// The policy `text` names, as for `--policy` of `test` and `eval`, with the settings the
/// configuration gives it (`{}` for a module named directly).
///
/// # Errors
/// When `text` names no module and no configured policy.
pub fn resolve_policy(text: &str, config: Option<PathBuf>) -> Result<(PolicySpec, Value), String> {
    let path = PathBuf::from(text);
    let explicit = text.starts_with("builtin:")
        || text.contains("://")
        || path.extension().is_some_and(|ext| ext == "wasm")
        || path.is_file();
    if explicit {
        let source = crate::load::source_arg(text).map_err(|err| err.to_string())?;
        return Ok((
            PolicySpec::new(source),
            Value::Object(serde_json::Map::new()),
        ));
    }
    let plan = inputs::plan(&InputArgs {
        config,
        ..InputArgs::default()
    })
    .map_err(|err| err.to_string())?;
    let found = plan.specs.iter().find(|spec| {
        let key = spec.source.lock_key(&plan.base);
        let stem = Path::new(&key)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        key == text
            || stem.as_deref() == Some(text)
            || matches!(&spec.source, PolicySource::Builtin(name) if name == text)
    });
    match found {
        Some(spec) => {
            let mut spec = spec.clone();
            let configured = std::mem::replace(&mut spec.settings, serde_json::json!({}));
            Ok((spec, configured))
        }
        None => Err(format!(
            "`{text}` is not a .wasm file, `builtin:NAME`, a URL, or a policy in {}",
            plan.provenance
                .get("config")
                .filter(|c| *c != "none")
                .map_or_else(|| "preflight.toml (none found)".to_owned(), Clone::clone)
        )),
    }
}

/// Runs one case through the sandbox.
pub fn run_case(runtime: &Runtime, policy: &Policy, path: &Path, case: &Case) -> CaseResult {
    let started = Instant::now();
    let mut logs = Vec::new();
    let mut fuel_used = None;
    let outcome = match preflight_engine::facts::from_value(case.facts().clone()) {
        Err(err) => Outcome::Error(err.to_string()),
        Ok(facts) => {
            let (result, policy_logs) =
                runtime.evaluate_policy(policy, &case.settings, true, &facts);
            logs = policy_logs.lines;
            fuel_used = result.fuel_used;
            // Settings the policy refuses (its schema, checked by the host, or its own
            // `settings.invalid`) make `run` exit 2: a case may expect them as an error, with
            // the message, or as the blocking issue the policy answers.
            let refused = result
                .blocking_issues
                .iter()
                .find(|issue| issue.id == preflight_engine::IssueId::SettingsInvalid.as_str())
                .filter(|_| case.expect.error.is_some())
                .map(|issue| format!("settings.invalid: {}", issue.message));
            match result.error.or(refused) {
                Some(error) => Outcome::Error(error),
                None => Outcome::Output(PolicyOutput {
                    decision: result.decision,
                    blocking_issues: result.blocking_issues,
                    warnings: result.warnings,
                    details: result.details,
                }),
            }
        }
    };
    let problems = match &outcome {
        Outcome::Output(output) => case.check(output),
        Outcome::Error(message) => case.check_error(message),
        Outcome::NotLoaded(message) => vec![message.clone()],
    };
    let mut rules: Vec<String> = Vec::new();
    logs.retain(|line| match line.message.strip_prefix(abi::RULE_PREFIX) {
        Some(id) if line.level == "debug" => {
            rules.push(id.to_owned());
            false
        }
        _ => true,
    });
    if let Outcome::Output(output) = &outcome {
        rules.extend(
            output
                .blocking_issues
                .iter()
                .chain(&output.warnings)
                .map(|issue| issue.id.clone()),
        );
    }
    rules.sort();
    rules.dedup();
    CaseResult {
        path: path.to_owned(),
        name: case.name.clone(),
        problems,
        logs,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        fuel_used,
        outcome,
        rules,
    }
}

/// A case file, loaded or not.
struct Loaded {
    path: PathBuf,
    case: Result<Case, String>,
}

/// The case files under `paths` (default `cases/`): every one is loaded on its own, so one bad
/// file is one failed case. Files another case names as its `facts_file` are fact sets, not
/// cases. Errors only when a path does not exist or no case file is found.
fn collect_cases(paths: &[PathBuf]) -> Result<Vec<Loaded>, String> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("cases")]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(&path)
                .map_err(|err| format!("case folder `{}`: {err}", path.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    path.extension()
                        .is_some_and(|ext| ext == "json" || ext == "yaml" || ext == "yml")
                })
                .collect();
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path);
        } else {
            return Err(format!(
                "case file `{}` does not exist; give case files or folders of them (default `cases/`)",
                path.display()
            ));
        }
    }
    let mut loaded: Vec<Loaded> = files
        .into_iter()
        .map(|path| Loaded {
            case: Case::load(&path).map_err(|err| err.to_string()),
            path,
        })
        .collect();
    let fact_files: Vec<PathBuf> = loaded
        .iter()
        .filter_map(|l| {
            l.case
                .as_ref()
                .ok()?
                .facts_file
                .as_ref()?
                .canonicalize()
                .ok()
        })
        .collect();
    loaded.retain(|l| {
        l.path
            .canonicalize()
            .map_or(true, |path| !fact_files.contains(&path))
    });
    if loaded.is_empty() {
        return Err("no case files found".to_owned());
    }
    Ok(loaded)
}

fn fail(message: &str) -> ExitCode {
    diagnostic::error(message);
    ExitCode::Error
}

/// `preflight test`: exit 0 when every case passes, 1 when any fails, 2 when the cases or the
/// policy cannot be loaded.
pub fn test(rt: &tokio::runtime::Runtime, args: &TestArgs) -> ExitCode {
    if !args.watch {
        return test_once(rt, args);
    }
    // `--watch`: run, then again whenever a case file or the module changes; Ctrl-C stops.
    loop {
        let before = watched(args);
        let code = test_once(rt, args);
        eprintln!(
            "watching {} files (exit {} on this run); Ctrl-C to stop",
            before.len(),
            code.code()
        );
        while watched(args) == before {
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        eprintln!("{}", "=".repeat(80));
    }
}

/// What `--watch` compares: every case file and the module, with size and modification time.
fn watched(args: &TestArgs) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    let mut paths: Vec<PathBuf> = Vec::new();
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from("cases")]
    } else {
        args.paths.clone()
    };
    for root in roots {
        match std::fs::read_dir(&root) {
            Ok(entries) => paths.extend(entries.filter_map(Result::ok).map(|e| e.path())),
            Err(_) => paths.push(root),
        }
    }
    paths.push(PathBuf::from(&args.policy));
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            Some((path, meta.len(), meta.modified().ok()))
        })
        .collect()
}

/// A sandbox runtime and the one policy `spec` names, loaded and verified; `None` after
/// printing why not.
pub fn load_one(
    rt: &tokio::runtime::Runtime,
    spec: &PolicySpec,
    limits: &LimitArgs,
    pooled: bool,
) -> Option<(Runtime, Policy)> {
    let runtime = super::run::runtime(limits, pooled)
        .map_err(diagnostic::print)
        .ok()?;
    let fetcher = crate::load::fetcher(false)
        .map_err(diagnostic::print)
        .ok()?;
    match rt.block_on(crate::load::entry(&runtime, &fetcher, spec)) {
        (entry, None) => match entry.policy {
            Ok(policy) => Some((runtime, policy)),
            Err(failure) => {
                diagnostic::error(&failure.message);
                None
            }
        },
        (_, Some(err)) => {
            diagnostic::print(err);
            None
        }
    }
}

fn test_once(rt: &tokio::runtime::Runtime, args: &TestArgs) -> ExitCode {
    let (spec, configured) = match resolve(args) {
        Ok(found) => found,
        Err(message) => return fail(&message),
    };
    let Some((runtime, policy)) = load_one(rt, &spec, &args.limits, true) else {
        return ExitCode::Error;
    };
    if let Some(name) = &args.record {
        return record(args, &runtime, &policy, name, configured);
    }
    let cases = match collect_cases(&args.paths) {
        Ok(cases) => cases,
        Err(message) => return fail(&message),
    };
    let total = cases.len();
    let selected: Vec<&Loaded> = cases
        .iter()
        .filter(|loaded| {
            args.run.as_ref().is_none_or(|text| {
                loaded.path.to_string_lossy().contains(text.as_str())
                    || loaded
                        .case
                        .as_ref()
                        .is_ok_and(|case| case.name.contains(text.as_str()))
            })
        })
        .collect();
    if let (Some(text), true) = (&args.run, selected.is_empty()) {
        return fail(&format!(
            "--run `{}` selects none of the {total} cases (it matches case names and file paths)",
            esc(text)
        ));
    }
    let results: Vec<CaseResult> = selected
        .iter()
        .map(|loaded| match &loaded.case {
            Ok(case) => run_case(&runtime, &policy, &loaded.path, case),
            Err(message) => CaseResult {
                path: loaded.path.clone(),
                name: loaded
                    .path
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
                problems: vec![message.clone()],
                logs: Vec::new(),
                elapsed_ms: 0.0,
                fuel_used: None,
                outcome: Outcome::NotLoaded(message.clone()),
                rules: Vec::new(),
            },
        })
        .collect();
    let coverage = (args.coverage || args.coverage_file.is_some() || args.min_coverage.is_some())
        .then(|| Coverage::of(&policy, &results));
    let mut text = match args.format {
        TestFormat::Text => render_text(&policy, &results, args.verbose),
        TestFormat::Junit => render_junit(&policy, &results, args.verbose).unwrap_or_default(),
    };
    if let (Some(coverage), TestFormat::Text) = (&coverage, args.format) {
        text.push_str(&coverage.render(args.verbose));
    }
    let written = match &args.output {
        Some(path) => preflight_engine::files::write_atomic(path, text.as_bytes())
            .map_err(|err| err.to_string()),
        None => {
            print!("{text}");
            Ok(())
        }
    };
    if let Err(message) = written {
        return fail(&format!("cannot write the results: {message}"));
    }
    if let (Some(coverage), Some(path)) = (&coverage, &args.coverage_file)
        && let Err(err) =
            preflight_engine::files::write_atomic(path, coverage.lcov(&policy).as_bytes())
    {
        return fail(&format!(
            "cannot write the coverage to `{}`: {err}",
            path.display()
        ));
    }
    if args.update {
        return update(&cases, &results);
    }
    let passed = results.iter().all(|r| r.problems.is_empty());
    if let (Some(coverage), Some(minimum)) = (&coverage, args.min_coverage) {
        if !(0.0..=100.0).contains(&minimum) {
            return fail(&format!(
                "--min-coverage {minimum}: give a percentage from 0 to 100"
            ));
        }
        if coverage.percent() < minimum {
            diagnostic::error(&format!(
                "rule coverage {:.1}% is below --min-coverage {minimum}%",
                coverage.percent()
            ));
            return ExitCode::NoGo;
        }
    }
    if passed { ExitCode::Go } else { ExitCode::NoGo }
}

/// The expectation a case should have for what the policy returned. `old` keeps the author's
/// choice of which `details` to compare.
fn expectation_for(outcome: &Outcome, old_details: Option<&Value>) -> Option<Value> {
    let ids = |issues: &[preflight_sdk::Issue]| {
        let mut ids: Vec<String> = issues.iter().map(|issue| issue.id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    match outcome {
        Outcome::NotLoaded(_) => None,
        Outcome::Error(message) => {
            let line = message.lines().next().unwrap_or_default();
            let cut: String = line.chars().take(200).collect();
            Some(serde_json::json!({ "error": cut }))
        }
        Outcome::Output(output) => {
            let mut expect = serde_json::json!({
                "decision": output.effective_decision(),
                "blocking_issues": ids(&output.blocking_issues),
                "warnings": ids(&output.warnings),
            });
            if let Some(old) = old_details {
                expect["details"] = project(old, &output.details);
            }
            Some(expect)
        }
    }
}

/// `actual` restricted to the keys `shape` has (all of `actual` where `shape` is not an object).
fn project(shape: &Value, actual: &Value) -> Value {
    match (shape, actual) {
        (Value::Object(shape), Value::Object(actual)) => Value::Object(
            shape
                .iter()
                .filter_map(|(key, inner)| Some((key.clone(), project(inner, actual.get(key)?))))
                .collect(),
        ),
        _ => actual.clone(),
    }
}

/// `--update`: rewrites the `expect` of every failing case that ran; exit 0 when every case now
/// holds what the policy returns.
fn update(cases: &[Loaded], results: &[CaseResult]) -> ExitCode {
    let mut all = true;
    for result in results.iter().filter(|r| !r.problems.is_empty()) {
        let Some(Loaded { case: Ok(case), .. }) = cases.iter().find(|l| l.path == result.path)
        else {
            all = false;
            continue;
        };
        let Some(expect) = expectation_for(&result.outcome, case.expect.details.as_ref()) else {
            all = false;
            continue;
        };
        match rewrite_expect(&result.path, expect) {
            Ok(()) => eprintln!("updated {}", esc(&result.path.display().to_string())),
            Err(message) => {
                diagnostic::error(&message);
                return ExitCode::Error;
            }
        }
    }
    if all { ExitCode::Go } else { ExitCode::NoGo }
}

/// Replaces the `expect` of a case file, keeping everything else, in its own format.
fn rewrite_expect(path: &Path, expect: Value) -> Result<(), String> {
    let text =
        preflight_engine::files::read_to_string(path, preflight_engine::files::InputKind::Case)
            .map_err(|err| err.to_string())?;
    let yaml = path
        .extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml");
    let mut value: Value = if yaml {
        serde_norway::from_str(&text).map_err(|err| format!("`{}`: {err}", path.display()))?
    } else {
        serde_json::from_str(&text).map_err(|err| format!("`{}`: {err}", path.display()))?
    };
    value["expect"] = expect;
    let mut out = if yaml {
        serde_norway::to_string(&value).map_err(|err| err.to_string())?
    } else {
        serde_json::to_string_pretty(&value).map_err(|err| err.to_string())?
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    preflight_engine::files::write_atomic(path, out.as_bytes())
        .map_err(|err| format!("cannot write `{}`: {err}", path.display()))
}

/// `--record NAME --facts FILE`: a new case holding the fact set, its expectation what the
/// policy returns now (with all of `details`).
fn record(
    args: &TestArgs,
    runtime: &Runtime,
    policy: &Policy,
    name: &str,
    configured: Value,
) -> ExitCode {
    let Some(facts_path) = &args.facts else {
        return fail("--record needs --facts FILE");
    };
    let facts = match preflight_engine::facts::read_file(facts_path) {
        Ok(facts) => facts,
        Err(err) => return fail(&err.to_string()),
    };
    let settings = match &args.settings {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => value,
            Ok(_) => return fail("--settings: give a JSON object"),
            Err(err) => return fail(&format!("--settings is not JSON: {err}")),
        },
        None => configured,
    };
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if stem.is_empty() {
        return fail("--record: give a name with letters or digits");
    }
    let folder = args
        .paths
        .first()
        .filter(|path| {
            !path
                .extension()
                .is_some_and(|ext| ext == "json" || ext == "yaml" || ext == "yml")
        })
        .cloned()
        .unwrap_or_else(|| PathBuf::from("cases"));
    let path = folder.join(format!("{stem}.json"));
    if path.exists() {
        return fail(&format!(
            "`{}` exists; choose another --record name or remove it",
            path.display()
        ));
    }
    let mut case = Case {
        name: name.to_owned(),
        facts: Some(facts),
        facts_file: None,
        settings,
        expect: preflight_sdk::testing::Expectation::default(),
    };
    let result = run_case(runtime, policy, &path, &case);
    if let Outcome::Output(output) = &result.outcome {
        let details = output.details.clone();
        let Some(expect) = expectation_for(&result.outcome, Some(&details)) else {
            return fail("the case could not be evaluated");
        };
        case.expect = match serde_json::from_value(expect) {
            Ok(expect) => expect,
            Err(err) => return fail(&err.to_string()),
        };
    } else if let Some(expect) = expectation_for(&result.outcome, None) {
        case.expect = match serde_json::from_value(expect) {
            Ok(expect) => expect,
            Err(err) => return fail(&err.to_string()),
        };
    }
    if let Err(err) = std::fs::create_dir_all(&folder) {
        return fail(&format!("cannot create `{}`: {err}", folder.display()));
    }
    let mut text = match serde_json::to_string_pretty(&case) {
        Ok(text) => text,
        Err(err) => return fail(&err.to_string()),
    };
    text.push('\n');
    if let Err(err) = preflight_engine::files::write_atomic(&path, text.as_bytes()) {
        return fail(&format!("cannot write `{}`: {err}", path.display()));
    }
    let what = match &result.outcome {
        Outcome::Output(output) => output.effective_decision().to_string(),
        _ => "an error".to_owned(),
    };
    println!(
        "recorded {} ({what}); review its expectation before you commit it",
        esc(&path.display().to_string())
    );
    ExitCode::Go
}

/// Issue ids and messages, one per line, at most `MAX_SHOWN`.
const MAX_SHOWN: usize = 20;

fn show_output(out: &mut String, output: &PolicyOutput) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "    decision: {}", output.effective_decision());
    for (label, issues) in [
        ("blocking", &output.blocking_issues),
        ("warning", &output.warnings),
    ] {
        for issue in issues.iter().take(MAX_SHOWN) {
            let _ = writeln!(
                out,
                "    {label}: {}: {}",
                esc(&issue.id),
                esc(&issue.message)
            );
        }
        if issues.len() > MAX_SHOWN {
            let _ = writeln!(out, "    ... {} more", issues.len() - MAX_SHOWN);
        }
    }
    let details = output.details.to_string();
    let cut: String = details.chars().take(2000).collect();
    let more = if cut.len() < details.len() {
        " ..."
    } else {
        ""
    };
    let _ = writeln!(out, "    details: {}{more}", esc(&cut));
}

/// Expected and actual, field by field, for the fields the case names: `-` what it expects,
/// `+` what the policy returned.
fn diff(
    case_expect: Option<&preflight_sdk::testing::Expectation>,
    outcome: &Outcome,
) -> Vec<String> {
    let Some(expect) = case_expect else {
        return Vec::new();
    };
    // An unexpected error is its own message; there is no output to compare.
    if matches!(outcome, Outcome::Error(_)) && expect.error.is_none() {
        return Vec::new();
    }
    let expected = serde_json::to_value(expect).unwrap_or(Value::Null);
    let actual = match expectation_for(outcome, expect.details.as_ref()) {
        Some(actual) => actual,
        None => return Vec::new(),
    };
    let mut lines = Vec::new();
    let keys = [
        ("decision", "decision"),
        ("blocking_issues", "blocking_issues"),
        ("blocking_issues_include", "blocking_issues"),
        ("warnings", "warnings"),
        ("warnings_include", "warnings"),
        ("details", "details"),
        ("error", "error"),
    ];
    for (key, actual_key) in keys {
        let Some(want) = expected.get(key) else {
            continue;
        };
        let got = actual.get(actual_key).unwrap_or(&Value::Null);
        if key == "details" {
            leaf_diff("details", want, got, &mut lines);
        } else if want != got {
            lines.push(format!("-{key}: {want}"));
            lines.push(format!("+{key}: {got}"));
        }
    }
    lines
}

fn leaf_diff(path: &str, want: &Value, got: &Value, lines: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, inner) in want {
                leaf_diff(
                    &format!("{path}.{key}"),
                    inner,
                    got.get(key).unwrap_or(&Value::Null),
                    lines,
                );
            }
        }
        (Value::Number(a), Value::Number(b))
            if a.as_f64()
                .zip(b.as_f64())
                .is_some_and(|(a, b)| (a - b).abs() <= 1e-9 * a.abs().max(1.0)) => {}
        (want, got) if want == got => {}
        (want, got) => {
            lines.push(format!("-{path}: {want}"));
            lines.push(format!("+{path}: {got}"));
        }
    }
}

fn render_text(policy: &Policy, results: &[CaseResult], verbose: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let metadata = &policy.metadata;
    let _ = writeln!(
        out,
        "{} {} ({})",
        esc(&metadata.name),
        esc(&metadata.version),
        esc(&policy.source)
    );
    for result in results {
        let status = match (&result.outcome, result.problems.is_empty()) {
            (Outcome::NotLoaded(_), _) => "ERROR",
            (_, true) => "PASS",
            (_, false) => "FAIL",
        };
        let fuel = result
            .fuel_used
            .map_or_else(String::new, |fuel| format!(", fuel {fuel}"));
        let _ = writeln!(
            out,
            "{}: {} ... {status} ({:.2} ms{fuel})",
            esc(&result.path.display().to_string()),
            esc(&result.name),
            result.elapsed_ms
        );
        for problem in &result.problems {
            let _ = writeln!(out, "    {}", esc(problem));
        }
        let failed = !result.problems.is_empty();
        if failed {
            let expect = Case::load(&result.path).ok().map(|case| case.expect);
            let lines = diff(expect.as_ref(), &result.outcome);
            if !lines.is_empty() {
                let _ = writeln!(out, "    --- expected\n    +++ actual");
                for line in lines {
                    let _ = writeln!(out, "    {}", esc(&line));
                }
            }
        }
        if verbose || failed {
            match &result.outcome {
                Outcome::Output(output) => show_output(&mut out, output),
                Outcome::Error(message) if verbose => {
                    let _ = writeln!(out, "    error: {}", esc(message));
                }
                _ => {}
            }
        }
        if verbose {
            for line in &result.logs {
                let _ = writeln!(out, "    [{}] {}", line.level, esc(&line.message));
            }
        }
    }
    let passed = results.iter().filter(|r| r.problems.is_empty()).count();
    let failed = results.len() - passed;
    let _ = writeln!(out, "{}", "-".repeat(80));
    let _ = writeln!(out, "PASS: {passed}/{}", results.len());
    if failed > 0 {
        let _ = writeln!(out, "FAIL: {failed}/{}", results.len());
    }
    let fuel: u64 = results.iter().filter_map(|r| r.fuel_used).sum();
    let _ = writeln!(out, "{passed} passed, {failed} failed (fuel {fuel} in all)");
    out
}

fn render_junit(
    policy: &Policy,
    results: &[CaseResult],
    verbose: bool,
) -> Result<String, std::io::Error> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let errors = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::NotLoaded(_)))
        .count();
    let failures = results.iter().filter(|r| !r.problems.is_empty()).count() - errors;
    let total: f64 = results.iter().map(|r| r.elapsed_ms).sum::<f64>() / 1000.0;
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", xml(&policy.metadata.name, false).as_ref()));
    suite.push_attribute(("tests", results.len().to_string().as_str()));
    suite.push_attribute(("failures", failures.to_string().as_str()));
    suite.push_attribute(("errors", errors.to_string().as_str()));
    suite.push_attribute(("time", format!("{total:.3}").as_str()));
    writer.write_event(Event::Start(suite))?;
    for result in results {
        let mut case = BytesStart::new("testcase");
        case.push_attribute((
            "classname",
            xml(&result.path.display().to_string(), false).as_ref(),
        ));
        case.push_attribute(("name", xml(&result.name, false).as_ref()));
        case.push_attribute((
            "time",
            format!("{:.6}", result.elapsed_ms / 1000.0).as_str(),
        ));
        writer.write_event(Event::Start(case))?;
        if !result.problems.is_empty() {
            let tag = if matches!(result.outcome, Outcome::NotLoaded(_)) {
                "error"
            } else {
                "failure"
            };
            let mut failure = BytesStart::new(tag);
            failure.push_attribute(("message", xml(&result.problems[0], false).as_ref()));
            writer.write_event(Event::Start(failure))?;
            let mut body = result.problems.join("\n");
            let expect = Case::load(&result.path).ok().map(|case| case.expect);
            for line in diff(expect.as_ref(), &result.outcome) {
                body.push('\n');
                body.push_str(&line);
            }
            writer.write_event(Event::Text(BytesText::new(&xml(&body, true))))?;
            writer.write_event(Event::End(BytesEnd::new(tag)))?;
        }
        // Cost per case: fuel (and, with -v, the guest's logs) for the CI log.
        let mut system_out = result
            .fuel_used
            .map_or_else(String::new, |fuel| format!("fuel_used: {fuel}\n"));
        if verbose {
            for line in &result.logs {
                system_out.push_str(&format!("[{}] {}\n", line.level, line.message));
            }
        }
        if !system_out.is_empty() {
            writer.write_event(Event::Start(BytesStart::new("system-out")))?;
            writer.write_event(Event::Text(BytesText::new(&xml(&system_out, true))))?;
            writer.write_event(Event::End(BytesEnd::new("system-out")))?;
        }
        writer.write_event(Event::End(BytesEnd::new("testcase")))?;
    }
    writer.write_event(Event::End(BytesEnd::new("testsuite")))?;
    let mut text = String::from_utf8_lossy(&writer.into_inner()).into_owned();
    text.push('\n');
    Ok(text)
}

/// Which of a policy's rules the cases exercised.
struct Coverage {
    /// Every rule: the metadata's list, then ids the cases returned that it does not list.
    rules: Vec<String>,
    /// Per rule, the cases that exercised it.
    hits: std::collections::BTreeMap<String, Vec<String>>,
    /// Ids the cases returned or marked that the metadata does not list.
    undeclared: Vec<String>,
}

impl Coverage {
    fn of(policy: &Policy, results: &[CaseResult]) -> Coverage {
        let mut rules = policy.metadata.rules.clone();
        let mut hits: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut undeclared = Vec::new();
        for result in results {
            for id in &result.rules {
                if !rules.contains(id) {
                    rules.push(id.clone());
                    undeclared.push(id.clone());
                }
                hits.entry(id.clone())
                    .or_default()
                    .push(result.name.clone());
            }
        }
        Coverage {
            rules,
            hits,
            undeclared,
        }
    }

    fn covered(&self) -> usize {
        self.rules
            .iter()
            .filter(|rule| self.hits.contains_key(*rule))
            .count()
    }

    fn percent(&self) -> f64 {
        if self.rules.is_empty() {
            0.0
        } else {
            #[allow(clippy::cast_precision_loss, reason = "counts of rules")]
            let percent = 100.0 * self.covered() as f64 / self.rules.len() as f64;
            percent
        }
    }

    fn render(&self, verbose: bool) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "rule coverage: {}/{} rules ({:.1}%)",
            self.covered(),
            self.rules.len(),
            self.percent()
        );
        let uncovered: Vec<&str> = self
            .rules
            .iter()
            .filter(|rule| !self.hits.contains_key(*rule))
            .map(String::as_str)
            .collect();
        if !uncovered.is_empty() {
            let _ = writeln!(out, "  not exercised: {}", esc(&uncovered.join(", ")));
        }
        if !self.undeclared.is_empty() {
            let _ = writeln!(
                out,
                "  returned but not in the policy's `rules`: {}",
                esc(&self.undeclared.join(", "))
            );
        }
        if self.rules.is_empty() {
            let _ = writeln!(
                out,
                "  the policy lists no rules and the cases returned no issue ids: declare them with export_policy!'s `rules`"
            );
        }
        if verbose {
            for rule in &self.rules {
                let cases = self.hits.get(rule).map_or(0, Vec::len);
                let _ = writeln!(out, "  {cases:>4} cases  {}", esc(rule));
            }
        }
        out
    }

    /// lcov: one function per rule, hit once per case that exercised it.
    fn lcov(&self, policy: &Policy) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "TN:{}", policy.metadata.name);
        let _ = writeln!(out, "SF:{}", policy.source);
        for (line, rule) in self.rules.iter().enumerate() {
            let _ = writeln!(out, "FN:{},{rule}", line + 1);
        }
        for rule in &self.rules {
            let _ = writeln!(
                out,
                "FNDA:{},{rule}",
                self.hits.get(rule).map_or(0, Vec::len)
            );
        }
        let _ = writeln!(out, "FNF:{}", self.rules.len());
        let _ = writeln!(out, "FNH:{}", self.covered());
        for (line, rule) in self.rules.iter().enumerate() {
            let _ = writeln!(
                out,
                "DA:{},{}",
                line + 1,
                self.hits.get(rule).map_or(0, Vec::len)
            );
        }
        let _ = writeln!(out, "LF:{}", self.rules.len());
        let _ = writeln!(out, "LH:{}", self.covered());
        let _ = writeln!(out, "end_of_record");
        out
    }
}
