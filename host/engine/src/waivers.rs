//! Waivers: a named person accepts a known risk until a date, without editing a policy.
//!
//! A waiver matching findings (`tool`, `rule`, `path`, `fingerprint`, `cve`, `package`) is
//! applied to the fact set before any policy runs: the findings move to `security.waived`
//! and out of `security.counts`, so every policy sees the same thing. A waiver matching issues
//! (`policy`, `issue`) is applied to the results: the blocking issue becomes a warning that
//! names the waiver. An expired waiver never applies. Host errors (`policy.*`, `facts.*`,
//! `config.*`, ...) cannot be waived: an error never becomes a pass.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::report::{PolicyResult, Report};
use preflight_sdk::Decision;
use preflight_sdk::facts::{Finding, FindingCounts};

/// One waiver, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// Unique id, e.g. `W-12`.
    pub id: String,
    /// What it applies to: every key given must match.
    #[serde(rename = "match")]
    pub matches: Match,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who owns the accepted risk.
    pub owner: String,
    /// The last day it applies, `YYYY-MM-DD`.
    pub expires: String,
    /// Who approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The ticket that records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// What a waiver matches. Finding keys and issue keys cannot be mixed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// A policy's name (issue waivers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// An issue id, e.g. `coverage.below_minimum` (issue waivers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// The scanner, e.g. `Bandit`, `trivy` (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The scanner's rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A glob over the finding's path: `*` within a folder, `**` across folders, `?` one
    /// character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The SARIF fingerprint, as `preflight facts` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// A vulnerability id (`CVE-…`, `GHSA-…`), case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    /// A package name or package URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

impl Match {
    fn finding_keys(&self) -> bool {
        self.tool.is_some()
            || self.rule.is_some()
            || self.path.is_some()
            || self.fingerprint.is_some()
            || self.cve.is_some()
            || self.package.is_some()
    }

    fn issue_keys(&self) -> bool {
        self.policy.is_some() || self.issue.is_some()
    }

    fn finding(&self, finding: &Finding) -> bool {
        let same = |want: &Option<String>, have: &str| {
            want.as_ref()
                .is_none_or(|want| want.eq_ignore_ascii_case(have))
        };
        same(&self.tool, &finding.tool)
            && self.rule.as_ref().is_none_or(|rule| *rule == finding.rule)
            && same(&self.cve, &finding.rule)
            && self.fingerprint.as_ref().is_none_or(|fingerprint| {
                finding.fingerprint.as_deref() == Some(fingerprint.as_str())
            })
            && self.path.as_ref().is_none_or(|pattern| {
                finding
                    .location
                    .as_ref()
                    .is_some_and(|location| glob(pattern, &location.path))
            })
            && self.package.as_ref().is_none_or(|package| {
                finding.package.as_ref().is_some_and(|have| {
                    have.name == *package || have.purl.as_deref() == Some(package.as_str())
                })
            })
    }

    fn issue(&self, policy: &str, id: &str) -> bool {
        self.policy.as_ref().is_none_or(|want| want == policy)
            && self.issue.as_ref().is_none_or(|want| want == id)
    }
}

/// How waivers behave: `[waivers]` in `preflight.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The longest a waiver may run, from today, in days.
    pub max_days: i64,
    /// Warn when a waiver expires within this many days.
    pub warn_days: i64,
    /// An expired waiver blocks the release instead of warning.
    pub expired_blocks: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_days: 90,
            warn_days: 14,
            expired_blocks: false,
        }
    }
}

/// The waivers of a run, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Waivers {
    list: Vec<Waiver>,
    rules: Rules,
    today: i64,
    /// Where each waiver is written, by id, for messages (`preflight.toml line 12`).
    origins: BTreeMap<String, String>,
}

