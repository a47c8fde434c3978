#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod baseline;
#[cfg(feature = "builtins")]
pub mod builtin;
#[cfg(not(feature = "builtins"))]
mod builtin {
    //! Without the `builtins` feature there are no built-in policies; the gate's name is still
    //! what fills the report's top-level fields.

    /// The standard gate's name.
    pub const GATE: &str = "preflight-gate";
}
pub mod evaluate;
pub mod facts;
pub mod files;
pub mod ids;
pub mod json;
mod merge;
pub mod pin;
pub mod report;
pub mod sandbox;
pub mod schema;
pub mod waivers;

pub use evaluate::{Evaluation, LoadFailure, PolicyEntry, PolicyLogs, failed_report};
pub use facts::{Facts, FactsError};
pub use ids::IssueId;
pub use pin::{Pin, PinError, SignaturePin, Verified};
pub use report::{PolicyResult, Report, ReportIssue};
pub use sandbox::{Limits, Policy, PolicyError, Runtime};

/// The version of the host, as reports and `min_host_version` checks see it.
pub const HOST_VERSION: &str = env!("CARGO_PKG_VERSION");
