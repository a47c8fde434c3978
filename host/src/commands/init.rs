//! `preflight init`: write a commented starter `preflight.toml`.

use std::path::PathBuf;

use crate::config;
use crate::exit::ExitCode;

/// Arguments of `preflight init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(long, short, value_name = "FILE", default_value = config::FILE_NAME)]
    pub output: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// Writes the starter file; refuses to overwrite without `--force`.
pub fn init(args: &InitArgs) -> ExitCode {
    if args.output.exists() && !args.force {
        eprintln!(
            "error: `{}` already exists; pass --force to overwrite it",
            args.output.display()
        );
        return ExitCode::Error;
    }
    match std::fs::write(&args.output, config::STARTER) {
        Ok(()) => {
            eprintln!("wrote {}", args.output.display());
            ExitCode::Go
        }
        Err(err) => {
            eprintln!("error: cannot write `{}`: {err}", args.output.display());
            ExitCode::Error
        }
    }
}
