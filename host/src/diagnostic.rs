//! Printing errors for people: what went wrong, where, and how to fix it.

/// Prints a diagnostic to stderr with the reporter `main` installed.
pub fn print<E: miette::Diagnostic + Send + Sync + 'static>(error: E) {
    eprintln!("{:?}", miette::Report::new(error));
}
