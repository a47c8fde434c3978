//! Computes the sha256 of each built-in policy module at build time, so a run does not hash
//! bytes that are part of the binary. `builtin::tests` checks the digests against the bytes.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

const BUILTINS: [&str; 2] = ["preflight-gate", "canary-judge"];

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/dist");
    let mut code = String::from(
        "/// sha256 of each built-in module, by name.\nconst DIGESTS: &[(&str, &str)] = &[\n",
    );
    for name in BUILTINS {
        let path = dist.join(format!("{name}.wasm"));
        println!("cargo::rerun-if-changed={}", path.display());
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) => {
                println!(
                    "cargo::error={}: {err}; run policies/build.sh to build the built-in policies",
                    path.display()
                );
                return;
            }
        };
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .fold(String::new(), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            });
        let _ = writeln!(code, "    ({name:?}, {digest:?}),");
    }
    code.push_str("];\n");
    let out =
        Path::new(&std::env::var_os("OUT_DIR").unwrap_or_default()).join("builtin_digests.rs");
    if let Err(err) = std::fs::write(&out, code) {
        println!("cargo::error={}: {err}", out.display());
    }
}
