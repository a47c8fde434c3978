//! Policies that ship inside the binary, so `preflight run` works with no setup.
//!
//! The modules are built by `policies/build.sh` and committed under `policies/dist/`; CI rebuilds
//! them and fails when the committed bytes differ.

/// A built-in policy module.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The policy's name (also its metadata name).
    pub name: &'static str,
    /// The module bytes.
    pub wasm: &'static [u8],
    /// Lowercase hex sha256 of `wasm`, computed at build time.
    pub sha256: &'static str,
    /// `wasm` compiled at build time for the build machine with the runtime's engine settings
    /// (`build.rs`); empty when the build did not precompile (a cross build). Used only when
    /// wasmtime finds it compatible with the running engine and CPU.
    pub compiled: &'static [u8],
    /// The same for the pooled engine ([`crate::Runtime::pooled`]), whose settings differ,
    /// deflated (raw DEFLATE, RFC 1951): a process that makes a pooled engine runs a batch or a
    /// service and inflates it once, where every `preflight run` loads [`Builtin::compiled`].
    pub compiled_pooled: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtin_digests.rs"));

const fn digest(name: &str) -> &'static str {
    let mut i = 0;
    while i < DIGESTS.len() {
        if DIGESTS[i].0.eq_ignore_ascii_case(name) {
            return DIGESTS[i].1;
        }
        i += 1;
    }
    ""
}

/// Every built-in policy. A `static`, not a `const`: a constant's bytes are copied into every
/// codegen unit that names it, which put each module into the binary three times.
pub static BUILTINS: &[Builtin] = &[
    Builtin {
        name: "preflight-gate",
        wasm: include_bytes!("../../../policies/dist/preflight-gate.wasm"),
        sha256: digest("preflight-gate"),
        compiled: include_bytes!(concat!(env!("OUT_DIR"), "/preflight-gate.cwasm")),
        compiled_pooled: include_bytes!(concat!(env!("OUT_DIR"), "/preflight-gate.pooled.cwasm")),
    },
    Builtin {
        name: "canary-judge",
        wasm: include_bytes!("../../../policies/dist/canary-judge.wasm"),
        sha256: digest("canary-judge"),
        compiled: include_bytes!(concat!(env!("OUT_DIR"), "/canary-judge.cwasm")),
        compiled_pooled: include_bytes!(concat!(env!("OUT_DIR"), "/canary-judge.pooled.cwasm")),
    },
];

/// The built-in policy with this name.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|builtin| builtin.name == name)
}

/// The names of the built-in policies.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|builtin| builtin.name).collect()
}

/// The standard gate's name.
pub const GATE: &str = "preflight-gate";

/// The standard canary judge's name.
pub const JUDGE: &str = "canary-judge";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_time_digests_match_the_embedded_bytes() {
        for builtin in BUILTINS {
            assert_eq!(
                builtin.sha256,
                crate::sandbox::sha256_hex(builtin.wasm),
                "{}",
                builtin.name
            );
        }
    }
}
