use clap::Parser as _;
use preflight::ExitCode;
use preflight::cli::{Cli, Command};
use preflight::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .terminal_links(false)
                .build(),
        )
    }));
    match &cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Facts(args) => commands::facts::facts(args),
        Command::Init(args) => commands::init::init(args),
        Command::Canary(args) => commands::canary::canary(args),
        Command::Test(args) => commands::test::test(args),
        Command::Policy(args) => commands::policy::policy(args),
        Command::Cache(args) => commands::cache::cache(args),
        Command::Schema(args) => commands::schema::schema(args),
    }
}
