//! Command-line interface.

use clap::{Parser, Subcommand};

use crate::commands::{
    cache::CacheArgs, canary::CanaryArgs, completions::CompletionsArgs, decision::KeygenArgs,
    decision::VerifyArgs, eval::EvalArgs, facts::FactsArgs, init::InitArgs, policy::PolicyArgs,
    run::RunArgs, schema::SchemaArgs, serve::ServeArgs, test::TestArgs,
};

/// preflight: may this build ship? Gathers facts about a release, runs sandboxed WebAssembly
/// policies on them and prints a report with an exit code CI can branch on
/// (0 GO, 3 GO_WITH_CAUTION, 1 NO_GO, 2 error).
#[derive(Debug, Parser)]
#[command(name = "preflight", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gather facts, run the policies, print the report.
    Run(RunArgs),
    /// Gather and print the fact set without evaluating it.
    Facts(FactsArgs),
    /// Write a preflight.toml for the reports, SBOMs and checklists found in the project.
    Init(InitArgs),
    /// Canary analysis against Prometheus: `analyze` once, or `monitor` over time.
    Canary(CanaryArgs),
    /// Run decision case files against a policy in the sandbox.
    Test(TestArgs),
    /// Run one policy on one fact set: its raw output, logs, fuel and time.
    Eval(EvalArgs),
    /// Serve decisions over HTTP: POST a fact set, get the report.
    Serve(ServeArgs),
    /// Write an Ed25519 key pair for signing decision records (`run --attest`).
    Keygen(KeygenArgs),
    /// Check a signed decision record; with `--facts --replay`, decide again and compare.
    VerifyDecision(VerifyArgs),
    /// Pin, list and inspect policy modules.
    Policy(PolicyArgs),
    /// The compiled-module cache: `dir` or `clear`.
    Cache(CacheArgs),
    /// Print a JSON Schema: `facts`, `policy-output` or `report`.
    Schema(SchemaArgs),
    /// Print shell completions: bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    Man,
}
