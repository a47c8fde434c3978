#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod anchors;
pub mod attest;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod emit;
pub mod exit;
pub mod inputs;
pub mod interrupt;
pub mod limits;
pub mod load;

pub use exit::ExitCode;
