//! Shared inputs of the benchmarks.

/// The seed's fact set.
pub const SEED_FACTS: &str = include_str!("../../examples/seed/facts.json");

/// The Rego equivalent of the standard gate.
pub const GATE_REGO: &str = include_str!("../gate.rego");
