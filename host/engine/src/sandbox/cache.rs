//! The compiled-module cache: compiling a module costs tens of milliseconds, loading a compiled
//! one well under one. Entries are named by (module sha256, preflight version, engine settings)
//! and end in a trailer that binds them to the module's sha256 and the engine's compatibility
//! hash, with a checksum over the artifact and those two. An entry is used only when the
//! checksum holds *and* it names the module being loaded and this engine; anything else — a
//! corrupt, truncated or foreign entry, or another module's entry copied over this one's name —
//! is a miss: removed and recompiled, never run.
//!
//! The checksum is XXH3-128: it guards against damage and mix-ups, not against someone who can
//! write the cache folder and forge a trailer (sha256 of a 1.1 MB entry took 0.7 ms; XXH3 takes
//! well under 0.1 ms). Where the folder is shared and not trusted (a CI cache restored from
//! other branches), set `PREFLIGHT_CACHE_KEY` to a secret: entries are then authenticated with
//! HMAC-SHA256 under that key, and entries written without it (or with another key) are misses.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use hmac::Mac as _;
use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// Starts the trailer that follows the compiled artifact. The artifact comes first so wasmtime
/// can map the file as it is.
const TRAILER: &[u8] = b"\npreflight-compiled-module v3 ";

/// `sha256:<64 hex> engine:<16 hex> ` then the tag.
const BINDING_LEN: usize = "sha256:".len() + 64 + " engine:".len() + 16 + 1;

/// The tag: `xxh3:<32 hex>` or `hmac:<64 hex>`, padded to one length.
const TAG_LEN: usize = "hmac:".len() + 64;

/// How entries are checked.
#[derive(Clone)]
enum Integrity {
    /// XXH3-128: damage and mix-ups.
    Checksum,
    /// HMAC-SHA256 under a secret key: forgery too.
    Keyed(Vec<u8>),
}

impl std::fmt::Debug for Integrity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Integrity::Checksum => f.write_str("Checksum"),
            Integrity::Keyed(_) => f.write_str("Keyed(..)"),
        }
    }
}

impl Integrity {
    /// The tag over the artifact and its binding.
    fn tag(&self, payload: &[u8], binding: &[u8]) -> String {
        let tag = match self {
            Integrity::Checksum => {
                let mut hasher = xxhash_rust::xxh3::Xxh3::new();
                hasher.update(payload);
                hasher.update(binding);
                format!("xxh3:{:032x}", hasher.digest128())
            }
            Integrity::Keyed(key) => {
                // HMAC takes keys of any length.
                let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key) else {
                    return String::new();
                };
                mac.update(payload);
                mac.update(binding);
                format!("hmac:{}", hex::encode(mac.finalize().into_bytes()))
            }
        };
        format!("{tag:<TAG_LEN$}")
    }
}

/// The binding of an entry: which module, which engine.
fn binding(module_sha256: &str, engine_hash: u64) -> String {
    format!(
        "sha256:{:<64} engine:{engine_hash:016x} ",
        module_sha256.to_ascii_lowercase()
    )
}

/// Whether `entry` is an artifact followed by our trailer, bound to this module and engine, with
/// a correct tag.
fn intact(entry: &[u8], integrity: &Integrity, module_sha256: &str, engine_hash: u64) -> bool {
    let Some(end) = entry
        .len()
        .checked_sub(TRAILER.len() + BINDING_LEN + TAG_LEN)
    else {
        return false;
    };
    let (payload, rest) = entry.split_at(end);
    let Some(rest) = rest.strip_prefix(TRAILER) else {
        return false;
    };
    let (bound, tag) = rest.split_at(BINDING_LEN);
    let expected = binding(module_sha256, engine_hash);
    // The binding is compared before the tag is computed: another module's entry is refused
    // without hashing it.
    bound == expected.as_bytes() && integrity.tag(payload, bound).as_bytes() == tag
}

/// A folder of compiled modules.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    integrity: Integrity,
    max_bytes: u64,
}

/// The default size cap of a cache folder: 512 MiB. Past it, the least recently used entries
/// are removed when a new one is written.
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;

/// The default cache folder: `compiled` under preflight's home
/// ([`crate::files::home_dir`]).
pub fn default_dir() -> Option<PathBuf> {
    crate::files::home_dir().map(|home| home.join("compiled"))
}

impl Cache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Cache {
        Cache {
            dir,
            integrity: Integrity::Checksum,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// Caps the folder's size: writing an entry removes the least recently used ones past it.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Cache {
        self.max_bytes = max_bytes;
        self
    }

    /// Authenticates entries with HMAC-SHA256 under `key` instead of a checksum: entries
    /// written without the key are misses. An empty key keeps the checksum.
    #[must_use]
    pub fn with_key(mut self, key: &[u8]) -> Cache {
        if !key.is_empty() {
            self.integrity = Integrity::Keyed(key.to_vec());
        }
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, engine_hash: u64, module_sha256: &str) -> PathBuf {
        let key = Sha256::digest(format!(
            "{}:{}:{engine_hash:016x}",
            module_sha256.to_ascii_lowercase(),
            env!("CARGO_PKG_VERSION"),
        ));
        self.dir
            .join(format!("{}{}.cwasm", version_prefix(), hex::encode(key)))
    }

