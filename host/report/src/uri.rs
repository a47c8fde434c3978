//! Paths as URIs: what SARIF's `artifactLocation.uri` and GitHub expect.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// What a URI path segment may not hold as is (RFC 3986 `pchar`, and `/` kept as separator).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A location's path as a URI reference: a relative path percent-encoded, an absolute path as
/// a `file://` URI (GitHub makes those relative to the checkout when they point inside it).
pub fn from_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    let bytes = path.as_bytes();
    let windows_drive =
        bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/';
    if windows_drive {
        return format!("file:///{}", utf8_percent_encode(&path, SEGMENT));
    }
    if path.starts_with('/') {
        return format!("file://{}", utf8_percent_encode(&path, SEGMENT));
    }
    // A relative reference whose first segment holds `:` would read as a scheme.
    let encoded = utf8_percent_encode(path.trim_start_matches("./"), SEGMENT).to_string();
    match encoded.split('/').next() {
        Some(first) if first.contains(':') => format!("./{encoded}"),
        _ => encoded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(from_path("src/a.py"), "src/a.py");
        assert_eq!(from_path("./src/my file.py"), "src/my%20file.py");
        assert_eq!(from_path("/app/lib/x 1.py"), "file:///app/lib/x%201.py");
        assert_eq!(from_path("a:b/c"), "./a:b/c");
        assert_eq!(from_path("C:\\src\\a.py"), "file:///C:/src/a.py");
        assert_eq!(from_path("50%.txt"), "50%25.txt");
    }
}
