//! The guest side of ABI v1: what [`export_policy!`](crate::export_policy!) expands to calls
//! into this module. Policy authors do not call it directly.

use crate::policy::{Decision, Issue, PolicyInput, PolicyOutput};

/// The total length of `groups` of parts, at compile time: the size of the metadata section.
pub const fn concat_len(groups: &[&[&str]]) -> usize {
    let mut total = 0;
    let mut g = 0;
    while g < groups.len() {
        let parts = groups[g];
        let mut i = 0;
        while i < parts.len() {
            total += parts[i].len();
            i += 1;
        }
        g += 1;
    }
    total
}

/// `groups` of parts joined into a byte array of exactly `N` bytes, at compile time, so the
/// metadata JSON can be placed in a custom section.
pub const fn concat<const N: usize>(groups: &[&[&str]]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut g = 0;
    while g < groups.len() {
        let parts = groups[g];
        let mut i = 0;
        while i < parts.len() {
            let bytes = parts[i].as_bytes();
            let mut j = 0;
            while j < bytes.len() && at < N {
                out[at] = bytes[j];
                at += 1;
                j += 1;
            }
            i += 1;
        }
        g += 1;
    }
    out
}

/// `true` for `required`, else `false`, in a custom fact declaration ([`is_required_word`] is
/// checked at compile time).
pub const fn required_text(word: &str) -> &'static str {
    match word.as_bytes() {
        b"required" => "true",
        _ => "false",
    }
}

/// Whether `word` is `required` or `optional`.
pub const fn is_required_word(word: &str) -> bool {
    matches!(word.as_bytes(), b"required" | b"optional")
}

