//! The guest side of ABI v1: what [`export_policy!`](crate::export_policy!) expands to calls
//! into this module. Policy authors do not call it directly.

use crate::policy::{Decision, Issue, PolicyInput, PolicyOutput};

/// Copies a `&str` into a byte array of its exact length, at compile time, so the metadata JSON
/// can be placed in a custom section.
pub const fn to_array<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N && i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// True when `text` can be pasted between JSON quotes as it is: no `"`, `\` or control
/// characters. Checked at compile time for the metadata strings.
pub const fn is_plain_json_string(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' || b == b'\\' || b < 0x20 {
            return false;
        }
        i += 1;
    }
    true
}

/// Runs one evaluation on raw bytes: parse the input, call the policy, serialize the output.
///
/// The policy returns a [`PolicyOutput`] or a [`TypedOutput`](crate::TypedOutput), whose typed
/// details are serialized without building a JSON tree first. Input that does not parse gives a
/// `NO_GO` output with an `input.invalid` blocking issue rather than a trap, so the host can show
/// the reason.
pub fn evaluate_bytes<O: serde::Serialize>(
    input: &[u8],
    evaluate: fn(PolicyInput) -> O,
) -> Vec<u8> {
    let serialized = match serde_json::from_slice::<PolicyInput>(input) {
        Ok(input) => serde_json::to_vec(&evaluate(input)),
        Err(err) => serde_json::to_vec(&PolicyOutput::blocked(Issue::new(
            "input.invalid",
            format!("the policy could not read its input: {err}"),
        ))),
    };
    match serialized {
        Ok(bytes) => bytes,
        Err(err) => {
            let fallback = PolicyOutput {
                decision: Decision::NoGo,
                blocking_issues: vec![Issue::new(
                    "output.unserializable",
                    format!("the policy output could not be serialized: {err}"),
                )],
                warnings: Vec::new(),
                details: serde_json::Value::Object(serde_json::Map::new()),
            };
            serde_json::to_vec(&fallback).unwrap_or_else(|_| {
                br#"{"decision":"NO_GO","blocking_issues":[{"id":"output.unserializable","message":"the policy output could not be serialized"}],"warnings":[],"details":{}}"#.to_vec()
            })
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::evaluate_bytes;
    use crate::policy::PolicyInput;

    /// `preflight_alloc`: reserves `len` bytes the host writes the input into.
    pub fn alloc(len: i32) -> i32 {
        let Ok(len) = usize::try_from(len) else {
            return 0;
        };
        let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(len));
        buffer.as_mut_ptr() as usize as i32
    }

    /// `preflight_evaluate`: reads the input the host wrote at `ptr`, returns
    /// `(out_ptr << 32) | out_len`. The store is discarded after the call, so nothing is freed.
    pub fn evaluate<O: serde::Serialize>(ptr: i32, len: i32, policy: fn(PolicyInput) -> O) -> i64 {
        let len = usize::try_from(len).unwrap_or(0);
        let input: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: the host wrote `len` bytes at `ptr`, a buffer this module handed out from
            // `preflight_alloc(len)`; nothing else aliases it during the call.
            unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len) }
        };
        let output = std::mem::ManuallyDrop::new(evaluate_bytes(input, policy));
        let out_ptr = output.as_ptr() as usize as u64;
        let out_len = output.len() as u64;
        ((out_ptr << 32) | (out_len & 0xffff_ffff)) as i64
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::{alloc, evaluate};

/// Checks, at compile time, that a function can be exported as a policy.
pub fn check_policy_function<O: serde::Serialize>(_: fn(PolicyInput) -> O) {}

/// Exports a policy function under ABI v1 and embeds its metadata.
///
/// ```
/// use preflight_sdk::{Decision, PolicyInput, PolicyOutput};
///
/// fn evaluate(input: PolicyInput) -> PolicyOutput {
///     let readiness = input.facts.scores.map_or(0.0, |scores| scores.readiness);
///     if readiness >= 8.0 {
///         PolicyOutput::new(Decision::Go)
///     } else {
///         PolicyOutput::new(Decision::GoWithCaution)
///     }
/// }
///
/// preflight_sdk::export_policy! {
///     name: "readiness-only",
///     description: "GO when readiness is at least 8",
///     evaluate: evaluate,
/// }
/// ```
///
/// The version is the crate's `CARGO_PKG_VERSION`. Built for `wasm32-unknown-unknown` as a
/// `cdylib`, the module exports `memory`, `preflight_alloc` and `preflight_evaluate` and carries
/// the `preflight.policy` custom section. Natively the macro only checks the metadata strings, so
/// the same crate unit-tests as plain Rust.
#[macro_export]
macro_rules! export_policy {
    (name: $name:literal, description: $description:literal, evaluate: $evaluate:path $(,)?) => {
        const _: () = {
            const METADATA: &str = concat!(
                "{\"name\":\"",
                $name,
                "\",\"version\":\"",
                env!("CARGO_PKG_VERSION"),
                "\",\"abi\":1,\"description\":\"",
                $description,
                "\"}"
            );
            assert!(
                $crate::guest::is_plain_json_string($name)
                    && $crate::guest::is_plain_json_string($description),
                "policy name and description must not contain quotes, backslashes or control characters"
            );
            #[allow(dead_code, reason = "only checks the policy function's type")]
            fn check_policy_function() {
                $crate::guest::check_policy_function($evaluate);
            }

            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "preflight.policy")]
            #[used]
            static METADATA_SECTION: [u8; METADATA.len()] = $crate::guest::to_array(METADATA);

            #[cfg(target_arch = "wasm32")]
            #[unsafe(no_mangle)]
            extern "C" fn preflight_alloc(len: i32) -> i32 {
                $crate::guest::alloc(len)
            }

            #[cfg(target_arch = "wasm32")]
            #[unsafe(no_mangle)]
            extern "C" fn preflight_evaluate(ptr: i32, len: i32) -> i64 {
                $crate::guest::evaluate(ptr, len, $evaluate)
            }
        };
    };
}
