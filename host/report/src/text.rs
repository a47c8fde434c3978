//! The human-readable summary for a terminal.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use preflight_sdk::Decision;

use crate::escape::control as esc;
use preflight_engine::Report;

/// Whether to colour the output. The caller decides (the CLI asks `anstream`, which follows
/// `NO_COLOR`, `CLICOLOR_FORCE` and whether the stream is a terminal); files are always `Off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    /// ANSI colours.
    On,
    /// Plain text.
    #[default]
    Off,
}

impl Color {
    fn paint(self, style: Style, text: &str) -> String {
        match self {
            Color::On => format!("{style}{text}{style:#}"),
            Color::Off => text.to_owned(),
        }
    }
}

const RED: Style = AnsiColor::Red.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();

fn decision_style(decision: Decision) -> Style {
    let color = match decision {
        Decision::Go => AnsiColor::Green,
        Decision::GoWithCaution => AnsiColor::Yellow,
        Decision::NoGo => AnsiColor::Red,
    };
    color.on_default().bold()
}

/// Renders the report as a terminal summary.
pub fn render(report: &Report, color: Color) -> String {
    let mut out = String::new();
    let decision = color.paint(decision_style(report.decision), report.decision.as_str());
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
            (true, _) => color.paint(RED.bold(), "ERROR"),
            (false, decision) => color.paint(decision_style(decision), decision.as_str()),
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
            let id = color.paint(RED, &esc(&issue.id));
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
            let id = color.paint(YELLOW, &esc(&issue.id));
            let _ = writeln!(
                out,
                "  - [{}] {id}: {}",
                esc(&issue.policy),
                esc(&issue.message)
            );
        }
    }
    if let Some(waivers) = &report.waivers {
        let applied: Vec<String> = waivers
            .applied
            .iter()
            .map(|w| format!("{} ({})", w.id, w.matched.join(", ")))
            .collect();
        let _ = writeln!(
            out,
            "\nwaivers: applied {}; unused {}; expired {}  (sha256:{})",
            esc(&or_none(&applied)),
            esc(&or_none(&waivers.unused)),
            esc(&or_none(&waivers.expired)),
            waivers.sha256.get(..12).unwrap_or(&waivers.sha256)
        );
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

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}
