//! Writing a report where it was asked for: every format, each file through a temporary file
//! renamed over the old one, never over an input of the run; a failure turns the report into
//! `NO_GO` and still gets a report out.

use std::io::Write as _;
use std::path::PathBuf;

use preflight_engine::{IssueId, Report, ReportIssue};
use preflight_report::{Color, Format};

use crate::diagnostic;
use crate::exit::ExitCode;

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
    let (name, path) = match text.split_once('=') {
        Some((name, path)) if !path.is_empty() => (name, Some(PathBuf::from(path))),
        Some((name, _)) => return Err(format!("`{name}=` needs a file after `=`")),
        None => (text, None),
    };
    let format = Format::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        format!("unknown format `{name}` ({})", names.join(", "))
    })?;
    Ok(Target { format, path })
}

/// `--format` and `--output`, as `run` and `canary` take them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Report format, optionally with a file: `json`, `text`, `markdown`, `junit`, `sarif`,
    /// `github`, `codeclimate` (GitLab Code Quality), or `FORMAT=FILE`; repeatable. Default:
    /// json to stdout.
    #[arg(long = "format", value_name = "FORMAT[=FILE]", value_parser = parse_target)]
    pub format: Vec<Target>,
    /// Write the report to FILE; repeatable, paired in order with the `--format`s that name no
    /// file.
    #[arg(long, short, value_name = "FILE")]
    pub output: Vec<PathBuf>,
}

impl OutputArgs {
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
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// The exit code.
    pub exit: ExitCode,
    /// The files the run read; no report is written over them.
    pub inputs: Vec<PathBuf>,
    /// Where issues that name no place point, in SARIF and Code Quality.
    pub anchors: preflight_report::Anchors,
    /// How SARIF, Code Quality and annotations show paths.
    pub paths: Option<preflight_report::PathBase>,
}

impl Outcome {
    /// An outcome for a report, with the exit code it stands for.
    pub fn of(report: Report, dry_run: bool) -> Outcome {
        let exit = ExitCode::for_report(&report, dry_run);
        Outcome {
            report,
            exit,
            inputs: Vec::new(),
            anchors: preflight_report::Anchors::default(),
            paths: None,
        }
    }

    /// A run that failed before any policy could run: `NO_GO`, exit 2.
    pub fn failed(id: IssueId, message: impl Into<String>, dry_run: bool) -> Outcome {
        let mut report = preflight_engine::failed_report(id, message);
        report.dry_run = dry_run;
        Outcome {
            report,
            exit: ExitCode::Error,
            inputs: Vec::new(),
            anchors: preflight_report::Anchors::default(),
            paths: None,
        }
    }
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
/// the old one (a dry run too: it is how a pipeline is tried out, and its reports say
/// `dry_run`). Appends the Markdown summary to `$GITHUB_STEP_SUMMARY` when it is set (a failure
/// there is a warning naming the variable, never an error).
///
/// Every target is attempted. When any cannot be written (or names one of `outcome.inputs`),
/// the report becomes `NO_GO` with a `report.unwritable` issue per failure, the exit code 2,
/// the files that were written are written again with that report, and the JSON report goes to
/// stdout unless another format already does.
pub fn emit(targets: &[Target], outcome: &mut Outcome) {
    let failures = write_targets(targets, outcome);
    if failures.is_empty() {
        summary(&outcome.report);
        return;
    }
    outcome.exit = ExitCode::Error;
    outcome.report.decision = preflight_sdk::Decision::NoGo;
    for failure in &failures {
        outcome.report.blocking_issues.push(ReportIssue::new(
            IssueId::ReportUnwritable,
            failure.to_string(),
        ));
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
    for failure in write_targets(&written, outcome) {
        diagnostic::print(failure);
    }
    if targets.iter().all(|t| t.path.is_some()) {
        let stdout = [Target {
            format: Format::Json,
            path: None,
        }];
        let _ = write_targets(&stdout, outcome);
    }
    summary(&outcome.report);
}

/// Writes every target; returns the failures.
fn write_targets(targets: &[Target], outcome: &Outcome) -> Vec<WriteError> {
    let report = &outcome.report;
    let stdout = std::io::stdout();
    let mut failures = Vec::new();
    for target in targets {
        match &target.path {
            Some(path) => {
                if outcome
                    .inputs
                    .iter()
                    .any(|input| preflight_engine::files::same_file(input, path))
                {
                    failures.push(WriteError::OverInput {
                        path: path.clone(),
                        format: target.format.name(),
                    });
                    continue;
                }
                match preflight_engine::files::write_atomic(
                    path,
                    preflight_report::render_with(
                        report,
                        target.format,
                        &preflight_report::Options {
                            color: Color::Off,
                            anchors: outcome.anchors.clone(),
                            paths: outcome.paths.clone(),
                        },
                    )
                    .as_bytes(),
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
            None => {
                let color = match anstream::AutoStream::choice(&stdout) {
                    anstream::ColorChoice::Never => Color::Off,
                    _ => Color::On,
                };
                let mut lock = stdout.lock();
                if let Err(source) = lock
                    .write_all(
                        preflight_report::render_with(
                            report,
                            target.format,
                            &preflight_report::Options {
                                color,
                                anchors: outcome.anchors.clone(),
                                paths: outcome.paths.clone(),
                            },
                        )
                        .as_bytes(),
                    )
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
fn summary(report: &Report) {
    let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) else {
        return;
    };
    let path = PathBuf::from(summary);
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| {
            file.write_all(
                preflight_report::render(report, Format::Markdown, Color::Off).as_bytes(),
            )
        });
    if let Err(err) = appended {
        diagnostic::warning(&format!(
            "cannot append the summary to $GITHUB_STEP_SUMMARY (`{}`): {err}",
            path.display()
        ));
    }
}
