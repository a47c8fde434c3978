//! `preflight facts`: print the gathered, validated fact set without evaluating it. Save it and
//! replay it with `preflight run --facts saved.json --no-collect`.

use std::io::Write as _;
use std::path::PathBuf;

use crate::diagnostic;
use crate::exit::ExitCode;
use crate::inputs::{self, InputArgs};

/// Arguments of `preflight facts`.
#[derive(Debug, Clone, clap::Args)]
pub struct FactsArgs {
    /// Inputs: config, facts, flags.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Write the fact set to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Gathers and prints the fact set; exit 0, or 2 with a diagnostic.
pub fn facts(args: &FactsArgs) -> ExitCode {
    let plan = match inputs::plan(&args.inputs) {
        Ok(plan) => plan,
        Err(err) => {
            diagnostic::print(err);
            return ExitCode::Error;
        }
    };
    let gathered = match preflight_collectors::gather(&plan.sources) {
        Ok(facts) => facts,
        Err(err) => {
            diagnostic::print(err);
            return ExitCode::Error;
        }
    };
    let mut text = serde_json::to_string_pretty(&gathered.value).unwrap_or_default();
    text.push('\n');
    let written = match &args.output {
        Some(path)
            if plan
                .input_files()
                .iter()
                .chain(&gathered.inputs)
                .any(|input| preflight_engine::files::same_file(input, path)) =>
        {
            Err(format!("`{}` is an input of this run", path.display()))
        }
        Some(path) => preflight_engine::files::write_atomic(path, text.as_bytes())
            .map_err(|err| err.to_string()),
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|err| err.to_string()),
    };
    match written {
        Ok(()) => {
            eprintln!("facts sha256 {}", gathered.sha256);
            ExitCode::Go
        }
        Err(err) => {
            diagnostic::error(&format!("cannot write the fact set: {err}"));
            ExitCode::Error
        }
    }
}
