//! The human-readable summary for a terminal.

use std::fmt::Write as _;

use preflight_sdk::Decision;

use crate::escape::control as esc;
use preflight_engine::Report;

/// Whether to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// ANSI colours.
    On,
    /// Plain text.
    Off,
}

impl Color {
    /// Colour when `stream_is_tty` and `NO_COLOR` is unset or empty.
    pub fn detect(stream_is_tty: bool) -> Color {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        if stream_is_tty && !no_color {
            Color::On
        } else {
            Color::Off
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Color::On => format!("\x1b[{code}m{text}\x1b[0m"),
            Color::Off => text.to_owned(),
        }
    }
}

fn decision_code(decision: Decision) -> &'static str {
    match decision {
        Decision::Go => "1;32",
        Decision::GoWithCaution => "1;33",
        Decision::NoGo => "1;31",
    }
}

/// Renders the report as a terminal summary.
pub fn render(report: &Report, color: Color) -> String {
    let mut out = String::new();
    let decision = color.paint(decision_code(report.decision), report.decision.as_str());
    let _ = writeln!(out, "preflight {}: {decision}", report.preflight_version);
    if let (Some(risk), Some(thresholds)) = (report.risk_score, report.thresholds) {
        let _ = writeln!(
            out,
            "  risk score {risk:.2}  (GO < {}, GO_WITH_CAUTION < {}, NO_GO from {})",
            thresholds.go, thresholds.canary, thresholds.canary
        );
    }
    if let (Some(mode), Some(weights)) = (&report.mode, report.weights) {
        let _ = writeln!(
            out,
            "  mode {}  weights readiness {} / mvp {} / security {}",
            esc(mode),
            weights.readiness,
            weights.mvp,
            weights.security
        );
    }
    if let Some(scores) = &report.scores {
        let _ = writeln!(
            out,
            "  scores readiness {} / mvp {} / security gate {}",
            scores.readiness,
            scores.mvp,
            esc(scores.security_gate.as_deref().unwrap_or("none"))
        );
    }
    if let (Some(complexity), Some(penalty)) = (&report.complexity, report.penalty) {
        let _ = writeln!(out, "  complexity {} (penalty +{penalty})", esc(complexity));
    }
    let _ = writeln!(out, "\npolicies:");
    for policy in &report.policies {
        let mark = match (policy.error.is_some(), policy.decision) {
            (true, _) => color.paint("1;31", "ERROR"),
            (false, decision) => color.paint(decision_code(decision), decision.as_str()),
        };
        let version = esc(policy.version.as_deref().unwrap_or("?"));
        let sha = policy
            .sha256
            .as_deref()
            .map_or("?", |sha| sha.get(..12).unwrap_or(sha));
        let enforced = if policy.enforced {
            ""
        } else {
            "  (not enforced)"
        };
        let _ = writeln!(
            out,
            "  {mark}  {} {version}  sha256:{}  {:.2} ms{enforced}",
            esc(&policy.name),
            esc(sha),
            policy.elapsed_ms
        );
    }
    if report.blocking_issues.is_empty() {
        let _ = writeln!(out, "\nblocking issues: none");
    } else {
        let _ = writeln!(out, "\nblocking issues:");
        for issue in &report.blocking_issues {
            let id = color.paint("31", &esc(&issue.id));
            let _ = writeln!(
                out,
                "  - [{}] {id}: {}",
                esc(&issue.policy),
                esc(&issue.message)
            );
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for issue in &report.warnings {
            let id = color.paint("33", &esc(&issue.id));
            let _ = writeln!(
                out,
                "  - [{}] {id}: {}",
                esc(&issue.policy),
                esc(&issue.message)
            );
        }
    }
    if !report.artifacts_missing.is_empty() {
        let _ = writeln!(
            out,
            "\nartifacts missing: {}",
            esc(&report.artifacts_missing.join(", "))
        );
    }
    if report.dry_run {
        let _ = writeln!(out, "\n(dry run: no files written)");
    }
    out
}
