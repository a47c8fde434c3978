//! Where a module's detached minisign signature is, and reading it. Verifying it against the
//! module's bytes is `preflight_engine::pin`'s. Signatures of remote modules are kept in the
//! store beside them, so `--offline` runs still verify.

use std::path::{Path, PathBuf};

use preflight_engine::files::{self, InputKind};

use crate::Fetcher;

/// Where the signature of a module from `source` is when the config does not say: the source
/// with `.minisig` appended (none for OCI and built-in sources).
pub fn default_location(source: &str) -> Option<String> {
    if source.starts_with(crate::oci::SCHEME) || source.starts_with("builtin:") {
        None
    } else {
        Some(format!("{source}.minisig"))
    }
}

fn stored_path(fetcher: &Fetcher, sha256: &str) -> Option<PathBuf> {
    fetcher
        .store()
        .map(|dir| dir.join(format!("{}.minisig", sha256.to_ascii_lowercase())))
}

pub(crate) async fn read(
    fetcher: &Fetcher,
    location: &str,
    sha256: &str,
    remote: bool,
) -> Result<String, String> {
    if remote
        && let Some(text) = stored_path(fetcher, sha256)
            .and_then(|path| files::read_to_string(&path, InputKind::Signature).ok())
    {
        return Ok(text);
    }
    if location.starts_with("https://") || location.starts_with("http://") {
        if fetcher.offline {
            return Err(format!(
                "the signature `{location}` is not in the module store and --offline forbids downloading it"
            ));
        }
        let cap = usize::try_from(InputKind::Signature.cap()).unwrap_or(usize::MAX);
        let bytes = crate::http::download(&fetcher.http, location, cap).await?;
        String::from_utf8(bytes).map_err(|_| format!("the signature `{location}` is not text"))
    } else {
        files::read_to_string(Path::new(location), InputKind::Signature)
            .map_err(|err| format!("cannot read the signature: {err}"))
    }
}

pub(crate) fn keep(fetcher: &Fetcher, sha256: &str, text: &str) {
    if let Some(path) = stored_path(fetcher, sha256) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = files::write_cache(&path, text.as_bytes());
    }
}
