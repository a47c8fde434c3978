//! Where each issue that names no place points, for the report formats whose consumers need a
//! location (SARIF for GitHub code scanning, GitLab Code Quality): the file the evidence came
//! from, else the line of `preflight.toml` that configures the rule or the policy, else the
//! configuration file (or the first `--facts` file).

use preflight_engine::Report;
use preflight_report::Anchors;
use preflight_sdk::Location;
use serde_json::Value;

use crate::inputs::Plan;

/// The anchors of a run: `facts` is the fact set when it could be gathered.
pub fn of(plan: &Plan, facts: Option<&Value>, report: &Report) -> Anchors {
    let mut anchors = Anchors::default();
    let root = preflight_collectors::input::Root::new(plan.sources.root.clone());
    let config = plan.config_file.as_ref();
    let line = |keys: &[&str]| -> Option<Location> {
        let (file, lines) = config?;
        keys.iter()
            .find_map(|key| lines.get(*key))
            .map(|line| Location::new(file.clone()).line(*line))
    };
    let fact_file = |pointer: &str| -> Option<Location> {
        facts?
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|path| !path.is_empty())
            .map(Location::new)
    };
    let first_facts_file = plan.sources.files.first().map(|path| {
        Location::new(preflight_collectors::input::display_path(
            &root,
            &std::path::absolute(path).unwrap_or_else(|_| path.clone()),
        ))
    });
    let mut set = |id: &str, place: Option<Location>| {
        if let Some(place) = place {
            anchors.by_id.insert(id.to_owned(), place);
        }
    };
    set(
        "tests",
        fact_file("/tests/files/0").or_else(|| line(&["tests.junit", "tests"])),
    );
    set(
        "coverage",
        fact_file("/coverage/path").or_else(|| line(&["gate.coverage", "coverage"])),
    );
    set(
        "security",
        fact_file("/security/scans/0/path").or_else(|| line(&["security"])),
    );
    set(
        "licenses",
        fact_file("/sbom/documents/0/path").or_else(|| line(&["gate.licenses", "sbom"])),
    );
    set("vex", line(&["security"]));
    set(
        "artifacts.missing_required",
        line(&["artifacts.required", "artifacts"]),
    );
    set("artifacts", line(&["artifacts.optional", "artifacts"]));
    set("risk", line(&["scores", "gate.thresholds", "gate"]));
    set("facts.score_out_of_range", line(&["scores"]));
    set("settings", line(&["gate"]));
    set("canary", line(&["canary"]));
    set(
        "facts",
        first_facts_file
            .clone()
            .or_else(|| config.map(|(file, _)| Location::new(file.clone()))),
    );
    for (spec, policy) in plan.specs.iter().zip(&report.policies) {
        if let Some(place) = spec.config_key.as_deref().and_then(|key| line(&[key])) {
            anchors.by_policy.insert(policy.name.clone(), place);
        }
    }
    anchors.default = config
        .map(|(file, _)| Location::new(file.clone()))
        .or(first_facts_file);
    anchors
}
