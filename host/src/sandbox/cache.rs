//! The compiled-module cache: compiling a module costs tens of milliseconds, loading a compiled
//! one well under one. Entries are keyed by (module sha256, wasmtime version, engine settings)
//! and carry an XXH3-128 checksum of their own bytes, so a corrupt, truncated or foreign entry is
//! detected, removed and recompiled, never trusted.
//!
//! The checksum guards against damage, not against an attacker: whoever can write the cache
//! folder can write a matching checksum too, whatever the hash, so a cryptographic hash would
//! add nothing there and cost more than loading the module (sha256 of a 1.1 MB entry took
//! 0.7 ms; XXH3 takes well under 0.1 ms). The module bytes themselves are still pinned and
//! checked by sha256 before anything is compiled or loaded.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// Follows the compiled artifact, then the checksum of the artifact. The artifact comes first
/// so wasmtime can map the file as it is.
const TRAILER: &[u8] = b"\npreflight-compiled-module v2 xxh3-128 ";

/// Hex digits of the checksum after [`TRAILER`].
const CHECKSUM_HEX: usize = 32;

fn checksum(payload: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(payload))
}

/// Whether `entry` is an artifact followed by our trailer and its correct checksum.
fn intact(entry: &[u8]) -> bool {
    entry
        .len()
        .checked_sub(TRAILER.len() + CHECKSUM_HEX)
        .and_then(|end| {
            let (payload, rest) = entry.split_at(end);
            rest.strip_prefix(TRAILER)
                .map(|sum| checksum(payload).as_bytes() == sum)
        })
        .unwrap_or(false)
}

/// A folder of compiled modules.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// The default cache folder: `$PREFLIGHT_HOME/compiled`, else the user cache folder.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("PREFLIGHT_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home).join("compiled"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("preflight").join("compiled"))
}

impl Cache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, engine: &Engine, module_sha256: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        // The compatibility hash covers the wasmtime version, target and compiler settings.
        let key = Sha256::digest(format!(
            "{module_sha256}:{}:{:016x}",
            env!("CARGO_PKG_VERSION"),
            hasher.finish()
        ));
        self.dir.join(format!("{}.cwasm", hex::encode(key)))
    }

    /// The compiled module, loaded from the cache or compiled and stored. Cache failures are
    /// never fatal: the module is compiled instead.
    ///
    /// # Errors
    /// The compiler's error when the module does not compile.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        module_sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Module, bool)> {
        let path = self.path(engine, module_sha256);
        if let Some(module) = self.read(engine, &path) {
            return Ok((module, true));
        }
        let module = Module::new(engine, bytes)?;
        if let Ok(serialized) = module.serialize() {
            let _ = self.write(&path, &serialized);
        }
        Ok((module, false))
    }

    fn read(&self, engine: &Engine, path: &Path) -> Option<Module> {
        let file = std::fs::File::open(path).ok()?;
        // SAFETY: entries are only ever created whole by `write` (write, then rename), never
        // changed in place, so the mapped bytes do not change while they are mapped.
        let verified = unsafe { memmap2::Mmap::map(&file) }
            .ok()
            .is_some_and(|mapped| intact(&mapped));
        if !verified {
            // Corrupt, truncated or not ours: drop it and compile again.
            let _ = std::fs::remove_file(path);
            return None;
        }
        // SAFETY: `Module::deserialize_open_file` requires a file written by `Module::serialize`
        // of a compatible engine that does not change while the module lives. The checksum
        // just verified was written by `write` below after bytes from `Module::serialize`; the
        // file name includes the engine's compatibility hash and the wasmtime version; wasmtime
        // also checks its own header and refuses foreign artifacts with an error, which sends us
        // back to compiling. Entries are replaced by rename, never rewritten in place, so this
        // open file keeps the verified bytes. The trailer after the artifact is outside every
        // section wasmtime reads.
        match unsafe { Module::deserialize_open_file(engine, file) } {
            Ok(module) => Some(module),
            Err(_) => {
                let _ = std::fs::remove_file(path);
                None
            }
        }
    }

    fn write(&self, path: &Path, serialized: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut data = Vec::with_capacity(serialized.len() + TRAILER.len() + CHECKSUM_HEX);
        data.extend_from_slice(serialized);
        data.extend_from_slice(TRAILER);
        data.extend_from_slice(checksum(serialized).as_bytes());
        // Write then rename, so a concurrent reader never sees half a file.
        let temp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temp, data)?;
        std::fs::rename(&temp, path)
    }

    /// Removes every cached module; returns how many.
    ///
    /// # Errors
    /// When the folder cannot be read.
    pub fn clear(&self) -> std::io::Result<usize> {
        let mut removed = 0;
        match std::fs::read_dir(&self.dir) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    if entry.path().extension().is_some_and(|e| e == "cwasm")
                        && std::fs::remove_file(entry.path()).is_ok()
                    {
                        removed += 1;
                    }
                }
                Ok(removed)
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(err) => Err(err),
        }
    }
}

/// The cache the CLI uses: [`default_dir`], unless `PREFLIGHT_CACHE` is `off`, `0` or `false`.
pub fn from_env() -> Option<Cache> {
    let disabled = std::env::var("PREFLIGHT_CACHE").is_ok_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    });
    if disabled {
        None
    } else {
        default_dir().map(Cache::new)
    }
}
