//! Reading the user's inputs and writing the user's files, safely.
//!
//! Every input is a regular file (after following symlinks: never a FIFO, a device or a folder,
//! which could block forever or never end) read up to a cap that depends on what it is; a file
//! over its cap is an error naming it, never a partial read. Every file preflight writes for
//! the user (reports, the lock file, the diff report) is written to a temporary file in the same
//! folder and renamed over the old one, so a full disk or a crash leaves the previous file whole.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// preflight's own folder for caches and stores: `$PREFLIGHT_HOME`, else
/// `$XDG_CACHE_HOME/preflight`, else `~/.cache/preflight`.
pub fn home_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("PREFLIGHT_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("preflight"))
}

/// `path` with `.` components dropped and `..` applied to what precedes them, without touching
/// the filesystem (symlinks are not resolved); a leading `..` that has nothing to undo stays.
pub fn lexical_clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// What an input is, and so how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputKind {
    /// A `--facts` file or a case file's facts: 64 MiB.
    Facts,
    /// One line of `--facts-stream`: 16 MiB.
    StreamLine,
    /// `preflight.toml`: 1 MiB.
    Config,
    /// `preflight.lock`: 1 MiB.
    Lock,
    /// A scanner, JUnit or coverage report: 128 MiB.
    Report,
    /// A Markdown checklist: 8 MiB.
    Checklist,
    /// A JSON file a score is read from: 16 MiB.
    ScoreJson,
    /// A policy module: 64 MiB.
    Module,
    /// A minisign signature: 64 KiB.
    Signature,
    /// A decision case file: 16 MiB.
    Case,
    /// A custom fact section's file: 1 MiB.
    Custom,
}

impl InputKind {
    /// The largest file of this kind preflight reads, in bytes.
    pub const fn cap(self) -> u64 {
        match self {
            InputKind::Facts => 64 << 20,
            InputKind::StreamLine => 16 << 20,
            InputKind::Config | InputKind::Lock => 1 << 20,
            InputKind::Report => 128 << 20,
            InputKind::Checklist => 8 << 20,
            InputKind::ScoreJson | InputKind::Case => 16 << 20,
            InputKind::Module => 64 << 20,
            InputKind::Signature => 64 << 10,
            InputKind::Custom => 1 << 20,
        }
    }

    /// What the input is, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            InputKind::Facts => "fact set files",
            InputKind::StreamLine => "fact stream lines",
            InputKind::Config => "configuration files",
            InputKind::Lock => "lock files",
            InputKind::Report => "scanner, test and coverage reports",
            InputKind::Checklist => "checklists",
            InputKind::ScoreJson => "score files",
            InputKind::Module => "policy modules",
            InputKind::Signature => "signatures",
            InputKind::Case => "case files",
            InputKind::Custom => "custom fact sections",
        }
    }
}

/// An input that could not be read.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(feature = "diagnostics", derive(miette::Diagnostic))]
#[non_exhaustive]
pub enum ReadError {
    /// The operating system refused.
    #[error("cannot read `{path}`: {source}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("check the path and that the file is readable"))
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a regular file.
    #[error("`{path}` is {what}, not a regular file")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help(
            "preflight reads inputs from regular files only (a FIFO or a device could block forever or never end); write the input to a file first"
        ))
    )]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// Over the cap for its kind.
    #[error("`{path}` is over the {cap}-byte limit for {what}")]
    #[cfg_attr(
        feature = "diagnostics",
        diagnostic(help("the limits are listed in docs/reliability.md"))
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The kind of input.
        what: &'static str,
        /// The cap in bytes.
        cap: u64,
    },
}

impl ReadError {
    /// The file.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::NotRegular { path, .. }
            | ReadError::TooLarge { path, .. } => path,
        }
    }
}

/// What a file that is not regular is.
fn describe(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// Opens a file for reading without blocking on a FIFO, and checks that it is a regular file.
fn open_regular(path: &Path) -> Result<(std::fs::File, u64), ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    // Refuse before opening what can be refused by name: opening some devices has effects.
    let metadata = std::fs::metadata(path).map_err(io)?;
    if !metadata.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_owned(),
            what: describe(metadata.file_type()),
        });
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // A FIFO swapped in after the check must not block the open.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    // Check the file actually opened, not the name.
    let metadata = file.metadata().map_err(io)?;
    if !metadata.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_owned(),
            what: describe(metadata.file_type()),
        });
    }
    Ok((file, metadata.len()))
}

/// Reads a regular file of the given kind, whole, up to its cap.
///
/// # Errors
/// [`ReadError::NotRegular`] for FIFOs, devices, sockets and folders (symlinks are followed);
/// [`ReadError::TooLarge`] over the cap; [`ReadError::Io`] otherwise.
pub fn read(path: &Path, kind: InputKind) -> Result<Vec<u8>, ReadError> {
    let (file, len) = open_regular(path)?;
    let cap = kind.cap();
    let too_large = || ReadError::TooLarge {
        path: path.to_owned(),
        what: kind.name(),
        cap,
    };
    if len > cap {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // The length can change while reading; never read more than the cap plus one byte.
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text.
///
/// # Errors
/// As [`read`]; invalid UTF-8 is an [`ReadError::Io`] of kind `InvalidData` naming the offset.
pub fn read_to_string(path: &Path, kind: InputKind) -> Result<String, ReadError> {
    let bytes = read(path, kind)?;
    String::from_utf8(bytes).map_err(|err| ReadError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 (invalid byte at offset {})",
                err.utf8_error().valid_up_to()
            ),
        ),
    })
}

