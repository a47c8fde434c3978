//! The wasmtime settings of the sandbox. `build.rs` includes this file too, to compile the
//! built-in policies at build time with exactly the settings the runtime deserializes them with
//! (wasmtime refuses a compiled module whose settings differ, and the runtime then compiles).

use wasmtime::Config;

/// The most elements a table may hold (checked by the limiter, and the pool's slot size).
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Engine settings every configuration shares, and the on-demand engine's.
///
/// Fuel is the one instrumentation compiled into a policy: it bounds the work, and the
/// wall-clock deadline is checked each time an evaluation has used [`YIELD_FUEL`] of it
/// (`Store::fuel_async_yield_interval`), so the code carries no second check at every loop
/// back-edge and call, as wasmtime's epoch interruption would (about a tenth of the canary
/// judge's time, docs/performance.md).
///
/// Memory is initialised from a copy-on-write image of the module's data (wasmtime's default).
/// Copying the data in instead costs more per evaluation and is charged as fuel (the gate's
/// 122 KB of data tripled its fuel), so a run and a stream would report different fuel.
pub fn base_config() -> Config {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(false)
        .max_wasm_stack(512 << 10)
        .wasm_multi_memory(false)
        .wasm_memory64(false);
    config
}

/// Fuel an evaluation uses between two checks of its deadline: about a tenth of a millisecond
/// of guest code, so a deadline is overrun by about that much; each check costs a switch out of
/// the guest's stack and back, well under a microsecond.
pub const YIELD_FUEL: u64 = 100_000;

/// Instance slots in the pool: evaluations that can be alive at once in one process.
pub const POOL_SLOTS: u32 = 64;

/// Bytes at the start of a linear memory that stay mapped between evaluations and are zeroed
/// (and the module's data copied back) in place, instead of being unmapped and faulting in
/// again. The built-in policies fit in it whole (128 KiB stack, data, first heap pages). On
/// Linux 6.7 and later only the pages an evaluation wrote are reset (`PAGEMAP_SCAN`).
const KEEP_RESIDENT: usize = 256 << 10;

/// The pooling allocator: memory slots are reserved once per process and reused, the first
/// [`KEEP_RESIDENT`] bytes stay mapped. A fresh evaluation then costs no `mmap`/`munmap` and,
/// for a small module, no page faults; nothing carries over, since each slot is reset to the
/// module's initial image before reuse. Slots span the whole 32-bit space (address space only),
/// so whatever a module asks for, the memory cap is decided by the limiter, as without a pool.
///
/// Bounds are checked by the compiled code, not by guard pages (`signals_based_traps(false)`, no
/// guard): a slot's memory then stays read/write between evaluations, where with guard pages
/// every evaluation that grows its memory costs two `mprotect` calls, and each of those
/// interrupts every other core running an evaluation (a TLB shootdown). With two workers that
/// made the stream slower than with one (23 795 against 25 640 fact sets/s); without it, two
/// cores give 1.8× one (docs/performance.md).
pub fn pooled_config() -> Config {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_core_instances(POOL_SLOTS)
        .total_stacks(POOL_SLOTS)
        .total_memories(POOL_SLOTS)
        .total_tables(POOL_SLOTS)
        .total_component_instances(0)
        .max_memory_size(1 << 32)
        .table_elements(MAX_TABLE_ELEMENTS)
        .max_core_instance_size(4 << 20)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = base_config();
    config.signals_based_traps(false).memory_guard_size(0);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    config
}

/// For what machine `build.rs` compiles the built-in policies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    not(test),
    allow(dead_code, reason = "used by build.rs, which includes this file")
)]
pub enum Precompile {
    /// Not at all: they are compiled on first use, like any policy.
    Skip(&'static str),
    /// For the build machine's CPU, features detected (a binary built where it runs).
    Host,
    /// For this target triple's baseline CPU, no feature beyond what the architecture always
    /// has: what a binary built to be copied to other machines needs (a release, an image, a
    /// build for another C library of the same system), since wasmtime refuses machine code
    /// that needs a feature the running CPU lacks and the runtime then compiles.
    Baseline(String),
}

/// What `build.rs` does for `target` (cargo's `TARGET`) built on `host` (`HOST`); `portable`
/// asks for machine code any CPU of the architecture runs (`PREFLIGHT_PRECOMPILE_CPU=baseline`).
///
/// wasmtime accepts machine code for the architecture and operating system it runs on, whatever
/// the C library: a musl binary built on a glibc machine can carry it. The build's compiler has
/// the host's architecture only, so another architecture gets none.
#[cfg_attr(
    not(test),
    allow(dead_code, reason = "used by build.rs, which includes this file")
)]
pub fn precompile_plan(target: &str, host: &str, portable: bool) -> Precompile {
    // `arch-vendor-os[-env]`: the architecture and the operating system.
    let parts = |triple: &str| {
        let mut parts = triple.split('-');
        let arch = parts.next().unwrap_or_default().to_owned();
        let os = parts.nth(1).unwrap_or_default().to_owned();
        (arch, os)
    };
    if parts(target) != parts(host) {
        return Precompile::Skip("built for another architecture or operating system");
    }
    if portable || target != host {
        Precompile::Baseline(target.to_owned())
    } else {
        Precompile::Host
    }
}
