//! GitHub Actions workflow commands: `::error` and `::warning` annotations, grouped per policy.

use std::fmt::Write as _;

use preflight_sdk::{Decision, Issue};

use preflight_engine::Report;

use crate::Options;

/// Escapes a command's message: `%`, CR and LF as the Actions toolkit does, after every other
/// control character is shown as `\u001b` (the log would otherwise pass escape sequences on).
pub fn escape_data(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| match c {
            '\r' | '\n' => c.to_string(),
            c => crate::escape::control(c.encode_utf8(&mut [0; 4])).into_owned(),
        })
        .collect();
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value (also `:` and `,`).
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn annotation(out: &mut String, command: &str, policy: &str, issue: &Issue, options: &Options) {
    let mut properties = vec![format!(
        "title={}",
        escape_property(&format!("{policy}: {}", issue.id))
    )];
    if let Some(location) = issue.locations.first() {
        properties.push(format!(
            "file={}",
            escape_property(&options.show_path(&location.path))
        ));
        if let Some(line) = location.line {
            properties.push(format!("line={line}"));
        }
        if let Some(column) = location.column {
            properties.push(format!("col={column}"));
        }
    }
    let _ = writeln!(
        out,
        "::{command} {}::{}",
        properties.join(","),
        escape_data(&issue.message)
    );
}

/// Renders the report as workflow commands; file paths as [`Options::show_path`] gives them.
pub fn render(report: &Report, options: &Options) -> String {
    let mut out = String::new();
    for policy in &report.policies {
        let _ = writeln!(
            out,
            "::group::{}",
            escape_data(&format!(
                "{} {}: {}{}",
                policy.name,
                policy.version.as_deref().unwrap_or("?"),
                policy.decision,
                if policy.enforced {
                    ""
                } else {
                    " (not enforced)"
                }
            ))
        );
        let blocking = if policy.enforced || policy.error.is_some() {
            "error"
        } else {
            "warning"
        };
        for issue in &policy.blocking_issues {
            annotation(&mut out, blocking, &policy.name, issue, options);
        }
        for issue in &policy.warnings {
            annotation(&mut out, "warning", &policy.name, issue, options);
        }
        let _ = writeln!(out, "::endgroup::");
    }
    for issue in report
        .blocking_issues
        .iter()
        .filter(|i| i.policy == "preflight")
    {
        let issue = Issue::new(issue.id.clone(), issue.message.clone());
        annotation(&mut out, "error", "preflight", &issue, options);
    }
    let summary = format!("preflight decision: {}", report.decision);
    let command = match report.decision {
        Decision::Go => "notice",
        Decision::GoWithCaution => "warning",
        Decision::NoGo => "error",
    };
    let _ = writeln!(
        out,
        "::{command} title=preflight::{}",
        escape_data(&summary)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_the_actions_toolkit() {
        assert_eq!(escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(escape_data("a\u{1b}[2J\nb"), "a\\u001b[2J%0Ab");
    }
}
