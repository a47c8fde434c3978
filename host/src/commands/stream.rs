//! `preflight run --facts-stream FILE`: many fact sets, one per line (NDJSON), through the same
//! loaded policies; one JSON report per line on the way out, in input order.
//!
//! Policies are loaded and compiled once; every fact set still gets a fresh sandbox per policy.
//! Input is read and output written line by line, so memory stays flat however long the stream.
//! A line that is not a valid fact set gets a `NO_GO` report naming the line, and the run goes
//! on; the exit code is the worst over all lines (an error anywhere gives 2). Ctrl-C or
//! SIGTERM stops the reading: the lines already read are finished and written, and the stream
//! ends with a `facts.interrupted` report line (exit 2); a second one ends the process at once.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use preflight_engine::files::{self, InputKind};
use preflight_engine::{IssueId, PolicyEntry, Runtime, failed_report};
use preflight_report::Format;

use crate::commands::run::{self, Reporting, RunArgs};
use crate::diagnostic;
use crate::emit::Target;
use crate::exit::ExitCode;
use crate::inputs::{self, Plan};
use crate::interrupt::Interrupt;

/// Where the reports go: stdout, or a temporary file renamed over `--output` at the end, so
/// an interrupted stream leaves the previous output whole.
enum Sink {
    Stdout,
    File { temp: PathBuf, path: PathBuf },
}

/// Runs the stream.
pub fn run(
    rt: &tokio::runtime::Runtime,
    args: &RunArgs,
    stream: &Path,
    targets: &[Target],
) -> ExitCode {
    if let Some(other) = targets.iter().find(|t| t.format != Format::Json) {
        diagnostic::error(&format!(
            "--facts-stream writes one JSON report per line; `--format {}` is not available with it",
            other.format.name()
        ));
        return ExitCode::Error;
    }
    let output = targets.first().and_then(|t| t.path.clone());
    if let Some(path) = &output {
        let config = args
            .inputs
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from(crate::config::FILE_NAME));
        if [stream.to_owned(), config]
            .iter()
            .any(|input| files::same_file(input, path))
        {
            diagnostic::error(&format!(
                "refusing to write the reports to `{}`: it is an input of this run",
                path.display()
            ));
            return ExitCode::Error;
        }
    }
    // Caught from before the temporary output file exists, so it is never left behind.
    let interrupt = Interruption::watch();
    let (sink, writer): (Sink, Box<dyn Write>) = match &output {
        Some(path) if !args.dry_run => {
            let folder = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                _ => PathBuf::from("."),
            };
            let name = path.file_name().map_or_else(
                || "reports".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            let temp = files::temp_path(&folder, &name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
            {
                Ok(file) => (
                    Sink::File {
                        temp: interrupt.remove_on_exit(temp),
                        path: path.clone(),
                    },
                    Box::new(file),
                ),
                Err(err) => {
                    diagnostic::error(&format!("cannot write `{}`: {err}", path.display()));
                    return ExitCode::Error;
                }
            }
        }
        _ => (Sink::Stdout, Box::new(std::io::stdout().lock())),
    };
    let mut out = BufWriter::with_capacity(1 << 16, writer);
    let reader: Box<dyn BufRead> = if stream == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        match files::open_stream(stream) {
            Ok(file) => Box::new(BufReader::with_capacity(1 << 16, file)),
            Err(err) => {
                let reason = match err {
                    files::ReadError::Io { source, .. } => source.to_string(),
                    other => other.to_string(),
                };
                diagnostic::error(&format!(
                    "cannot read the fact stream `{}`: {reason}",
                    stream.display()
                ));
                if let Sink::File { temp, .. } = &sink {
                    let _ = std::fs::remove_file(temp);
                }
                return ExitCode::Error;
            }
        }
    };
    let exit = evaluate_stream(rt, args, stream, reader, &mut out, &interrupt);
    let finished = out
        .into_inner()
        .map_err(|err| err.into_error())
        .and_then(|mut writer| writer.flush());
    match (finished, sink) {
        (Ok(()), Sink::Stdout) => exit,
        (Ok(()), Sink::File { temp, path }) => match std::fs::rename(&temp, &path) {
            Ok(()) => exit,
            Err(err) => {
                let _ = std::fs::remove_file(&temp);
                diagnostic::error(&format!("cannot write `{}`: {err}", path.display()));
                ExitCode::Error
            }
        },
        (Err(err), sink) => {
            let name = match sink {
                Sink::Stdout => PathBuf::from("<stdout>"),
                Sink::File { temp, path } => {
                    let _ = std::fs::remove_file(&temp);
                    path
                }
            };
            diagnostic::error(&format!("cannot write `{}`: {err}", name.display()));
            ExitCode::Error
        }
    }
}

