//! `preflight.toml`: the mode, the collectors and their inputs, the gate's settings and the
//! policies to run. Unknown keys are errors that name the key and the line.

use std::path::{Path, PathBuf};

use preflight_collectors::artifacts::ArtifactSpec;
use preflight_collectors::checklist::ScoreSource;
use preflight_collectors::coverage::CoverageInput;
use preflight_collectors::input::line_column;
use preflight_collectors::security::SecurityInputs;
use preflight_engine::IssueId;
use preflight_sdk::facts::{Complexity, Project};
use serde::Deserialize;

/// The file `preflight run` looks for in the working directory.
pub const FILE_NAME: &str = "preflight.toml";

/// A parsed `preflight.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Mode of the standard gate: `A`, `B` or `S` (the gate checks it).
    #[serde(default)]
    pub mode: Option<String>,
    /// Complexity of the change (a fact): `low`, `medium` or `high`.
    #[serde(default)]
    pub complexity: Option<Complexity>,
    /// What is being released (a fact).
    #[serde(default)]
    pub project: Option<Project>,
    /// Where the readiness and MVP scores come from.
    #[serde(default)]
    pub scores: ScoresConfig,
    /// Scanner reports and an optional external verdict.
    #[serde(default)]
    pub security: Option<SecurityInputs>,
    /// JUnit reports.
    #[serde(default)]
    pub tests: Option<TestsConfig>,
    /// A coverage report.
    #[serde(default)]
    pub coverage: Option<CoverageInput>,
    /// Required and optional artifacts.
    #[serde(default)]
    pub artifacts: Option<ArtifactSpec>,
    /// Settings of the built-in `preflight-gate` policy, passed to it as JSON; the gate checks
    /// them against the settings schema it ships.
    #[serde(default)]
    pub gate: Option<toml::Table>,
    /// Policies to run besides the standard gate (or instead of its defaults).
    #[serde(default, rename = "policy")]
    pub policies: Vec<PolicyConfig>,
    /// Canary analysis: Prometheus, selectors, metric definitions, judge settings.
    #[serde(default)]
    pub canary: Option<CanaryConfig>,
    /// SBOMs: `cyclonedx = [...]`, `spdx = [...]`.
    #[serde(default)]
    pub sbom: Option<preflight_collectors::sbom::SbomInputs>,
    /// Custom fact sections (`[custom.NAME]`): a team's own evidence for its own policies.
    #[serde(default)]
    pub custom: std::collections::BTreeMap<String, preflight_collectors::custom::CustomSource>,
    /// How waivers behave, and a file with more of them: `[waivers]`.
    #[serde(default)]
    pub waivers: Option<WaiverRules>,
    /// Waivers: `[[waiver]]`.
    #[serde(default, rename = "waiver")]
    pub waiver: Vec<WaiverConfig>,
}

/// `[canary]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryConfig {
    /// Prometheus base URL.
    #[serde(default)]
    pub prometheus: Option<String>,
    /// Baseline label selector.
    #[serde(default)]
    pub baseline: Option<String>,
    /// Canary label selector.
    #[serde(default)]
    pub canary: Option<String>,
    /// Metric definitions (`[[canary.metric]]`); the seed's three when absent.
    #[serde(default, rename = "metric")]
    pub metrics: Vec<preflight_canary::MetricDef>,
    /// Settings of the built-in `canary-judge`, passed to it as JSON.
    #[serde(default)]
    pub judge: Option<toml::Table>,
}

/// Score sources.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoresConfig {
    /// Readiness: a number, `{ checklist = "docs/DOD_CHECKLIST.md" }` or `{ json, pointer }`.
    #[serde(default)]
    pub readiness: Option<ScoreSource>,
    /// MVP completeness, likewise.
    #[serde(default)]
    pub mvp: Option<ScoreSource>,
}

/// JUnit inputs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestsConfig {
    /// JUnit XML files or globs.
    pub junit: Vec<String>,
}

