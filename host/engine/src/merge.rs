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
///
/// Written directly from the `Value`: every fact set of a run and every line of a stream is
/// hashed, and a general serializer that buffers each property and parses each key again cost
/// a tenth of a stream's time (docs/performance.md). A unit test holds it to
/// `serde_json_canonicalizer` byte for byte.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    // Only JSON text was written, and `serde_json` writes strings as UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| value.to_string())
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // JSON numbers are doubles in JCS, integers included (`serde_json` gives the same
        // conversion for every kind of number). A `Number` is always finite.
        Value::Number(number) => match number.as_f64().filter(|double| double.is_finite()) {
            Some(double) => {
                out.extend_from_slice(ryu_js::Buffer::new().format_finite(double).as_bytes());
            }
            None => out.extend_from_slice(number.to_string().as_bytes()),
        },
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // UTF-8 byte order is code point order, which is UTF-16 order unless a key holds a
            // character from U+E000 on (lead byte 0xEE and above). `serde_json`'s map keeps its
            // keys in byte order (unless a dependency turns on `preserve_order`): then the
            // members are written as they are, without a sorted copy.
            let sorted = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b);
            if sorted && map.keys().all(|key| key.bytes().all(|byte| byte < 0xEE)) {
                write_members(map.iter(), out);
            } else {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
                write_members(members, out);
            }
        }
    }
}

/// An object's members, in the order given.
fn write_members<'a>(
    members: impl IntoIterator<Item = (&'a String, &'a Value)>,
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    for (index, (key, item)) in members.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_canonical(item, out);
    }
    out.push(b'}');
}

/// A JSON string with RFC 8785's escapes, which are `serde_json`'s: `"`, `\\` and the controls
/// (`\b`, `\t`, `\n`, `\f`, `\r`, the rest as `\u00xx`), every other character as itself.
fn write_string(text: &str, out: &mut Vec<u8>) {
    // Writing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
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

    /// A value of every kind, nested up to `depth`, with the keys, strings and numbers where
    /// RFC 8785 differs from plain JSON: keys ordered by UTF-16 units (U+E000 and above against
    /// characters past U+FFFF), escapes, integers past 2^53, doubles at the edges of their range.
    fn random_value(next: &mut impl FnMut() -> u64, depth: u32) -> Value {
        const TEXT: [&str; 18] = [
            "",
            "a",
            "A",
            "aa",
            "b",
            "é",
            "\u{D7FF}",
            "\u{E000}",
            "\u{FFFF}",
            "\u{10000}",
            "\u{1F600}",
            "\"",
            "\\",
            "/",
            "\u{1}\u{1f}",
            "\n\t\r\u{8}\u{c}",
            "\u{7f}",
            "\u{2028}",
        ];
        let text = |next: &mut dyn FnMut() -> u64| {
            (0..next() % 3)
                .map(|_| TEXT[(next() % TEXT.len() as u64) as usize])
                .collect::<String>()
        };
        let kind = if depth == 0 { next() % 5 } else { next() % 7 };
        match kind {
            0 => Value::Null,
            1 => Value::Bool(next().is_multiple_of(2)),
            2 => Value::String(text(next)),
            3 => {
                const EDGES: [f64; 12] = [
                    0.0,
                    -0.0,
                    7.0,
                    1e21,
                    1e-7,
                    1e-6,
                    5e-324,
                    1.7976931348623157e308,
                    0.1,
                    123.456,
                    -2.5e-300,
                    9007199254740993.0,
                ];
                match next() % 5 {
                    0 => Value::from(next()),
                    1 => Value::from(next() as i64),
                    2 => Value::from(EDGES[(next() % EDGES.len() as u64) as usize]),
                    3 => Value::from(f64::from_bits(next())),
                    _ => Value::from(next() % 1000),
                }
            }
            4 => Value::from(u64::MAX - next() % 3),
            5 => Value::Array(
                (0..next() % 4)
                    .map(|_| random_value(next, depth - 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..next() % 6)
                    .map(|_| (text(next), random_value(next, depth - 1)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn canonical_json_matches_the_reference_implementation() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut objects = 0;
        for _ in 0..20_000 {
            let value = random_value(&mut next, 4);
            objects += usize::from(value.is_object());
            let reference = serde_json_canonicalizer::to_string(&value).unwrap();
            assert_eq!(canonical_json(&value), reference, "{value:?}");
        }
        assert!(objects > 2_000, "{objects} objects");
        // The repository's own JSON documents: schemas, fixtures, examples.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut documents = 0;
        for folder in ["schemas", "tests/fixtures/reports", "examples/seed"] {
            for entry in std::fs::read_dir(root.join(folder)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|ext| ext == "json") {
                    let value: Value =
                        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                    let reference = serde_json_canonicalizer::to_string(&value).unwrap();
                    assert_eq!(canonical_json(&value), reference, "{}", path.display());
                    documents += 1;
                }
            }
        }
        assert!(documents >= 5, "{documents} documents");
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
