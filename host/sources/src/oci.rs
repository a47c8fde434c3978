//! Policy modules in OCI registries: `oci://REGISTRY/REPO:TAG` or `oci://REGISTRY/REPO@sha256:…`.
//!
//! A policy is an OCI artifact with one layer of media type
//! `application/vnd.wasm.content.layer.v1+wasm` (the convention `wasm-to-oci`, kwctl and wkg
//! share) and a `application/vnd.wasm.config.v1+json` config. Registries on loopback
//! addresses are spoken to over plain HTTP, as Docker does; others over HTTPS unless listed in
//! `PREFLIGHT_INSECURE_REGISTRIES`. Credentials come from `PREFLIGHT_REGISTRY_USERNAME` and
//! `PREFLIGHT_REGISTRY_PASSWORD`; without them the registry is used anonymously.

use std::collections::BTreeMap;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

/// The scheme of OCI sources.
pub const SCHEME: &str = "oci://";

/// Parses `oci://REGISTRY/REPO:TAG` or `oci://REGISTRY/REPO@sha256:HEX`.
///
/// # Errors
/// A message naming the source and the expected form.
pub fn parse(source: &str) -> Result<Reference, String> {
    let rest = source
        .strip_prefix(SCHEME)
        .ok_or_else(|| format!("`{source}` is not an oci:// reference"))?;
    let registry = rest.split('/').next().unwrap_or_default();
    // Without a registry host, `Reference` would silently pick Docker Hub.
    if !rest.contains('/')
        || !(registry.contains('.') || registry.contains(':') || registry == "localhost")
    {
        return Err(format!(
            "`{source}` does not name a registry: write oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST"
        ));
    }
    rest.parse::<Reference>().map_err(|err| {
        format!("`{source}` is not a valid OCI reference ({err}): write oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST")
    })
}

/// Whether a registry is spoken to over plain HTTP.
fn insecure(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(registry, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback
        || std::env::var("PREFLIGHT_INSECURE_REGISTRIES").is_ok_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|entry| !entry.is_empty() && entry == registry)
        })
}

fn auth() -> RegistryAuth {
    match (
        std::env::var("PREFLIGHT_REGISTRY_USERNAME"),
        std::env::var("PREFLIGHT_REGISTRY_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => RegistryAuth::Basic(user, password),
        _ => RegistryAuth::Anonymous,
    }
}

fn client(reference: &Reference) -> Client {
    let protocol = if insecure(reference.registry()) {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(60)),
        platform_resolver: None,
        ..ClientConfig::default()
    })
}

/// Pulls a policy module from a registry. The manifest is read first: it must name exactly one
/// wasm layer no larger than [`crate::MAX_MODULE_BYTES`], and no more bytes than that
/// are ever buffered. The registry client checks the blob against its digest; the caller still
/// compares the module with its pin.
///
/// # Errors
/// A message naming the reference and what failed.
pub async fn pull(source: &str) -> Result<Vec<u8>, String> {
    let reference = parse(source)?;
    {
        let client = client(&reference);
        let auth = auth();
        let (manifest, _) = client
            .pull_image_manifest(&reference, &auth)
            .await
            .map_err(|err| format!("cannot pull `{source}`: {err}"))?;
        let layer = match manifest.layers.as_slice() {
            [layer] if layer.media_type == WASM_LAYER_MEDIA_TYPE => layer,
            [layer] => {
                return Err(format!(
                    "`{source}` is not a policy artifact: its layer is of type {}, not {WASM_LAYER_MEDIA_TYPE}",
                    layer.media_type
                ));
            }
            layers => {
                return Err(format!(
                    "`{source}` is not a policy artifact: it has {} layers, not one of type {WASM_LAYER_MEDIA_TYPE}",
                    layers.len()
                ));
            }
        };
        let cap = crate::MAX_MODULE_BYTES;
        if usize::try_from(layer.size).map_or(true, |size| size > cap) {
            return Err(format!(
                "`{source}`: the module is {} bytes, over the {cap}-byte limit for policy modules",
                layer.size
            ));
        }
        let mut out = Capped {
            bytes: Vec::new(),
            cap,
        };
        client
            .pull_blob(&reference, layer, &mut out)
            .await
            .map_err(|err| format!("cannot pull `{source}`: {err}"))?;
        Ok(out.bytes)
    }
}

/// A buffer that refuses to grow past its cap.
struct Capped {
    bytes: Vec<u8>,
    cap: usize,
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.bytes.len() + buf.len() > this.cap {
            return std::task::Poll::Ready(Err(std::io::Error::other(format!(
                "the registry sent more than the {}-byte limit for policy modules",
                this.cap
            ))));
        }
        this.bytes.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Pushes a policy module; returns the manifest digest, by which it can be pulled.
///
/// # Errors
/// A message naming the reference and what failed.
pub async fn push(source: &str, wasm: &[u8], name: &str, version: &str) -> Result<String, String> {
    let reference = parse(source)?;
    let annotations = BTreeMap::from([
        ("org.opencontainers.image.title".to_owned(), name.to_owned()),
        (
            "org.opencontainers.image.version".to_owned(),
            version.to_owned(),
        ),
    ]);
    let layer = ImageLayer::new(wasm.to_vec(), WASM_LAYER_MEDIA_TYPE.to_owned(), None);
    let config = Config::new(b"{}".to_vec(), WASM_CONFIG_MEDIA_TYPE.to_owned(), None);
    let manifest = oci_client::manifest::OciImageManifest::build(
        std::slice::from_ref(&layer),
        &config,
        Some(annotations),
    );
    let client = client(&reference);
    let auth = auth();
    client
        .push(&reference, &[layer], config, &auth, Some(manifest))
        .await
        .map_err(|err| format!("cannot push `{source}`: {err}"))?;
    client
        .fetch_manifest_digest(&reference, &auth)
        .await
        .map_err(|err| format!("pushed `{source}` but cannot read its digest back: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_and_digests() {
        let tagged = parse("oci://127.0.0.1:5000/policies/gate:1.2.0").map_err(|e| e.to_string());
        let tagged = tagged
            .as_ref()
            .map(|r| (r.registry(), r.repository(), r.tag()));
        assert_eq!(
            tagged,
            Ok(("127.0.0.1:5000", "policies/gate", Some("1.2.0")))
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = parse(&format!("oci://ghcr.io/acme/gate@{digest}"));
        assert_eq!(
            pinned.as_ref().ok().and_then(|r| r.digest()),
            Some(digest.as_str())
        );
    }

    #[test]
    fn refuses_references_without_a_registry() {
        for bad in [
            "oci://gate:1.0",
            "oci://acme/gate:1.0",
            "https://x/y",
            "oci://",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn loopback_registries_use_http() {
        assert!(insecure("127.0.0.1:5000"));
        assert!(insecure("localhost:5000"));
        assert!(insecure("[::1]:5000"));
        assert!(!insecure("ghcr.io"));
        assert!(!insecure("registry.example.com:5000"));
    }
}
