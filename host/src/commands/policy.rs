//! `preflight policy lock|list|inspect|pull|push|new`: pin the modules a pipeline may run, move
//! them between registries and the store, and look at them.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::escape::control as esc;
use crate::evaluate::PolicySource;
use crate::exit::ExitCode;
use crate::inputs::{self, InputArgs};
use crate::lock::{self, LockEntry, LockFile};
use crate::sandbox::{metadata, sha256_hex};
use crate::{builtin, config};

/// Arguments of `preflight policy`.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// The policy subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PolicyCommand {
    /// Resolve every configured policy and write preflight.lock (name, version, source, sha256).
    Lock {
        /// Configuration file (default: preflight.toml in the working directory).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// List the built-in, configured and locked policies.
    List {
        /// Configuration file (default: preflight.toml in the working directory).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Show a module's metadata, sha256, size, imports and exports without running it.
    Inspect {
        /// A `.wasm` file, `builtin:NAME`, an `https://` URL or an `oci://` reference (fetched,
        /// not stored).
        module: String,
    },
    /// Download every remote policy into the module store, checking its pins, so later runs work
    /// offline.
    Pull {
        /// Configuration file (default: preflight.toml in the working directory).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Publish a module to an OCI registry as a wasm artifact, to be used as
    /// `source = "oci://REGISTRY/REPO:TAG"`.
    Push {
        /// The `.wasm` file; its metadata must be readable.
        module: PathBuf,
        /// Where to push it: `oci://REGISTRY/REPOSITORY:TAG`.
        reference: String,
    },
    /// Scaffold a policy crate: one sample rule, case files, a build script, a README.
    New {
        /// The policy's name: lowercase letters, digits, `-`.
        name: String,
        /// The folder to create it in.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Use a local preflight-sdk checkout instead of the published crate.
        #[arg(long, value_name = "PATH")]
        sdk_path: Option<PathBuf>,
    },
}

fn read(source: &PolicySource) -> Result<Vec<u8>, String> {
    match source {
        PolicySource::Builtin(name) => builtin::find(name)
            .map(|b| b.wasm.to_vec())
            .ok_or_else(|| format!("there is no built-in policy `{name}`")),
        PolicySource::File(path) => {
            crate::files::read(path, crate::files::InputKind::Module).map_err(|err| err.to_string())
        }
        PolicySource::Remote(url) => crate::store::fetch(url),
    }
}

/// `preflight policy`.
pub fn policy(args: &PolicyArgs) -> ExitCode {
    let result = match &args.command {
        PolicyCommand::Lock { config } => lock_policies(config.clone()),
        PolicyCommand::List { config } => list(config.clone()),
        PolicyCommand::Inspect { module } => inspect(module),
        PolicyCommand::Pull { config } => pull(config.clone()),
        PolicyCommand::Push { module, reference } => push(module, reference),
        PolicyCommand::New { name, dir, sdk_path } => super::scaffold::create(name, dir, sdk_path.as_deref())
            .map(|root| format!("created {}\nnext: cd {} && cargo test && ./build.sh && preflight test --policy {name}.wasm cases/\n", root.display(), root.display())),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::Go
        }
        Err(message) => {
            crate::diagnostic::error(&message);
            ExitCode::Error
        }
    }
}

fn lock_policies(config_path: Option<PathBuf>) -> Result<String, String> {
    let loaded = config::load(config_path.as_deref()).map_err(|err| err.to_string())?;
    // Plan without the current lock: locking resolves the sources afresh.
    let args = InputArgs {
        config: config_path,
        ..InputArgs::default()
    };
    let lock_path = loaded.base().join(lock::FILE_NAME);
    // The old lock is not read, and not touched until the new one is complete.
    let plan = inputs::plan_without_lock(&args).map_err(|err| err.to_string())?;
    let mut lock = LockFile {
        version: 1,
        policies: Vec::new(),
    };
    let mut out = String::new();
    for spec in &plan.specs {
        let source = inputs::lock_source(spec, &loaded.base());
        let bytes = read(&spec.source)?;
        let meta = metadata::read(&source, &bytes).map_err(|err| err.to_string())?;
        if let Some(requirement) = &spec.pin.version {
            let req = semver::VersionReq::parse(requirement)
                .map_err(|err| format!("`{requirement}`: {err}"))?;
            let version = semver::Version::parse(&meta.version).map_err(|err| err.to_string())?;
            if !req.matches(&version) {
                return Err(format!(
                    "policy `{source}`: version {} does not satisfy `{requirement}`",
                    meta.version
                ));
            }
        }
        let sha256 = sha256_hex(&bytes);
        for (expected, pinned_by) in &spec.pin.sha256 {
            if !expected.eq_ignore_ascii_case(&sha256) {
                return Err(format!(
                    "policy `{source}`: sha256 mismatch: expected {expected} ({pinned_by}), got {sha256}"
                ));
            }
        }
        check_signature(spec, &sha256, &bytes)?;
        if matches!(spec.source, PolicySource::Remote(_)) {
            crate::store::put(&bytes)?;
        }
        let _ = writeln!(
            out,
            "locked {} {} {} sha256:{sha256}",
            esc(&meta.name),
            esc(&meta.version),
            esc(&source)
        );
        lock.policies.push(LockEntry {
            name: meta.name,
            version: meta.version,
            source,
            sha256,
        });
    }
    lock.save(&lock_path).map_err(|err| err.to_string())?;
    let _ = writeln!(out, "wrote {}", lock_path.display());
    Ok(out)
}

/// Verifies the module's signature when its config names a public key.
fn check_signature(
    spec: &crate::evaluate::PolicySpec,
    sha256: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let Some(pin) = &spec.pin.signature else {
        return Ok(());
    };
    let source = spec.source.to_string();
    let remote = matches!(spec.source, PolicySource::Remote(_));
    crate::signature::verify(pin, &source, sha256, bytes, remote, false)
        .map_err(|message| format!("policy `{source}`: {message}"))
}

fn push(module: &std::path::Path, reference: &str) -> Result<String, String> {
    let bytes = crate::files::read(module, crate::files::InputKind::Module)
        .map_err(|err| err.to_string())?;
    let source = module.display().to_string();
    let meta = metadata::read(&source, &bytes).map_err(|err| err.to_string())?;
    let digest = crate::oci::push(reference, &bytes, &meta.name, &meta.version)?;
    let sha256 = sha256_hex(&bytes);
    let repository = reference
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map_or(reference, |(repository, _)| repository);
    Ok(format!(
        "pushed {} {} to {reference}\nmanifest digest: {digest}\nmodule sha256: {sha256}\n\n[[policy]]\nsource = \"{repository}@{digest}\"\nsha256 = \"{sha256}\"\n",
        esc(&meta.name),
        esc(&meta.version)
    ))
}

fn pull(config_path: Option<PathBuf>) -> Result<String, String> {
    let args = InputArgs {
        config: config_path,
        ..InputArgs::default()
    };
    let plan = inputs::plan(&args).map_err(|err| err.to_string())?;
    let mut out = String::new();
    for spec in &plan.specs {
        let PolicySource::Remote(url) = &spec.source else {
            continue;
        };
        let Some((expected, pinned_by)) = spec.pin.sha256.first() else {
            return Err(format!(
                "remote policy `{url}` has no sha256 pin: add `sha256` in preflight.toml or run `preflight policy lock`"
            ));
        };
        if let Some(bytes) = crate::store::get(expected) {
            check_signature(spec, expected, &bytes)?;
            let _ = writeln!(out, "present {url} sha256:{expected}");
            continue;
        }
        let bytes = crate::store::fetch(url)?;
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(format!(
                "policy `{url}`: sha256 mismatch: expected {expected} ({pinned_by}), got {actual}; nothing was stored"
            ));
        }
        check_signature(spec, &actual, &bytes)?;
        crate::store::put(&bytes)?;
        let _ = writeln!(out, "pulled {url} sha256:{actual}");
    }
    if out.is_empty() {
        out.push_str("no remote policies configured\n");
    }
    Ok(out)
}

