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

    /// The code for a report: 2 when it stands for an error, 0 for a dry run, else its
    /// decision's.
    pub fn for_report(report: &preflight_engine::Report, dry_run: bool) -> ExitCode {
        if preflight_engine::evaluate::is_error(report) {
            ExitCode::Error
        } else if dry_run {
            ExitCode::Go
        } else {
            ExitCode::from_decision(report.decision)
        }
    }

    /// How bad a code is: error, then `NO_GO`, then `GO_WITH_CAUTION`, then `GO`.
    pub fn severity(self) -> u8 {
        match self {
            ExitCode::Go => 0,
            ExitCode::GoWithCaution => 1,
            ExitCode::NoGo => 2,
            ExitCode::Error => 3,
        }
    }

    /// The worse of two codes.
    #[must_use]
    pub fn worst(self, other: ExitCode) -> ExitCode {
        if other.severity() > self.severity() {
            other
        } else {
            self
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
