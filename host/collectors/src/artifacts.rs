//! The artifact collector: which of the release's expected files exist (paths or globs).

use serde::Deserialize;
use serde_json::{Value, json};

use super::input::{self, CollectError};
use crate::input::Root;

/// The artifacts a release should have.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactSpec {
    /// Paths or globs whose absence blocks the release.
    #[serde(default)]
    pub required: Vec<String>,
    /// Paths or globs whose absence is listed in `artifacts_missing`.
    #[serde(default = "default_optional")]
    pub optional: Vec<String>,
}

fn default_optional() -> Vec<String> {
    vec!["docs/DOD_CHECKLIST.md".to_owned()]
}

impl Default for ArtifactSpec {
    /// The seed's definition-of-done checklist, optional.
    fn default() -> Self {
        ArtifactSpec {
            required: Vec::new(),
            optional: default_optional(),
        }
    }
}

/// Checks which artifacts exist under `root` and returns the `artifacts` section.
///
/// # Errors
/// When `root` is not a folder or a glob is invalid.
pub fn collect(root: &Root, spec: &ArtifactSpec) -> Result<Value, CollectError> {
    if !root.is_dir() {
        return Err(CollectError::Root {
            root: root.dir().to_owned(),
        });
    }
    let missing = |patterns: &[String]| -> Result<Vec<String>, CollectError> {
        let mut missing = Vec::new();
        for pattern in patterns {
            if !input::exists(root, pattern)? {
                missing.push(pattern.clone());
            }
        }
        Ok(missing)
    };
    let checked: Vec<&String> = spec.required.iter().chain(&spec.optional).collect();
    Ok(json!({
        "artifacts": {
            "checked": checked,
            "missing": missing(&spec.optional)?,
            "missing_required": missing(&spec.required)?,
        }
    }))
}
