//! Reading a module's `preflight.policy` custom section without compiling or running it.

use preflight_sdk::abi::{self, SECTION};
use preflight_sdk::{ABI_VERSION, PolicyMetadata};

use super::PolicyError;

/// Reads and checks the metadata of a module.
///
/// # Errors
/// [`PolicyError::InvalidModule`] when the bytes do not parse, [`PolicyError::MissingMetadata`],
/// [`PolicyError::BadMetadata`], [`PolicyError::UnsupportedAbi`] or [`PolicyError::HostTooOld`].
pub fn read(source_name: &str, bytes: &[u8]) -> Result<PolicyMetadata, PolicyError> {
    let (raw, in_data) = section(source_name, bytes)?;
    let raw = raw.ok_or_else(|| PolicyError::MissingMetadata {
        source_name: source_name.to_owned(),
        in_data_segment: in_data,
    })?;
    parse(source_name, raw)
}

/// Finds the metadata section's bytes, and whether a data segment looks like the metadata
/// instead (named like the section, or holding its JSON): what C's
/// `__attribute__((section("preflight.policy")))` gives.
fn section<'a>(
    source_name: &str,
    bytes: &'a [u8],
) -> Result<(Option<&'a [u8]>, bool), PolicyError> {
    let invalid = |message: String| PolicyError::InvalidModule {
        source_name: source_name.to_owned(),
        message,
    };
    let mut found = None;
    let mut in_data = false;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|err| invalid(err.to_string()))?;
        match payload {
            wasmparser::Payload::CustomSection(reader) if reader.name() == SECTION => {
                if found.is_some() {
                    return Err(PolicyError::BadMetadata {
                        source_name: source_name.to_owned(),
                        message: format!("the module has more than one `{SECTION}` section"),
                    });
                }
                found = Some(reader.data());
            }
            wasmparser::Payload::DataSection(reader) => {
                for data in reader.into_iter().flatten() {
                    in_data |= looks_like_metadata(data.data);
                }
            }
            wasmparser::Payload::CustomSection(reader) => {
                if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
                    for name in names.into_iter().flatten() {
                        if let wasmparser::Name::Data(map) = name {
                            in_data |= map
                                .into_iter()
                                .flatten()
                                .any(|naming| naming.name == SECTION);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok((found, in_data))
}

/// Whether bytes hold what metadata JSON holds: a `"name"`, a `"version"` and an `"abi"`.
fn looks_like_metadata(data: &[u8]) -> bool {
    let has = |needle: &[u8]| data.windows(needle.len()).any(|window| window == needle);
    has(b"\"abi\"") && has(b"\"name\"") && has(b"\"version\"")
}

fn parse(source_name: &str, raw: &[u8]) -> Result<PolicyMetadata, PolicyError> {
    let bad = |message: String| PolicyError::BadMetadata {
        source_name: source_name.to_owned(),
        message,
    };
    // Check the ABI first, so a future ABI with other fields is reported as an ABI mismatch.
    let value: serde_json::Value =
        serde_json::from_slice(raw).map_err(|err| bad(format!("not JSON: {err}")))?;
    match value.get("abi").and_then(serde_json::Value::as_u64) {
        Some(abi) if abi == u64::from(ABI_VERSION) => {}
        Some(abi) => {
            return Err(PolicyError::UnsupportedAbi {
                source_name: source_name.to_owned(),
                found: u32::try_from(abi).unwrap_or(u32::MAX),
                supported: ABI_VERSION,
            });
        }
        None => return Err(bad("`abi` is missing or not a whole number".to_owned())),
    }
    let metadata: PolicyMetadata =
        serde_json::from_value(value).map_err(|err| bad(err.to_string()))?;
    if !abi::is_valid_name(&metadata.name) {
        return Err(bad(format!(
            "name `{}` must be 1 to {} lowercase letters, digits and `-`, starting with a letter",
            metadata.name,
            abi::NAME_MAX_LEN
        )));
    }
    semver::Version::parse(&metadata.version).map_err(|err| {
        bad(format!(
            "version `{}` is not semver: {err}",
            metadata.version
        ))
    })?;
    if let Some(required) = &metadata.min_host_version {
        let required_version = semver::Version::parse(required).map_err(|err| {
            bad(format!(
                "min_host_version `{required}` is not semver: {err}"
            ))
        })?;
        let current = crate::HOST_VERSION;
        let current_version = semver::Version::parse(current)
            .map_err(|err| bad(format!("host version `{current}`: {err}")))?;
        if current_version < required_version {
            return Err(PolicyError::HostTooOld {
                source_name: source_name.to_owned(),
                required: required.clone(),
                current: current.to_owned(),
            });
        }
    }
    Ok(metadata)
}
