#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod builtin;
pub mod canary;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod escape;
pub mod evaluate;
pub mod exit;
pub mod facts;
pub mod files;
pub mod inputs;
pub mod json;
pub mod lock;
pub mod oci;
pub mod prometheus;
pub mod report;
pub mod sandbox;
pub mod schema;
pub mod signature;
pub mod store;

pub use exit::ExitCode;
