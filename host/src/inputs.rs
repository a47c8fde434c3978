//! What a run reads: `preflight.toml` and the flags, combined into fact sources and the list of
//! policies. Flags win over the file; every choice records where it came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use preflight_collectors::{Collectors, FactSources, artifacts::ArtifactSpec};
use preflight_engine::builtin;
use preflight_sources::PolicySource;
use serde_json::{Map, Value, json};

use crate::config::{self, ConfigError, Loaded};

/// Mode of the standard gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Aggressive.
    #[value(name = "A", alias = "a")]
    A,
    /// Balanced (default).
    #[value(name = "B", alias = "b")]
    B,
    /// Safe.
    #[value(name = "S", alias = "s")]
    S,
}

impl ModeArg {
    fn as_str(self) -> &'static str {
        match self {
            ModeArg::A => "A",
            ModeArg::B => "B",
            ModeArg::S => "S",
        }
    }
}

/// Flags shared by `run` and `facts`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InputArgs {
    /// Configuration file (default: `preflight.toml` in the working directory, else in the
    /// nearest folder above it up to the repository root).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A fact set file (JSON); repeatable, merged in order over the collected facts.
    #[arg(long = "facts", value_name = "FILE")]
    pub facts: Vec<PathBuf>,
    /// Override one fact, e.g. `scores.readiness=7.5`; VALUE is JSON when it parses.
    #[arg(long = "fact", value_name = "KEY=VALUE")]
    pub fact: Vec<String>,
    /// An earlier run's JSON report or fact set (e.g. from the main branch): each finding is
    /// marked `new` or `unchanged`; with the gate's `security.only_new`, only new ones count.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Mode of the standard gate: A (aggressive), B (balanced), S (safe).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Project folder the collectors look in; paths in the config and in flags are relative to
    /// it (default: the config file's folder, else `.`).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Folder the paths in facts and reports are relative to (default: the repository root,
    /// the nearest folder at or above the project folder with `.git`; else the project
    /// folder). SARIF and Code Quality consumers expect paths from the repository root.
    #[arg(long, value_name = "DIR")]
    pub path_base: Option<PathBuf>,
    /// Skip the collectors: use only `--facts` and `--fact` (replay a recorded fact set).
    #[arg(long)]
    pub no_collect: bool,
    /// A required artifact (path or glob; missing blocks); repeatable.
    #[arg(long = "require-artifact", value_name = "PATH")]
    pub require_artifact: Vec<String>,
    /// An optional artifact (path or glob; missing is listed); repeatable. Replaces the
    /// configured list. Default: docs/DOD_CHECKLIST.md.
    #[arg(long = "artifact", value_name = "PATH")]
    pub artifact: Vec<String>,
    /// An extra policy module to run; repeatable.
    #[arg(long = "policy", value_name = "FILE.wasm")]
    pub policy: Vec<PathBuf>,
    /// Refuse any policy module that is not pinned in preflight.lock (what CI uses).
    #[arg(long)]
    pub locked: bool,
    /// Never touch the network: remote policies come from the module store only.
    #[arg(long)]
    pub offline: bool,
}

/// A minisign signature a policy must carry, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureConfig {
    /// The public key (the `RW…` line or a `.pub` file's text).
    pub public_key: String,
    /// Where the signature is: a path (resolved) or a URL; `None`: the source + `.minisig`.
    pub location: Option<String>,
}

/// One policy to run: where it comes from, its settings, and what it must be.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    /// Where the module comes from.
    pub source: PolicySource,
    /// Settings passed to the policy.
    pub settings: Value,
    /// Whether its decision counts.
    pub enforce: bool,
    /// Pinned sha256 digests, with where each is written.
    pub sha256: Vec<(String, String)>,
    /// A semver requirement on the module's version.
    pub version: Option<String>,
    /// A signature requirement.
    pub signature: Option<SignatureConfig>,
    /// Refuse the module unless a sha256 is pinned (`--locked`).
    pub locked: bool,
    /// Where the requirements are written, for messages.
    pub pinned_by: String,
    /// The key in `preflight.toml` that configures the policy (`policy[2]`, `gate`).
    pub config_key: Option<String>,
}

impl PolicySpec {
    /// A spec for a source with no settings and no pins.
    pub fn new(source: PolicySource) -> PolicySpec {
        PolicySpec {
            source,
            settings: Value::Object(Map::new()),
            enforce: true,
            sha256: Vec::new(),
            version: None,
            signature: None,
            locked: false,
            pinned_by: String::new(),
            config_key: None,
        }
    }
}