fn list(config_path: Option<PathBuf>) -> Result<String, String> {
    let mut out = String::from("built-in:\n");
    for b in builtin::BUILTINS {
        let meta = metadata::read(b.name, b.wasm).map_err(|err| err.to_string())?;
        let _ = writeln!(
            out,
            "  builtin:{}  {}  sha256:{}",
            b.name,
            meta.version,
            sha256_hex(b.wasm)
        );
    }
    let loaded = config::load(config_path.as_deref()).map_err(|err| err.to_string())?;
    let _ = writeln!(
        out,
        "configured ({}):",
        loaded.path.as_ref().map_or_else(
            || "no preflight.toml".to_owned(),
            |p| p.display().to_string()
        )
    );
    for entry in &loaded.config.policies {
        let _ = writeln!(
            out,
            "  {}  version {}  sha256 {}  {}",
            entry.source,
            entry.version.as_deref().unwrap_or("*"),
            entry.sha256.as_deref().unwrap_or("(not pinned)"),
            if entry.enforce {
                "enforced"
            } else {
                "not enforced"
            }
        );
    }
    let lock_path = loaded.base().join(lock::FILE_NAME);
    match LockFile::load(&lock_path).map_err(|err| err.to_string())? {
        Some(lock) => {
            let _ = writeln!(out, "locked ({}):", lock_path.display());
            for entry in &lock.policies {
                let _ = writeln!(
                    out,
                    "  {} {}  {}  sha256:{}",
                    entry.name, entry.version, entry.source, entry.sha256
                );
            }
        }
        None => {
            let _ = writeln!(out, "locked: no {}", lock::FILE_NAME);
        }
    }
    Ok(out)
}

