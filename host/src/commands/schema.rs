//! `preflight schema`: print a JSON Schema generated from the Rust types.

use std::io::Write as _;

use preflight_engine::schema::SchemaKind;

use crate::exit::ExitCode;

/// Which schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaName {
    /// `schemas/facts.schema.json`: the fact set policies receive.
    Facts,
    /// `schemas/policy-output.schema.json`: what a policy returns.
    PolicyOutput,
    /// `schemas/report.schema.json`: the standard report.
    Report,
    /// `schemas/openapi.json`: the API of `preflight serve` (OpenAPI 3.1).
    Openapi,
}

impl SchemaName {
    fn render(self) -> String {
        let kind = match self {
            SchemaName::Facts => SchemaKind::Facts,
            SchemaName::PolicyOutput => SchemaKind::PolicyOutput,
            SchemaName::Report => SchemaKind::Report,
            SchemaName::Openapi => {
                let mut text =
                    serde_json::to_string_pretty(&super::serve::openapi()).unwrap_or_default();
                text.push('\n');
                return text;
            }
        };
        kind.render()
    }
}

/// Arguments of `preflight schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaArgs {
    /// Which schema.
    #[arg(value_enum)]
    pub kind: SchemaName,
}

/// Prints the schema to stdout.
pub fn schema(args: &SchemaArgs) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(args.kind.render().as_bytes()) {
        Ok(()) => ExitCode::Go,
        Err(err) => {
            crate::diagnostic::error(&format!("cannot write the schema: {err}"));
            ExitCode::Error
        }
    }
}