/// What the stream held, for the summary on stderr.
#[derive(Debug, Default)]
struct Tally {
    lines: usize,
    blank: usize,
    invalid: usize,
    decisions: [usize; 3],
    errors: usize,
}

/// Lines handed to a worker at a time: enough to make the hand-over cheap, few enough to keep
/// every worker busy near the end of a stream.
const CHUNK: usize = 32;

/// Chunks read ahead of the oldest one not yet written, per worker. This bounds memory whatever
/// the stream's length, and whatever one slow line holds up: the reader waits instead.
const WINDOW_PER_JOB: usize = 8;

/// Lines in input order, numbered from `first`; a line is `Err` when it could not be taken
/// whole (over the size cap).
struct Chunk {
    index: usize,
    first: usize,
    lines: Vec<Result<Vec<u8>, usize>>,
}

/// One line's result: its report (serialized, newline-terminated) and what it counts as.
enum Done {
    Blank,
    Report {
        json: Vec<u8>,
        exit: ExitCode,
        decision: usize,
        invalid: bool,
    },
}

/// The number of worker threads: `--jobs`, else the machine's available parallelism, at most
/// the sandbox pool's slots.
pub fn jobs(requested: Option<std::num::NonZeroUsize>) -> usize {
    let slots = usize::try_from(preflight_engine::sandbox::POOL_SLOTS).unwrap_or(1);
    requested
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, usize::from)
        .clamp(1, slots)
}

