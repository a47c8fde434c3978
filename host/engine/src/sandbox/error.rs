//! Every way a policy module can misbehave, as a named variant.

use std::time::Duration;

use crate::ids::IssueId;
use crate::schema::Violation;

/// A policy that could not be loaded or did not produce a usable output.
///
/// Every variant fails closed: the policy's result becomes `NO_GO` with a blocking issue whose
/// id is [`PolicyError::id`].
#[derive(Debug, thiserror::Error)]
#[cfg_attr(feature = "diagnostics", derive(miette::Diagnostic))]
#[non_exhaustive]
pub enum PolicyError {
    /// The bytes are not a valid WebAssembly module.
    #[error("`{source_name}` is not a valid WebAssembly module: {message}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("build policies for `wasm32-unknown-unknown` as a `cdylib`"))
    )]
    InvalidModule {
        /// Where the module came from.
        source_name: String,
        /// The parser's or compiler's message.
        message: String,
    },
    /// The module has no `preflight.policy` custom section.
    #[error(
        "`{source_name}` has no `preflight.policy` metadata section{}",
        if *in_data_segment {
            ": a data segment holds it instead (C's `__attribute__((section(...)))` makes a data \
             segment, not a custom section: use `PREFLIGHT_POLICY` from sdk/c/preflight.h)"
        } else {
            ""
        }
    )]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "declare the policy with `preflight_sdk::export_policy!`, or add the section by hand (see docs/abi.md)"
        ))
    )]
    MissingMetadata {
        /// Where the module came from.
        source_name: String,
        /// Whether a data segment is named like the section or holds metadata JSON.
        in_data_segment: bool,
    },
    /// The metadata section is not valid.
    #[error("`{source_name}` has invalid `preflight.policy` metadata: {message}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "the section must be JSON with `name`, `version` (semver), `abi` and `description` (see docs/abi.md)"
        ))
    )]
    BadMetadata {
        /// Where the module came from.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// The module was built for another ABI version.
    #[error("`{source_name}` implements policy ABI {found}; this host implements ABI {supported}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("rebuild the policy with a preflight-sdk for ABI {supported}"))
    )]
    UnsupportedAbi {
        /// Where the module came from.
        source_name: String,
        /// The module's ABI version.
        found: u32,
        /// The host's ABI version.
        supported: u32,
    },
    /// The module needs a newer host.
    #[error("`{source_name}` needs preflight {required} or newer; this is preflight {current}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("upgrade preflight, or pin an older version of the policy"))
    )]
    HostTooOld {
        /// Where the module came from.
        source_name: String,
        /// `min_host_version` from the metadata.
        required: String,
        /// This host's version.
        current: String,
    },
    /// The module imports something other than `preflight.log`.
    #[error("`{source_name}` imports `{module}.{name}`, which policies may not use")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "the only import a policy may have is `preflight.log(i32, i32, i32)`; for wasm32-wasip1 builds, build for wasm32-unknown-unknown instead"
        ))
    )]
    ForbiddenImport {
        /// Where the module came from.
        source_name: String,
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
    },
    /// The module imports `preflight.log` with the wrong type.
    #[error("`{source_name}` imports `{module}.{name}` as {found}; expected {expected}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("declare the import as in docs/abi.md"))
    )]
    BadImport {
        /// Where the module came from.
        source_name: String,
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// The type the ABI requires.
        expected: &'static str,
        /// The type found.
        found: String,
    },
    /// The module is over a compile limit: size, function count, function size or the compile
    /// time budget.
    #[error("`{source_name}` is over a compile limit: {message}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "policies are small: a module over the limits is refused before (or while) it is compiled; the limits are in docs/reliability.md"
        ))
    )]
    CompileLimit {
        /// Where the module came from.
        source_name: String,
        /// Which limit, and the module's figure.
        message: String,
    },
    /// A required export is missing.
    #[error("`{source_name}` does not export `{name}`")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "a policy exports `memory`, `preflight_alloc` and `preflight_evaluate` (see docs/abi.md)"
        ))
    )]
    MissingExport {
        /// Where the module came from.
        source_name: String,
        /// The missing export.
        name: &'static str,
    },
    /// A required export has the wrong type.
    #[error("`{source_name}` exports `{name}` as {found}; expected {expected}")]
    BadExport {
        /// Where the module came from.
        source_name: String,
        /// The export.
        name: &'static str,
        /// The type the ABI requires.
        expected: &'static str,
        /// The type found.
        found: String,
    },
    /// The evaluation ran out of fuel.
    #[error("policy `{policy}` ran out of fuel after {fuel} units")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "the policy loops or does too much work; raise `--fuel` only if the work is legitimate"
        ))
    )]
    OutOfFuel {
        /// The policy.
        policy: String,
        /// The fuel budget.
        fuel: u64,
    },
    /// The evaluation ran past its wall-clock deadline.
    #[error("policy `{policy}` ran past its deadline of {} ms", deadline.as_millis())]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "the policy loops or does too much work; raise `--timeout` only if the work is legitimate"
        ))
    )]
    Deadline {
        /// The policy.
        policy: String,
        /// The deadline.
        deadline: Duration,
    },
    /// The module tried to grow its memory past the cap.
    #[error(
        "policy `{policy}` tried to grow its memory to {requested} bytes, over the cap of {cap} bytes"
    )]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "raise `--memory-limit` only if the policy legitimately needs the memory"
        ))
    )]
    MemoryLimit {
        /// The policy.
        policy: String,
        /// Bytes requested.
        requested: usize,
        /// The cap.
        cap: usize,
    },
    /// The module exhausted its call stack.
    #[error("policy `{policy}` exhausted its call stack (runaway recursion)")]
    StackOverflow {
        /// The policy.
        policy: String,
    },
    /// Any other trap: `unreachable` (a panic without the SDK's hook), out-of-bounds access,
    /// division by zero, ...
    #[error("policy `{policy}` trapped: {message}{}", trace(backtrace))]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "the wasm backtrace names the function; a policy built with preflight-sdk reports a panic's message instead"
        ))
    )]
    Trap {
        /// The trap message.
        message: String,
        /// The policy.
        policy: String,
        /// The wasm backtrace, innermost first, on one line (empty when there is none).
        backtrace: String,
    },
    /// The policy panicked: the SDK's panic hook logged the message before the abort.
    #[error("policy `{policy}` {message}{}", trace(backtrace))]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "the panic is in the policy's code; its case files reproduce it natively"
        ))
    )]
    Panic {
        /// The policy.
        policy: String,
        /// `panicked at FILE:LINE:COLUMN: MESSAGE`.
        message: String,
        /// The wasm backtrace, innermost first, on one line.
        backtrace: String,
    },
    /// The module broke the ABI while running (bad `preflight_alloc` result, bad log call).
    #[error("policy `{policy}` broke the ABI: {message}")]
    AbiViolation {
        /// The policy.
        policy: String,
        /// What it did.
        message: String,
    },
    /// The output pointer and length point outside the module's memory.
    #[error(
        "policy `{policy}` returned output at {ptr}..{} outside its {memory_size}-byte memory",
        *ptr as u64 + *len as u64
    )]
    OutputOutOfBounds {
        /// The policy.
        policy: String,
        /// Output pointer.
        ptr: u32,
        /// Output length.
        len: u32,
        /// Memory size in bytes.
        memory_size: usize,
    },
    /// The output is larger than the cap.
    #[error("policy `{policy}` returned {len} bytes of output, over the cap of {cap} bytes")]
    OutputTooLarge {
        /// The policy.
        policy: String,
        /// Output length.
        len: u32,
        /// The cap.
        cap: usize,
    },
    /// The output is not UTF-8.
    #[error(
        "policy `{policy}` returned output that is not UTF-8 (invalid byte at offset {offset})"
    )]
    OutputNotUtf8 {
        /// The policy.
        policy: String,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The output is not JSON.
    #[error(
        "policy `{policy}` returned output that is not JSON: {message} at line {line}, column {column}"
    )]
    OutputNotJson {
        /// The policy.
        policy: String,
        /// The parser's message.
        message: String,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
    },
    /// The output does not match `schemas/policy-output.schema.json`.
    #[error(
        "policy `{policy}` returned output that does not match the policy-output schema: {}",
        crate::schema::join(violations)
    )]
    OutputSchema {
        /// The policy.
        policy: String,
        /// Every violation, with its JSON pointer.
        violations: Vec<Violation>,
    },
    /// The host could not set up the sandbox (an internal failure, not the policy's fault).
    #[error("could not run policy `{policy}`: {message}")]
    Host {
        /// The policy.
        policy: String,
        /// What failed.
        message: String,
    },
}

