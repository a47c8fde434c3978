//! Reading collector inputs: globs, files, and errors that name the file and the position.

use std::path::{Path, PathBuf};

/// A collector input that could not be used. Never skipped silently, never a GO.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CollectError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}")]
    #[diagnostic(help(
        "check the path in preflight.toml (paths are relative to the project root)"
    ))]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A configured pattern matched no file.
    #[error("`{pattern}` matches no file under `{root}`")]
    #[diagnostic(help(
        "a configured input must exist: produce it earlier in the pipeline or remove it from preflight.toml"
    ))]
    NoMatch {
        /// The pattern.
        pattern: String,
        /// The project root.
        root: PathBuf,
    },
    /// A pattern is not a valid glob.
    #[error("`{pattern}` is not a valid glob: {message}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
    /// The file is empty.
    #[error("`{path}` is empty")]
    #[diagnostic(help("the tool that writes it probably failed; rerun it"))]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file does not parse.
    #[error("`{path}` line {line}, column {column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file parses but is not what the collector expects.
    #[error("`{path}`: {message}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the position or JSON pointer where known.
        message: String,
    },
    /// The project root is not a folder.
    #[error("the project root `{root}` is not a folder")]
    #[diagnostic(help("pass the project folder with `--root`"))]
    Root {
        /// The root.
        root: PathBuf,
    },
}

impl CollectError {
    /// A content error.
    pub fn content(path: &Path, message: impl Into<String>) -> CollectError {
        CollectError::Content {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// A syntax error at a byte offset of `text`.
    pub fn at_offset(
        path: &Path,
        text: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> CollectError {
        let (line, column) = line_column(text, offset);
        CollectError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A JSON syntax or shape error.
    pub fn json(path: &Path, err: &serde_json::Error) -> CollectError {
        CollectError::Syntax {
            path: path.to_owned(),
            line: err.line(),
            column: err.column(),
            message: super::json_error_message(err),
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Expands a pattern (a path or a glob) relative to `root`; an empty match is an error.
///
/// # Errors
/// [`CollectError::BadPattern`] or [`CollectError::NoMatch`].
pub fn expand(root: &Path, pattern: &str) -> Result<Vec<PathBuf>, CollectError> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        root.join(pattern)
    };
    let text = full.to_string_lossy().into_owned();
    let paths = glob::glob(&text).map_err(|err| CollectError::BadPattern {
        pattern: pattern.to_owned(),
        message: err.msg.to_owned(),
    })?;
    let mut found: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(CollectError::NoMatch {
            pattern: pattern.to_owned(),
            root: root.to_owned(),
        });
    }
    Ok(found)
}

/// True when the pattern matches at least one file or folder under `root`.
///
/// # Errors
/// [`CollectError::BadPattern`].
pub fn exists(root: &Path, pattern: &str) -> Result<bool, CollectError> {
    let text = root.join(pattern).to_string_lossy().into_owned();
    let mut paths = glob::glob(&text).map_err(|err| CollectError::BadPattern {
        pattern: pattern.to_owned(),
        message: err.msg.to_owned(),
    })?;
    Ok(paths.any(|p| p.is_ok()))
}

/// Reads a file as UTF-8 text (a UTF-8 byte-order mark is dropped); empty files are errors.
///
/// # Errors
/// [`CollectError::Read`], [`CollectError::Empty`], or [`CollectError::Syntax`] at the first
/// byte that is not UTF-8.
pub fn read_text(path: &Path) -> Result<String, CollectError> {
    let bytes = std::fs::read(path).map_err(|source| CollectError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CollectError::Empty {
            path: path.to_owned(),
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(err) => {
            let valid = String::from_utf8_lossy(&bytes[..err.valid_up_to()]).into_owned();
            Err(CollectError::at_offset(
                path,
                &valid,
                valid.len(),
                "the file is not UTF-8 (preflight reads UTF-8 reports)",
            ))
        }
    }
}

/// The path as shown in facts: relative to `root` when it is inside it, `/`-separated.
pub fn display_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.to_string_lossy().replace('\\', "/")
}

/// A path reported by a tool, made relative to the project root when it points inside it.
pub fn normalize_reported(root: &Path, reported: &str) -> String {
    let mut text = reported
        .strip_prefix("file://")
        .unwrap_or(reported)
        .to_owned();
    if text.contains('%') {
        text = percent_decode(&text);
    }
    let path = Path::new(&text);
    if path.is_absolute() {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
        if let Ok(relative) = path.strip_prefix(&root) {
            return relative.to_string_lossy().replace('\\', "/");
        }
    }
    text.trim_start_matches("./").to_owned()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(value) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn reported_paths_are_made_relative() {
        assert_eq!(
            normalize_reported(Path::new("/nowhere"), "./src/a.py"),
            "src/a.py"
        );
        assert_eq!(
            normalize_reported(Path::new("/nowhere"), "file:///x/my%20file.py"),
            "/x/my file.py"
        );
    }
}
