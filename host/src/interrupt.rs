//! Ctrl-C (SIGINT) and SIGTERM, caught for a command that must end with a report: `canary`
//! waits on them beside its queries, a `--facts-stream` on a thread of its own.

/// The two signals, once installed.
#[derive(Debug)]
pub struct Interrupt {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Interrupt {
    /// Installs the handlers; must be called inside a tokio runtime with I/O enabled. Where
    /// they cannot be installed the signals keep their default action ([`Interrupt::is_caught`]
    /// says so) and [`Interrupt::recv`] never resolves.
    pub fn install() -> Interrupt {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Interrupt { signals }
        }
        #[cfg(not(unix))]
        {
            Interrupt {}
        }
    }

    /// Whether the signals are caught.
    pub fn is_caught(&self) -> bool {
        #[cfg(unix)]
        {
            self.signals.is_some()
        }
        #[cfg(not(unix))]
        {
            true
        }
    }

    /// Resolves when the command is interrupted.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        match &mut self.signals {
            Some((int, term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Ctrl-C and SIGTERM for `run`, whose work is mostly synchronous: a signal sets a flag that the
/// run reads where it waits (fetching modules) and before its report, which then says
/// `run.interrupted`; a second signal ends the process at once (exit 130). No thread and no
/// async runtime are needed for it, so a run pays two system calls.
pub mod flag {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    static CAUGHT: AtomicBool = AtomicBool::new(false);

    #[cfg(unix)]
    extern "C" fn on_signal(_: libc::c_int) {
        // Async-signal-safe: an atomic swap, and `_exit` on the second signal.
        if CAUGHT.swap(true, Ordering::SeqCst) {
            // SAFETY: `_exit` ends the process without running anything else.
            unsafe { libc::_exit(130) }
        }
    }

    /// Installs the handlers for SIGINT and SIGTERM.
    pub fn install() {
        #[cfg(unix)]
        {
            let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // SAFETY: the handler only touches an atomic and calls `_exit`, both
            // async-signal-safe.
            unsafe {
                libc::signal(libc::SIGINT, handler);
                libc::signal(libc::SIGTERM, handler);
            }
        }
    }

    /// Whether a signal came.
    pub fn caught() -> bool {
        CAUGHT.load(Ordering::SeqCst)
    }

    /// Resolves once a signal has come (looked at every 20 ms).
    pub async fn wait() {
        while !caught() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