/// Opens a stream input (`--facts-stream`): a regular file or a FIFO; never a device or a
/// folder.
///
/// # Errors
/// [`ReadError::NotRegular`] for devices, sockets and folders, [`ReadError::Io`] otherwise.
pub fn open_stream(path: &Path) -> Result<std::fs::File, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io)?;
    #[cfg(unix)]
    let fifo = {
        use std::os::unix::fs::FileTypeExt as _;
        metadata.file_type().is_fifo()
    };
    #[cfg(not(unix))]
    let fifo = false;
    if !metadata.is_file() && !fifo {
        return Err(ReadError::NotRegular {
            path: path.to_owned(),
            what: describe(metadata.file_type()),
        });
    }
    std::fs::File::open(path).map_err(io)
}

/// Reads one line of at most `cap` bytes (without its `\n`) into `line`.
///
/// Returns `None` at the end of the input, `Some(true)` for a whole line and `Some(false)` for
/// a line over the cap, whose bytes past the cap are read and dropped so memory stays flat.
///
/// # Errors
/// The reader's I/O error.
pub fn read_line(
    reader: &mut impl std::io::BufRead,
    line: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut fits = true;
    let mut any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok(any.then_some(fits));
        }
        any = true;
        let (chunk, end) = match available.iter().position(|b| *b == b'\n') {
            Some(index) => (&available[..index], Some(index + 1)),
            None => (available, None),
        };
        if fits {
            if line.len() + chunk.len() > cap {
                fits = false;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = end.unwrap_or(available.len());
        reader.consume(used);
        if end.is_some() {
            return Ok(Some(fits));
        }
    }
}

/// A file could not be written.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(feature = "diagnostics", derive(miette::Diagnostic))]
#[error("cannot write `{path}`: {source}")]
#[cfg_attr(
    feature = "diagnostics",
    diagnostic(help(
        "check that the folder exists, is writable and has space; the previous file, if any, was left as it was"
    ))
)]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Writes `bytes` to `path` so that the old file stays whole until the new one is: through a
/// temporary file in the same folder, flushed to disk, then renamed over it. A symlink is
/// followed and its target replaced. A path that exists and is not a regular file (a FIFO,
/// `/dev/stdout`) is written directly.
///
/// # Errors
/// A [`WriteError`] naming the path; the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_via_temp(path, bytes, true)
}

/// [`write_atomic`] without flushing to disk first: for caches, whose entries are checked when
/// read, so a torn entry after a power cut is a miss, not a loss.
///
/// # Errors
/// A [`WriteError`] naming the path; the temporary file is removed.
pub fn write_cache(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_via_temp(path, bytes, false)
}

fn write_via_temp(path: &Path, bytes: &[u8], durable: bool) -> Result<(), WriteError> {
    let error = |source| WriteError {
        path: path.to_owned(),
        source,
    };
    let existing = std::fs::metadata(path).ok();
    if let Some(metadata) = &existing
        && !metadata.is_file()
    {
        if metadata.is_dir() {
            return Err(error(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a folder",
            )));
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(error)?;
        return file
            .write_all(bytes)
            .and_then(|()| file.flush())
            .map_err(error);
    }
    // Replace the file a symlink points to, not the symlink.
    let target = match &existing {
        Some(_) => std::fs::canonicalize(path).map_err(error)?,
        None => path.to_owned(),
    };
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            error(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path names no file",
            ))
        })?;
    let temp = temp_path(&folder, &name);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        if let Some(metadata) = &existing {
            file.set_permissions(metadata.permissions())?;
        }
        if durable {
            file.sync_all()?;
        }
        drop(file);
        std::fs::rename(&temp, &target)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(error(err));
    }
    Ok(())
}

/// A temporary name in `folder` no other writer uses: hidden, with the process id and a
/// counter.
pub fn temp_path(folder: &Path, name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    folder.join(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Whether two paths name the same file (after symlinks; hard links count). A path that does
/// not exist names no file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_over_the_cap_are_dropped_and_the_next_is_read() {
        let mut input: &[u8] = b"short\nmuch too long a line\n\nlast";
        let mut reader = std::io::BufReader::with_capacity(4, &mut input);
        let mut line = Vec::new();
        let mut seen = Vec::new();
        while let Some(fits) = read_line(&mut reader, &mut line, 8).unwrap() {
            seen.push((fits, String::from_utf8(line.clone()).unwrap()));
        }
        assert_eq!(
            seen,
            vec![
                (true, "short".to_owned()),
                (false, String::new()),
                (true, String::new()),
                (true, "last".to_owned()),
            ]
        );
    }

    #[test]
    fn devices_and_folders_are_refused() {
        let err = read(Path::new("/dev/zero"), InputKind::Facts).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular { .. }), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path(), InputKind::Facts).unwrap_err();
        assert!(err.to_string().contains("a folder"), "{err}");
    }

    #[test]
    fn atomic_writes_replace_and_keep_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let missing = dir.path().join("no/such/folder/report.json");
        assert!(write_atomic(&missing, b"x").is_err());
    }
}
