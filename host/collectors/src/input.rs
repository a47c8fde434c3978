//! Reading collector inputs: globs, files, and errors that name the file and the position.

use std::path::{Path, PathBuf};

use preflight_engine::files::lexical_clean;

/// A collector input that could not be used. Never skipped silently, never a GO.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CollectError {
    /// The file could not be read.
    #[error("{source}")]
    #[diagnostic(help(
        "check the path in preflight.toml (paths are relative to the project root)"
    ))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: preflight_engine::files::ReadError,
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
            message: preflight_engine::json::error_message(err),
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

/// Entries a glob may visit before it is refused as too broad.
pub const MAX_GLOB_VISITS: usize = 200_000;

/// Files a glob may match.
pub const MAX_GLOB_MATCHES: usize = 10_000;

/// Whether a pattern has glob syntax (`*`, `?`, `[`).
fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// What a walk collects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Regular files (symlinks to them count; dangling symlinks do not).
    Files,
    /// The first existing file or folder.
    Any,
}

/// Matches a glob under `root` with a bounded walk: the pattern must be relative and stay
/// inside the root, folder symlinks are not followed (no loops), at most
/// [`MAX_GLOB_VISITS`] entries are looked at and [`MAX_GLOB_MATCHES`] kept.
fn walk(root: &Path, pattern: &str, want: Want) -> Result<Vec<PathBuf>, CollectError> {
    let bad = |message: String| CollectError::BadPattern {
        pattern: pattern.to_owned(),
        message,
    };
    let relative = Path::new(pattern);
    if relative.is_absolute()
        || relative.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    {
        return Err(bad(
            "a glob is relative to the project root and stays inside it (no leading `/`, no `..`); name a file outside the root by its plain path".to_owned(),
        ));
    }
    let compiled = glob::Pattern::new(pattern.trim_start_matches("./"))
        .map_err(|err| bad(err.msg.to_owned()))?;
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    // Start below the pattern's literal folders.
    let mut base = root.to_owned();
    let components: Vec<&str> = pattern
        .trim_start_matches("./")
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    for component in components.iter().take(components.len().saturating_sub(1)) {
        if is_glob(component) {
            break;
        }
        base.push(component);
    }
    let mut found = Vec::new();
    let mut visits = 0usize;
    let mut pending = vec![base];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            visits += 1;
            if visits > MAX_GLOB_VISITS {
                return Err(bad(format!(
                    "it looks at more than {MAX_GLOB_VISITS} entries under `{}`; make it narrower",
                    root.display()
                )));
            }
            let path = entry.path();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                pending.push(path.clone());
            }
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            if !compiled.matches_path_with(relative, options) {
                continue;
            }
            // Follow a symlink to see what it names; a dangling one names nothing.
            let Ok(target) = std::fs::metadata(&path) else {
                continue;
            };
            match want {
                Want::Any => return Ok(vec![path]),
                Want::Files if target.is_file() => {
                    found.push(path);
                    if found.len() > MAX_GLOB_MATCHES {
                        return Err(bad(format!(
                            "it matches more than {MAX_GLOB_MATCHES} files; make it narrower"
                        )));
                    }
                }
                Want::Files => {}
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Expands a pattern relative to `root`: a plain path (inside the root or not) names one file;
/// a glob is matched inside the root only. Only regular files match (symlinks are followed;
/// FIFOs, devices and dangling symlinks never match). An empty match is an error.
///
/// # Errors
/// [`CollectError::BadPattern`] or [`CollectError::NoMatch`].
pub fn expand(root: &Path, pattern: &str) -> Result<Vec<PathBuf>, CollectError> {
    let found = if is_glob(pattern) {
        walk(root, pattern, Want::Files)?
    } else {
        let full = root.join(pattern);
        if std::fs::metadata(&full).is_ok_and(|m| m.is_file()) {
            vec![full]
        } else {
            Vec::new()
        }
    };
    if found.is_empty() {
        return Err(CollectError::NoMatch {
            pattern: pattern.to_owned(),
            root: root.to_owned(),
        });
    }
    Ok(found)
}

/// True when the pattern names at least one existing file or folder under `root` (a symlink
/// counts only when what it points to exists).
///
/// # Errors
/// [`CollectError::BadPattern`].
pub fn exists(root: &Path, pattern: &str) -> Result<bool, CollectError> {
    if is_glob(pattern) {
        Ok(!walk(root, pattern, Want::Any)?.is_empty())
    } else {
        Ok(root.join(pattern).exists())
    }
}

/// Reads a regular file of `kind` as UTF-8 text (a UTF-8 byte-order mark is dropped); empty
/// files are errors.
///
/// # Errors
/// [`CollectError::Read`] (also for FIFOs, devices and files over the cap of `kind`),
/// [`CollectError::Empty`], or [`CollectError::Syntax`] at the first byte that is not UTF-8.
pub fn read_text(
    path: &Path,
    kind: preflight_engine::files::InputKind,
) -> Result<String, CollectError> {
    let bytes = preflight_engine::files::read(path, kind).map_err(|source| CollectError::Read {
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

/// The project folder the collectors read in, and the folder the paths they report are
/// relative to (the repository root by default, so that a project in `services/api/` reports
/// `services/api/src/a.py`, as GitHub and GitLab expect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    dir: PathBuf,
    /// `dir`, absolute and lexically clean.
    dir_absolute: PathBuf,
    /// The base paths are shown relative to, absolute and lexically clean.
    base: PathBuf,
    /// `base` with symlinks resolved, for paths tools report after resolving theirs.
    base_resolved: Option<PathBuf>,
}

impl Root {
    /// Reads in `dir` and reports paths relative to it.
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        let dir = dir.into();
        Root::with_base(dir.clone(), dir)
    }

    /// Reads in `dir` and reports paths relative to `base`.
    pub fn with_base(dir: impl Into<PathBuf>, base: impl AsRef<Path>) -> Root {
        let dir = dir.into();
        let base = absolute(base.as_ref());
        Root {
            dir_absolute: absolute(&dir),
            base_resolved: base
                .canonicalize()
                .ok()
                .filter(|resolved| *resolved != base),
            base,
            dir,
        }
    }

    /// The project folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder paths are shown relative to.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// An absolute path as shown: relative to the base when inside it, `/`-separated.
    fn show_absolute(&self, path: &Path) -> String {
        let clean = lexical_clean(path);
        let relative = clean
            .strip_prefix(&self.base)
            .ok()
            .or_else(|| {
                self.base_resolved
                    .as_ref()
                    .and_then(|resolved| clean.strip_prefix(resolved).ok())
            })
            .map_or_else(|| clean.clone(), Path::to_owned);
        let shown = relative.to_string_lossy().replace('\\', "/");
        if shown.is_empty() {
            ".".to_owned()
        } else {
            shown
        }
    }
}

impl std::ops::Deref for Root {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.dir
    }
}

/// `path` made absolute against the working directory, `.` and `..` removed lexically
/// (symlinks are not resolved).
fn absolute(path: &Path) -> PathBuf {
    lexical_clean(&std::path::absolute(path).unwrap_or_else(|_| path.to_owned()))
}

/// A file the collectors read, as shown in facts: relative to the base when inside it,
/// `/`-separated.
pub fn display_path(root: &Root, path: &Path) -> String {
    if path.is_absolute() {
        root.show_absolute(path)
    } else {
        root.show_absolute(
            &root
                .dir_absolute
                .join(path.strip_prefix(&root.dir).unwrap_or(path)),
        )
    }
}

/// A path reported by a tool, as shown in facts: relative to the base when it points inside
/// it, whatever mix of forms the tools wrote.
///
/// Tools write URIs (`file:///work/app/src/a.py`, `src/my%20file.py`) or plain paths; URIs are
/// read with the `url` crate and percent-decoded. A relative path is relative to the project
/// folder (where the tool ran); an absolute path under the base is made relative to it, and
/// one outside it (`/usr/lib/python3/...` in a container) is kept.
pub fn normalize_reported(root: &Root, reported: &str) -> String {
    let text = match url::Url::parse(reported) {
        Ok(uri) if uri.scheme() == "file" => match uri.to_file_path() {
            Ok(path) => path.to_string_lossy().into_owned(),
            Err(()) => decode(uri.path()),
        },
        // A relative reference (or a Windows drive path) is a path, maybe percent-encoded.
        _ => decode(reported),
    };
    let path = Path::new(&text);
    if path.is_absolute() {
        let shown = root.show_absolute(path);
        if !Path::new(&shown).is_absolute() {
            return shown;
        }
        // Under the project folder as resolved (a tool that resolved a symlinked checkout).
        if let Ok(resolved) = root.dir_absolute.canonicalize()
            && let Ok(inside) = lexical_clean(path).strip_prefix(&resolved)
        {
            return root.show_absolute(&root.dir_absolute.join(inside));
        }
        return shown;
    }
    if text.is_empty() {
        return text;
    }
    root.show_absolute(&root.dir_absolute.join(path))
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
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
        let root = Root::new("/nowhere");
        assert_eq!(normalize_reported(&root, "./src/a.py"), "src/a.py");
        assert_eq!(
            normalize_reported(&root, "file:///x/my%20file.py"),
            "/x/my file.py"
        );
        assert_eq!(normalize_reported(&root, "/nowhere/src/b.py"), "src/b.py");
    }

    #[test]
    fn paths_are_shown_relative_to_the_base() {
        let root = Root::with_base("/repo/services/api", "/repo");
        assert_eq!(
            normalize_reported(&root, "src/a.py"),
            "services/api/src/a.py"
        );
        assert_eq!(
            normalize_reported(&root, "file:///repo/services/api/src/a.py"),
            "services/api/src/a.py"
        );
        assert_eq!(
            normalize_reported(&root, "/repo/libs/shared/x.py"),
            "libs/shared/x.py"
        );
        assert_eq!(normalize_reported(&root, "../../libs/y.py"), "libs/y.py");
        assert_eq!(normalize_reported(&root, "/usr/lib/z.py"), "/usr/lib/z.py");
        assert_eq!(
            display_path(&root, Path::new("/repo/services/api/reports/junit.xml")),
            "services/api/reports/junit.xml"
        );
        assert_eq!(
            display_path(
                &root,
                Path::new("/repo/services/api").join("cov.xml").as_path()
            ),
            "services/api/cov.xml"
        );
    }
}
