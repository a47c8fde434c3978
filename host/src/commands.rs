//! One module per subcommand, each with its `XxxArgs` and one entry function.

pub mod run;
pub mod schema;
