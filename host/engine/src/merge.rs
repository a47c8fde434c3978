//! Merging fact documents and writing them canonically.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Deep-merges `overlay` into `base`: objects merge key by key; anything else replaces.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Sets `a.b.c` to `value`, creating objects on the way.
///
/// # Errors
/// When a prefix of the path holds something that is not an object.
pub fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut current = root;
    let mut walked = String::new();
    let segments: Vec<&str> = path.split('.').collect();
    let Some((last, parents)) = segments.split_last() else {
        return Err("empty key".to_owned());
    };
    for segment in parents {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(segment);
        let Value::Object(map) = current else {
            return Err(format!(
                "`{walked}` is inside a value that is not an object"
            ));
        };
        current = map
            .entry((*segment).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    match current {
        Value::Object(map) => {
            map.insert((*last).to_owned(), value);
            Ok(())
        }
        other => Err(format!(
            "`{walked}` is a {}, not an object",
            crate::json::kind(other)
        )),
    }
}

/// JSON with object keys sorted and no whitespace: the same fact set always hashes the same.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(value) = map.get(key) {
                    write_canonical(value, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_deep_for_objects_and_replaces_the_rest() {
        let mut base =
            json!({"scores": {"readiness": 1, "mvp": 2}, "artifacts": {"missing": ["a"]}});
        merge(
            &mut base,
            json!({"scores": {"mvp": 9}, "artifacts": {"missing": []}}),
        );
        assert_eq!(
            base,
            json!({"scores": {"readiness": 1, "mvp": 9}, "artifacts": {"missing": []}})
        );
    }

    #[test]
    fn set_path_creates_objects_and_refuses_scalars() {
        let mut root = json!({"complexity": "low"});
        set_path(&mut root, "scores.readiness", json!(7)).unwrap();
        assert_eq!(root["scores"]["readiness"], json!(7));
        let err = set_path(&mut root, "complexity.level", json!(1)).unwrap_err();
        assert!(err.contains("`complexity` is a string"), "{err}");
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": [true, null, "x"]})),
            r#"{"a":[true,null,"x"],"b":1}"#
        );
    }
}
