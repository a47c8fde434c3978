#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod escape;
pub mod github;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod text;

use preflight_engine::Report;

pub use text::Color;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// The standard JSON report (`schemas/report.schema.json`).
    Json,
    /// A summary for a terminal.
    Text,
    /// A Markdown summary (GitHub step summaries, merge-request comments).
    Markdown,
    /// JUnit XML: one test case per policy decision and issue.
    Junit,
    /// SARIF 2.1.0: blocking issues and warnings as results.
    Sarif,
    /// GitHub Actions workflow commands (`::error`, `::warning`), grouped per policy.
    Github,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 6] = [
        Format::Json,
        Format::Text,
        Format::Markdown,
        Format::Junit,
        Format::Sarif,
        Format::Github,
    ];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Junit => "junit",
            Format::Sarif => "sarif",
            Format::Github => "github",
        }
    }

    /// The format with this name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(name))
    }
}

/// Renders a report in a format; `color` applies to `text` only.
pub fn render(report: &Report, format: Format, color: Color) -> String {
    match format {
        Format::Json => {
            let mut json = serde_json::to_string_pretty(report).unwrap_or_default();
            json.push('\n');
            json
        }
        Format::Text => text::render(report, color),
        Format::Markdown => markdown::render(report),
        Format::Junit => junit::render(report),
        Format::Sarif => sarif::render(report),
        Format::Github => github::render(report),
    }
}
