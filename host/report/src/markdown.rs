//! A Markdown summary: what GitHub shows in a step summary and GitLab in a comment.

use std::fmt::Write as _;

use preflight_sdk::Decision;

use crate::escape::{markdown as cell, markdown_code as code};
use preflight_engine::{Report, ReportIssue};

fn icon(decision: Decision) -> &'static str {
    match decision {
        Decision::Go => "✅",
        Decision::GoWithCaution => "⚠️",
        Decision::NoGo => "⛔",
    }
}

/// Renders the report as Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## preflight: {} {}\n",
        icon(report.decision),
        report.decision
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Decision | **{}** |", report.decision);
    if let (Some(risk), Some(t)) = (report.risk_score, report.thresholds) {
        let _ = writeln!(
            out,
            "| Risk score | {risk:.2} (GO < {}, GO_WITH_CAUTION < {}) |",
            t.go, t.canary
        );
    }
    if let Some(mode) = &report.mode {
        let _ = writeln!(out, "| Mode | {} |", cell(mode));
    }
    if let Some(scores) = &report.scores {
        let _ = writeln!(
            out,
            "| Scores | readiness {} · mvp {} · security gate {} |",
            scores.readiness,
            scores.mvp,
            cell(scores.security_gate.as_deref().unwrap_or("none"))
        );
    }
    if let (Some(complexity), Some(penalty)) = (&report.complexity, report.penalty) {
        let _ = writeln!(out, "| Complexity | {} (+{penalty}) |", cell(complexity));
    }
    if !report.artifacts_missing.is_empty() {
        let missing: Vec<String> = report.artifacts_missing.iter().map(|a| code(a)).collect();
        let _ = writeln!(out, "| Missing artifacts | {} |", missing.join(", "));
    }
    let _ = writeln!(out, "\n### Policies\n");
    let _ = writeln!(
        out,
        "| Policy | Version | Decision | Enforced | sha256 | Time |\n|---|---|---|---|---|---|"
    );
    for policy in &report.policies {
        let decision = if policy.error.is_some() {
            format!("{} {} (error)", icon(Decision::NoGo), policy.decision)
        } else {
            format!("{} {}", icon(policy.decision), policy.decision)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {decision} | {} | {} | {:.2} ms |",
            cell(&policy.name),
            cell(policy.version.as_deref().unwrap_or("?")),
            if policy.enforced { "yes" } else { "no" },
            code(
                policy
                    .sha256
                    .as_deref()
                    .map_or("?", |s| s.get(..12).unwrap_or(s))
            ),
            policy.elapsed_ms
        );
    }
    issues(&mut out, "Blocking issues", &report.blocking_issues);
    issues(&mut out, "Warnings", &report.warnings);
    if let Some(waivers) = &report.waivers {
        let _ = writeln!(out, "\n### Waivers\n\n| Waiver | Matched |\n|---|---|");
        for waiver in &waivers.applied {
            let _ = writeln!(
                out,
                "| {} | {} |",
                cell(&waiver.id),
                cell(&waiver.matched.join(", "))
            );
        }
        for (ids, what) in [
            (&waivers.unused, "nothing (unused)"),
            (&waivers.expired, "nothing (expired)"),
        ] {
            for id in ids {
                let _ = writeln!(out, "| {} | {what} |", cell(id));
            }
        }
    }
    if report.dry_run {
        let _ = writeln!(out, "\n_Dry run: the decision does not set the exit code._");
    }
    out
}

fn issues(out: &mut String, title: &str, issues: &[ReportIssue]) {
    if issues.is_empty() {
        let _ = writeln!(out, "\n### {title}\n\nNone.");
        return;
    }
    let _ = writeln!(
        out,
        "\n### {title}\n\n| Policy | Rule | Message |\n|---|---|---|"
    );
    for issue in issues {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            cell(&issue.policy),
            code(&issue.id),
            cell(&issue.message)
        );
    }
}
