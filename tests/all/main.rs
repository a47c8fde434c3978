//! The end-to-end suite: one test binary, so linking happens once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

mod action;
mod authors;
mod baseline;
mod canary;
mod cases;
mod cli;
mod collectors;
mod compat;
mod consumers;
mod decisions;
mod deploy;
mod docs;
mod engine;
mod equivalence;
mod facts;
mod formats;
mod fuzz;
mod hostile;
mod oci;
mod python_service;
mod reliability;
mod sbom;
mod schemas;
mod serve;
mod settings;
mod signatures;
mod stream;
mod supply_chain;
mod support;
mod vex;
mod waivers;
