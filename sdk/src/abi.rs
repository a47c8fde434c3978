//! Policy ABI v1 in one place: the names and numbers both sides of the boundary use. The host
//! (`preflight-engine`) and the guest glue ([`crate::guest`], [`mod@crate::log`]) take every
//! constant from here, and `docs/abi.md` is checked against them by a test.
//!
//! A policy is a WebAssembly module that
//! - exports a memory named [`EXPORT_MEMORY`], `(func (param i32) (result i32))` named
//!   [`EXPORT_ALLOC`] and `(func (param i32 i32) (result i64))` named [`EXPORT_EVALUATE`];
//! - imports nothing but `(func (param i32 i32 i32))` [`IMPORT_LOG`] from [`IMPORT_MODULE`];
//! - carries its metadata as JSON in a custom section named [`SECTION`].

/// The ABI version this SDK and host implement.
pub const VERSION: u32 = 1;

/// The module every host function is imported from.
pub const IMPORT_MODULE: &str = "preflight";

/// The log import: `(level: i32, ptr: i32, len: i32)`.
pub const IMPORT_LOG: &str = "log";

/// The exported linear memory.
pub const EXPORT_MEMORY: &str = "memory";

/// The exported allocator: `(len: i32) -> ptr: i32`.
pub const EXPORT_ALLOC: &str = "preflight_alloc";

/// The exported entry point: `(ptr: i32, len: i32) -> (out_ptr << 32 | out_len): i64`.
pub const EXPORT_EVALUATE: &str = "preflight_evaluate";

/// The custom section holding the policy's metadata JSON.
pub const SECTION: &str = "preflight.policy";

/// Packs an output pointer and length into `preflight_evaluate`'s result.
pub const fn pack(ptr: u32, len: u32) -> i64 {
    (((ptr as u64) << 32) | len as u64) as i64
}

/// Splits `preflight_evaluate`'s result into the output pointer and length.
pub const fn unpack(packed: i64) -> (u32, u32) {
    let packed = packed as u64;
    ((packed >> 32) as u32, (packed & 0xffff_ffff) as u32)
}

/// A debug log line starting with this marks a rule as exercised (`preflight_sdk::rule!`):
/// `preflight test --coverage` counts it, as it counts the ids of the issues a case returns.
pub const RULE_PREFIX: &str = "rule exercised: ";

/// The longest policy name.
pub const NAME_MAX_LEN: usize = 64;

/// Whether `name` is a valid policy name: 1 to 64 characters, lowercase ASCII letters, digits
/// and `-`, starting with a letter and not ending with `-`. (The rule `policy new`, the SDK's
/// `export_policy!` and the host all apply.)
pub const fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > NAME_MAX_LEN {
        return false;
    }
    if !bytes[0].is_ascii_lowercase() || bytes[bytes.len() - 1] == b'-' {
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

/// How important a log line is. The numbers are the log import's `level` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Level {
    /// Something went wrong inside the policy.
    Error = 0,
    /// Something looks wrong.
    Warn = 1,
    /// Normal progress.
    Info = 2,
    /// Detail for policy authors.
    Debug = 3,
}

impl Level {
    /// Every level, by number.
    pub const ALL: [Level; 4] = [Level::Error, Level::Warn, Level::Info, Level::Debug];

    /// The level for an ABI number; unknown numbers are `Debug`.
    pub const fn from_abi(level: i32) -> Level {
        match level {
            0 => Level::Error,
            1 => Level::Warn,
            2 => Level::Info,
            _ => Level::Debug,
        }
    }

    /// `error`, `warn`, `info` or `debug`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_one_rule() {
        for good in ["a", "preflight-gate", "team-rule-2", "x1"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in [
            "",
            "1st",
            "-a",
            "a-",
            "A",
            "a_b",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn pack_and_unpack_are_inverse() {
        for (ptr, len) in [(0, 0), (1024, 17), (u32::MAX, u32::MAX), (1 << 31, 5)] {
            assert_eq!(unpack(pack(ptr, len)), (ptr, len));
        }
    }
}
