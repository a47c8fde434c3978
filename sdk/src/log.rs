//! Guest logging. In a wasm module, [`log!`](crate::log!) calls the host's `preflight.log`
//! import; the host shows the lines with `preflight run --verbose` and `preflight test -v`,
//! never on the stdout of a report. Natively (in `cargo test`), lines are kept per thread and
//! can be read with [`take`].

/// How important a log line is. The numbers are the ABI's `level` argument.
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
    /// The level for an ABI number; unknown numbers are `Debug`.
    pub fn from_abi(level: i32) -> Level {
        match level {
            0 => Level::Error,
            1 => Level::Warn,
            2 => Level::Info,
            _ => Level::Debug,
        }
    }

    /// `error`, `warn`, `info` or `debug`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

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
