//! Helpers for the generated JSON Schemas.

use schemars::{Schema, SchemaGenerator, json_schema};

/// A free-form JSON object.
pub fn object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object" })
}

/// The `custom` section: an object keyed by namespace (lowercase letters, digits and `-`,
/// starting with a letter), each value any JSON.
pub fn custom_sections(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "propertyNames": { "pattern": crate::facts::CUSTOM_NAMESPACE_PATTERN },
        "additionalProperties": true
    })
}
