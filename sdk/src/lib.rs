#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod abi;
pub mod arena;
pub mod canary;
pub mod facts;
pub mod guest;
#[cfg(feature = "licenses")]
pub mod license;
pub mod log;
pub mod policy;
#[cfg(feature = "schema")]
pub mod schema_support;
pub mod stats;
#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub mod testing;

pub use facts::FactSet;
pub use policy::{
    ABI_VERSION, CustomFacts, Decision, Issue, Location, PolicyInput, PolicyMetadata, PolicyOutput,
    TypedOutput,
};