impl PolicyError {
    /// The stable id of the blocking issue this error becomes.
    pub fn id(&self) -> IssueId {
        match self {
            PolicyError::InvalidModule { .. } => IssueId::PolicyInvalidModule,
            PolicyError::MissingMetadata { .. } => IssueId::PolicyMissingMetadata,
            PolicyError::BadMetadata { .. } => IssueId::PolicyBadMetadata,
            PolicyError::UnsupportedAbi { .. } => IssueId::PolicyUnsupportedAbi,
            PolicyError::HostTooOld { .. } => IssueId::PolicyHostTooOld,
            PolicyError::ForbiddenImport { .. } => IssueId::PolicyForbiddenImport,
            PolicyError::BadImport { .. } => IssueId::PolicyBadImport,
            PolicyError::CompileLimit { .. } => IssueId::PolicyCompileLimit,
            PolicyError::MissingExport { .. } => IssueId::PolicyMissingExport,
            PolicyError::BadExport { .. } => IssueId::PolicyBadExport,
            PolicyError::OutOfFuel { .. } => IssueId::PolicyOutOfFuel,
            PolicyError::Deadline { .. } => IssueId::PolicyDeadline,
            PolicyError::MemoryLimit { .. } => IssueId::PolicyMemoryLimit,
            PolicyError::StackOverflow { .. } => IssueId::PolicyStackOverflow,
            PolicyError::Trap { .. } | PolicyError::Panic { .. } => IssueId::PolicyTrap,
            PolicyError::AbiViolation { .. } => IssueId::PolicyAbiViolation,
            PolicyError::OutputOutOfBounds { .. } => IssueId::PolicyOutputOutOfBounds,
            PolicyError::OutputTooLarge { .. } => IssueId::PolicyOutputTooLarge,
            PolicyError::OutputNotUtf8 { .. } => IssueId::PolicyOutputNotUtf8,
            PolicyError::OutputNotJson { .. } => IssueId::PolicyOutputNotJson,
            PolicyError::OutputSchema { .. } => IssueId::PolicyOutputSchema,
            PolicyError::Host { .. } => IssueId::PolicyHostError,
        }
    }
}

/// ` (wasm backtrace: a ← b)`, or nothing.
fn trace(backtrace: &str) -> String {
    if backtrace.is_empty() {
        String::new()
    } else {
        format!(" (wasm backtrace: {backtrace})")
    }
}
