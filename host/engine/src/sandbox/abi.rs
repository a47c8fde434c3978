//! The host side of policy ABI v1: the one import a policy may use, and the checks on what the
//! guest hands back. Bad guest input here returns an error (a named trap), never a panic.

use preflight_sdk::abi::{EXPORT_MEMORY, IMPORT_LOG, IMPORT_MODULE, Level};
use wasmtime::{Caller, Extern, Linker};

use super::GuestState;

/// One line a policy logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// The level the policy gave.
    pub level: &'static str,
    /// The text, lossily decoded as UTF-8.
    pub message: String,
}

/// The guest called an import with arguments outside its memory.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AbiViolation(pub String);

/// Registers the host functions a policy may import.
///
/// # Errors
/// Only if the linker refuses the definition (a host bug).
pub fn link(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap(IMPORT_MODULE, IMPORT_LOG, log)?;
    Ok(())
}

/// `preflight.log(level, ptr, len)`: keeps the line, up to the per-evaluation log cap.
fn log(mut caller: Caller<'_, GuestState>, level: i32, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let Some(Extern::Memory(memory)) = caller.get_export(EXPORT_MEMORY) else {
        return Err(wasmtime::Error::new(AbiViolation(
            "`preflight.log` was called by a module without an exported memory".to_owned(),
        )));
    };
    let (Ok(start), Ok(len)) = (u32::try_from(ptr), u32::try_from(len)) else {
        return Err(wasmtime::Error::new(AbiViolation(format!(
            "`preflight.log` was called with a negative pointer or length ({ptr}, {len})"
        ))));
    };
    let (start, len) = (start as usize, len as usize);
    let data = memory.data(&caller);
    let Some(bytes) = data.get(start..start.saturating_add(len)) else {
        return Err(wasmtime::Error::new(AbiViolation(format!(
            "`preflight.log` was called with bytes {start}..{} outside the {}-byte memory",
            start.saturating_add(len),
            data.len()
        ))));
    };
    let message = String::from_utf8_lossy(bytes).into_owned();
    caller.data_mut().push_log(Level::from_abi(level), message);
    Ok(())
}
