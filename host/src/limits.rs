//! The sandbox limits as flags: one group, flattened into every command that evaluates.

use std::time::Duration;

use preflight_engine::Limits;

/// `--timeout-ms`, `--fuel`, `--memory-limit`, `--compile-timeout-ms`.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Wall-clock deadline per policy evaluation, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = default().timeout.as_millis() as u64)]
    pub timeout_ms: u64,
    /// Fuel per policy evaluation (about one unit per wasm instruction).
    #[arg(long, value_name = "UNITS", default_value_t = default().fuel)]
    pub fuel: u64,
    /// Memory cap per policy, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = default().memory_bytes >> 20)]
    pub memory_limit: usize,
    /// Wall-clock budget for compiling one policy module, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = default().compile_timeout.as_millis() as u64)]
    pub compile_timeout_ms: u64,
}

fn default() -> Limits {
    Limits::default()
}

impl Default for LimitArgs {
    fn default() -> Self {
        let limits = default();
        LimitArgs {
            timeout_ms: limits.timeout.as_millis() as u64,
            fuel: limits.fuel,
            memory_limit: limits.memory_bytes >> 20,
            compile_timeout_ms: limits.compile_timeout.as_millis() as u64,
        }
    }
}

impl LimitArgs {
    /// The limits these flags give.
    pub fn limits(&self) -> Limits {
        Limits {
            memory_bytes: self.memory_limit.saturating_mul(1 << 20),
            timeout: Duration::from_millis(self.timeout_ms),
            fuel: self.fuel,
            compile_timeout: Duration::from_millis(self.compile_timeout_ms),
            ..Limits::default()
        }
    }
}
