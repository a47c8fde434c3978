//! Printing errors for people: what went wrong, where, and how to fix it.
//!
//! Messages can carry text a policy, a scanner or Prometheus wrote; every line printed here goes
//! through [`preflight_report::escape::control`] first.

use preflight_engine::{PolicyLogs, PolicyResult};
use preflight_report::escape;

/// An error's message, help and causes with control characters escaped.
#[derive(Debug)]
struct Escaped {
    message: String,
    help: Option<String>,
    cause: Option<Box<Escaped>>,
}

impl Escaped {
    fn of(error: &dyn std::error::Error, help: Option<String>) -> Escaped {
        Escaped {
            message: escape::control(&error.to_string()).into_owned(),
            help: help.map(|help| escape::control(&help).into_owned()),
            cause: error
                .source()
                .map(|source| Box::new(Escaped::of(source, None))),
        }
    }
}

impl std::fmt::Display for Escaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Escaped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}

impl miette::Diagnostic for Escaped {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn std::fmt::Display>)
    }
}

/// Prints a diagnostic to stderr with the reporter `main` installed.
pub fn print<E: miette::Diagnostic + Send + Sync + 'static>(error: E) {
    let help = error.help().map(|help| help.to_string());
    let escaped = Escaped::of(&error, help);
    eprintln!("{:?}", miette::Report::new(escaped));
}

/// Prints `error: MESSAGE` to stderr, control characters escaped.
pub fn error(message: &str) {
    eprintln!("error: {}", escape::control(message));
}

/// Prints `warning: MESSAGE` to stderr, control characters escaped.
pub fn warning(message: &str) {
    eprintln!("warning: {}", escape::control(message));
}

/// Prints a policy's failure, and with `verbose` its logs and timing, each line prefixed with
/// `context` (e.g. a stream's line number).
pub fn policy(result: &PolicyResult, logs: &PolicyLogs, verbose: bool, context: &str) {
    use escape::control as esc;
    if let Some(error) = &result.error {
        self::error(&format!("{context}{error}"));
    }
    if !verbose {
        return;
    }
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
