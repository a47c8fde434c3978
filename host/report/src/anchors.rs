//! Where an issue that names no place points. GitHub code scanning refuses a SARIF file with a
//! result without a location, and GitLab Code Quality needs a path for every entry, so every
//! issue gets one: its own, else the file its evidence came from (the JUnit report, the
//! coverage report), else the line of `preflight.toml` that configures the rule or the policy,
//! else the configuration file itself.

use std::collections::BTreeMap;

use preflight_sdk::Location;

/// Places for issues without locations, most specific first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anchors {
    /// By issue id (`tests.failing`) or id prefix (`tests`).
    pub by_id: BTreeMap<String, Location>,
    /// By policy name: the `[[policy]]` entry that configures it.
    pub by_policy: BTreeMap<String, Location>,
    /// Everything else: the configuration file, or the fact file.
    pub default: Option<Location>,
}

impl Anchors {
    /// The place for an issue `id` of `policy` that names none.
    pub fn for_issue(&self, policy: &str, id: &str) -> Option<&Location> {
        let prefix = id.split('.').next().unwrap_or(id);
        self.by_id
            .get(id)
            .or_else(|| self.by_id.get(prefix))
            .or_else(|| self.by_policy.get(policy))
            .or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_anchor_wins() {
        let mut anchors = Anchors {
            default: Some(Location::new("preflight.toml")),
            ..Anchors::default()
        };
        anchors
            .by_id
            .insert("tests".to_owned(), Location::new("junit.xml"));
        anchors.by_id.insert(
            "tests.none_ran".to_owned(),
            Location::new("preflight.toml").line(9),
        );
        anchors.by_policy.insert(
            "team-rule".to_owned(),
            Location::new("preflight.toml").line(20),
        );
        let at = |policy: &str, id: &str| anchors.for_issue(policy, id).cloned();
        assert_eq!(
            at("preflight-gate", "tests.none_ran").unwrap().line,
            Some(9)
        );
        assert_eq!(
            at("preflight-gate", "tests.failing").unwrap().path,
            "junit.xml"
        );
        assert_eq!(at("team-rule", "change.open").unwrap().line, Some(20));
        assert_eq!(at("other", "x.y").unwrap().path, "preflight.toml");
        assert!(Anchors::default().for_issue("p", "x").is_none());
    }
}
