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

/// Every built-in policy.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "preflight-gate",
        wasm: include_bytes!("../../../policies/dist/preflight-gate.wasm"),
        sha256: digest("preflight-gate"),
    },
    Builtin {
        name: "canary-judge",
        wasm: include_bytes!("../../../policies/dist/canary-judge.wasm"),
        sha256: digest("canary-judge"),
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
