//! Computes the sha256 of each built-in policy module (`policies/dist/*.wasm`) at build time, so
//! a run does not hash bytes that are part of the binary. `builtin::tests` checks the digests
//! against the embedded bytes.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/dist");
    println!("cargo::rerun-if-changed={}", dist.display());
    let fail = |message: String| {
        println!("cargo::error={message}; run policies/build.sh to build the built-in policies");
    };
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
    }
    code.push_str("];\n");
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        println!("cargo::error=OUT_DIR is not set: build with cargo");
        return;
    };
    let out = Path::new(&out_dir).join("builtin_digests.rs");
    if let Err(err) = std::fs::write(&out, code) {
        println!("cargo::error={}: {err}", out.display());
    }
}
