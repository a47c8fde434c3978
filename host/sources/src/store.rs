//! The content-addressed module store: modules pulled over HTTPS or from an OCI registry live
//! under `$PREFLIGHT_HOME/modules/sha256/HEX.wasm`, so later runs work offline, and every read
//! checks the bytes against their name.

use std::path::{Path, PathBuf};

use preflight_engine::files::{self, InputKind};
use preflight_engine::sandbox::sha256_hex;

/// The default store folder: `modules/sha256` under preflight's home
/// ([`preflight_engine::files::home_dir`]).
pub fn default_dir() -> Option<PathBuf> {
    files::home_dir().map(|home| home.join("modules").join("sha256"))
}

/// A module from the store, when present and intact; a damaged entry is removed.
pub fn get(dir: &Path, sha256: &str) -> Option<Vec<u8>> {
    let path = dir.join(format!("{}.wasm", sha256.to_ascii_lowercase()));
    let bytes = files::read(&path, InputKind::Module).ok()?;
    if sha256_hex(&bytes).eq_ignore_ascii_case(sha256) {
        Some(bytes)
    } else {
        let _ = std::fs::remove_file(&path);
        None
    }
}

/// Stores bytes under their sha256; returns it.
///
/// # Errors
/// A message naming the folder when it cannot be written.
pub fn put(dir: &Path, bytes: &[u8]) -> Result<String, String> {
    let sha256 = sha256_hex(bytes);
    std::fs::create_dir_all(dir).map_err(|err| format!("`{}`: {err}", dir.display()))?;
    let path = dir.join(format!("{sha256}.wasm"));
    files::write_cache(&path, bytes).map_err(|err| err.to_string())?;
    Ok(sha256)
}
