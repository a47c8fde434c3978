//! The artifact collector: which of the release's expected files exist.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The artifacts a release should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactSpec {
    /// Paths whose absence blocks the release.
    pub required: Vec<String>,
    /// Paths whose absence is listed in `artifacts_missing`.
    pub optional: Vec<String>,
}

impl Default for ArtifactSpec {
    /// The seed's definition-of-done checklist, optional.
    fn default() -> Self {
        ArtifactSpec {
            required: Vec::new(),
            optional: vec!["docs/DOD_CHECKLIST.md".to_owned()],
        }
    }
}

/// The project folder could not be examined.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot check artifacts in `{root}`: {message}")]
#[diagnostic(help("pass the project folder with `--root`"))]
pub struct ArtifactError {
    /// The project folder.
    pub root: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// Checks which artifacts exist under `root` and returns the `artifacts` section.
///
/// # Errors
/// When `root` is not a folder.
pub fn collect(root: &Path, spec: &ArtifactSpec) -> Result<Value, ArtifactError> {
    if !root.is_dir() {
        return Err(ArtifactError {
            root: root.to_owned(),
            message: "not a folder".to_owned(),
        });
    }
    let missing = |paths: &[String]| -> Vec<String> {
        paths
            .iter()
            .filter(|path| !root.join(path).exists())
            .cloned()
            .collect()
    };
    let checked: Vec<&String> = spec.required.iter().chain(&spec.optional).collect();
    Ok(json!({
        "artifacts": {
            "checked": checked,
            "missing": missing(&spec.optional),
            "missing_required": missing(&spec.required),
        }
    }))
}