/// Whether `id` is a rule id: lowercase letters, digits, `_`, `-` and `.`, starting with a
/// letter, at most 128 bytes. Checked at compile time for `export_policy!`'s `rules`.
pub const fn is_rule_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    if bytes.is_empty() || bytes.len() > 128 || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.' || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether a custom fact section's namespace is valid: lowercase letters, digits and `-`,
/// starting with a letter, at most 64 bytes. Checked at compile time.
pub const fn is_custom_namespace(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 64 || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// True when `text` can be pasted between JSON quotes as it is: no `"`, `\` or control
/// characters. Checked at compile time for the metadata strings.
pub const fn is_plain_json_string(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `text` starts (after whitespace) with `{`: a cheap compile-time check that a schema
/// pasted into the metadata is a JSON object. The host parses and checks it when it loads the
/// module, and each policy's tests parse it natively.
pub const fn looks_like_object(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i < bytes.len() && bytes[i] == b'{'
}

/// The ABI version as it is written in the metadata JSON.
pub const ABI_VERSION_TEXT: &str = "1";

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
    evaluate_marked(input, evaluate, |_| {})
}

/// [`evaluate_bytes`], calling `mark` as each stage begins or ends: 0 start, 1 input parsed,
/// 2 evaluated, 3 output serialized (a bench's stage clock; a no-op otherwise).
fn evaluate_marked<O: serde::Serialize>(
    input: &[u8],
    evaluate: fn(PolicyInput) -> O,
    mark: impl Fn(i32),
) -> Vec<u8> {
    mark(0);
    let serialized = match serde_json::from_slice::<PolicyInput>(input) {
        Ok(input) => {
            mark(1);
            let output = evaluate(input);
            mark(2);
            serde_json::to_vec(&output)
        }
        Err(err) => serde_json::to_vec(&PolicyOutput::blocked(Issue::new(
            "input.invalid",
            format!("the policy could not read its input: {err}"),
        ))),
    };
    let bytes = match serialized {
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
    };
    mark(3);
    bytes
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use crate::policy::PolicyInput;

    /// `preflight_alloc`: reserves `len` bytes the host writes the input into.
    pub fn alloc(len: i32) -> i32 {
        let Ok(len) = usize::try_from(len) else {
            return 0;
        };
        let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(len));
        buffer.as_mut_ptr() as usize as i32
    }

    /// Sends a panic's message and place through the log import before the module aborts, so
    /// the host can report `panicked at src/lib.rs:12:5: ...` instead of a bare `unreachable`.
    fn panic_hook() {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            std::panic::set_hook(Box::new(|info| {
                crate::log::write(crate::log::Level::Error, &info.to_string());
            }));
        });
    }

    /// `preflight_evaluate`: reads the input the host wrote at `ptr`, returns
    /// `(out_ptr << 32) | out_len`. The store is discarded after the call, so nothing is freed.
    pub fn evaluate<O: serde::Serialize>(ptr: i32, len: i32, policy: fn(PolicyInput) -> O) -> i64 {
        panic_hook();
        let len = usize::try_from(len).unwrap_or(0);
        let input: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: the host wrote `len` bytes at `ptr`, a buffer this module handed out from
            // `preflight_alloc(len)`; nothing else aliases it during the call.
            unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len) }
        };
        #[cfg(not(feature = "stage-clock"))]
        let output = std::mem::ManuallyDrop::new(super::evaluate_bytes(input, policy));
        #[cfg(feature = "stage-clock")]
        let output =
            std::mem::ManuallyDrop::new(super::evaluate_marked(input, policy, staged::mark));
        crate::abi::pack(output.as_ptr() as usize as u32, output.len() as u32)
    }

    /// Benchmarks only (the `stage-clock` feature): each stage of [`super::evaluate_bytes`]
    /// marked through a `preflight_bench.stage` import, which only the bench harness links (the
    /// host refuses the module).
    #[cfg(feature = "stage-clock")]
    mod staged {
        #[link(wasm_import_module = "preflight_bench")]
        unsafe extern "C" {
            fn stage(mark: i32);
        }

        pub fn mark(stage_number: i32) {
            // SAFETY: the harness links `preflight_bench.stage` as a function of one i32.
            unsafe { stage(stage_number) }
        }
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
///
/// // The metadata the module carries, also available natively:
/// let metadata: preflight_sdk::PolicyMetadata =
///     serde_json::from_slice(PREFLIGHT_METADATA).unwrap();
/// assert_eq!(metadata.name, "readiness-only");
/// ```
///
/// Optional, in this order after `evaluate`:
/// - `settings_schema: include_str!("settings.schema.json")`: a JSON Schema the host checks the
///   policy's settings against before evaluating it;
/// - `min_host_version: "0.2.0"`: the oldest host that may run the policy (custom fact sections
///   need 0.2.0);
/// - `custom: { "change": required include_str!("change.schema.json"), "window": optional
///   include_str!(...) }`: the custom fact sections the policy reads and the schema each must
///   match. [`testing::check_custom_schema`](crate::testing) keeps each file the schema of
///   the type the policy reads it as.
/// - `rules: ["group.rule", ...]`: the ids of the rules the policy checks, for
///   `preflight test --coverage` (see [`rule!`](crate::rule!)).
///
/// The version is the crate's `CARGO_PKG_VERSION`. The name must follow
/// [`abi::is_valid_name`](crate::abi::is_valid_name), checked at compile time. Built for
/// `wasm32-unknown-unknown` as a `cdylib`, the module exports `memory`, `preflight_alloc` and
/// `preflight_evaluate` and carries the `preflight.policy` custom section. Natively the macro
/// only checks the metadata and defines `PREFLIGHT_METADATA`, so the same crate unit-tests as
/// plain Rust.
#[macro_export]
macro_rules! export_policy {
    (
        name: $name:literal,
        description: $description:literal,
        evaluate: $evaluate:path
        $(, settings_schema: $schema:expr)?
        $(, min_host_version: $min_host:literal)?
        $(, custom: { $($namespace:literal : $required:ident $custom_schema:expr),+ $(,)? })?
        $(, rules: [ $($rule:literal),+ $(,)? ])?
        $(,)?
    ) => {
        /// The JSON metadata this policy carries in its `preflight.policy` custom section.
        pub const PREFLIGHT_METADATA: &[u8] = &__PREFLIGHT_METADATA_BYTES;

        const __PREFLIGHT_METADATA_PARTS: &[&[&str]] = &[
            &[
                "{\"name\":\"",
                $name,
                "\",\"version\":\"",
                env!("CARGO_PKG_VERSION"),
                "\",\"abi\":",
                $crate::guest::ABI_VERSION_TEXT,
                ",\"description\":\"",
                $description,
                "\"",
            ],
            $(&[",\"settings_schema\":", $schema],)?
            $(&[",\"min_host_version\":\"", $min_host, "\""],)?
            $(
                &[",\"custom\":{"],
                $crate::__preflight_custom_parts!($($namespace : $required $custom_schema),+),
                &["}"],
            )?
            $(
                &[",\"rules\":["],
                $crate::__preflight_rule_parts!($($rule),+),
                &["]"],
            )?
            &["}"],
        ];
        const __PREFLIGHT_METADATA_LEN: usize =
            $crate::guest::concat_len(__PREFLIGHT_METADATA_PARTS);
        const __PREFLIGHT_METADATA_BYTES: [u8; __PREFLIGHT_METADATA_LEN] =
            $crate::guest::concat(__PREFLIGHT_METADATA_PARTS);

        const _: () = {
            assert!(
                $crate::abi::is_valid_name($name),
                "policy names are 1 to 64 lowercase letters, digits and `-`, starting with a letter"
            );
            assert!(
                $crate::guest::is_plain_json_string($description),
                "the policy description must not contain quotes, backslashes or control characters"
            );
            $(assert!(
                $crate::guest::looks_like_object($schema),
                "settings_schema must be a JSON object"
            );)?
            $(assert!(
                $crate::guest::is_plain_json_string($min_host),
                "min_host_version must be a plain version string"
            );)?
            $($(
                assert!(
                    $crate::guest::is_custom_namespace($namespace),
                    "custom namespaces are lowercase letters, digits and `-`, starting with a letter"
                );
                assert!(
                    $crate::guest::looks_like_object($custom_schema),
                    "a custom fact section's schema must be a JSON object"
                );
                assert!(
                    $crate::guest::is_required_word(stringify!($required)),
                    "a custom fact section is `required` or `optional`"
                );
            )+)?
            $($(
                assert!(
                    $crate::guest::is_rule_id($rule),
                    "rule ids are dotted lowercase words: `group.rule`"
                );
            )+)?
            #[allow(dead_code, reason = "only checks the policy function's type")]
            fn check_policy_function() {
                $crate::guest::check_policy_function($evaluate);
            }

            // Attributes take literals only: the section name and export names below are
            // `abi::SECTION`, `abi::EXPORT_ALLOC` and `abi::EXPORT_EVALUATE`, which the host
            // checks every module against; the end-to-end tests load modules built from this
            // macro through it.
            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "preflight.policy")]
            #[used]
            static METADATA_SECTION: [u8; __PREFLIGHT_METADATA_LEN] = __PREFLIGHT_METADATA_BYTES;

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

/// The `rules` of [`export_policy!`] as metadata parts: JSON strings separated by commas.
#[doc(hidden)]
#[macro_export]
macro_rules! __preflight_rule_parts {
    ($first:literal $(, $rest:literal)*) => {
        &["\"", $first, "\"" $(, ",\"", $rest, "\"")*]
    };
}

/// The `custom` declarations of [`export_policy!`] as metadata parts: the first entry bare, the
/// others after a comma.
#[doc(hidden)]
#[macro_export]
macro_rules! __preflight_custom_parts {
    ($namespace:literal : $required:ident $schema:expr $(, $rest_ns:literal : $rest_req:ident $rest_schema:expr)*) => {
        &[
            "\"",
            $namespace,
            "\":{\"required\":",
            $crate::guest::required_text(stringify!($required)),
            ",\"schema\":",
            $schema,
            "}"
            $(, ",\"", $rest_ns, "\":{\"required\":", $crate::guest::required_text(stringify!($rest_req)), ",\"schema\":", $rest_schema, "}")*
        ]
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_abi_version_text_is_the_abi_version() {
        assert_eq!(ABI_VERSION_TEXT, crate::abi::VERSION.to_string());
    }

    #[test]
    fn metadata_is_joined_at_compile_time() {
        const PARTS: &[&[&str]] = &[&["{\"a\":", "1"], &[], &["}"]];
        const BYTES: [u8; concat_len(PARTS)] = concat(PARTS);
        assert_eq!(&BYTES, br#"{"a":1}"#);
        assert!(looks_like_object("  {}"));
        assert!(!looks_like_object("[]"));
    }
}

#[cfg(test)]
mod custom_declarations {
    fn evaluate(_: crate::PolicyInput) -> crate::PolicyOutput {
        crate::PolicyOutput::new(crate::Decision::Go)
    }

    crate::export_policy! {
        name: "custom-reader",
        description: "reads two custom sections",
        evaluate: evaluate,
        min_host_version: "0.2.0",
        custom: {
            "change": required r#"{"type": "object", "required": ["approved"]}"#,
            "deploy-window": optional r#"{"type": "object"}"#,
        },
        rules: ["change.unapproved", "change.outside_window"],
    }

    #[test]
    fn custom_declarations_reach_the_metadata() {
        let metadata: crate::PolicyMetadata = serde_json::from_slice(PREFLIGHT_METADATA).unwrap();
        assert_eq!(metadata.min_host_version.as_deref(), Some("0.2.0"));
        assert_eq!(metadata.custom.len(), 2);
        assert!(metadata.custom["change"].required);
        assert!(!metadata.custom["deploy-window"].required);
        assert_eq!(
            metadata.custom["change"].schema,
            serde_json::json!({"type": "object", "required": ["approved"]})
        );
        assert_eq!(
            metadata.rules,
            ["change.unapproved", "change.outside_window"]
        );
    }
}
