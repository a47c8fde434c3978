//! Detached minisign (Ed25519) signatures on policy modules.
//!
//! When a `[[policy]]` names a `public_key`, its module must carry a valid minisign signature by
//! that key, or it is refused before it is compiled, like a digest mismatch. The signature is
//! read from `signature` (a path relative to the config file, or an `https://` URL), else from
//! the module's own source with `.minisig` appended. Signatures of remote modules are kept in
//! the module store beside them, so `--offline` runs still verify.

use std::path::{Path, PathBuf};

use minisign_verify::{PublicKey, Signature};

/// A signature requirement from `preflight.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignaturePin {
    /// The minisign public key: the base64 line (`RW…`) or a whole `.pub` file's text.
    pub public_key: String,
    /// Where the signature is: a path (already resolved against the config's folder) or a URL.
    /// `None`: the module's source with `.minisig` appended.
    pub signature: Option<String>,
    /// Where the requirement was written, for messages.
    pub pinned_by: String,
}

/// Parses a public key given as its base64 line or as a `.pub` file's text.
///
/// # Errors
/// A message saying what a key looks like.
pub fn public_key(text: &str) -> Result<PublicKey, String> {
    let text = text.trim();
    let parsed = if text.contains('\n') {
        PublicKey::decode(text)
    } else {
        PublicKey::from_base64(text)
    };
    parsed.map_err(|err| {
        format!("`public_key` is not a minisign public key ({err}): give the `RW…` line of the .pub file")
    })
}

/// Where the signature of a module from `source` is, when the config does not say.
pub fn default_location(source: &str) -> Option<String> {
    if source.starts_with(crate::oci::SCHEME) || source.starts_with("builtin:") {
        None
    } else {
        Some(format!("{source}.minisig"))
    }
}

/// The stored signature of a stored module.
fn stored_path(sha256: &str) -> Option<PathBuf> {
    crate::store::dir().map(|dir| dir.join(format!("{}.minisig", sha256.to_ascii_lowercase())))
}

/// Reads the signature text: from the store for remote modules when present, else from its
/// location (downloading unless `offline`).
fn read(location: &str, sha256: &str, remote: bool, offline: bool) -> Result<String, String> {
    if remote
        && let Some(text) = stored_path(sha256).and_then(|path| {
            crate::files::read_to_string(&path, crate::files::InputKind::Signature).ok()
        })
    {
        return Ok(text);
    }
    if location.starts_with("https://") || location.starts_with("http://") {
        if offline {
            return Err(format!(
                "the signature `{location}` is not in the module store and --offline forbids downloading it"
            ));
        }
        let bytes = crate::store::download(location)?;
        String::from_utf8(bytes).map_err(|_| format!("the signature `{location}` is not text"))
    } else {
        crate::files::read_to_string(Path::new(location), crate::files::InputKind::Signature)
            .map_err(|err| format!("cannot read the signature: {err}"))
    }
}

/// Checks a module's bytes against a signature requirement; on success, keeps the signature of
/// a remote module in the store.
///
/// # Errors
/// A message naming the signature and why it does not verify.
pub fn verify(
    pin: &SignaturePin,
    source: &str,
    sha256: &str,
    bytes: &[u8],
    remote: bool,
    offline: bool,
) -> Result<(), String> {
    let key = public_key(&pin.public_key)?;
    let location = pin
        .signature
        .clone()
        .or_else(|| default_location(source))
        .ok_or_else(|| {
            format!("name the module's signature with `signature = \"PATH-or-URL\"` in {}; an oci:// source has no default location", pin.pinned_by)
        })?;
    let text = read(&location, sha256, remote, offline)?;
    let signature = Signature::decode(&text)
        .map_err(|err| format!("`{location}` is not a minisign signature: {err}"))?;
    // Legacy (non-prehashed) signatures are accepted, as `minisign -V` accepts them.
    key.verify(bytes, &signature, true).map_err(|err| {
        let why = match err {
            minisign_verify::Error::UnexpectedKeyId => {
                "it was made with another key than the `public_key`".to_owned()
            }
            other => format!("it does not match the module's bytes ({other})"),
        };
        format!("the signature `{location}` does not verify: {why}")
    })?;
    if remote && let Some(path) = stored_path(sha256) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = crate::files::write_cache(&path, text.as_bytes());
    }
    Ok(())
}