fn inspect(module: &str) -> Result<String, String> {
    let remote = [crate::oci::SCHEME, "https://", "http://"];
    let source = match module.strip_prefix("builtin:") {
        Some(name) => PolicySource::Builtin(name.to_owned()),
        None if remote.iter().any(|scheme| module.starts_with(scheme)) => {
            PolicySource::Remote(module.to_owned())
        }
        None => PolicySource::File(PathBuf::from(module)),
    };
    let bytes = read(&source)?;
    let mut out = String::new();
    let _ = writeln!(out, "module:  {}", esc(module));
    let _ = writeln!(out, "sha256:  {}", sha256_hex(&bytes));
    let _ = writeln!(out, "size:    {} bytes", bytes.len());
    match metadata::read(module, &bytes) {
        Ok(meta) => {
            let _ = writeln!(out, "name:    {}", esc(&meta.name));
            let _ = writeln!(out, "version: {}", esc(&meta.version));
            let _ = writeln!(out, "abi:     {}", meta.abi);
            let _ = writeln!(out, "about:   {}", esc(&meta.description));
            if let Some(min) = &meta.min_host_version {
                let _ = writeln!(out, "needs:   preflight {}", esc(min));
            }
        }
        Err(err) => {
            let _ = writeln!(out, "metadata: INVALID: {}", esc(&err.to_string()));
        }
    }
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.map_err(|err| format!("`{module}` is not a valid module: {err}"))? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|err| err.to_string())?;
                    imports.push(esc(&format!("{}.{}", import.module, import.name)).into_owned());
                }
            }
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|err| err.to_string())?;
                    exports.push(esc(&format!("{} ({:?})", export.name, export.kind)).into_owned());
                }
            }
            _ => {}
        }
    }
    let _ = writeln!(
        out,
        "imports: {}",
        if imports.is_empty() {
            "none".to_owned()
        } else {
            imports.join(", ")
        }
    );
    let _ = writeln!(out, "exports: {}", exports.join(", "));
    Ok(out)
}