    /// The compiled module for `module_sha256`, when the cache holds a sound entry for it and
    /// this engine; a damaged or mismatched entry is removed.
    pub fn load(&self, engine: &Engine, module_sha256: &str) -> Option<Module> {
        let engine_hash = engine_hash(engine);
        let path = self.path(engine_hash, module_sha256);
        let module = self.read(engine, &path, module_sha256, engine_hash)?;
        // Mark it used, for the eviction order.
        if let Ok(file) = std::fs::File::options().write(true).open(&path) {
            let _ = file.set_modified(std::time::SystemTime::now());
        }
        Some(module)
    }

    /// Stores a compiled module under the sha256 of its bytes. Failures are ignored: the cache
    /// only saves time.
    pub fn store(&self, engine: &Engine, module_sha256: &str, module: &Module) {
        let engine_hash = engine_hash(engine);
        let path = self.path(engine_hash, module_sha256);
        if let Ok(serialized) = module.serialize()
            && self
                .write(&path, &serialized, module_sha256, engine_hash)
                .is_ok()
        {
            self.evict(&path);
        }
    }

    /// Removes entries written by another version of preflight (they can never be used again),
    /// then the least recently used entries until the folder is under its cap. `keep` (the entry
    /// just written) stays. Entries of this version for another engine stay until they are the
    /// least recently used: a run and a stream use two engines with different settings, and the
    /// one cache serves both.
    fn evict(&self, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let current = version_prefix();
        let mut live: Vec<(std::time::SystemTime, u64, PathBuf)> = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "cwasm") || path == keep {
                continue;
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if !metadata.is_file() {
                continue;
            }
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with(&current) {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let used = metadata.modified().unwrap_or(std::time::UNIX_EPOCH);
            live.push((used, metadata.len(), path));
        }
        let kept = std::fs::metadata(keep).map_or(0, |m| m.len());
        let mut total: u64 = kept + live.iter().map(|(_, size, _)| size).sum::<u64>();
        live.sort();
        for (_, size, path) in live {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(size);
            }
        }
    }

    fn read(
        &self,
        engine: &Engine,
        path: &Path,
        module_sha256: &str,
        engine_hash: u64,
    ) -> Option<Module> {
        let file = std::fs::File::open(path).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        // SAFETY: entries are only ever created whole by `write` (write, then rename), never
        // changed in place, so the mapped bytes do not change while they are mapped.
        let verified = unsafe { memmap2::Mmap::map(&file) }
            .ok()
            .is_some_and(|mapped| intact(&mapped, &self.integrity, module_sha256, engine_hash));
        if !verified {
            // Corrupt, truncated or not ours: drop it and compile again.
            let _ = std::fs::remove_file(path);
            return None;
        }
        // SAFETY: `Module::deserialize_open_file` requires a file written by `Module::serialize`
        // of a compatible engine that does not change while the module lives. The tag just
        // verified was written by `write` below after bytes from `Module::serialize`, and binds
        // them to this module's sha256 and this engine's compatibility hash; wasmtime
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

    fn write(
        &self,
        path: &Path,
        serialized: &[u8],
        module_sha256: &str,
        engine_hash: u64,
    ) -> Result<(), crate::files::WriteError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| crate::files::WriteError {
            path: self.dir.clone(),
            source,
        })?;
        let bound = binding(module_sha256, engine_hash);
        let tag = self.integrity.tag(serialized, bound.as_bytes());
        let mut data = Vec::with_capacity(serialized.len() + TRAILER.len() + BINDING_LEN + TAG_LEN);
        data.extend_from_slice(serialized);
        data.extend_from_slice(TRAILER);
        data.extend_from_slice(bound.as_bytes());
        data.extend_from_slice(tag.as_bytes());
        // Write then rename, so a concurrent reader never sees half a file.
        crate::files::write_cache(path, &data)
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

/// How the names of this version's entries start.
fn version_prefix() -> String {
    format!("{}-", env!("CARGO_PKG_VERSION"))
}

/// The engine's compatibility hash: the wasmtime version, target and compiler settings.
fn engine_hash(engine: &Engine) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

/// The cache the CLI uses: [`default_dir`], unless `PREFLIGHT_CACHE` is `off`, `0` or `false`;
/// keyed with `PREFLIGHT_CACHE_KEY` when it is set, capped at `PREFLIGHT_CACHE_MAX_MB` MiB
/// (default 512).
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
        let key = std::env::var_os("PREFLIGHT_CACHE_KEY").unwrap_or_default();
        let max_bytes = std::env::var("PREFLIGHT_CACHE_MAX_MB")
            .ok()
            .and_then(|mb| mb.trim().parse::<u64>().ok())
            .map_or(DEFAULT_MAX_BYTES, |mb| mb.saturating_mul(1 << 20));
        default_dir().map(|dir| {
            Cache::new(dir)
                .with_key(key.as_encoded_bytes())
                .with_max_bytes(max_bytes)
        })
    }
}
