//! The content-addressed module store: modules pulled over HTTPS or from an OCI registry live under
//! `$PREFLIGHT_HOME/modules/sha256/HEX.wasm`, so later runs work offline, and every read checks
//! the bytes against their name.

use std::path::PathBuf;
use std::time::Duration;

use crate::sandbox::sha256_hex;

/// The largest module a remote source may send (64 MiB); more is refused, never buffered.
pub const MAX_MODULE_BYTES: usize = 64 << 20;

/// The store folder.
pub fn dir() -> Option<PathBuf> {
    crate::sandbox::cache::default_dir().and_then(|compiled| {
        compiled
            .parent()
            .map(|home| home.join("modules").join("sha256"))
    })
}

/// A module from the store, when present and intact.
pub fn get(sha256: &str) -> Option<Vec<u8>> {
    let path = dir()?.join(format!("{}.wasm", sha256.to_ascii_lowercase()));
    let bytes = crate::files::read(&path, crate::files::InputKind::Module).ok()?;
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
/// When the store cannot be written.
pub fn put(bytes: &[u8]) -> Result<String, String> {
    let sha256 = sha256_hex(bytes);
    let dir = dir().ok_or_else(|| "no store folder: set PREFLIGHT_HOME".to_owned())?;
    std::fs::create_dir_all(&dir).map_err(|err| format!("`{}`: {err}", dir.display()))?;
    let path = dir.join(format!("{sha256}.wasm"));
    crate::files::write_cache(&path, bytes).map_err(|err| err.to_string())?;
    Ok(sha256)
}

/// Fetches a remote module: from an OCI registry for `oci://`, else over HTTPS (or HTTP).
///
/// # Errors
/// A message naming the source and what failed.
pub fn fetch(source: &str) -> Result<Vec<u8>, String> {
    if source.starts_with(crate::oci::SCHEME) {
        crate::oci::pull(source)
    } else {
        download(source)
    }
}

/// Downloads a file over HTTPS (or HTTP) with a timeout.
///
/// # Errors
/// A message naming the URL and what failed.
pub fn download(url: &str) -> Result<Vec<u8>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|err| err.to_string())?;
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|err| format!("cannot download `{url}`: {err}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("cannot download `{url}`: HTTP {status}"));
        }
        let too_large = || {
            format!("cannot download `{url}`: it is over the {MAX_MODULE_BYTES}-byte limit for policy modules")
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_MODULE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| format!("cannot download `{url}`: {err}"))?
        {
            if bytes.len() + chunk.len() > MAX_MODULE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    })
}
