//! The report flattened to one entry per place an issue points at: what SARIF results and Code
//! Quality entries are made of. An issue with several locations (findings, failed tests) is one
//! entry per location; one with none points at its [`crate::Anchors`] entry.

use preflight_engine::Report;
use preflight_sdk::{Issue, Location};
use sha2::{Digest as _, Sha256};

use crate::Options;

/// Where a location with no place at all goes: the configuration file's conventional name.
const LAST_RESORT: &str = "preflight.toml";

/// How an entry counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A blocking issue of an enforced policy, or an error.
    Error,
    /// A warning, or a blocking issue of a policy that is not enforced.
    Warning,
}

/// One place an issue points at.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The policy that raised it (`preflight` for the host's errors).
    pub policy: String,
    /// The issue.
    pub issue: Issue,
    /// How it counts.
    pub level: Level,
    /// Whether the issue is an error of the host or a failed policy.
    pub error: bool,
    /// The place, its path as [`Options::show_path`] gives it.
    pub place: Location,
    /// The message for this place: the location's own text, then the issue's.
    pub text: String,
    /// A stable digest of policy, rule, path, line and what is at the place (not the issue's
    /// message, whose numbers change with every other finding).
    pub fingerprint: String,
}

fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn push(
    out: &mut Vec<Entry>,
    policy: &str,
    issue: &Issue,
    level: Level,
    error: bool,
    options: &Options,
) {
    let places: Vec<Location> = if issue.locations.is_empty() {
        vec![
            options
                .anchors
                .for_issue(policy, &issue.id)
                .cloned()
                .unwrap_or_else(|| Location::new(LAST_RESORT)),
        ]
    } else {
        issue.locations.clone()
    };
    for mut place in places {
        place.path = options.show_path(&place.path);
        let text = match &place.message {
            Some(what) => format!("{what}. {}", issue.message),
            None => issue.message.clone(),
        };
        let line = place.line.map(|l| l.to_string()).unwrap_or_default();
        let what = place.message.as_deref().unwrap_or("");
        let fingerprint = digest(&[policy, &issue.id, &place.path, &line, what]);
        out.push(Entry {
            policy: policy.to_owned(),
            issue: issue.clone(),
            level,
            error,
            place,
            text,
            fingerprint,
        });
    }
}

/// Every entry of a report, in report order: each policy's blocking issues and warnings, then
/// the host's errors.
pub fn entries(report: &Report, options: &Options) -> Vec<Entry> {
    let mut out = Vec::new();
    for policy in &report.policies {
        let failed = policy.error.is_some();
        let blocking = if policy.enforced || failed {
            Level::Error
        } else {
            Level::Warning
        };
        for issue in &policy.blocking_issues {
            push(&mut out, &policy.name, issue, blocking, failed, options);
        }
        for issue in &policy.warnings {
            push(
                &mut out,
                &policy.name,
                issue,
                Level::Warning,
                false,
                options,
            );
        }
    }
    for issue in report
        .blocking_issues
        .iter()
        .filter(|i| i.policy == "preflight")
    {
        let as_issue = Issue::new(issue.id.clone(), issue.message.clone())
            .at_each(issue.locations.iter().cloned());
        push(
            &mut out,
            "preflight",
            &as_issue,
            Level::Error,
            true,
            options,
        );
    }
    out
}
