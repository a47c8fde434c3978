//! What a run reads: `preflight.toml` and the flags, combined into fact sources and the list of
//! policies. Flags win over the file; every choice records where it came from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::builtin;
use crate::config::{self, ConfigError, Loaded};
use crate::evaluate::{PolicySource, PolicySpec};
use crate::facts::{Collectors, FactSources, artifacts::ArtifactSpec};

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
    /// Configuration file (default: `preflight.toml` in the working directory, when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A fact set file (JSON); repeatable, merged in order over the collected facts.
    #[arg(long = "facts", value_name = "FILE")]
    pub facts: Vec<PathBuf>,
    /// Override one fact, e.g. `scores.readiness=7.5`; VALUE is JSON when it parses.
    #[arg(long = "fact", value_name = "KEY=VALUE")]
    pub fact: Vec<String>,
    /// Mode of the standard gate: A (aggressive), B (balanced), S (safe).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Project folder the collectors look in (default: the config file's folder, else `.`).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
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

/// Everything a run needs to know before it starts.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where the facts come from.
    pub sources: FactSources,
    /// The policies, the standard gate first.
    pub specs: Vec<PolicySpec>,
    /// Where each setting came from.
    pub provenance: BTreeMap<String, String>,
}

impl Plan {
    /// The files the plan names as inputs: the configuration, the lock file, `--facts` files
    /// and policy modules. (The collectors' inputs are in [`crate::facts::Facts::inputs`].)
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
    };
    let root = args.root.clone().unwrap_or_else(|| base.clone());
    let sources = FactSources {
        files: args.facts.clone(),
        overrides: args.fact.clone(),
        root,
        collect: !args.no_collect,
        collectors,
    };
    let mut specs = specs(args, &loaded, &mut provenance)?;
    if use_lock {
        apply_lock(
            &loaded,
            args.locked,
            args.offline,
            &mut specs,
            &mut provenance,
        )?;
    }
    Ok(Plan {
        sources,
        specs,
        provenance,
    })
}

fn specs(
    args: &InputArgs,
    loaded: &Loaded,
    provenance: &mut BTreeMap<String, String>,
) -> Result<Vec<PolicySpec>, ConfigError> {
    let config = &loaded.config;
    let file = loaded
        .path
        .as_ref()
        .map_or_else(|| "preflight.toml".to_owned(), |p| p.display().to_string());
    let gate_source = format!("builtin:{}", builtin::GATE);
    let invalid = |message: String| ConfigError::Invalid {
        path: loaded.path.clone().unwrap_or_default(),
        message,
    };

    let mut gate = PolicySpec {
        source: PolicySource::Builtin(builtin::GATE.to_owned()),
        settings: Value::Object(Map::new()),
        enforce: true,
        pin: crate::evaluate::Pin::default(),
    };
    provenance.insert("gate.settings".to_owned(), "default".to_owned());
    if let Some(settings) = &config.gate {
        gate.settings = serde_json::to_value(settings).map_err(|err| invalid(err.to_string()))?;
        provenance.insert("gate.settings".to_owned(), format!("{file} [gate]"));
    }
    let mut others = Vec::new();
    for entry in &config.policies {
        let settings = match &entry.settings {
            Some(table) => serde_json::to_value(table).map_err(|err| invalid(err.to_string()))?,
            None => json!({}),
        };
        let signature = match (&entry.public_key, &entry.signature) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(invalid(format!(
                    "policy `{}` names a `signature` but no `public_key` to check it with",
                    entry.source
                )));
            }
            (Some(_), _) if entry.source.starts_with("builtin:") => {
                return Err(invalid(format!(
                    "policy `{}` is built into preflight and cannot carry a signature; remove `public_key`",
                    entry.source
                )));
            }
            (Some(key), location) => {
                crate::signature::public_key(key)
                    .map_err(|err| invalid(format!("policy `{}`: {err}", entry.source)))?;
                let location = location.as_ref().map(|location| {
                    if location.starts_with("https://") || location.starts_with("http://") {
                        location.clone()
                    } else {
                        loaded.base().join(location).display().to_string()
                    }
                });
                Some(crate::signature::SignaturePin {
                    public_key: key.clone(),
                    signature: location,
                    pinned_by: file.clone(),
                })
            }
        };
        if entry.source == gate_source {
            gate.settings = settings;
            gate.enforce = entry.enforce;
            gate.pin.version = entry.version.clone();
            if let Some(sha256) = &entry.sha256 {
                gate.pin.sha256.push((sha256.clone(), file.clone()));
            }
            provenance.insert("gate.settings".to_owned(), format!("{file} [[policy]]"));
            continue;
        }
        let source = match entry.source.strip_prefix("builtin:") {
            Some(name) => PolicySource::Builtin(name.to_owned()),
            None if entry.source.starts_with("https://") || entry.source.starts_with("http://") => {
                PolicySource::Remote(entry.source.clone())
            }
            None if entry.source.starts_with(crate::oci::SCHEME) => {
                crate::oci::parse(&entry.source).map_err(invalid)?;
                PolicySource::Remote(entry.source.clone())
            }
            None => PolicySource::File(loaded.base().join(&entry.source)),
        };
        let mut pin = crate::evaluate::Pin {
            version: entry.version.clone(),
            signature,
            ..crate::evaluate::Pin::default()
        };
        if let Some(sha256) = &entry.sha256 {
            pin.sha256.push((sha256.clone(), file.clone()));
        }
        others.push(PolicySpec {
            source,
            settings,
            enforce: entry.enforce,
            pin,
        });
    }

    // The mode: the flag wins over the file; the file's [gate].mode or top-level mode.
    let mode_origin = if let Some(mode) = args.mode {
        set_mode(&mut gate.settings, mode.as_str());
        "--mode".to_owned()
    } else if let Some(mode) = config.mode {
        set_mode(&mut gate.settings, mode.as_str());
        file.clone()
    } else if gate.settings.get("mode").is_some() && config.gate.is_some() {
        format!("{file} [gate]")
    } else {
        "default".to_owned()
    };
    provenance.insert("mode".to_owned(), mode_origin);

    let mut specs = vec![gate];
    specs.extend(others);
    specs.extend(args.policy.iter().map(|path| PolicySpec {
        source: PolicySource::File(path.clone()),
        settings: json!({}),
        enforce: true,
        pin: crate::evaluate::Pin::default(),
    }));
    Ok(specs)
}

/// The configured source string of a spec, as the lock file records it.
pub fn lock_source(spec: &PolicySpec, base: &std::path::Path) -> String {
    match &spec.source {
        PolicySource::Builtin(name) => format!("builtin:{name}"),
        PolicySource::Remote(url) => url.clone(),
        PolicySource::File(path) => path
            .strip_prefix(base)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/"),
    }
}

fn apply_lock(
    loaded: &Loaded,
    locked: bool,
    offline: bool,
    specs: &mut [PolicySpec],
    provenance: &mut BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let path = loaded.base().join(crate::lock::FILE_NAME);
    let lock = crate::lock::LockFile::load(&path).map_err(|err| ConfigError::Invalid {
        path: path.clone(),
        message: err.to_string(),
    })?;
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
        spec.pin.locked = locked;
        spec.pin.offline = offline;
        if let Some(entry) = lock
            .as_ref()
            .and_then(|l| l.find(&lock_source(spec, &loaded.base())))
        {
            spec.pin
                .sha256
                .push((entry.sha256.clone(), path.display().to_string()));
        }
    }
    Ok(())
}

fn set_mode(settings: &mut Value, mode: &str) {
    if let Value::Object(map) = settings {
        map.insert("mode".to_owned(), json!(mode));
    }
}
