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
}

/// Every built-in policy.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "preflight-gate",
        wasm: include_bytes!("../../policies/dist/preflight-gate.wasm"),
    },
    Builtin {
        name: "canary-judge",
        wasm: include_bytes!("../../policies/dist/canary-judge.wasm"),
    },
];

/// The built-in policy with this name.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|builtin| builtin.name == name)
}

/// The standard gate's name.
pub const GATE: &str = "preflight-gate";

/// The standard canary judge's name.
pub const JUDGE: &str = "canary-judge";