fn evaluate_stream(
    rt: &tokio::runtime::Runtime,
    args: &RunArgs,
    stream: &Path,
    mut reader: Box<dyn BufRead>,
    out: &mut impl Write,
    interrupt: &Interruption,
) -> ExitCode {
    let write_line = |out: &mut dyn Write, report: &preflight_engine::Report| {
        serde_json::to_writer(&mut *out, report)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
    };
    // A failure that ends the stream: one NO_GO report line, exit 2.
    let give_up = |out: &mut dyn Write, id: IssueId, message: String| {
        let mut report = failed_report(id, message);
        report.dry_run = args.dry_run;
        let _ = write_line(out, &report);
        ExitCode::Error
    };
    let plan = match inputs::plan(&args.inputs) {
        Ok(plan) => plan,
        Err(err) => {
            let (id, message) = (err.id(), err.to_string());
            diagnostic::print(err);
            return give_up(out, id, message);
        }
    };
    let runtime = match run::runtime(&args.limits, true) {
        Ok(runtime) => runtime,
        Err(err) => {
            let (id, message) = (err.id(), err.to_string());
            diagnostic::print(err);
            return give_up(out, id, message);
        }
    };
    // Load every policy once; a module that cannot be loaded blocks every line.
    let entries = match run::load(rt, &runtime, &plan, args.dry_run) {
        Ok(entries) => entries,
        Err(outcome) => {
            let _ = write_line(out, &outcome.report);
            return ExitCode::Error;
        }
    };
    // The baseline is read once; a bad one ends the stream as it would end a single run.
    let baseline = match &plan.sources.baseline {
        Some(path) => match preflight_collectors::read_baseline(path) {
            Ok(baseline) => Some((baseline, path.clone())),
            Err(err) => {
                let (id, message) = (err.id(), err.to_string());
                diagnostic::error(&message);
                return give_up(out, id, message);
            }
        },
        None => None,
    };
    let line = Line {
        runtime: &runtime,
        entries: &entries,
        plan: &plan,
        baseline,
        reporting: Reporting {
            dry_run: args.dry_run,
            verbose: args.verbose,
        },
        name: stream.display().to_string(),
        cap: usize::try_from(InputKind::StreamLine.cap()).unwrap_or(usize::MAX),
    };
    let jobs = jobs(args.jobs);
    let window = jobs * WINDOW_PER_JOB;

    let mut worst = ExitCode::Go;
    let mut tally = Tally::default();
    let mut failure: Option<(IssueId, String)> = None;
    let mut write_failed = false;
    let (work, queue) = std::sync::mpsc::channel::<Chunk>();
    let (report, results) = std::sync::mpsc::channel::<(usize, Vec<Done>)>();
    let queue = std::sync::Mutex::new(queue);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (queue, report, line) = (&queue, report.clone(), &line);
            scope.spawn(move || {
                loop {
                    // The lock is held only to take the next chunk.
                    let next = queue.lock().ok().and_then(|queue| queue.recv().ok());
                    let Some(chunk) = next else { return };
                    let done = chunk
                        .lines
                        .iter()
                        .enumerate()
                        .map(|(offset, text)| line.evaluate_caught(text, chunk.first + offset))
                        .collect();
                    if report.send((chunk.index, done)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(report);

        // The reader and the writer share this thread: stdin and stdout stay where they are.
        let mut pending = std::collections::BTreeMap::<usize, Vec<Done>>::new();
        let (mut sent, mut written, mut number) = (0usize, 0usize, 0usize);
        let mut write_ready = |pending: &mut std::collections::BTreeMap<usize, Vec<Done>>,
                               written: &mut usize|
         -> bool {
            while let Some(done) = pending.remove(&*written) {
                *written += 1;
                for done in done {
                    let Done::Report {
                        json,
                        exit,
                        decision,
                        invalid,
                    } = done
                    else {
                        tally.blank += 1;
                        continue;
                    };
                    tally.invalid += usize::from(invalid);
                    match exit {
                        ExitCode::Error => tally.errors += 1,
                        _ => tally.decisions[decision] += 1,
                    }
                    worst = worst.worst(exit);
                    if let Err(err) = out.write_all(&json) {
                        diagnostic::error(&format!("cannot write the reports: {err}"));
                        return false;
                    }
                }
            }
            true
        };
        let mut buffer = Vec::new();
        'read: loop {
            if interrupt.happened() {
                failure = Some((
                    IssueId::FactsInterrupted,
                    format!(
                        "the fact stream `{}` was interrupted (Ctrl-C or SIGTERM) after {number} \
                         line(s); the lines after those were not read",
                        line.name
                    ),
                ));
                break;
            }
            // Wait for the oldest chunks while the window is full.
            while sent - written >= window {
                let Ok((index, done)) = results.recv() else {
                    break 'read;
                };
                pending.insert(index, done);
                if !write_ready(&mut pending, &mut written) {
                    write_failed = true;
                    break 'read;
                }
            }
            let mut lines = Vec::with_capacity(CHUNK);
            let first = number + 1;
            while lines.len() < CHUNK {
                match files::read_line(&mut reader, &mut buffer, line.cap) {
                    Ok(Some(fits)) => {
                        number += 1;
                        lines.push(if fits {
                            Ok(std::mem::take(&mut buffer))
                        } else {
                            Err(buffer.len())
                        });
                    }
                    Ok(None) => break,
                    Err(err) => {
                        failure = Some((
                            IssueId::FactsUnreadable,
                            format!("`{}` line {}: {err}", line.name, number + 1),
                        ));
                        break;
                    }
                }
            }
            tally.lines += lines.len();
            let last = lines.len() < CHUNK || failure.is_some();
            if !lines.is_empty() {
                if work
                    .send(Chunk {
                        index: sent,
                        first,
                        lines,
                    })
                    .is_err()
                {
                    break;
                }
                sent += 1;
            }
            while let Ok((index, done)) = results.try_recv() {
                pending.insert(index, done);
            }
            if !write_ready(&mut pending, &mut written) {
                write_failed = true;
                break;
            }
            if last {
                break;
            }
        }
        // No more work: the workers finish what they hold and stop.
        drop(work);
        while !write_failed && written < sent {
            let Ok((index, done)) = results.recv() else {
                break;
            };
            pending.insert(index, done);
            write_failed = !write_ready(&mut pending, &mut written);
        }
    });
    if write_failed {
        return ExitCode::Error;
    }
    let ended_early = failure.is_some();
    if let Some((id, message)) = failure {
        diagnostic::error(&message);
        worst = give_up(out, id, message);
    }
    let fact_sets = tally.lines - tally.blank;
    eprintln!(
        "preflight: {} line(s) from `{}`: {fact_sets} fact set(s) — {} GO, {} GO_WITH_CAUTION, {} NO_GO, {} error(s) ({} not a fact set); {} blank line(s) skipped",
        tally.lines,
        preflight_report::escape::control(&line.name),
        tally.decisions[0],
        tally.decisions[1],
        tally.decisions[2],
        tally.errors,
        tally.invalid,
        tally.blank,
    );
    // A stream that ended early has said why in its last line.
    if fact_sets == 0 && !ended_early {
        let message = format!("the fact stream `{}` has no fact sets", line.name);
        diagnostic::error(&message);
        return give_up(out, IssueId::FactsEmptyStream, message);
    }
    worst
}

/// Ctrl-C and SIGTERM during a stream, caught by a thread of their own: the reader checks the
/// flag between chunks. A second signal ends the process at once (exit 130), for a stream
/// stuck reading a quiet stdin, after removing the temporary output file.
struct Interruption {
    flag: Arc<AtomicBool>,
    temp: Arc<OnceLock<PathBuf>>,
}

impl Interruption {
    fn watch() -> Interruption {
        let flag = Arc::new(AtomicBool::new(false));
        let set = Arc::clone(&flag);
        let temp: Arc<OnceLock<PathBuf>> = Arc::default();
        let remove = Arc::clone(&temp);
        let (ready, installed) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("signals".to_owned())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                else {
                    let _ = ready.send(false);
                    return;
                };
                rt.block_on(async {
                    let mut interrupt = Interrupt::install();
                    let _ = ready.send(interrupt.is_caught());
                    for _ in 0..2 {
                        interrupt.recv().await;
                        if set.swap(true, Ordering::SeqCst) {
                            abandon(remove.get().map(PathBuf::as_path));
                        }
                    }
                });
            });
        if !(spawned.is_ok() && installed.recv().unwrap_or(false)) {
            diagnostic::warning(
                "cannot catch Ctrl-C; an interrupted stream ends without its closing report",
            );
        }
        Interruption { flag, temp }
    }

    /// Has a second interruption remove `temp`; gives it back.
    fn remove_on_exit(&self, temp: PathBuf) -> PathBuf {
        let _ = self.temp.set(temp.clone());
        temp
    }

    fn happened(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// Ends the process on a second interruption, without the temporary output file.
fn abandon(temp: Option<&Path>) -> ! {
    if let Some(temp) = temp {
        let _ = std::fs::remove_file(temp);
    }
    diagnostic::error("interrupted again: stopping now, without the stream's closing report");
    std::process::exit(130)
}

/// What every worker evaluates lines with.
struct Line<'a> {
    runtime: &'a Runtime,
    entries: &'a [PolicyEntry],
    plan: &'a Plan,
    /// `--baseline`, read once, with its path.
    baseline: Option<(preflight_engine::baseline::Baseline, PathBuf)>,
    reporting: Reporting,
    name: String,
    cap: usize,
}

