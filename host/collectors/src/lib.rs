#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod artifacts;
pub mod checklist;
pub mod coverage;
pub mod custom;
pub mod input;
pub mod junit;
pub mod sbom;
pub mod security;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use preflight_engine::IssueId;
use preflight_engine::facts::{self, Facts, FactsError, merge};
use preflight_sdk::facts::{Complexity, Project};
use serde_json::{Map, Value, json};

use crate::input::Root;
pub use input::CollectError;

/// Facts that could not be gathered.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum GatherError {
    /// A facts file, an override or the merged fact set is not usable.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Facts(#[from] FactsError),
    /// A collector failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Collect(#[from] CollectError),
    /// A `--baseline` file cannot be used.
    #[error("baseline `{path}`: {message}")]
    #[diagnostic(help(
        "give the JSON report of an earlier `preflight run` (e.g. from the main branch) or a fact set from `preflight facts`"
    ))]
    Baseline {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl GatherError {
    /// The stable id of the blocking issue this error becomes in a report.
    pub fn id(&self) -> IssueId {
        match self {
            GatherError::Facts(err) => err.id(),
            GatherError::Collect(_) => IssueId::FactsCollectorFailed,
            GatherError::Baseline { .. } => IssueId::BaselineInvalid,
        }
    }
}

/// Where the facts come from.
#[derive(Debug, Clone, Default)]
pub struct FactSources {
    /// Fact files, merged in order (objects deep-merge; arrays and scalars replace).
    pub files: Vec<PathBuf>,
    /// `a.b.c=VALUE` overrides applied last; VALUE is JSON when it parses, else a string.
    pub overrides: Vec<String>,
    /// The project folder the collectors look in.
    pub root: PathBuf,
    /// Run the collectors (off for `--no-collect`: replay a recorded fact set as it is).
    pub collect: bool,
    /// What the collectors read.
    pub collectors: Collectors,
    /// Waivers from `preflight.toml`: finding waivers apply to the gathered fact set.
    pub waivers: Option<preflight_engine::waivers::Waivers>,
    /// An earlier run's report or fact set: each finding is marked `new` or `unchanged`.
    pub baseline: Option<PathBuf>,
}

/// What the collectors read, from `preflight.toml` and flags.
#[derive(Debug, Clone, Default)]
pub struct Collectors {
    /// Where the collectors' settings came from (a config file, or `default`).
    pub origin: String,
    /// Artifacts to check for.
    pub artifacts: artifacts::ArtifactSpec,
    /// Readiness score source.
    pub readiness: Option<checklist::ScoreSource>,
    /// MVP score source.
    pub mvp: Option<checklist::ScoreSource>,
    /// Scanner reports.
    pub security: Option<security::SecurityInputs>,
    /// JUnit reports.
    pub junit: Vec<String>,
    /// Coverage report.
    pub coverage: Option<coverage::CoverageInput>,
    /// Complexity, when configured.
    pub complexity: Option<Complexity>,
    /// Project identity, when configured.
    pub project: Option<Project>,
    /// Custom fact sections, by namespace.
    pub custom: BTreeMap<String, custom::CustomSource>,
    /// SBOM documents.
    pub sbom: Option<sbom::SbomInputs>,
}

/// Gathers, merges, overrides and validates the fact set.
///
/// # Errors
/// A [`GatherError`] naming the file, override or JSON pointer at fault.
pub fn gather(sources: &FactSources) -> Result<Facts, GatherError> {
    let mut value = Value::Object(Map::new());
    let mut provenance = BTreeMap::new();
    let mut inputs = Vec::new();
    let mut layer = |value: &mut Value, overlay: Value, origin: &str| {
        record(&overlay, origin, &mut provenance);
        merge(value, overlay);
    };
    if sources.collect {
        let root = Root::new(sources.root.clone());
        for (overlay, origin) in collect(&root, &sources.collectors, &mut inputs)? {
            layer(&mut value, overlay, &origin);
        }
    }
    for path in &sources.files {
        inputs.push(path.clone());
        layer(
            &mut value,
            facts::read_file(path)?,
            &format!("--facts {}", path.display()),
        );
    }
    for text in &sources.overrides {
        let mut overlay = Value::Object(Map::new());
        facts::apply_override(&mut overlay, text)?;
        layer(&mut value, overlay, &format!("--fact {text}"));
    }
    let facts = facts::from_value(value)?;
    let baseline = match &sources.baseline {
        Some(path) => {
            inputs.push(path.clone());
            Some((read_baseline(path)?, path.as_path()))
        }
        None => None,
    };
    let mut facts = prepare(
        facts,
        sources.waivers.as_ref(),
        baseline.as_ref().map(|(baseline, path)| (baseline, *path)),
    )?;
    facts.sources = provenance;
    facts.inputs = inputs;
    Ok(facts)
}

/// Reads a `--baseline` file: an earlier run's JSON report or fact set.
///
/// # Errors
/// [`GatherError::Baseline`] naming the file.
pub fn read_baseline(path: &Path) -> Result<preflight_engine::baseline::Baseline, GatherError> {
    let bad = |message: String| GatherError::Baseline {
        path: path.to_owned(),
        message,
    };
    let text =
        preflight_engine::files::read_to_string(path, preflight_engine::files::InputKind::Facts)
            .map_err(|err| bad(err.to_string()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|err| bad(format!("not JSON: {err}")))?;
    preflight_engine::baseline::Baseline::from_json(&value).map_err(bad)
}

/// What every way in (`run`, `--facts-stream`, `serve`) does to a checked fact set before the
/// policies see it: finding waivers move the findings they match to `security.waived`, and a
/// baseline (with the file it came from) marks each finding `new` or `unchanged`. The fact set
/// is checked again, once, when either changed it, so its digest is that of what the policies
/// read.
///
/// # Errors
/// A [`FactsError`] when the marked fact set no longer passes the schema.
pub fn prepare(
    facts: Facts,
    waivers: Option<&preflight_engine::waivers::Waivers>,
    baseline: Option<(&preflight_engine::baseline::Baseline, &Path)>,
) -> Result<Facts, FactsError> {
    if waivers.is_none() && baseline.is_none() {
        return Ok(facts);
    }
    let mut value = facts.value.clone();
    let mut changed = false;
    let mut waived = std::collections::BTreeMap::new();
    if let Some(waivers) = waivers {
        let before = value.pointer("/security/waived").map(ToString::to_string);
        waived = waivers.apply_to_facts(&mut value);
        changed |= value.pointer("/security/waived").map(ToString::to_string) != before;
    }
    let mut warnings = facts.warnings.clone();
    if let Some((baseline, path)) = baseline {
        changed = true;
        let applied = baseline.apply(&mut value);
        let findings = applied.new + applied.unchanged;
        if applied.baseline_total > 0 && findings > 0 && applied.unchanged == 0 {
            warnings.push(preflight_engine::ReportIssue::new(
                IssueId::BaselineNoMatch,
                format!(
                    "baseline `{}` matched none of the {findings} findings (it has {}): is it from this project, scanned by the same tools at the same paths? Every finding counts as new",
                    path.display(),
                    applied.baseline_total
                ),
            ));
        }
    }
    let mut prepared = if changed {
        let mut again = facts::from_value(value)?;
        again.sources = facts.sources;
        again.inputs = facts.inputs;
        again
    } else {
        facts
    };
    prepared.waived = waived;
    prepared.warnings = warnings;
    Ok(prepared)
}

/// Runs every configured collector; each result is one overlay with its origin. The files read
/// are added to `inputs`.
fn collect(
    root: &Root,
    c: &Collectors,
    inputs: &mut Vec<PathBuf>,
) -> Result<Vec<(Value, String)>, GatherError> {
    let origin = |what: &str| format!("{what} ({})", c.origin);
    let mut overlays = vec![(
        artifacts::collect(root, &c.artifacts)?,
        origin("artifact check"),
    )];
    if let Some(project) = &c.project {
        overlays.push((json!({ "project": project }), c.origin.clone()));
    }
    if let Some(complexity) = c.complexity {
        overlays.push((json!({ "complexity": complexity }), c.origin.clone()));
    }
    for (name, source) in [("readiness", &c.readiness), ("mvp", &c.mvp)] {
        let Some(source) = source else { continue };
        let score = checklist::score(root, name, source)?;
        match source {
            checklist::ScoreSource::Checklist { checklist, .. } => {
                inputs.push(root.join(checklist))
            }
            checklist::ScoreSource::Json { json, .. } => inputs.push(root.join(json)),
            checklist::ScoreSource::Fixed(_) => {}
        }
        let mut overlay = json!({ "scores": { name: score.value } });
        let what = match &score.checklist {
            Some(list) => {
                overlay["checklists"] = json!({ name: list });
                format!("checklist {}", list.path)
            }
            None => "score".to_owned(),
        };
        overlays.push((overlay, origin(&what)));
    }
    if let Some(reports) = &c.security {
        let (section, files) = security::collect(root, reports)?;
        inputs.extend(files);
        overlays.push((section, origin("scanner reports")));
    }
    if !c.junit.is_empty() {
        let (tests, files) = junit::collect(root, &c.junit)?;
        inputs.extend(files);
        overlays.push((json!({ "tests": tests }), origin("JUnit")));
    }
    if let Some(input) = &c.coverage {
        let (coverage, file) = coverage::collect(root, input)?;
        inputs.push(file);
        overlays.push((json!({ "coverage": coverage }), origin("coverage report")));
    }
    if let Some(sboms) = &c.sbom {
        let (section, files) = sbom::collect(root, sboms)?;
        inputs.extend(files);
        overlays.push((json!({ "sbom": section }), origin("SBOMs")));
    }
    if !c.custom.is_empty() {
        let (section, files) = custom::collect(root, &c.custom)?;
        inputs.extend(files);
        overlays.push((json!({ "custom": section }), origin("custom sources")));
    }
    Ok(overlays)
}

/// Records which layer set each top-level section, and each score.
fn record(overlay: &Value, origin: &str, provenance: &mut BTreeMap<String, String>) {
    let Value::Object(map) = overlay else { return };
    for (key, value) in map {
        match (key.as_str(), value) {
            ("scores" | "custom", Value::Object(sections)) => {
                for name in sections.keys() {
                    provenance.insert(format!("{key}.{name}"), origin.to_owned());
                }
            }
            _ => {
                provenance.insert(key.clone(), origin.to_owned());
            }
        }
    }
}
