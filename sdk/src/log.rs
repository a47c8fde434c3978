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
    use std::collections::VecDeque;

    /// Lines kept per thread before the oldest are dropped.
    pub(super) const MAX_LINES: usize = 10_000;

    thread_local! {
        static LINES: RefCell<VecDeque<(Level, String)>> = const { RefCell::new(VecDeque::new()) };
    }

    pub fn write(level: Level, message: &str) {
        LINES.with(|lines| {
            let mut lines = lines.borrow_mut();
            // A ring: dropping the oldest line is O(1), where shifting a full buffer moved
            // 10 000 lines on every write.
            if lines.len() >= MAX_LINES {
                lines.pop_front();
            }
            lines.push_back((level, message.to_owned()));
        });
    }

    pub fn take() -> Vec<(Level, String)> {
        LINES.with(|lines| std::mem::take(&mut *lines.borrow_mut()).into())
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn write_lines(from: usize, count: usize) -> Duration {
        let started = Instant::now();
        for i in from..from + count {
            write(Level::Debug, &i.to_string());
        }
        started.elapsed()
    }

    /// A full buffer keeps the newest lines in order, and a write past the cap costs about what
    /// a write below it does: shifting the whole buffer on each write made it some 60 times
    /// dearer (3 µs a line, half a natively run gate's evaluation).
    #[test]
    fn a_full_buffer_drops_the_oldest_line_in_constant_time() {
        let n = imp::MAX_LINES;
        let (mut filling, mut full) = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            let _ = take();
            filling = filling.min(write_lines(0, n));
            full = full.min(write_lines(n, 2 * n));
            let lines = take();
            assert_eq!(lines.len(), n);
            assert!(
                lines
                    .iter()
                    .enumerate()
                    .all(|(i, line)| line.1 == (2 * n + i).to_string())
            );
            assert!(take().is_empty());
        }
        // Twice the writes; allow 5 times the time.
        assert!(
            full < filling * 10,
            "{full:?} for {} writes past the cap, {filling:?} for {n} below it",
            2 * n
        );
    }
}