/// One `[[policy]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// `builtin:NAME`, a path to a `.wasm` file (relative to the config file), an `https://` URL
    /// or an `oci://REGISTRY/REPO:TAG` (or `@sha256:…`) reference.
    pub source: String,
    /// Settings passed to the policy, as JSON.
    #[serde(default)]
    pub settings: Option<toml::Table>,
    /// A semver requirement on the module's version, e.g. `^1.2`.
    #[serde(default)]
    pub version: Option<String>,
    /// The module's expected sha256; checked before it is compiled.
    #[serde(default)]
    pub sha256: Option<String>,
    /// A minisign public key (the `RW…` line); the module must carry a valid signature by it.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Where the module's minisign signature is: a path (relative to the config file) or an
    /// `https://` URL. Default: the source with `.minisig` appended.
    #[serde(default)]
    pub signature: Option<String>,
    /// Whether the policy's decision counts (default true). A policy that is not enforced is
    /// reported, and its blocking issues become warnings.
    #[serde(default = "yes")]
    pub enforce: bool,
}

fn yes() -> bool {
    true
}

/// `preflight.toml` could not be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: preflight_engine::files::ReadError,
    },
    /// The file does not parse or has unknown keys.
    #[error("`{path}` line {line}, column {column}: {message}")]
    #[diagnostic(help("`preflight init` writes a commented example of every key"))]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file is valid TOML but contradicts itself.
    #[error("`{path}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A setting has a value no setting may have (a number that is not finite).
    #[error("`{path}` line {line}: `{key}` is {value}; settings must be finite numbers")]
    #[diagnostic(help("write a number such as 50 or 0.5"))]
    Settings {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The dotted key.
        key: String,
        /// The value as written.
        value: String,
    },
}

impl ConfigError {
    /// The stable id of the blocking issue this error becomes in a report.
    pub fn id(&self) -> IssueId {
        match self {
            ConfigError::Settings { .. } => IssueId::SettingsInvalid,
            ConfigError::Read { .. } | ConfigError::Parse { .. } | ConfigError::Invalid { .. } => {
                IssueId::ConfigInvalid
            }
        }
    }
}

/// A TOML table as JSON, the form settings reach a policy in. (NaN and infinities were refused
/// when the file was parsed; datetimes become RFC 3339 strings.)
pub fn to_json(table: &toml::Table) -> serde_json::Value {
    fn value(item: &toml::Value) -> serde_json::Value {
        match item {
            toml::Value::String(text) => serde_json::Value::String(text.clone()),
            toml::Value::Integer(number) => serde_json::Value::from(*number),
            toml::Value::Float(number) => serde_json::Number::from_f64(*number)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            toml::Value::Boolean(flag) => serde_json::Value::Bool(*flag),
            toml::Value::Datetime(time) => serde_json::Value::String(time.to_string()),
            toml::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(value).collect())
            }
            toml::Value::Table(table) => to_json(table),
        }
    }
    serde_json::Value::Object(
        table
            .iter()
            .map(|(key, item)| (key.clone(), value(item)))
            .collect(),
    )
}

/// Refuses NaN and infinities anywhere in the file: serialized to JSON for a policy they would
/// become `null`, and a policy would fall back to its defaults (a fail-open).
fn finite_numbers(path: &Path, text: &str) -> Result<(), ConfigError> {
    let Ok(document) = toml::de::DeTable::parse(text) else {
        return Ok(());
    };
    fn walk(
        value: &toml::de::DeValue<'_>,
        span: std::ops::Range<usize>,
        key: &str,
        found: &mut Option<(String, String, std::ops::Range<usize>)>,
    ) {
        if found.is_some() {
            return;
        }
        match value {
            toml::de::DeValue::Float(float) => {
                let text = float.as_str();
                let lower = text.to_ascii_lowercase();
                if lower.contains("inf") || lower.contains("nan") {
                    *found = Some((key.to_owned(), text.to_owned(), span));
                }
            }
            toml::de::DeValue::Table(table) => {
                for (name, item) in table {
                    let key = if key.is_empty() {
                        name.get_ref().to_string()
                    } else {
                        format!("{key}.{}", name.get_ref())
                    };
                    walk(item.get_ref(), item.span(), &key, found);
                }
            }
            toml::de::DeValue::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(
                        item.get_ref(),
                        item.span(),
                        &format!("{key}[{index}]"),
                        found,
                    );
                }
            }
            _ => {}
        }
    }
    let mut found = None;
    for (name, item) in document.get_ref() {
        walk(item.get_ref(), item.span(), name.get_ref(), &mut found);
    }
    match found {
        Some((key, value, span)) => Err(ConfigError::Settings {
            path: path.to_owned(),
            line: line_column(text, span.start).0,
            key,
            value,
        }),
        None => Ok(()),
    }
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The configuration (empty without a file).
    pub config: Config,
    /// The file, when there was one.
    pub path: Option<PathBuf>,
    /// The 1-based line of each key the file sets: `scores`, `gate.coverage`, `policy[1]`.
    pub lines: std::collections::BTreeMap<String, u32>,
}

