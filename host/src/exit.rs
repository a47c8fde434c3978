//! Exit codes CI can branch on.

use preflight_sdk::Decision;

/// The process exit code.
///
/// | code | meaning |
/// |------|---------|
/// | 0 | `GO` (and `--dry-run` without errors) |
/// | 1 | `NO_GO` |
/// | 2 | error: bad input, a policy that failed, a tampered module; a report still says `NO_GO` |
/// | 3 | `GO_WITH_CAUTION` |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// `GO`.
    Go = 0,
    /// `NO_GO`.
    NoGo = 1,
    /// An error anywhere.
    Error = 2,
    /// `GO_WITH_CAUTION`.
    GoWithCaution = 3,
}

impl ExitCode {
    /// The code for a decision.
    pub fn from_decision(decision: Decision) -> ExitCode {
        match decision {
            Decision::Go => ExitCode::Go,
            Decision::GoWithCaution => ExitCode::GoWithCaution,
            Decision::NoGo => ExitCode::NoGo,
        }
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl std::process::Termination for ExitCode {
    fn report(self) -> std::process::ExitCode {
        std::process::ExitCode::from(self.code())
    }
}
