//! `preflight run --facts-stream FILE`: many fact sets, one per line (NDJSON), through the same
//! loaded policies; one JSON report per line on the way out, in input order.
//!
//! Policies are loaded and compiled once; every fact set still gets a fresh sandbox per policy.
//! Input is read and output written line by line, so memory stays flat however long the stream.
//! A line that is not a valid fact set gets a `NO_GO` report naming the line, and the run goes
//! on; the exit code is the worst over all lines (an error anywhere gives 2).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::commands::run::{RunArgs, Target, run_policy};
use crate::evaluate::{self, Loaded};
use crate::exit::ExitCode;
use crate::report::Format;
use crate::report::PolicyResult;
use crate::sandbox::Runtime;
use crate::{diagnostic, facts, inputs};

/// How bad an exit code is: error, then `NO_GO`, then `GO_WITH_CAUTION`, then `GO`.
fn severity(code: ExitCode) -> u8 {
    match code {
        ExitCode::Go => 0,
        ExitCode::GoWithCaution => 1,
        ExitCode::NoGo => 2,
        ExitCode::Error => 3,
    }
}

/// Runs the stream.
pub fn run(args: &RunArgs, stream: &Path, targets: &[Target]) -> ExitCode {
    if let Some(other) = targets.iter().find(|t| t.format != Format::Json) {
        eprintln!(
            "error: --facts-stream writes one JSON report per line; `--format {}` is not available with it",
            other.format.name()
        );
        return ExitCode::Error;
    }
    let output = targets.first().and_then(|t| t.path.clone());
    let writer: Box<dyn Write> = match &output {
        Some(path) if !args.dry_run => match std::fs::File::create(path) {
            Ok(file) => Box::new(file),
            Err(err) => {
                eprintln!("error: cannot write `{}`: {err}", path.display());
                return ExitCode::Error;
            }
        },
        _ => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 16, writer);
    let reader: Box<dyn BufRead> = if stream == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(stream) {
            Ok(file) => Box::new(BufReader::with_capacity(1 << 16, file)),
            Err(err) => {
                eprintln!(
                    "error: cannot read the fact stream `{}`: {err}",
                    stream.display()
                );
                return ExitCode::Error;
            }
        }
    };
    let exit = evaluate_stream(args, stream, reader, &mut out);
    match out.flush() {
        Ok(()) => exit,
        Err(err) => {
            let name = output.unwrap_or_else(|| PathBuf::from("<stdout>"));
            eprintln!("error: cannot write `{}`: {err}", name.display());
            ExitCode::Error
        }
    }
}

fn evaluate_stream(
    args: &RunArgs,
    stream: &Path,
    reader: Box<dyn BufRead>,
    out: &mut impl Write,
) -> ExitCode {
    let write_line = |out: &mut dyn Write, report: &crate::report::Report| {
        serde_json::to_writer(&mut *out, report)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
    };
    // A failure that ends the stream: one NO_GO report line, exit 2.
    let give_up = |out: &mut dyn Write, id: &str, message: String| {
        let _ = write_line(out, &evaluate::failed_report(id, message, args.dry_run));
        ExitCode::Error
    };
    let plan = match inputs::plan(&args.inputs) {
        Ok(plan) => plan,
        Err(err) => {
            let message = err.to_string();
            diagnostic::print(err);
            return give_up(out, "config.invalid", message);
        }
    };
    let runtime = match args.runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            let message = err.to_string();
            diagnostic::print(err);
            return give_up(out, "policy.host_error", message);
        }
    };
    // Load every policy once; a module that cannot be loaded blocks every line.
    let loaded: Vec<Result<Loaded, Box<PolicyResult>>> = plan
        .specs
        .iter()
        .map(|spec| {
            evaluate::load(&runtime, spec).map_err(|failure| {
                let result = evaluate::failed_load(&failure, spec.enforce);
                diagnostic::print(*failure.error);
                Box::new(result)
            })
        })
        .collect();

    let name = stream.display().to_string();
    let mut worst = ExitCode::Go;
    let mut seen = 0usize;
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = match line {
            Ok(line) => line,
            Err(err) => {
                let message = format!("`{name}` line {number}: {err}");
                eprintln!("error: {message}");
                return give_up(out, "facts.unreadable", message);
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        seen += 1;
        let (report, exit) = evaluate_line(args, &plan, &runtime, &loaded, &line, number)
            .map(|mut outcome| {
                outcome.report.sources.insert(
                    "facts".to_owned(),
                    format!("--facts-stream {name}:{number}"),
                );
                (outcome.report, outcome.exit)
            })
            .unwrap_or_else(|(id, message)| {
                let message = format!("`{name}` line {number}: {message}");
                eprintln!("error: {message}");
                (
                    evaluate::failed_report(id, message, args.dry_run),
                    ExitCode::Error,
                )
            });
        if severity(exit) > severity(worst) {
            worst = exit;
        }
        if let Err(err) = write_line(out, &report) {
            eprintln!("error: cannot write the report of line {number}: {err}");
            return ExitCode::Error;
        }
    }
    if seen == 0 {
        let message = format!("the fact stream `{name}` has no fact sets");
        eprintln!("error: {message}");
        return give_up(out, "facts.empty_stream", message);
    }
    worst
}

/// One line through every loaded policy; `Err((id, message))` when it is not a fact set.
fn evaluate_line(
    args: &RunArgs,
    plan: &inputs::Plan,
    runtime: &Runtime,
    loaded: &[Result<Loaded, Box<PolicyResult>>],
    line: &str,
    number: usize,
) -> Result<crate::commands::run::RunOutcome, (&'static str, String)> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|err| {
        (
            "facts.parse",
            format!(
                "not JSON: {} at column {}",
                facts::json_error_message(&err),
                err.column()
            ),
        )
    })?;
    if !value.is_object() {
        return Err((
            "facts.not_object",
            "a fact set must be a JSON object".to_owned(),
        ));
    }
    let facts = facts::from_value(value).map_err(|err| (err.id(), err.to_string()))?;
    let context = format!("line {number}: ");
    let results = loaded
        .iter()
        .map(|policy| match policy {
            Ok(policy) => run_policy(args, runtime, policy, &facts, &context),
            Err(failed) => (**failed).clone(),
        })
        .collect();
    Ok(crate::commands::run::outcome(args, plan, &facts, results))
}
