//! Build-time work on the built-in policies (`policies/dist/*.wasm`):
//! - their sha256, so a run does not hash bytes that are part of the binary (`builtin::tests`
//!   checks the digests against the embedded bytes);
//! - their machine code: each is compiled here with the runtime's own engine settings
//!   (`src/sandbox/config.rs`) for the machine the build runs on, so a first run on a fresh
//!   machine does not compile them. At run time wasmtime checks the artifact against the
//!   running engine and CPU (another CPU without the features it was compiled for, other
//!   settings) and the runtime compiles from the wasm when it does not match. The pooled
//!   engine's code is stored deflated (`Builtin::compiled_pooled`).
//!
//! A build for another C library of the same architecture and system (the musl release binaries,
//! built on glibc runners) gets machine code for the target's baseline CPU, as does any build
//! with `PREFLIGHT_PRECOMPILE_CPU=baseline` (releases and images, which run on other machines'
//! CPUs). A build for another architecture or system, and `PREFLIGHT_PRECOMPILE=0`, embed none:
//! the runtime compiles the built-ins on first use, as it does for any policy.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

#[allow(dead_code, reason = "the build uses the settings, not every constant")]
#[path = "src/sandbox/config.rs"]
mod config;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/dist");
    println!("cargo::rerun-if-changed={}", dist.display());
    println!("cargo::rerun-if-changed=src/sandbox/config.rs");
    println!("cargo::rerun-if-env-changed=PREFLIGHT_PRECOMPILE");
    let fail = |message: String| {
        println!("cargo::error={message}; run policies/build.sh to build the built-in policies");
    };
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        println!("cargo::error=OUT_DIR is not set: build with cargo");
        return;
    };
    let out_dir = Path::new(&out_dir);
    let entries = match std::fs::read_dir(&dist) {
        Ok(entries) => entries,
        Err(err) => return fail(format!("{}: {err}", dist.display())),
    };
    let mut modules: Vec<_> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    modules.sort();
    let engines = precompilers();
    let mut code = String::from(
        "/// sha256 of each built-in module, by name.\nconst DIGESTS: &[(&str, &str)] = &[\n",
    );
    for path in modules {
        println!("cargo::rerun-if-changed={}", path.display());
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) => return fail(format!("{}: {err}", path.display())),
        };
        let digest = hex::encode(Sha256::digest(&bytes));
        let _ = writeln!(code, "    ({name:?}, {digest:?}),");
        for (suffix, engine) in &engines {
            let compiled = engine.precompile_module(&bytes).unwrap_or_else(|err| {
                println!(
                    "cargo::warning={name}: not precompiled ({err}); it is compiled on first use"
                );
                Vec::new()
            });
            // The pooled engine's code is loaded once per process that runs a batch or a
            // service, so it is stored deflated (a third of the size); the on-demand engine's is
            // stored as is, since every `preflight run` loads it.
            let compiled = match (*suffix, compiled.is_empty()) {
                (".pooled", false) => miniz_oxide::deflate::compress_to_vec(&compiled, 6),
                _ => compiled,
            };
            let out = out_dir.join(format!("{name}{suffix}.cwasm"));
            if let Err(err) = std::fs::write(&out, compiled) {
                println!("cargo::error={}: {err}", out.display());
                return;
            }
        }
        // A build that precompiles nothing still gives the runtime its (empty) files.
        for suffix in ["", ".pooled"] {
            let out = out_dir.join(format!("{name}{suffix}.cwasm"));
            if !out.exists()
                && let Err(err) = std::fs::write(&out, b"")
            {
                println!("cargo::error={}: {err}", out.display());
                return;
            }
        }
    }
    code.push_str("];\n");
    let out = out_dir.join("builtin_digests.rs");
    if let Err(err) = std::fs::write(&out, code) {
        println!("cargo::error={}: {err}", out.display());
    }
}

/// The engines that compile the built-ins, by the suffix of their files: the runtime's on-demand
/// engine (`""`) and its pooled one (`".pooled"`), for the build machine's CPU or, for a binary
/// that is copied elsewhere, the target's baseline CPU (`config::precompile_plan`); none when
/// this build's compiler cannot produce code for the target. An engine that cannot be made here
/// is skipped with a warning.
fn precompilers() -> Vec<(&'static str, wasmtime::Engine)> {
    println!("cargo::rerun-if-env-changed=PREFLIGHT_PRECOMPILE_CPU");
    if std::env::var_os("PREFLIGHT_PRECOMPILE").is_some_and(|v| v == "0") {
        return Vec::new();
    }
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let portable = match var("PREFLIGHT_PRECOMPILE_CPU").as_str() {
        "" | "host" => false,
        "baseline" => true,
        other => {
            println!(
                "cargo::error=PREFLIGHT_PRECOMPILE_CPU is `{other}`: use `host` (the default) or `baseline`"
            );
            return Vec::new();
        }
    };
    let target = match config::precompile_plan(&var("TARGET"), &var("HOST"), portable) {
        config::Precompile::Skip(why) => {
            println!(
                "cargo::warning={why}: the built-in policies are compiled on first use, not now"
            );
            return Vec::new();
        }
        config::Precompile::Host => None,
        config::Precompile::Baseline(target) => Some(target),
    };
    [
        ("", config::base_config()),
        (".pooled", config::pooled_config()),
    ]
    .into_iter()
    .filter_map(|(suffix, mut config)| {
        if let Some(target) = &target
            && let Err(err) = config.target(target)
        {
            println!("cargo::warning=cannot compile the built-in policies for `{target}`: {err}");
            return None;
        }
        match wasmtime::Engine::new(&config) {
            Ok(engine) => Some((suffix, engine)),
            Err(err) => {
                println!("cargo::warning=no engine to precompile the built-in policies: {err}");
                None
            }
        }
    })
    .collect()
}
