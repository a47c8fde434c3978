//! Software bills of materials: CycloneDX JSON (1.4 to 1.7) and SPDX JSON (2.2, 2.3), read
//! into one list of components with their licenses. License expressions are checked with the
//! same SPDX reading policies use ([`preflight_sdk::license`]); one that does not parse is an
//! error naming the file and the JSON pointer, never a component without a license.

use std::path::Path;

use preflight_sdk::facts::{Component, License, Sbom, SbomDocument};
use serde_json::Value;

use crate::input::Root;
use crate::input::{self, CollectError};

/// Which SBOMs to read (paths or globs, relative to the project root).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SbomInputs {
    /// CycloneDX JSON documents.
    #[serde(default)]
    pub cyclonedx: Vec<String>,
    /// SPDX JSON documents.
    #[serde(default)]
    pub spdx: Vec<String>,
}

/// Reads every configured SBOM; returns the `sbom` section and the files read.
///
/// # Errors
/// A [`CollectError`] naming the file and the JSON pointer of the problem.
pub fn collect(
    root: &Root,
    inputs: &SbomInputs,
) -> Result<(Sbom, Vec<std::path::PathBuf>), CollectError> {
    let mut sbom = Sbom::default();
    let mut files = Vec::new();
    type Reader = fn(&Path, &str, &str) -> Result<(SbomDocument, Vec<Component>), CollectError>;
    let groups: [(&[String], Reader); 2] = [(&inputs.cyclonedx, cyclonedx), (&inputs.spdx, spdx)];
    for (patterns, read) in groups {
        for pattern in patterns {
            for path in input::expand(root, pattern)? {
                let text = input::read_text(&path, preflight_engine::files::InputKind::Report)?;
                let shown = input::display_path(root, &path);
                let (document, components) = read(&path, &shown, &text)?;
                sbom.documents.push(document);
                sbom.components.extend(components);
                files.push(path);
            }
        }
    }
    Ok((sbom, files))
}

fn json(path: &Path, text: &str) -> Result<Value, CollectError> {
    preflight_engine::json::from_str(text).map_err(|err| CollectError::json(path, &err))
}

/// An SPDX expression, checked.
fn expression(path: &Path, pointer: &str, text: &str) -> Result<License, CollectError> {
    preflight_sdk::license::parse(text).map_err(|err| {
        CollectError::content(
            path,
            format!("at `{pointer}`: `{text}` is not an SPDX license expression: {err}"),
        )
    })?;
    Ok(License {
        expression: Some(text.to_owned()),
        name: None,
    })
}

