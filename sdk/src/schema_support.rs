//! Helpers for the generated JSON Schemas.

use schemars::{Schema, SchemaGenerator, json_schema};

/// A free-form JSON object.
pub fn object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object" })
}
