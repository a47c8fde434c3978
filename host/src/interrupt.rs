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
