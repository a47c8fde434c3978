//! The limits every evaluation runs under, and the store limiter that enforces the memory cap.

use std::time::Duration;

/// Limits applied to every evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory a policy may have, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline per evaluation (checked each time the guest has used a slice of
    /// its fuel).
    pub timeout: Duration,
    /// Fuel per evaluation (about one unit per wasm instruction).
    pub fuel: u64,
    /// Largest output a policy may return, in bytes.
    pub output_bytes: usize,
    /// Guest log bytes kept per evaluation (each line counts its text plus
    /// [`LOG_LINE_OVERHEAD`]); lines past it are counted, not kept.
    pub log_bytes: usize,
    /// Largest module compiled, in bytes.
    pub module_bytes: usize,
    /// Most functions a module may define.
    pub functions: u32,
    /// Largest function body, in bytes.
    pub function_bytes: usize,
    /// Wall-clock budget for compiling one module.
    pub compile_timeout: Duration,
}

/// What each kept log line costs against [`Limits::log_bytes`] besides its text: the prefix a
/// line is printed with. Empty lines are not free.
pub const LOG_LINE_OVERHEAD: usize = 64;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(1),
            fuel: 2_000_000_000,
            output_bytes: 1 << 20,
            log_bytes: 64 << 10,
            module_bytes: 16 << 20,
            functions: 50_000,
            function_bytes: 4 << 20,
            compile_timeout: Duration::from_secs(10),
        }
    }
}

/// The memory request that went over the cap, carried through the trap.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("memory limit: {requested} bytes requested, cap {cap} bytes")]
pub struct MemoryLimitExceeded {
    /// Bytes requested.
    pub requested: usize,
    /// The cap.
    pub cap: usize,
}

/// Refuses memory growth past the cap by trapping, so the cause is named.
#[derive(Debug)]
pub struct Limiter {
    cap: usize,
}

impl Limiter {
    /// A limiter with the given memory cap.
    pub fn new(cap: usize) -> Self {
        Limiter { cap }
    }
}

/// Table elements a policy may have.
pub(super) use super::config::MAX_TABLE_ELEMENTS;

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                requested: desired,
                cap: self.cap,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}
