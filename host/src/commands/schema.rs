//! `preflight schema`: print a JSON Schema generated from the Rust types.

use std::io::Write as _;

use crate::exit::ExitCode;
use crate::schema::SchemaKind;

/// Arguments of `preflight schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaArgs {
    /// Which schema.
    #[arg(value_enum)]
    pub kind: SchemaKind,
}

/// Prints the schema to stdout.
pub fn schema(args: &SchemaArgs) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(args.kind.render().as_bytes()) {
        Ok(()) => ExitCode::Go,
        Err(err) => {
            eprintln!("error: cannot write the schema: {err}");
            ExitCode::Error
        }
    }
}
