//! `preflight cache`: where compiled modules are kept, and clearing them.

use preflight_engine::sandbox::cache::{self, Cache};

use crate::diagnostic;
use crate::exit::ExitCode;

/// Arguments of `preflight cache`.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: CacheCommand,
}

/// The cache subcommands.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum CacheCommand {
    /// Print the cache folder (`$PREFLIGHT_HOME/compiled`, else `~/.cache/preflight/compiled`).
    Dir,
    /// Remove every compiled module.
    Clear,
}

/// `preflight cache`.
pub fn cache(args: &CacheArgs) -> ExitCode {
    let Some(dir) = cache::default_dir() else {
        diagnostic::error("no cache folder: set PREFLIGHT_HOME");
        return ExitCode::Error;
    };
    match args.command {
        CacheCommand::Dir => {
            println!("{}", dir.display());
            ExitCode::Go
        }
        CacheCommand::Clear => match Cache::new(dir.clone()).clear() {
            Ok(count) => {
                println!("removed {count} compiled module(s) from {}", dir.display());
                ExitCode::Go
            }
            Err(err) => {
                diagnostic::error(&format!("cannot clear `{}`: {err}", dir.display()));
                ExitCode::Error
            }
        },
    }
}