/// Everything a run needs to know before it starts.
#[derive(Debug, Clone)]
pub struct Plan {
    /// sha256 of the bytes of `preflight.lock` the pins were taken from, when there is one.
    pub lock_sha256: Option<String>,
    /// The waivers in force, checked.
    pub waivers: Option<preflight_engine::waivers::Waivers>,
    /// Where the facts come from.
    pub sources: FactSources,
    /// The policies, the standard gate first.
    pub specs: Vec<PolicySpec>,
    /// Where each setting came from.
    pub provenance: BTreeMap<String, String>,
    /// The folder relative paths in the config are resolved against.
    pub base: PathBuf,
    /// Never download: remote policies come from the store only (`--offline`).
    pub offline: bool,
    /// The configuration file, as facts show paths (relative to the project folder), and the
    /// line of each key it sets.
    pub config_file: Option<(String, std::collections::BTreeMap<String, u32>)>,
    /// The folder SARIF, Code Quality and GitHub annotations give paths relative to (absolute).
    pub path_base: PathBuf,
}

impl Plan {
    /// The files the plan names as inputs: the configuration, the lock file, `--facts` files
    /// and policy modules. (The collectors' inputs are in [`preflight_engine::Facts::inputs`].)
    pub fn input_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.sources.files.clone();
        for key in ["config", "lock"] {
            if let Some(path) = self.provenance.get(key).filter(|p| *p != "none") {
                files.push(PathBuf::from(path));
            }
        }
        files.extend(self.specs.iter().filter_map(|spec| match &spec.source {
            PolicySource::File(path) => Some(path.clone()),
            _ => None,
        }));
        files
    }
}

/// Combines the config file and the flags.
///
/// # Errors
/// A [`ConfigError`] when `preflight.toml` cannot be used.
pub fn plan(args: &InputArgs) -> Result<Plan, ConfigError> {
    plan_with(args, true)
}

/// [`plan`] without the pins of `preflight.lock`: what `preflight policy lock` resolves afresh.
///
/// # Errors
/// A [`ConfigError`] when `preflight.toml` cannot be used.
pub fn plan_without_lock(args: &InputArgs) -> Result<Plan, ConfigError> {
    plan_with(args, false)
}

fn plan_with(args: &InputArgs, use_lock: bool) -> Result<Plan, ConfigError> {
    let loaded = config::load(args.config.as_deref())?;
    let base = loaded.base();
    let file = loaded.path.as_ref().map(|p| p.display().to_string());
    let origin = file.clone().unwrap_or_else(|| "default".to_owned());
    let config = &loaded.config;
    let mut provenance = BTreeMap::new();
    provenance.insert(
        "config".to_owned(),
        file.clone().unwrap_or_else(|| "none".to_owned()),
    );

    let mut artifacts = config.artifacts.clone().unwrap_or_default();
    if !args.artifact.is_empty() {
        artifacts.optional = args.artifact.clone();
    }
    artifacts
        .required
        .extend(args.require_artifact.iter().cloned());
    let collectors = Collectors {
        origin: origin.clone(),
        artifacts: ArtifactSpec { ..artifacts },
        readiness: config.scores.readiness.clone(),
        mvp: config.scores.mvp.clone(),
        security: config.security.clone(),
        junit: config
            .tests
            .as_ref()
            .map(|t| t.junit.clone())
            .unwrap_or_default(),
        coverage: config.coverage.clone(),
        complexity: config.complexity,
        project: config.project.clone(),
        custom: config.custom.clone(),
        sbom: config.sbom.clone(),
    };
    let root = args.root.clone().unwrap_or_else(|| base.clone());
    let path_base = args
        .path_base
        .clone()
        .or_else(|| config::repository_root(&root))
        .unwrap_or_else(|| root.clone());
    let shown = preflight_collectors::input::Root::new(root.clone());
    let config_file = loaded.path.as_ref().map(|path| {
        (
            preflight_collectors::input::display_path(
                &shown,
                &std::path::absolute(path).unwrap_or_else(|_| path.clone()),
            ),
            loaded.lines.clone(),
        )
    });
    let waivers = config::waivers(&loaded)?;
    let sources = FactSources {
        files: args.facts.clone(),
        overrides: args.fact.clone(),
        root,
        collect: !args.no_collect,
        collectors,
        waivers: waivers.clone(),
        baseline: args.baseline.clone(),
    };
    let mut specs = specs(args, &loaded, &mut provenance)?;
    for spec in &mut specs {
        spec.locked = args.locked;
    }
    let lock_sha256 = if use_lock {
        apply_lock(&loaded, args.locked, &mut specs, &mut provenance)?
    } else {
        None
    };
    Ok(Plan {
        lock_sha256,
        waivers,
        sources,
        specs,
        provenance,
        base,
        offline: args.offline,
        config_file,
        path_base: std::path::absolute(&path_base).unwrap_or(path_base),
    })
}