/// A waiver that cannot be used, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("waiver `{id}` ({origin}): {message}")]
pub struct WaiverError {
    /// The waiver.
    pub id: String,
    /// Where it is written.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

impl Waivers {
    /// Checks waivers: unique ids, at least one match key, not finding and issue keys
    /// together, valid globs and dates, expiry at most `rules.max_days` from `today` (days
    /// since 1970-01-01). `origins` gives where each waiver is written, by index.
    ///
    /// # Errors
    /// The first waiver that cannot be used.
    pub fn new(
        list: Vec<Waiver>,
        origins: Vec<String>,
        rules: Rules,
        today: i64,
    ) -> Result<Waivers, WaiverError> {
        let mut by_id = BTreeMap::new();
        for (index, waiver) in list.iter().enumerate() {
            let origin = origins
                .get(index)
                .cloned()
                .unwrap_or_else(|| format!("waiver[{index}]"));
            let error = |message: String| WaiverError {
                id: waiver.id.clone(),
                origin: origin.clone(),
                message,
            };
            if waiver.id.trim().is_empty() {
                return Err(error("`id` is empty".to_owned()));
            }
            for (field, value) in [("reason", &waiver.reason), ("owner", &waiver.owner)] {
                if value.trim().is_empty() {
                    return Err(error(format!(
                        "`{field}` is empty: say who accepts the risk and why"
                    )));
                }
            }
            if by_id.insert(waiver.id.clone(), origin.clone()).is_some() {
                return Err(error("another waiver has this id".to_owned()));
            }
            let m = &waiver.matches;
            match (m.finding_keys(), m.issue_keys()) {
                (false, false) => {
                    return Err(error(
                        "`match` is empty: give tool, rule, path, fingerprint, cve or package (findings), or policy and issue (issues)".to_owned(),
                    ));
                }
                (true, true) => {
                    return Err(error(
                        "`match` mixes finding keys (tool, rule, path, fingerprint, cve, package) with issue keys (policy, issue): write two waivers".to_owned(),
                    ));
                }
                _ => {}
            }
            if let Some(issue) = &m.issue
                && crate::IssueId::parse(issue).is_some()
            {
                return Err(error(format!(
                    "`{issue}` is an error of the host, not a finding or a policy's issue: errors cannot be waived; fix the input"
                )));
            }
            if let Some(pattern) = &m.path
                && pattern.is_empty()
            {
                return Err(error("`match.path` is empty".to_owned()));
            }
            let expires = days_from_date(&waiver.expires).ok_or_else(|| {
                error(format!(
                    "`expires` `{}` is not a date (YYYY-MM-DD)",
                    waiver.expires
                ))
            })?;
            if expires - today > rules.max_days {
                return Err(error(format!(
                    "expires {}, {} days from today: more than the {} days `[waivers] max_days` allows; choose an earlier date",
                    waiver.expires,
                    expires - today,
                    rules.max_days
                )));
            }
        }
        Ok(Waivers {
            list,
            rules,
            today,
            origins: by_id,
        })
    }

    /// No waivers.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// sha256 of the waivers in force (their canonical JSON, in id order): what a decision
    /// record and the report name.
    pub fn sha256(&self) -> String {
        let mut sorted = self.list.clone();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let text = serde_json::to_string(&sorted).unwrap_or_default();
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    fn expired(&self, waiver: &Waiver) -> bool {
        days_from_date(&waiver.expires).is_none_or(|day| day < self.today)
    }

    /// Moves the findings that live finding waivers match from `security.findings` to
    /// `security.waived`, and recounts `security.counts`. Returns the ids of the waivers that
    /// matched, with how many findings each took.
    pub fn apply_to_facts(&self, facts: &mut Value) -> BTreeMap<String, usize> {
        let mut used = BTreeMap::new();
        let Some(security) = facts.get_mut("security").and_then(Value::as_object_mut) else {
            return used;
        };
        // A fact set these waivers were applied to already (`preflight facts`, then `run
        // --facts`): what they took then still counts as theirs.
        for entry in security
            .get("waived")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = entry.get("waiver").and_then(Value::as_str)
                && self.list.iter().any(|w| w.id == id && !self.expired(w))
            {
                *used.entry(id.to_owned()).or_insert(0) += 1;
            }
        }
        let Some(findings) = security
            .get("findings")
            .cloned()
            .and_then(|v| serde_json::from_value::<Vec<Finding>>(v).ok())
        else {
            return used;
        };
        let live: Vec<&Waiver> = self
            .list
            .iter()
            .filter(|w| w.matches.finding_keys() && !self.expired(w))
            .collect();
        if live.is_empty() {
            return used;
        }
        let mut kept = Vec::new();
        let mut waived = Vec::new();
        for finding in findings {
            match live.iter().find(|w| w.matches.finding(&finding)) {
                Some(waiver) => {
                    *used.entry(waiver.id.clone()).or_insert(0) += 1;
                    waived.push(json!({
                        "finding": finding,
                        "waiver": waiver.id,
                        "owner": waiver.owner,
                        "expires": waiver.expires,
                        "reason": waiver.reason,
                    }));
                }
                None => kept.push(finding),
            }
        }
        if waived.is_empty() {
            return used;
        }
        security.insert("counts".to_owned(), json!(FindingCounts::of(&kept)));
        security.insert("findings".to_owned(), json!(kept));
        let mut all = security
            .get("waived")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        all.extend(waived);
        security.insert("waived".to_owned(), Value::Array(all));
        used
    }

