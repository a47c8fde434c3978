//! The sandbox's own calls into the operating system: build-time machine code handed to
//! wasmtime as a sealed in-memory file, and the process limits that explain a sandbox that
//! cannot be set up.
//!
//! `Module::deserialize` copies machine code into fresh anonymous memory: on a first run that is
//! one page fault for each of the gate's 389 pages. Written to a `memfd` and sealed, the same
//! bytes are mapped by `Module::deserialize_open_file`, which faults in only the pages the
//! evaluation touches (a few at a time, as for any file) and lets wasmtime map the module's
//! memory image from that file instead of writing a second one. Any failure here (another OS,
//! a kernel or a sandbox without `memfd_create`, a file size limit below the code's size) sends
//! the caller back to the copy.

use std::fs::File;

/// A read-only in-memory file holding `bytes`, sealed so that neither its contents nor its size
/// can change again; `None` where that is not available.
#[cfg(target_os = "linux")]
pub fn sealed_file(bytes: &[u8]) -> Option<File> {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd};

    // Writing past `ulimit -f` raises SIGXFSZ, which ends the process unless ignored.
    let fits = file_size_limit()
        .is_none_or(|limit| u64::try_from(bytes.len()).is_ok_and(|len| len <= limit));
    if bytes.is_empty() || !fits {
        return None;
    }
    let name = c"preflight-machine-code";
    // `MFD_EXEC` says the file is meant to be mapped executable (kernels that restrict
    // executable memfds by default honour it); older kernels do not know the flag.
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), flags | libc::MFD_EXEC) };
    if fd < 0 {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    }
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just returned by `memfd_create` and is owned by nothing else.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(bytes).ok()?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: `F_ADD_SEALS` takes an open descriptor and an int; the file is not mapped yet.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return None;
    }
    Some(file)
}

/// Elsewhere the caller copies.
#[cfg(not(target_os = "linux"))]
pub fn sealed_file(_bytes: &[u8]) -> Option<File> {
    None
}

/// A soft limit read by `get` (a `getrlimit` call); `None` when unlimited. An unreadable
/// limit reads as 0, so callers stay on their cautious path.
#[cfg(target_os = "linux")]
fn soft_limit(get: impl FnOnce(&mut libc::rlimit) -> libc::c_int) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if get(&mut limit) != 0 {
        return Some(0);
    }
    (limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// The file size limit (`ulimit -f`) in bytes, where one is set.
#[cfg(target_os = "linux")]
fn file_size_limit() -> Option<u64> {
    // SAFETY: `getrlimit` writes one `rlimit` through a valid pointer.
    soft_limit(|limit| unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, limit) })
}

/// The address space limit (`ulimit -v`) in bytes, where one is set.
#[cfg(target_os = "linux")]
pub fn address_space_limit() -> Option<u64> {
    // SAFETY: `getrlimit` writes one `rlimit` through a valid pointer.
    soft_limit(|limit| unsafe { libc::getrlimit(libc::RLIMIT_AS, limit) })
}

/// Elsewhere none is looked for.
#[cfg(not(target_os = "linux"))]
pub fn address_space_limit() -> Option<u64> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    #[test]
    fn the_file_holds_the_bytes_and_cannot_change() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut file = sealed_file(&bytes).expect("memfd");
        let mut read = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut read).unwrap();
        assert_eq!(read, bytes);
        file.seek(SeekFrom::Start(0)).unwrap();
        assert!(file.write_all(b"changed").is_err(), "sealed against writes");
        assert!(file.set_len(1).is_err(), "sealed against shrinking");
        assert!(file.set_len(20_000).is_err(), "sealed against growing");
        assert_eq!(file.metadata().unwrap().len(), 10_000);
    }

    #[test]
    fn nothing_to_seal_is_no_file() {
        assert!(sealed_file(&[]).is_none());
    }
}
