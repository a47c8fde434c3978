//! The wall-clock deadline of an evaluation, checked where the guest yields.
//!
//! A policy runs on a stack of its own (wasmtime's async calls) and hands control back each
//! time it has used [`YIELD_FUEL`](super::config::YIELD_FUEL) fuel. Polling its future here,
//! with no executor and nothing to wait for, the host reads the clock at each of those points
//! and drops the future once the deadline has passed; wasmtime then unwinds the guest, and the
//! evaluation fails as [`PolicyError::Deadline`](super::PolicyError::Deadline). The compiled
//! code carries one check per loop back-edge (fuel) instead of two (fuel and an epoch).

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// When an evaluation must have finished.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline {
    /// `None`: later than the clock can say (a timeout of centuries), so never.
    at: Option<Instant>,
}

/// The deadline passed before the guest finished; the guest was unwound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Overrun;

impl Deadline {
    /// `timeout` from now.
    pub(super) fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(timeout),
        }
    }

    /// Runs a guest call to its end, or until the deadline has passed at one of its yields.
    ///
    /// # Errors
    /// [`Overrun`] when the deadline passed first.
    pub(super) fn run<F: Future>(self, future: F) -> Result<F::Output, Overrun> {
        let mut future = std::pin::pin!(future);
        let mut context = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return Ok(output);
            }
            // Only a fuel yield returns `Pending` here (no host function is async).
            if self.at.is_some_and(|at| Instant::now() >= at) {
                return Err(Overrun);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A future that is pending `n` times, like a guest that yields `n` times.
    struct Yields(u32);

    impl Future for Yields {
        type Output = u32;
        fn poll(mut self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
            if self.0 == 0 {
                Poll::Ready(7)
            } else {
                self.0 -= 1;
                Poll::Pending
            }
        }
    }

    #[test]
    fn a_call_that_finishes_in_time_gives_its_output() {
        let deadline = Deadline::after(Duration::from_secs(60));
        assert_eq!(deadline.run(Yields(1000)), Ok(7));
    }

    #[test]
    fn a_call_still_yielding_at_the_deadline_is_cut() {
        let deadline = Deadline::after(Duration::ZERO);
        assert_eq!(deadline.run(Yields(u32::MAX)), Err(Overrun));
        // A call that never yields is not cut: fuel bounds it.
        assert_eq!(deadline.run(Yields(0)), Ok(7));
    }

    #[test]
    fn a_timeout_past_the_clock_never_fires() {
        let deadline = Deadline::after(Duration::MAX);
        assert!(deadline.at.is_none());
        assert_eq!(deadline.run(Yields(10)), Ok(7));
    }
}
