//! `preflight policy lock|list|inspect|pull|push|new`: pin the modules a pipeline may run, move
//! them between registries and the store, and look at them.

use std::fmt::Write as _;
use std::path::PathBuf;

use preflight_engine::builtin;
use preflight_engine::sandbox::{metadata, sha256_hex};
use preflight_report::escape::control as esc;
use preflight_sources::lock::{self, LockEntry, LockFile};
use preflight_sources::{Fetcher, PolicySource};

use crate::config;
use crate::exit::ExitCode;
use crate::inputs::{self, InputArgs};

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

async fn read(fetcher: &Fetcher, source: &PolicySource) -> Result<Vec<u8>, String> {
    match source {
        PolicySource::Http(_) | PolicySource::Oci(_) => fetcher
            .download(source)
            .await
            .map_err(|err| err.to_string()),
        other => fetcher
            .module(other, None)
            .await
            .map(|module| module.bytes.into_owned())
            .map_err(|err| err.to_string()),
    }
}

/// `preflight policy`.
pub fn policy(rt: &tokio::runtime::Runtime, args: &PolicyArgs) -> ExitCode {
    let fetcher = match crate::load::fetcher(false) {
        Ok(fetcher) => fetcher,
        Err(err) => {
            crate::diagnostic::print(err);
            return ExitCode::Error;
        }
    };
    let result = match &args.command {
        PolicyCommand::Lock { config } => rt.block_on(lock_policies(&fetcher, config.clone())),
        PolicyCommand::List { config } => list(config.clone()),
        PolicyCommand::Inspect { module } => match rt.block_on(inspect(&fetcher, module)) {
            // What the module holds is still shown; invalid metadata is an error (exit 2).
            Ok((text, Some(problem))) => {
                print!("{text}");
                crate::diagnostic::error(&problem);
                return ExitCode::Error;
            }
            Ok((text, None)) => Ok(text),
            Err(message) => Err(message),
        },
        PolicyCommand::Pull { config } => rt.block_on(pull(&fetcher, config.clone())),
        PolicyCommand::Push { module, reference } => rt.block_on(push(module, reference)),
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

/// The engines a run (on-demand) and `--facts-stream` and `serve` (pooled) evaluate with, each
/// with the compiled-module cache: a module `lock` or `pull` loads into both is compiled into the
/// cache for both, so the runs after them load machine code and compile nothing.
fn compilers() -> Result<[preflight_engine::Runtime; 2], String> {
    let limits = crate::limits::LimitArgs::default();
    Ok([
        crate::commands::run::runtime(&limits, false).map_err(|err| err.to_string())?,
        crate::commands::run::runtime(&limits, true).map_err(|err| err.to_string())?,
    ])
}

/// Loads a checked module into every runtime (compiling it into the cache where it is not
/// there yet); the first runtime's policy, for the settings check.
fn compile(
    runtimes: &[preflight_engine::Runtime; 2],
    source: &str,
    checked: &crate::load::Checked,
) -> Result<preflight_engine::Policy, String> {
    let [on_demand, pooled] = runtimes;
    pooled
        .load_verified(source, &checked.module.bytes, checked.verified.clone())
        .map_err(|err| err.to_string())?;
    on_demand
        .load_verified(source, &checked.module.bytes, checked.verified.clone())
        .map_err(|err| err.to_string())
}

/// Resolves every configured policy afresh (ignoring the old lock), checks each against its
/// pins and its settings schema, and writes `preflight.lock` only when all of them pass.
async fn lock_policies(fetcher: &Fetcher, config_path: Option<PathBuf>) -> Result<String, String> {
    let args = InputArgs {
        config: config_path,
        ..InputArgs::default()
    };
    // The old lock is not read, and not touched until the new one is complete.
    let plan = inputs::plan_without_lock(&args).map_err(|err| err.to_string())?;
    let lock_path = inputs::lock_path(&plan.base);
    let mut lock = LockFile {
        version: 1,
        policies: Vec::new(),
    };
    let mut out = String::new();
    let runtimes = compilers()?;
    for spec in &plan.specs {
        let source = spec.source.lock_key(&plan.base);
        let checked = crate::load::check(fetcher, spec, crate::load::Fetch::Fresh)
            .await
            .map_err(|err| err.to_string())?;
        // The settings the config gives must match the policy's settings schema.
        let policy = compile(&runtimes, &source, &checked)?;
        policy.check_settings(&spec.settings)?;
        let meta = checked.verified.metadata;
        let sha256 = checked.verified.sha256;
        if spec.source.is_remote() {
            fetcher
                .put(&checked.module.bytes)
                .map_err(|err| err.to_string())?;
        }
        let _ = writeln!(
            out,
            "locked {} {} {} sha256:{sha256}",
            esc(&meta.name),
            esc(&meta.version),
            esc(&source)
        );
        let custom = meta
            .custom
            .iter()
            .map(|(namespace, declared)| lock::LockedCustom {
                namespace: namespace.clone(),
                required: declared.required,
                schema_sha256: sha256_hex(
                    preflight_engine::facts::canonical_json(&declared.schema).as_bytes(),
                ),
            })
            .collect();
        lock.policies.push(LockEntry {
            name: meta.name,
            version: meta.version,
            source,
            sha256,
            custom,
        });
    }
    lock.save(&lock_path).map_err(|err| err.to_string())?;
    let _ = writeln!(out, "wrote {}", lock_path.display());
    Ok(out)
}

async fn push(module: &std::path::Path, reference: &str) -> Result<String, String> {
    let bytes = preflight_engine::files::read(module, preflight_engine::files::InputKind::Module)
        .map_err(|err| err.to_string())?;
    let source = module.display().to_string();
    let meta = metadata::read(&source, &bytes).map_err(|err| err.to_string())?;
    let digest = preflight_sources::oci::push(reference, &bytes, &meta.name, &meta.version).await?;
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

/// Downloads every remote policy into the store, checking its pins (sha256 and signature)
/// with the same function as `run`.
async fn pull(fetcher: &Fetcher, config_path: Option<PathBuf>) -> Result<String, String> {
    let args = InputArgs {
        config: config_path,
        ..InputArgs::default()
    };
    let plan = inputs::plan(&args).map_err(|err| err.to_string())?;
    let runtimes = compilers()?;
    let mut out = String::new();
    for spec in plan.specs.iter().filter(|spec| spec.source.is_remote()) {
        let url = spec.source.to_string();
        let Some((expected, _)) = spec.sha256.first() else {
            return Err(format!(
                "remote policy `{url}` has no sha256 pin: add `sha256` in preflight.toml or run `preflight policy lock`"
            ));
        };
        let present = fetcher.stored(expected).is_some();
        let checked = crate::load::check(fetcher, spec, crate::load::Fetch::Pinned)
            .await
            .map_err(|err| format!("{err}; nothing was stored"))?;
        compile(&runtimes, &url, &checked)?;
        let verb = if present { "present" } else { "pulled" };
        let _ = writeln!(out, "{verb} {url} sha256:{}", checked.verified.sha256);
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
    let lock_path = inputs::lock_path(&loaded.base());
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

/// What `policy inspect` prints, and the metadata's problem when it is invalid.
async fn inspect(fetcher: &Fetcher, module: &str) -> Result<(String, Option<String>), String> {
    let source = crate::load::source_arg(module).map_err(|err| err.to_string())?;
    let bytes = read(fetcher, &source).await?;
    let mut out = String::new();
    let _ = writeln!(out, "module:  {}", esc(module));
    let _ = writeln!(out, "sha256:  {}", sha256_hex(&bytes));
    let _ = writeln!(out, "size:    {} bytes", bytes.len());
    let mut problem = None;
    match metadata::read(module, &bytes) {
        Ok(meta) => {
            let _ = writeln!(out, "name:    {}", esc(&meta.name));
            let _ = writeln!(out, "version: {}", esc(&meta.version));
            let _ = writeln!(out, "abi:     {}", meta.abi);
            let _ = writeln!(out, "about:   {}", esc(&meta.description));
            if let Some(min) = &meta.min_host_version {
                let _ = writeln!(out, "needs:   preflight {}", esc(min));
            }
            if meta.settings_schema.is_some() {
                let _ = writeln!(out, "settings: checked against the schema the module ships");
            }
            for (namespace, declared) in &meta.custom {
                let _ = writeln!(
                    out,
                    "reads:   custom.{} ({}), schema {}",
                    esc(namespace),
                    if declared.required {
                        "required"
                    } else {
                        "optional"
                    },
                    esc(&declared.schema.to_string())
                );
            }
        }
        Err(err) => {
            let _ = writeln!(out, "metadata: INVALID: {}", esc(&err.to_string()));
            problem = Some(err.to_string());
        }
    }
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for payload in preflight_engine::sandbox::wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.map_err(|err| format!("`{module}` is not a valid module: {err}"))? {
            preflight_engine::sandbox::wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|err| err.to_string())?;
                    imports.push(esc(&format!("{}.{}", import.module, import.name)).into_owned());
                }
            }
            preflight_engine::sandbox::wasmparser::Payload::ExportSection(reader) => {
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
    Ok((out, problem))
}
