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
use preflight_sources::PolicySource;

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
    /// Sandbox limits.
    #[command(flatten)]
    pub limits: LimitArgs,
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
    /// Guest logs.
    pub logs: Vec<LogLine>,
    /// Milliseconds.
    pub elapsed_ms: f64,
}

/// The policy `--policy` names: a `.wasm` file, `builtin:NAME`, a URL or `oci://` reference,
/// or a policy configured in `preflight.toml` (by source, file stem or built-in name), with the
/// pins the config and lock give it.
fn resolve(args: &TestArgs) -> Result<PolicySpec, String> {
    let text = args.policy.as_str();
    let path = PathBuf::from(text);
    let explicit = text.starts_with("builtin:")
        || text.contains("://")
        || path.extension().is_some_and(|ext| ext == "wasm")
        || path.is_file();
    if explicit {
        let source = crate::load::source_arg(text).map_err(|err| err.to_string())?;
        return Ok(PolicySpec::new(source));
    }
    let plan = inputs::plan(&InputArgs {
        config: args.config.clone(),
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
            spec.settings = serde_json::json!({});
            Ok(spec)
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
    let problems = match preflight_engine::facts::from_value(case.facts().clone()) {
        Err(err) => case.check_error(&err.to_string()),
        Ok(facts) => {
            let (result, policy_logs) =
                runtime.evaluate_policy(policy, &case.settings, true, &facts);
            logs = policy_logs.lines;
            // Settings the policy refuses (its schema, checked by the host, or its own
            // `settings.invalid`) make `run` exit 2: a case may expect them as an error, with
            // the message, or as the blocking issue the policy answers.
            let refused = result
                .blocking_issues
                .iter()
                .find(|issue| issue.id == preflight_engine::IssueId::SettingsInvalid.as_str())
                .filter(|_| case.expect.error.is_some())
                .map(|issue| format!("settings.invalid: {}", issue.message));
            match result.error.as_ref().or(refused.as_ref()) {
                Some(error) => case.check_error(error),
                None => case.check(&PolicyOutput {
                    decision: result.decision,
                    blocking_issues: result.blocking_issues,
                    warnings: result.warnings,
                    details: result.details,
                }),
            }
        }
    };
    CaseResult {
        path: path.to_owned(),
        name: case.name.clone(),
        problems,
        logs,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

fn collect_cases(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Case)>, String> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("cases")]
    } else {
        paths.to_vec()
    };
    let mut cases = Vec::new();
    for path in paths {
        if path.is_dir() {
            cases.extend(Case::load_dir(&path).map_err(|err| err.to_string())?);
        } else {
            cases.push((
                path.clone(),
                Case::load(&path).map_err(|err| err.to_string())?,
            ));
        }
    }
    if cases.is_empty() {
        return Err("no case files found".to_owned());
    }
    Ok(cases)
}

/// `preflight test`: exit 0 when every case passes, 1 when any fails, 2 when the cases or the
/// policy cannot be loaded.
pub fn test(rt: &tokio::runtime::Runtime, args: &TestArgs) -> ExitCode {
    let cases = match collect_cases(&args.paths) {
        Ok(cases) => cases,
        Err(message) => {
            diagnostic::error(&message);
            return ExitCode::Error;
        }
    };
    let spec = match resolve(args) {
        Ok(spec) => spec,
        Err(message) => {
            diagnostic::error(&message);
            return ExitCode::Error;
        }
    };
    let runtime = match super::run::runtime(&args.limits, true) {
        Ok(runtime) => runtime,
        Err(err) => {
            diagnostic::print(err);
            return ExitCode::Error;
        }
    };
    let fetcher = match crate::load::fetcher(false) {
        Ok(fetcher) => fetcher,
        Err(err) => {
            diagnostic::print(err);
            return ExitCode::Error;
        }
    };
    let policy = match rt.block_on(crate::load::entry(&runtime, &fetcher, &spec)) {
        (entry, None) => match entry.policy {
            Ok(policy) => policy,
            Err(failure) => {
                diagnostic::error(&failure.message);
                return ExitCode::Error;
            }
        },
        (_, Some(err)) => {
            diagnostic::print(err);
            return ExitCode::Error;
        }
    };
    let results: Vec<CaseResult> = cases
        .iter()
        .filter(|(path, case)| {
            args.run.as_ref().is_none_or(|text| {
                case.name.contains(text.as_str()) || path.to_string_lossy().contains(text.as_str())
            })
        })
        .map(|(path, case)| run_case(&runtime, &policy, path, case))
        .collect();
    let text = match args.format {
        TestFormat::Text => render_text(&policy, &results, args.verbose),
        TestFormat::Junit => render_junit(&policy, &results).unwrap_or_default(),
    };
    let written = match &args.output {
        Some(path) => preflight_engine::files::write_atomic(path, text.as_bytes())
            .map_err(|err| err.to_string()),
        None => {
            print!("{text}");
            Ok(())
        }
    };
    if let Err(message) = written {
        diagnostic::error(&format!("cannot write the results: {message}"));
        return ExitCode::Error;
    }
    if results.iter().all(|r| r.problems.is_empty()) {
        ExitCode::Go
    } else {
        ExitCode::NoGo
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
        let status = if result.problems.is_empty() {
            "PASS"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            out,
            "{}: {} ... {status} ({:.2} ms)",
            esc(&result.path.display().to_string()),
            esc(&result.name),
            result.elapsed_ms
        );
        for problem in &result.problems {
            let _ = writeln!(out, "    {}", esc(problem));
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
    if failed == 0 {
        let _ = writeln!(out, "PASS: {passed}/{}", results.len());
    } else {
        let _ = writeln!(out, "PASS: {passed}/{}", results.len());
        let _ = writeln!(out, "FAIL: {failed}/{}", results.len());
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    out
}

fn render_junit(policy: &Policy, results: &[CaseResult]) -> Result<String, std::io::Error> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let failures = results.iter().filter(|r| !r.problems.is_empty()).count();
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", xml(&policy.metadata.name, false).as_ref()));
    suite.push_attribute(("tests", results.len().to_string().as_str()));
    suite.push_attribute(("failures", failures.to_string().as_str()));
    suite.push_attribute(("errors", "0"));
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
        if result.problems.is_empty() {
            writer.write_event(Event::Empty(case))?;
            continue;
        }
        writer.write_event(Event::Start(case))?;
        let mut failure = BytesStart::new("failure");
        failure.push_attribute(("message", xml(&result.problems[0], false).as_ref()));
        writer.write_event(Event::Start(failure))?;
        writer.write_event(Event::Text(BytesText::new(&xml(
            &result.problems.join("\n"),
            true,
        ))))?;
        writer.write_event(Event::End(BytesEnd::new("failure")))?;
        writer.write_event(Event::End(BytesEnd::new("testcase")))?;
    }
    writer.write_event(Event::End(BytesEnd::new("testsuite")))?;
    let mut text = String::from_utf8_lossy(&writer.into_inner()).into_owned();
    text.push('\n');
    Ok(text)
}