    /// Applies issue waivers to a report's policy results (a waived blocking issue becomes a
    /// warning naming the waiver; a policy left without blocking issues answers its own
    /// decision, at best `GO_WITH_CAUTION` when it had said `NO_GO`), recomputes the report's
    /// issues and decision, and adds the summary: waivers applied, unused, expired, expiring.
    /// `from_facts` is what [`Waivers::apply_to_facts`] returned for this run's facts.
    pub fn apply_to_report(&self, report: &mut Report, from_facts: &BTreeMap<String, usize>) {
        let mut applied: BTreeMap<String, Vec<String>> = from_facts
            .iter()
            .map(|(id, count)| (id.clone(), vec![format!("{count} findings")]))
            .collect();
        let live: Vec<&Waiver> = self
            .list
            .iter()
            .filter(|w| w.matches.issue_keys() && !self.expired(w))
            .collect();
        for result in &mut report.policies {
            if result.error.is_some() {
                continue;
            }
            let mut waived_any = false;
            let issues = std::mem::take(&mut result.blocking_issues);
            for mut issue in issues {
                match live
                    .iter()
                    .find(|w| w.matches.issue(&result.name, &issue.id))
                {
                    Some(waiver) => {
                        waived_any = true;
                        applied
                            .entry(waiver.id.clone())
                            .or_default()
                            .push(format!("{}/{}", result.name, issue.id));
                        issue.message = format!(
                            "waived by {} ({}, until {}): {}",
                            waiver.id, waiver.owner, waiver.expires, issue.message
                        );
                        result.warnings.push(issue);
                    }
                    None => result.blocking_issues.push(issue),
                }
            }
            if waived_any && result.blocking_issues.is_empty() {
                result.decision = relieved(result);
            }
        }
        crate::evaluate::aggregate(report);
        // The summary, and what it warns about.
        let mut expired = Vec::new();
        let mut expiring = Vec::new();
        for waiver in &self.list {
            let day = days_from_date(&waiver.expires).unwrap_or(i64::MIN);
            if day < self.today {
                expired.push(waiver.id.clone());
                let message = format!(
                    "waiver {} ({}) expired on {}: it no longer applies; renew it with a new date or fix what it waived",
                    waiver.id,
                    self.origins.get(&waiver.id).map_or("", String::as_str),
                    waiver.expires
                );
                let issue = crate::ReportIssue::new(crate::IssueId::WaiverExpired, message);
                if self.rules.expired_blocks {
                    report.blocking_issues.push(issue);
                    report.decision = Decision::NoGo;
                } else {
                    report.warnings.push(issue);
                }
            } else if day - self.today <= self.rules.warn_days {
                expiring.push(waiver.id.clone());
                report.warnings.push(crate::ReportIssue::new(
                    crate::IssueId::WaiverExpiring,
                    format!(
                        "waiver {} ({}) expires on {}, in {} days",
                        waiver.id,
                        waiver.owner,
                        waiver.expires,
                        day - self.today
                    ),
                ));
            }
        }
        let unused: Vec<String> = self
            .list
            .iter()
            .filter(|w| !applied.contains_key(&w.id) && !expired.contains(&w.id))
            .map(|w| w.id.clone())
            .collect();
        for id in &unused {
            report.warnings.push(crate::ReportIssue::new(
                crate::IssueId::WaiverUnused,
                format!(
                    "waiver {id} ({}) matched nothing in this run: remove it if what it waived is fixed",
                    self.origins.get(id).map_or("", String::as_str)
                ),
            ));
        }
        report.waivers = Some(WaiverSummary {
            sha256: self.sha256(),
            applied: applied
                .into_iter()
                .map(|(id, matched)| AppliedWaiver { id, matched })
                .collect(),
            unused,
            expired,
            expiring,
        });
    }
}

/// Applies issue waivers recorded in a decision record to a replayed report: each
/// `(policy, issue id)` blocking issue becomes a warning, the policy's decision is relieved
/// as [`Waivers::apply_to_report`] does, and the report's issues and decision are recomputed.
pub fn apply_recorded(report: &mut Report, waived: &[(String, String)]) {
    for result in &mut report.policies {
        if result.error.is_some() {
            continue;
        }
        let before = result.blocking_issues.len();
        let (moved, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut result.blocking_issues)
            .into_iter()
            .partition(|issue| {
                waived
                    .iter()
                    .any(|(policy, id)| *policy == result.name && *id == issue.id)
            });
        result.blocking_issues = kept;
        result.warnings.extend(moved);
        if before > 0 && result.blocking_issues.is_empty() {
            result.decision = relieved(result);
        }
    }
    crate::evaluate::aggregate(report);
}

/// What a policy answers once every blocking issue it raised was waived: its own decision,
/// but never better than `GO_WITH_CAUTION` when it had said `NO_GO`.
fn relieved(result: &PolicyResult) -> Decision {
    match result.decision {
        Decision::NoGo => Decision::GoWithCaution,
        other => other,
    }
}

/// The waivers part of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaiverSummary {
    /// sha256 of the waivers in force.
    pub sha256: String,
    /// Waivers that applied, with what each matched.
    pub applied: Vec<AppliedWaiver>,
    /// Waivers that matched nothing.
    pub unused: Vec<String>,
    /// Waivers past their date: they did not apply.
    pub expired: Vec<String>,
    /// Waivers that expire within `warn_days`.
    pub expiring: Vec<String>,
}

