//! Merging fact documents and writing them canonically.

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

/// The fact set's canonical JSON, RFC 8785 (JSON Canonicalization Scheme): object keys sorted
/// by UTF-16 code units, no whitespace, numbers as ECMAScript writes them (`7.0` is `7`), strings
/// with the minimal escapes. The same fact set always hashes the same, and any JCS
/// implementation gives the same bytes.
pub fn canonical_json(value: &Value) -> String {
    // A `Value` always canonicalizes (its numbers are finite); the fallback is never taken.
    serde_json_canonicalizer::to_string(value).unwrap_or_else(|_| value.to_string())
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
    fn canonical_json_is_rfc_8785() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": [true, null, "x"]})),
            r#"{"a":[true,null,"x"],"b":1}"#
        );
        // RFC 8785 section 3.2.2.3: numbers as ECMAScript writes them.
        assert_eq!(
            canonical_json(&json!({"x": 7.0, "y": 1e21, "z": 0.000001, "w": -0.0})),
            r#"{"w":0,"x":7,"y":1e+21,"z":0.000001}"#
        );
        // Keys sorted by UTF-16 code units, not bytes: U+1F600 (the surrogate pair D83D DE00)
        // sorts before U+E000, where UTF-8 byte order would put it after.
        assert_eq!(
            canonical_json(&json!({"\u{E000}": 2, "\u{1F600}": 1})),
            "{\"\u{1F600}\":1,\"\u{E000}\":2}"
        );
    }
}
