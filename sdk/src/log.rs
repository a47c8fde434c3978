//! Guest logging. In a wasm module, [`log!`](crate::log!) calls the host's `preflight.log`
//! import; the host shows the lines with `preflight run --verbose` and `preflight test -v`,
//! never on the stdout of a report. Natively (in `cargo test`), lines are kept per thread and
//! can be read with [`take`].

pub use crate::abi::Level;

/// Writes one log line. Prefer the [`log!`](crate::log!) macro.
pub fn write(level: Level, message: &str) {
    imp::write(level, message);
}

/// Takes the lines logged so far on this thread (native builds only; empty in wasm).
pub fn take() -> Vec<(Level, String)> {
    imp::take()
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;

    // The names are `crate::abi::IMPORT_MODULE` and `crate::abi::IMPORT_LOG`; attributes take
    // literals only, so `abi::tests` checks these against the constants.
    #[link(wasm_import_module = "preflight")]
    unsafe extern "C" {
        #[link_name = "log"]
        fn host_log(level: i32, ptr: i32, len: i32);
    }

    pub fn write(level: Level, message: &str) {
        let len = i32::try_from(message.len()).unwrap_or(i32::MAX);
        // SAFETY: the pointer and length describe `message`, which outlives the call; the host
        // only reads that range of guest memory.
        unsafe { host_log(level as i32, message.as_ptr() as usize as i32, len) }
    }

    pub fn take() -> Vec<(Level, String)> {
        Vec::new()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;
    use std::cell::RefCell;

    /// Lines kept per thread before the oldest are dropped.
    const MAX_LINES: usize = 10_000;

    thread_local! {
        static LINES: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    }

    pub fn write(level: Level, message: &str) {
        LINES.with(|lines| {
            let mut lines = lines.borrow_mut();
            if lines.len() >= MAX_LINES {
                lines.remove(0);
            }
            lines.push((level, message.to_owned()));
        });
    }

    pub fn take() -> Vec<(Level, String)> {
        LINES.with(|lines| std::mem::take(&mut *lines.borrow_mut()))
    }
}

/// Logs a line through the host: `log!("risk {risk}")` at info level, or with a level first:
/// `log!(warn, "weights sum to {sum}")`; levels are `error`, `warn`, `info`, `debug`.
#[macro_export]
macro_rules! log {
    (error, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)+)) };
    (warn, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)+)) };
    (info, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)+)) };
    (debug, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)+)) };
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)+)) };
}

/// Marks a rule as exercised on this evaluation; see [`rule!`](crate::rule!).
pub fn rule(id: &str) {
    let mut line = String::with_capacity(crate::abi::RULE_PREFIX.len() + id.len());
    line.push_str(crate::abi::RULE_PREFIX);
    line.push_str(id);
    write(Level::Debug, &line);
}

/// Marks a rule as exercised: `rule!("coverage.below_minimum")` where the policy checks it,
/// whether or not it fires. `preflight test --coverage` counts a rule as covered when a case
/// returns an issue or warning with its id or passes a `rule!` for it; a rule the cases never
/// reach is reported as uncovered. One debug log line through the host per call.
#[macro_export]
macro_rules! rule {
    ($id:expr) => {
        $crate::log::rule($id)
    };
}