/// A waiver that applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppliedWaiver {
    /// The waiver's id.
    pub id: String,
    /// What it matched: `N findings`, or `policy/issue`.
    pub matched: Vec<String>,
}

/// Whether `path` matches the glob `pattern`: `**` any characters, `*` any but `/`, `?` one
/// character but `/`. Linear in the pattern times the path.
pub fn glob(pattern: &str, path: &str) -> bool {
    let p = pattern.as_bytes();
    let s = path.as_bytes();
    // reachable[j]: the pattern so far can match s[..j].
    let mut reachable = vec![false; s.len() + 1];
    reachable[0] = true;
    let mut i = 0;
    while i < p.len() {
        let mut next = vec![false; s.len() + 1];
        if p[i] == b'*' && p.get(i + 1) == Some(&b'*') {
            // `**/` also matches nothing at all.
            let slash = p.get(i + 2) == Some(&b'/');
            let mut any = false;
            for j in 0..=s.len() {
                any |= reachable[j];
                next[j] = any;
            }
            if slash {
                let mut after = vec![false; s.len() + 1];
                for j in 0..=s.len() {
                    if next[j] && j < s.len() && s[j] == b'/' {
                        after[j + 1] = true;
                    }
                    if reachable[j] {
                        after[j] = true;
                    }
                }
                next = after;
                i += 3;
            } else {
                i += 2;
            }
        } else if p[i] == b'*' {
            let mut any = false;
            for j in 0..=s.len() {
                any = if reachable[j] {
                    true
                } else {
                    any && j > 0 && s[j - 1] != b'/'
                };
                next[j] = any;
            }
            i += 1;
        } else {
            for j in 0..s.len() {
                if reachable[j] && (p[i] == s[j] && p[i] != b'?' || p[i] == b'?' && s[j] != b'/') {
                    next[j + 1] = true;
                }
            }
            i += 1;
        }
        reachable = next;
    }
    reachable[s.len()]
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian), or `None`.
pub fn days_from_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Today, in days since 1970-01-01 (UTC); `PREFLIGHT_TODAY=YYYY-MM-DD` overrides it, for
/// reproducing a past run.
pub fn today() -> i64 {
    if let Some(day) = std::env::var("PREFLIGHT_TODAY")
        .ok()
        .and_then(|text| days_from_date(&text))
    {
        return day;
    }
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(seconds / 86_400).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_days_like_the_calendar() {
        assert_eq!(days_from_date("1970-01-01"), Some(0));
        assert_eq!(days_from_date("2000-03-01"), Some(11_017));
        assert_eq!(days_from_date("2024-02-29"), Some(19_782));
        assert_eq!(days_from_date("2023-02-29"), None);
        assert_eq!(days_from_date("2026-13-01"), None);
        assert_eq!(days_from_date("26-1-1"), None);
    }

    #[test]
    fn globs_match_folders_as_documented() {
        assert!(glob("src/*.py", "src/app.py"));
        assert!(!glob("src/*.py", "src/a/app.py"));
        assert!(glob("src/**/*.py", "src/a/b/app.py"));
        assert!(glob("src/**/*.py", "src/app.py"));
        assert!(glob("**", "anything/at/all"));
        assert!(glob("tests/**", "tests/unit/x.py"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "a/c"));
        assert!(!glob("src/*.py", "lib/app.py"));
        assert!(glob("vendor/*", "vendor/lib.js"));
    }
}