impl Loaded {
    /// The folder relative paths in the config are resolved against.
    pub fn base(&self) -> PathBuf {
        self.path
            .as_ref()
            .and_then(|p| p.parent())
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_owned()
    }
}

/// The `preflight.toml` for the working directory: there, else in the nearest folder above it,
/// up to the repository root (the first folder with `.git`), as cargo and git look.
pub fn find() -> Option<PathBuf> {
    let here = PathBuf::from(FILE_NAME);
    // Anything by that name is read (and refused if it is not a regular file); only its
    // absence means no configuration.
    if std::fs::symlink_metadata(&here).is_ok() {
        return Some(here);
    }
    if Path::new(".git").exists() {
        return None;
    }
    let cwd = std::env::current_dir().ok()?;
    for dir in cwd.ancestors().skip(1) {
        let candidate = dir.join(FILE_NAME);
        if std::fs::symlink_metadata(&candidate).is_ok() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}

/// The repository root for `dir`: the nearest folder at or above it with `.git`.
pub fn repository_root(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    absolute
        .ancestors()
        .find(|folder| folder.join(".git").exists())
        .map(Path::to_owned)
}

/// The 1-based line of each key `text` sets, two levels deep (`gate`, `gate.coverage`), and of
/// each `[[policy]]` entry (`policy[0]`, ...).
pub fn key_lines(text: &str) -> std::collections::BTreeMap<String, u32> {
    let mut lines = std::collections::BTreeMap::new();
    let Ok(document) = toml::de::DeTable::parse(text) else {
        return lines;
    };
    let line_of = |offset: usize| u32::try_from(line_column(text, offset).0).unwrap_or(u32::MAX);
    for (name, item) in document.get_ref() {
        let key = name.get_ref().to_string();
        lines.insert(key.clone(), line_of(name.span().start));
        match item.get_ref() {
            toml::de::DeValue::Table(table) => {
                for (inner, _) in table {
                    lines.insert(
                        format!("{key}.{}", inner.get_ref()),
                        line_of(inner.span().start),
                    );
                }
            }
            toml::de::DeValue::Array(items) => {
                for (index, entry) in items.iter().enumerate() {
                    lines.insert(format!("{key}[{index}]"), line_of(entry.span().start));
                }
            }
            _ => {}
        }
    }
    lines
}

/// Loads `explicit`, or the `preflight.toml` [`find`] finds.
///
/// # Errors
/// A [`ConfigError`] naming the file, line and column.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => match find() {
            Some(path) => path,
            None => return Ok(Loaded::default()),
        },
    };
    let text =
        preflight_engine::files::read_to_string(&path, preflight_engine::files::InputKind::Config)
            .map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
    let config = parse(&path, &text)?;
    Ok(Loaded {
        config,
        path: Some(path),
        lines: key_lines(&text),
    })
}

/// Parses the text of a config file.
///
/// # Errors
/// A [`ConfigError::Parse`] with the line and column of the first problem.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    finite_numbers(path, text)?;
    let config: Config = toml::from_str(text).map_err(|err| {
        let (line, column) = err
            .span()
            .map_or((1, 1), |span| line_column(text, span.start));
        ConfigError::Parse {
            path: path.to_owned(),
            line,
            column,
            message: err.message().trim().to_owned(),
        }
    })?;
    let table: toml::Table = toml::from_str(text).unwrap_or_default();
    let gate_mode = table
        .get("gate")
        .and_then(|g| g.as_table())
        .is_some_and(|g| g.contains_key("mode"));
    if gate_mode && config.mode.is_some() {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            message: "`mode` is set both at the top level and in [gate]; set it once".to_owned(),
        });
    }
    let builtin_gate = config
        .policies
        .iter()
        .any(|p| p.source == format!("builtin:{}", preflight_engine::builtin::GATE));
    if builtin_gate && config.gate.is_some() {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            message: "the standard gate's settings are given both in [gate] and in a [[policy]] with source `builtin:preflight-gate`; use one".to_owned(),
        });
    }
    if config.complexity == Some(Complexity::Unknown) {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            message: "`complexity` is \"low\", \"medium\" or \"high\"".to_owned(),
        });
    }
    Ok(config)
}

/// The commented starter file `preflight init` writes.
pub const STARTER: &str = include_str!("config/starter.toml");

