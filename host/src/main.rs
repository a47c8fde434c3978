use std::io::IsTerminal as _;

use clap::Parser as _;
use preflight::ExitCode;
use preflight::cli::{Cli, Command};
use preflight::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Wrap messages to the terminal; in CI logs (stderr not a terminal) keep each line whole, so
    // digests and paths can be searched for. `COLUMNS` overrides both.
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse::<usize>().ok())
        .or_else(|| (!std::io::stderr().is_terminal()).then_some(1000));
    let _ = miette::set_hook(Box::new(move |_| {
        let options = miette::MietteHandlerOpts::new().terminal_links(false);
        Box::new(match width {
            Some(width) => options.width(width).build(),
            None => options.build(),
        })
    }));
    // The one async runtime, owned here: fetching modules, Prometheus, signals.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            preflight::diagnostic::error(&format!("cannot start the async runtime: {err}"));
            return ExitCode::Error;
        }
    };
    match &cli.command {
        Command::Run(args) => commands::run::run(&rt, args),
        Command::Facts(args) => commands::facts::facts(args),
        Command::Init(args) => commands::init::init(args),
        Command::Canary(args) => commands::canary::canary(&rt, args),
        Command::Test(args) => commands::test::test(&rt, args),
        Command::Eval(args) => commands::eval::eval(&rt, args),
        Command::Serve(args) => commands::serve::serve(args),
        Command::Keygen(args) => commands::decision::keygen(args),
        Command::VerifyDecision(args) => commands::decision::verify(&rt, args),
        Command::Policy(args) => commands::policy::policy(&rt, args),
        Command::Cache(args) => commands::cache::cache(args),
        Command::Schema(args) => commands::schema::schema(args),
        Command::Completions(args) => commands::completions::completions(args),
        Command::Man => commands::completions::man(),
    }
}
