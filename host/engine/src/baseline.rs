//! Baselines: which findings were already there. A finding's key is its tool and the tool's
//! fingerprint when the tool gives one, else its tool, rule, path and a hash of its normalised
//! message — never its line, so a finding whose code moved still matches. Keys are counted:
//! three identical findings in a file where the baseline had two are two unchanged and one new.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use preflight_sdk::facts::{BaselineState, Finding};

/// The key a finding is matched by.
pub fn key(finding: &Finding) -> String {
    let tool = finding.tool.to_ascii_lowercase();
    if let Some(fingerprint) = &finding.fingerprint {
        return format!("{tool}|fp|{fingerprint}");
    }
    let path = finding
        .location
        .as_ref()
        .map_or("", |location| location.path.as_str());
    let digest = Sha256::digest(normalise(&finding.message).as_bytes());
    format!(
        "{tool}|{}|{path}|{}",
        finding.rule,
        hex::encode(digest.get(..12).unwrap_or_default())
    )
}

/// The message with case, whitespace and numbers evened out: a message that quotes a line or
/// a count still matches when only those change.
fn normalise(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut last_space = true;
    let mut last_digit = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !last_digit {
                out.push('#');
            }
            last_digit = true;
            last_space = false;
            continue;
        }
        last_digit = false;
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.extend(c.to_lowercase());
            last_space = false;
        }
    }
    out.trim_end().to_owned()
}

/// The keys of every finding of a fact set, sorted, repeated as often as the finding is:
/// those still in `security.findings` and those waived or cleared by VEX (they were there).
pub fn keys_of_facts(facts: &Value) -> Vec<String> {
    let Some(security) = facts.get("security") else {
        return Vec::new();
    };
    let mut findings: Vec<Finding> = security
        .get("findings")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    for moved in ["waived", "cleared"] {
        for entry in security
            .get(moved)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(finding) = entry
                .get("finding")
                .and_then(|f| serde_json::from_value::<Finding>(f.clone()).ok())
            {
                findings.push(finding);
            }
        }
    }
    let mut keys: Vec<String> = findings.iter().map(key).collect();
    keys.sort();
    keys
}

/// An earlier run's findings, by key and count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    keys: BTreeMap<String, usize>,
    total: usize,
}

/// How a baseline applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    /// Findings not in the baseline.
    pub new: usize,
    /// Findings in the baseline too.
    pub unchanged: usize,
    /// Findings the scanner had marked itself (SARIF `baselineState`), left as they were.
    pub from_tool: usize,
    /// Findings in the baseline.
    pub baseline_total: usize,
}

impl Baseline {
    /// Reads a baseline: a preflight report (its `finding_keys`) or a fact set (its
    /// `security.findings`).
    ///
    /// # Errors
    /// A message saying what the document is not.
    pub fn from_json(value: &Value) -> Result<Baseline, String> {
        let keys: Vec<String> = if value.get("preflight_version").is_some()
            && value.get("decision").is_some()
        {
            match value.get("finding_keys") {
                None => Vec::new(),
                Some(Value::Array(keys)) => keys
                    .iter()
                    .map(|k| {
                        k.as_str()
                            .map(str::to_owned)
                            .ok_or("`finding_keys` holds a value that is not a string")
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err("`finding_keys` is not an array".to_owned()),
            }
        } else if value.get("security").is_some() || value.get("scores").is_some() {
            keys_of_facts(value)
        } else {
            return Err(
                "it is neither a preflight report (`preflight run` JSON) nor a fact set (`preflight facts`)".to_owned(),
            );
        };
        let mut counted = BTreeMap::new();
        for key in &keys {
            *counted.entry(key.clone()).or_insert(0) += 1;
        }
        Ok(Baseline {
            keys: counted,
            total: keys.len(),
        })
    }

    /// Marks each finding of `security.findings` `new` or `unchanged`; a finding the scanner
    /// marked itself keeps its mark.
    pub fn apply(&self, facts: &mut Value) -> Applied {
        let mut applied = Applied {
            baseline_total: self.total,
            ..Applied::default()
        };
        let Some(findings) = facts
            .pointer_mut("/security/findings")
            .and_then(Value::as_array_mut)
        else {
            return applied;
        };
        let mut left = self.keys.clone();
        for entry in findings.iter_mut() {
            let Ok(finding) = serde_json::from_value::<Finding>(entry.clone()) else {
                continue;
            };
            if finding.baseline.is_some() {
                applied.from_tool += 1;
                continue;
            }
            let state = match left.get_mut(&key(&finding)) {
                Some(count) if *count > 0 => {
                    *count -= 1;
                    applied.unchanged += 1;
                    BaselineState::Unchanged
                }
                _ => {
                    applied.new += 1;
                    BaselineState::New
                }
            };
            if let Some(object) = entry.as_object_mut() {
                object.insert(
                    "baseline".to_owned(),
                    serde_json::to_value(state).unwrap_or(Value::Null),
                );
            }
        }
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_normalise_case_space_and_numbers() {
        assert_eq!(
            normalise("Line  12:  Use of  ASSERT"),
            "line #: use of assert"
        );
        assert_eq!(normalise("took 3.25 s"), "took #.# s");
    }
}
