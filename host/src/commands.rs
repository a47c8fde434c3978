//! One module per subcommand, each with its `XxxArgs` and one entry function.

pub mod cache;
pub mod canary;
pub mod completions;
pub mod decision;
pub mod eval;
pub mod facts;
pub mod init;
pub mod policy;
pub mod run;
pub mod scaffold;
pub mod schema;
pub mod serve;
pub mod stream;
pub mod test;
