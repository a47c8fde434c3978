//! Custom fact sections: a team's own evidence under `custom.NAMESPACE`, read from a JSON or
//! YAML file (optionally at a JSON pointer) or from environment variables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use preflight_engine::files::InputKind;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::input::Root;
use crate::input::{self, CollectError};

/// `[custom.NAME]` in `preflight.toml`: exactly one of `json`, `yaml` or `env`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomSource {
    /// A JSON file (relative to the project root).
    #[serde(default)]
    pub json: Option<String>,
    /// A YAML file (relative to the project root).
    #[serde(default)]
    pub yaml: Option<String>,
    /// A JSON pointer into the file: the section is the value there (default: the whole file).
    #[serde(default)]
    pub pointer: Option<String>,
    /// Environment variables, each a string field named after the variable.
    #[serde(default)]
    pub env: Option<Vec<String>>,
}

/// Reads every configured custom section; returns the `custom` object and the files read.
///
/// # Errors
/// A [`CollectError`] naming the namespace, the file or variable, and what is wrong.
pub fn collect(
    root: &Root,
    sources: &BTreeMap<String, CustomSource>,
) -> Result<(Value, Vec<PathBuf>), CollectError> {
    let mut custom = Map::new();
    let mut files = Vec::new();
    for (namespace, source) in sources {
        let config = Path::new("preflight.toml");
        let bad = |message: String| {
            CollectError::content(config, format!("[custom.{namespace}]: {message}"))
        };
        if !preflight_sdk::facts::is_custom_namespace(namespace) {
            return Err(bad(
                "a namespace is lowercase letters, digits and `-`, starting with a letter"
                    .to_owned(),
            ));
        }
        let value = match (&source.json, &source.yaml, &source.env) {
            (Some(file), None, None) => {
                let path = root.join(file);
                let text = input::read_text(&path, InputKind::Custom)?;
                let value = preflight_engine::json::from_str(&text)
                    .map_err(|err| CollectError::json(&path, &err))?;
                files.push(path.clone());
                at_pointer(&path, value, source.pointer.as_deref())?
            }
            (None, Some(file), None) => {
                let path = root.join(file);
                let text = input::read_text(&path, InputKind::Custom)?;
                let value: Value = serde_norway::from_str(&text).map_err(|err| {
                    let (line, column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
                    CollectError::Syntax {
                        path: path.clone(),
                        line,
                        column,
                        message: err.to_string(),
                    }
                })?;
                files.push(path.clone());
                at_pointer(&path, value, source.pointer.as_deref())?
            }
            (None, None, Some(variables)) => {
                if source.pointer.is_some() {
                    return Err(bad("`pointer` applies to `json` and `yaml` only".to_owned()));
                }
                let mut object = Map::new();
                for variable in variables {
                    let value = std::env::var(variable).map_err(|_| {
                        bad(format!(
                            "the environment variable `{variable}` is not set (or not UTF-8)"
                        ))
                    })?;
                    object.insert(variable.clone(), Value::String(value));
                }
                Value::Object(object)
            }
            _ => {
                return Err(bad(
                    "give exactly one of `json = \"FILE\"`, `yaml = \"FILE\"` or `env = [\"VAR\", ...]`"
                        .to_owned(),
                ));
            }
        };
        custom.insert(namespace.clone(), value);
    }
    Ok((Value::Object(custom), files))
}

fn at_pointer(path: &Path, value: Value, pointer: Option<&str>) -> Result<Value, CollectError> {
    match pointer {
        None => Ok(value),
        Some(pointer) => value.pointer(pointer).cloned().ok_or_else(|| {
            CollectError::content(path, format!("nothing at JSON pointer `{pointer}`"))
        }),
    }
}
