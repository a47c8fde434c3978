//! `preflight completions SHELL` and `preflight man`: shell completions (clap_complete) and a
//! man page (clap_mangen), generated from the same definitions as `--help`.

use std::io::Write as _;

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::exit::ExitCode;

/// Arguments of `preflight completions`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. Install, e.g.:
    /// `preflight completions bash > /etc/bash_completion.d/preflight`,
    /// `preflight completions zsh > "${fpath[1]}/_preflight"`,
    /// `preflight completions fish > ~/.config/fish/completions/preflight.fish`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script.
pub fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "preflight", &mut out);
    write(&out)
}

/// Prints the man page (roff): `preflight man > /usr/local/share/man/man1/preflight.1`.
pub fn man() -> ExitCode {
    let mut out = Vec::new();
    match clap_mangen::Man::new(Cli::command()).render(&mut out) {
        Ok(()) => write(&out),
        Err(err) => {
            crate::diagnostic::error(&format!("cannot render the man page: {err}"));
            ExitCode::Error
        }
    }
}

fn write(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::Go,
        Err(err) => {
            crate::diagnostic::error(&format!("cannot write to stdout: {err}"));
            ExitCode::Error
        }
    }
}
