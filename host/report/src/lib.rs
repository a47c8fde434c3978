#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod anchors;
pub mod codeclimate;
pub mod entries;
pub mod escape;
pub mod github;
pub mod junit;
pub mod markdown;
pub mod paths;
pub mod rules;
pub mod sarif;
pub mod text;
mod uri;

use preflight_engine::Report;

pub use anchors::Anchors;
pub use paths::PathBase;

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
    /// GitLab Code Quality: one entry per place an issue points at.
    Codeclimate,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 7] = [
        Format::Json,
        Format::Text,
        Format::Markdown,
        Format::Junit,
        Format::Sarif,
        Format::Github,
        Format::Codeclimate,
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
            Format::Codeclimate => "codeclimate",
        }
    }

    /// The format with this name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(name))
    }
}

/// How to render: colours for `text`, and where issues without a location point for the formats
/// whose consumers need one (SARIF, Code Quality).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Colours in `text`.
    pub color: Color,
    /// Places for issues that name none.
    pub anchors: Anchors,
    /// How SARIF, Code Quality and GitHub annotations show paths (default: as in the facts).
    pub paths: Option<PathBase>,
}

impl Options {
    /// A location's path as the consumers of SARIF, Code Quality and annotations want it.
    pub fn show_path(&self, path: &str) -> String {
        match &self.paths {
            Some(paths) => paths.show(path),
            None => path.to_owned(),
        }
    }
}

/// Renders a report in a format; `color` applies to `text` only.
pub fn render(report: &Report, format: Format, color: Color) -> String {
    render_with(
        report,
        format,
        &Options {
            color,
            ..Options::default()
        },
    )
}

/// Renders a report in a format with [`Options`].
pub fn render_with(report: &Report, format: Format, options: &Options) -> String {
    let color = options.color;
    match format {
        Format::Json => {
            let mut json = serde_json::to_string_pretty(report).unwrap_or_default();
            json.push('\n');
            json
        }
        Format::Text => text::render(report, color),
        Format::Markdown => markdown::render(report),
        Format::Junit => junit::render(report),
        Format::Sarif => sarif::render(report, options),
        Format::Github => github::render(report, options),
        Format::Codeclimate => codeclimate::render(report, options),
    }
}