impl Line<'_> {
    /// [`Line::evaluate`], with a panic (a bug) turned into that line's `NO_GO` report: a worker
    /// that died would leave its lines unanswered and the stream waiting for them.
    fn evaluate_caught(&self, line: &Result<Vec<u8>, usize>, number: usize) -> Done {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.evaluate(line, number)))
            .unwrap_or_else(|_| {
                let message = format!(
                    "`{}` line {number}: the host failed while evaluating it; please report this",
                    self.name
                );
                diagnostic::error(&message);
                self.failed(IssueId::PolicyHostError, message, false)
            })
    }

    /// A line that fails closed: a `NO_GO` report naming why, exit 2.
    fn failed(&self, id: IssueId, message: String, invalid: bool) -> Done {
        let mut report = failed_report(id, message);
        report.dry_run = self.reporting.dry_run;
        // A report of a failure has only strings and enums: it always serializes.
        let mut json = serde_json::to_vec(&report).unwrap_or_default();
        json.push(b'\n');
        Done::Report {
            json,
            exit: ExitCode::Error,
            decision: report.decision as usize,
            invalid,
        }
    }

    /// One line of the stream (`Err(length)`: over the cap), as its report line.
    fn evaluate(&self, line: &Result<Vec<u8>, usize>, number: usize) -> Done {
        let text = match line {
            Ok(bytes) => std::str::from_utf8(bytes).map_err(|err| {
                (
                    IssueId::FactsNotJson,
                    format!(
                        "not UTF-8 (invalid byte at column {})",
                        err.valid_up_to() + 1
                    ),
                )
            }),
            Err(_) => Err((
                IssueId::FactsTooLarge,
                format!(
                    "the line is over the {}-byte limit for fact stream lines",
                    self.cap
                ),
            )),
        };
        if matches!(&text, Ok(text) if text.trim().is_empty()) {
            return Done::Blank;
        }
        let outcome = text.and_then(|text| {
            evaluate_line(
                self.runtime,
                self.entries,
                self.plan,
                self.baseline.as_ref(),
                &self.reporting,
                text,
                number,
            )
            .map(|mut outcome| {
                outcome.report.sources.insert(
                    "facts".to_owned(),
                    format!("--facts-stream {}:{number}", self.name),
                );
                outcome
            })
        });
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err((id, message)) => {
                let message = format!("`{}` line {number}: {message}", self.name);
                diagnostic::error(&message);
                return self.failed(id, message, true);
            }
        };
        match serde_json::to_vec(&outcome.report) {
            Ok(mut json) => {
                json.push(b'\n');
                Done::Report {
                    json,
                    exit: outcome.exit,
                    decision: outcome.report.decision as usize,
                    invalid: false,
                }
            }
            // A report always serializes; if one ever did not, its line still fails closed.
            Err(err) => self.failed(
                IssueId::FactsUnreadable,
                format!(
                    "`{}` line {number}: the report could not be written: {err}",
                    self.name
                ),
                false,
            ),
        }
    }
}