/// `[waivers]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverRules {
    /// A TOML file of more `[[waiver]]` entries, relative to preflight.toml.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The longest a waiver may run from today, in days (default 90).
    #[serde(default)]
    pub max_days: Option<u32>,
    /// Warn about waivers expiring within this many days (default 14).
    #[serde(default)]
    pub warn_days: Option<u32>,
    /// What an expired waiver does: `warn` (default) or `block`.
    #[serde(default)]
    pub expired: Option<ExpiredWaivers>,
}

/// `[waivers] expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpiredWaivers {
    /// A warning.
    Warn,
    /// A blocking issue.
    Block,
}

/// One `[[waiver]]`: the engine's waiver, with `expires` as a TOML date or a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverConfig {
    /// Unique id.
    pub id: String,
    /// What it matches.
    #[serde(rename = "match")]
    pub matches: preflight_engine::waivers::Match,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who owns it.
    pub owner: String,
    /// The last day it applies: `2026-12-31` or `"2026-12-31"`.
    pub expires: toml::Value,
    /// Who approved it.
    #[serde(default)]
    pub approved_by: Option<String>,
    /// The ticket.
    #[serde(default)]
    pub ticket: Option<String>,
}

impl WaiverConfig {
    fn into_waiver(self) -> preflight_engine::waivers::Waiver {
        let expires = match self.expires {
            toml::Value::String(text) => text,
            toml::Value::Datetime(date) => date.to_string(),
            other => other.to_string(),
        };
        preflight_engine::waivers::Waiver {
            id: self.id,
            matches: self.matches,
            reason: self.reason,
            owner: self.owner,
            expires,
            approved_by: self.approved_by,
            ticket: self.ticket,
        }
    }
}

/// A file of waivers (`[waivers] file`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiversFile {
    #[serde(default, rename = "waiver")]
    waivers: Vec<WaiverConfig>,
}

/// The waivers of a configuration, checked, or `None` when it has none.
///
/// # Errors
/// A [`ConfigError`] naming the file and line of a waiver that cannot be used.
pub fn waivers(loaded: &Loaded) -> Result<Option<preflight_engine::waivers::Waivers>, ConfigError> {
    let config = &loaded.config;
    let rules_config = config.waivers.clone().unwrap_or_default();
    let config_name = loaded
        .path
        .as_ref()
        .map_or_else(|| FILE_NAME.to_owned(), |p| p.display().to_string());
    let mut list = Vec::new();
    let mut origins = Vec::new();
    for (index, waiver) in config.waiver.iter().enumerate() {
        let line = loaded.lines.get(&format!("waiver[{index}]"));
        origins.push(match line {
            Some(line) => format!("{config_name} line {line}"),
            None => format!("{config_name} waiver[{index}]"),
        });
        list.push(waiver.clone().into_waiver());
    }
    if let Some(file) = &rules_config.file {
        let path = loaded.base().join(file);
        let text = preflight_engine::files::read_to_string(
            &path,
            preflight_engine::files::InputKind::Config,
        )
        .map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let parsed: WaiversFile = toml::from_str(&text).map_err(|err| {
            let (line, column) = err
                .span()
                .map_or((1, 1), |span| line_column(&text, span.start));
            ConfigError::Parse {
                path: path.clone(),
                line,
                column,
                message: err.message().trim().to_owned(),
            }
        })?;
        let lines = key_lines(&text);
        for (index, waiver) in parsed.waivers.into_iter().enumerate() {
            origins.push(match lines.get(&format!("waiver[{index}]")) {
                Some(line) => format!("{} line {line}", path.display()),
                None => format!("{} waiver[{index}]", path.display()),
            });
            list.push(waiver.into_waiver());
        }
    }
    if list.is_empty() {
        return Ok(None);
    }
    let defaults = preflight_engine::waivers::Rules::default();
    let rules = preflight_engine::waivers::Rules {
        max_days: rules_config.max_days.map_or(defaults.max_days, i64::from),
        warn_days: rules_config.warn_days.map_or(defaults.warn_days, i64::from),
        expired_blocks: rules_config.expired == Some(ExpiredWaivers::Block),
    };
    preflight_engine::waivers::Waivers::new(
        list,
        origins,
        rules,
        preflight_engine::waivers::today(),
    )
    .map(Some)
    .map_err(|err| ConfigError::Invalid {
        path: loaded
            .path
            .clone()
            .unwrap_or_else(|| PathBuf::from(FILE_NAME)),
        message: err.to_string(),
    })
}