fn specs(
    args: &InputArgs,
    loaded: &Loaded,
    provenance: &mut BTreeMap<String, String>,
) -> Result<Vec<PolicySpec>, ConfigError> {
    let config = &loaded.config;
    let base = loaded.base();
    let file = loaded
        .path
        .as_ref()
        .map_or_else(|| "preflight.toml".to_owned(), |p| p.display().to_string());
    let invalid = |message: String| ConfigError::Invalid {
        path: loaded.path.clone().unwrap_or_default(),
        message,
    };

    let mut gate = PolicySpec::new(PolicySource::Builtin(builtin::GATE.to_owned()));
    gate.pinned_by = file.clone();
    provenance.insert("gate.settings".to_owned(), "default".to_owned());
    if let Some(settings) = &config.gate {
        gate.config_key = Some("gate".to_owned());
        gate.settings = config::to_json(settings);
        provenance.insert("gate.settings".to_owned(), format!("{file} [gate]"));
    }
    let mut others = Vec::new();
    for (index, entry) in config.policies.iter().enumerate() {
        let source =
            PolicySource::parse(&entry.source, &base).map_err(|err| invalid(err.to_string()))?;
        let settings = entry
            .settings
            .as_ref()
            .map_or_else(|| json!({}), config::to_json);
        let signature = match (&entry.public_key, &entry.signature) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(invalid(format!(
                    "policy `{}` names a `signature` but no `public_key` to check it with",
                    entry.source
                )));
            }
            (Some(_), _) if matches!(source, PolicySource::Builtin(_)) => {
                return Err(invalid(format!(
                    "policy `{}` is built into preflight and cannot carry a signature; remove `public_key`",
                    entry.source
                )));
            }
            (Some(key), location) => {
                preflight_engine::pin::public_key(key)
                    .map_err(|err| invalid(format!("policy `{}`: {err}", entry.source)))?;
                let location = location.as_ref().map(|location| {
                    if location.starts_with("https://") || location.starts_with("http://") {
                        location.clone()
                    } else {
                        base.join(location).display().to_string()
                    }
                });
                Some(SignatureConfig {
                    public_key: key.clone(),
                    location,
                })
            }
        };
        let mut spec = PolicySpec {
            source,
            settings,
            enforce: entry.enforce,
            sha256: Vec::new(),
            version: entry.version.clone(),
            signature,
            locked: false,
            pinned_by: file.clone(),
            config_key: Some(format!("policy[{index}]")),
        };
        if let Some(sha256) = &entry.sha256 {
            spec.sha256.push((sha256.clone(), file.clone()));
        }
        if spec.source == gate.source {
            gate = spec;
            provenance.insert("gate.settings".to_owned(), format!("{file} [[policy]]"));
            continue;
        }
        others.push(spec);
    }

    // The mode: the flag wins over the file; the file's [gate].mode or top-level mode.
    let mode_origin = if let Some(mode) = args.mode {
        set_mode(&mut gate.settings, mode.as_str());
        "--mode".to_owned()
    } else if let Some(mode) = &config.mode {
        set_mode(&mut gate.settings, mode);
        file.clone()
    } else if gate.settings.get("mode").is_some() && config.gate.is_some() {
        format!("{file} [gate]")
    } else {
        "default".to_owned()
    };
    provenance.insert("mode".to_owned(), mode_origin);

    let mut specs = vec![gate];
    specs.extend(others);
    specs.extend(
        args.policy
            .iter()
            .map(|path| PolicySpec::new(PolicySource::File(path.clone()))),
    );
    Ok(specs)
}

fn apply_lock(
    loaded: &Loaded,
    locked: bool,
    specs: &mut [PolicySpec],
    provenance: &mut BTreeMap<String, String>,
) -> Result<Option<String>, ConfigError> {
    let base = loaded.base();
    let path = base.join(preflight_sources::lock::FILE_NAME);
    // Read once: the pins and the digest a decision record binds come from the same bytes.
    let (lock, sha256) = preflight_sources::lock::LockFile::load_hashed(&path)
        .map_err(|err| ConfigError::Invalid {
            path: path.clone(),
            message: err.to_string(),
        })?
        .unzip();
    if locked && lock.is_none() {
        return Err(ConfigError::Invalid {
            path,
            message: "--locked needs a lock file; run `preflight policy lock`".to_owned(),
        });
    }
    if lock.is_some() {
        provenance.insert("lock".to_owned(), path.display().to_string());
    }
    for spec in specs.iter_mut() {
        if let Some(entry) = lock
            .as_ref()
            .and_then(|l| l.find(&spec.source.lock_key(&base)))
        {
            spec.sha256
                .push((entry.sha256.clone(), path.display().to_string()));
        }
    }
    Ok(sha256)
}

fn set_mode(settings: &mut Value, mode: &str) {
    if let Value::Object(map) = settings {
        map.insert("mode".to_owned(), json!(mode));
    }
}

/// The lock file next to a config (or in the working directory without one).
pub fn lock_path(base: &Path) -> PathBuf {
    base.join(preflight_sources::lock::FILE_NAME)
}
