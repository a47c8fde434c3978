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
        crate::diagnostic::error(&format!(
            "`{}` already exists; pass --force to overwrite it",
            args.output.display()
        ));
        return ExitCode::Error;
    }
    match preflight_engine::files::write_atomic(&args.output, config::STARTER.as_bytes()) {
        Ok(()) => {
            eprintln!("wrote {}", args.output.display());
            ExitCode::Go
        }
        Err(err) => {
            crate::diagnostic::error(&err.to_string());
            ExitCode::Error
        }
    }
}