/// One line through every loaded policy; `Err((id, message))` when it is not a fact set.
fn evaluate_line(
    runtime: &Runtime,
    entries: &[PolicyEntry],
    plan: &Plan,
    baseline: Option<&(preflight_engine::baseline::Baseline, PathBuf)>,
    reporting: &Reporting,
    line: &str,
    number: usize,
) -> Result<crate::emit::Outcome, (IssueId, String)> {
    let value: serde_json::Value = preflight_engine::json::from_str(line).map_err(|err| {
        (
            IssueId::FactsNotJson,
            format!(
                "not JSON: {} at column {}",
                preflight_engine::json::error_message(&err),
                err.column()
            ),
        )
    })?;
    if !value.is_object() {
        return Err((
            IssueId::FactsNotJson,
            format!(
                "a fact set is a JSON object, not a JSON {}",
                preflight_engine::json::kind(&value)
            ),
        ));
    }
    // Checked, then waivers and the baseline applied as in a single run.
    let facts = preflight_engine::facts::from_value(value)
        .and_then(|facts| {
            preflight_collectors::prepare(
                facts,
                plan.waivers.as_ref(),
                baseline.map(|(baseline, path)| (baseline, path.as_path())),
            )
        })
        .map_err(|err| (err.id(), err.to_string()))?;
    let context = format!("line {number}: ");
    Ok(run::evaluate(
        runtime, entries, plan, &facts, reporting, &context,
    ))
}