fn string(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Reads a CycloneDX JSON document: every component, nested ones too.
pub fn cyclonedx(
    path: &Path,
    shown: &str,
    text: &str,
) -> Result<(SbomDocument, Vec<Component>), CollectError> {
    let value = json(path, text)?;
    if value.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err(CollectError::content(
            path,
            "not a CycloneDX document: `/bomFormat` is not \"CycloneDX\" (write it as CycloneDX JSON)",
        ));
    }
    let version = value
        .get("specVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !["1.4", "1.5", "1.6", "1.7"].contains(&version) {
        return Err(CollectError::content(
            path,
            format!(
                "CycloneDX spec version `{version}` is not supported; preflight reads 1.4 to 1.7"
            ),
        ));
    }
    let mut components = Vec::new();
    let mut pending: Vec<(String, &Value)> = Vec::new();
    if let Some(list) = value.get("components").and_then(Value::as_array) {
        pending.extend(
            list.iter()
                .enumerate()
                .map(|(i, c)| (format!("/components/{i}"), c))
                .rev(),
        );
    } else if value.get("components").is_some() {
        return Err(CollectError::content(
            path,
            "at `/components`: not an array",
        ));
    }
    while let Some((pointer, component)) = pending.pop() {
        let name = string(component, "name").ok_or_else(|| {
            CollectError::content(path, format!("at `{pointer}`: a component has no `name`"))
        })?;
        let mut licenses = Vec::new();
        if let Some(choices) = component.get("licenses") {
            let choices = choices.as_array().ok_or_else(|| {
                CollectError::content(path, format!("at `{pointer}/licenses`: not an array"))
            })?;
            for (i, choice) in choices.iter().enumerate() {
                let at = format!("{pointer}/licenses/{i}");
                if let Some(text) = choice.get("expression").and_then(Value::as_str) {
                    licenses.push(expression(path, &format!("{at}/expression"), text)?);
                } else if let Some(license) = choice.get("license") {
                    if let Some(id) = license.get("id").and_then(Value::as_str) {
                        licenses.push(expression(path, &format!("{at}/license/id"), id)?);
                    } else if let Some(name) = license.get("name").and_then(Value::as_str) {
                        licenses.push(License {
                            expression: None,
                            name: Some(name.to_owned()),
                        });
                    } else {
                        return Err(CollectError::content(
                            path,
                            format!("at `{at}/license`: a license has neither `id` nor `name`"),
                        ));
                    }
                } else {
                    return Err(CollectError::content(
                        path,
                        format!(
                            "at `{at}`: a license choice has neither `license` nor `expression`"
                        ),
                    ));
                }
            }
        }
        components.push(Component {
            name,
            version: string(component, "version"),
            purl: string(component, "purl"),
            licenses,
            origin: shown.to_owned(),
        });
        if let Some(nested) = component.get("components").and_then(Value::as_array) {
            pending.extend(
                nested
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("{pointer}/components/{i}"), c))
                    .rev(),
            );
        }
    }
    let document = SbomDocument {
        path: shown.to_owned(),
        format: "cyclonedx".to_owned(),
        spec_version: version.to_owned(),
        components: components.len() as u64,
    };
    Ok((document, components))
}

/// Reads an SPDX JSON document: every package, with its concluded license (else its declared
/// one) and its `purl` external reference.
pub fn spdx(
    path: &Path,
    shown: &str,
    text: &str,
) -> Result<(SbomDocument, Vec<Component>), CollectError> {
    let value = json(path, text)?;
    let version = value
        .get("spdxVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !["SPDX-2.2", "SPDX-2.3"].contains(&version) {
        return Err(CollectError::content(
            path,
            format!(
                "SPDX version `{version}` is not supported; preflight reads SPDX-2.2 and SPDX-2.3 JSON"
            ),
        ));
    }
    let packages = match value.get("packages") {
        None => Vec::new(),
        Some(Value::Array(packages)) => packages.iter().collect(),
        Some(_) => return Err(CollectError::content(path, "at `/packages`: not an array")),
    };
    let mut components = Vec::with_capacity(packages.len());
    for (i, package) in packages.into_iter().enumerate() {
        let pointer = format!("/packages/{i}");
        let name = string(package, "name").ok_or_else(|| {
            CollectError::content(path, format!("at `{pointer}`: a package has no `name`"))
        })?;
        let asserted =
            |key: &str| string(package, key).filter(|text| text != "NOASSERTION" && text != "NONE");
        let licenses = match (asserted("licenseConcluded"), asserted("licenseDeclared")) {
            (Some(text), _) => vec![expression(
                path,
                &format!("{pointer}/licenseConcluded"),
                &text,
            )?],
            (None, Some(text)) => vec![expression(
                path,
                &format!("{pointer}/licenseDeclared"),
                &text,
            )?],
            (None, None) => Vec::new(),
        };
        let purl = package
            .get("externalRefs")
            .and_then(Value::as_array)
            .and_then(|refs| {
                refs.iter()
                    .find(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
            })
            .and_then(|r| string(r, "referenceLocator"));
        components.push(Component {
            name,
            version: string(package, "versionInfo"),
            purl,
            licenses,
            origin: shown.to_owned(),
        });
    }
    let document = SbomDocument {
        path: shown.to_owned(),
        format: "spdx".to_owned(),
        spec_version: version.to_owned(),
        components: components.len() as u64,
    };
    Ok((document, components))
}
