//! VEX: a supplier's statements about whether a vulnerability affects a product, from OpenVEX
//! (v0.2) or CycloneDX (`vulnerabilities[].analysis`) documents. A `not_affected` (with its
//! justification) or `fixed` statement clears the findings it matches — by vulnerability id
//! (or alias) and product package URL — out of the findings and their counts; `affected` and
//! `under_investigation` change nothing. Every statement is listed with how many findings it
//! cleared, so one that matched nothing shows as unused.

use std::path::Path;

use preflight_sdk::facts::{ClearedFinding, Finding, VexStatement};
use serde_json::Value;

use crate::input::CollectError;

/// The statuses a statement may have.
const STATUSES: [&str; 4] = ["not_affected", "affected", "fixed", "under_investigation"];

/// OpenVEX justifications (also the CISA list).
const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

fn string(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Reads a VEX document: OpenVEX when it has an OpenVEX `@context`, CycloneDX when
/// `bomFormat` says so; anything else is an error.
///
/// # Errors
/// A [`CollectError`] naming the file and the JSON pointer of the problem.
pub fn read(path: &Path, shown: &str, text: &str) -> Result<Vec<VexStatement>, CollectError> {
    let value =
        preflight_engine::json::from_str(text).map_err(|err| CollectError::json(path, &err))?;
    let context = value
        .get("@context")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if context.starts_with("https://openvex.dev/ns") {
        openvex(path, shown, &value)
    } else if value.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        cyclonedx(path, shown, &value)
    } else {
        Err(CollectError::content(
            path,
            "not a VEX document: neither an OpenVEX `@context` (https://openvex.dev/ns/v0.2.0) nor a CycloneDX `bomFormat`",
        ))
    }
}

fn openvex(path: &Path, shown: &str, value: &Value) -> Result<Vec<VexStatement>, CollectError> {
    let context = value
        .get("@context")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !context.starts_with("https://openvex.dev/ns/v0.2") {
        return Err(CollectError::content(
            path,
            format!("OpenVEX `{context}` is not supported; preflight reads v0.2"),
        ));
    }
    let author = string(value, "author");
    let statements = value
        .get("statements")
        .and_then(Value::as_array)
        .ok_or_else(|| CollectError::content(path, "at `/statements`: missing or not an array"))?;
    let mut out = Vec::with_capacity(statements.len());
    for (index, statement) in statements.iter().enumerate() {
        let at = |field: &str| format!("/statements/{index}{field}");
        let bad = |field: &str, message: &str| {
            CollectError::content(path, format!("at `{}`: {message}", at(field)))
        };
        let vulnerability = statement
            .get("vulnerability")
            .ok_or_else(|| bad("", "a statement names no `vulnerability`"))?;
        let (name, aliases) = match vulnerability {
            Value::String(name) => (name.clone(), Vec::new()),
            object => (
                string(object, "name").ok_or_else(|| bad("/vulnerability", "no `name`"))?,
                object
                    .get("aliases")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
        };
        let products: Vec<String> = statement
            .get("products")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("/products", "a statement names no products"))?
            .iter()
            .filter_map(|product| match product {
                Value::String(id) => Some(id.clone()),
                object => object
                    .pointer("/identifiers/purl")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| string(object, "@id")),
            })
            .collect();
        let status = string(statement, "status").ok_or_else(|| bad("/status", "no `status`"))?;
        if !STATUSES.contains(&status.as_str()) {
            return Err(bad(
                "/status",
                &format!(
                    "`{status}` is not an OpenVEX status (not_affected, affected, fixed, under_investigation)"
                ),
            ));
        }
        let justification = string(statement, "justification");
        let detail =
            string(statement, "impact_statement").or_else(|| string(statement, "status_notes"));
        if status == "not_affected" {
            match &justification {
                Some(j) if !JUSTIFICATIONS.contains(&j.as_str()) => {
                    return Err(bad(
                        "/justification",
                        &format!("`{j}` is not an OpenVEX justification"),
                    ));
                }
                None if detail.is_none() => {
                    return Err(bad(
                        "",
                        "a not_affected statement needs a `justification` or an `impact_statement`",
                    ));
                }
                _ => {}
            }
        }
        out.push(VexStatement {
            document: shown.to_owned(),
            vulnerability: name,
            aliases,
            products,
            status,
            justification,
            detail,
            author: string(statement, "author").or_else(|| author.clone()),
            matched: 0,
        });
    }
    Ok(out)
}

fn cyclonedx(path: &Path, shown: &str, value: &Value) -> Result<Vec<VexStatement>, CollectError> {
    // `affects[].ref` names a component of the document by its bom-ref, or a package URL.
    let mut refs = std::collections::BTreeMap::new();
    let mut pending: Vec<&Value> = value
        .get("components")
        .and_then(Value::as_array)
        .map(|list| list.iter().collect())
        .unwrap_or_default();
    while let Some(component) = pending.pop() {
        if let (Some(bom_ref), Some(purl)) =
            (string(component, "bom-ref"), string(component, "purl"))
        {
            refs.insert(bom_ref, purl);
        }
        if let Some(nested) = component.get("components").and_then(Value::as_array) {
            pending.extend(nested);
        }
    }
    let author = value
        .pointer("/metadata/authors/0/name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let vulnerabilities = value
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            CollectError::content(
                path,
                "at `/vulnerabilities`: a CycloneDX VEX document lists vulnerabilities",
            )
        })?;
    let mut out = Vec::with_capacity(vulnerabilities.len());
    for (index, vulnerability) in vulnerabilities.iter().enumerate() {
        let bad = |field: &str, message: &str| {
            CollectError::content(
                path,
                format!("at `/vulnerabilities/{index}{field}`: {message}"),
            )
        };
        let id = string(vulnerability, "id").ok_or_else(|| bad("/id", "no `id`"))?;
        let Some(analysis) = vulnerability.get("analysis") else {
            continue;
        };
        let state =
            string(analysis, "state").ok_or_else(|| bad("/analysis/state", "no `state`"))?;
        let status = match state.as_str() {
            "not_affected" | "false_positive" => "not_affected",
            "resolved" | "resolved_with_pedigree" => "fixed",
            "exploitable" => "affected",
            "in_triage" => "under_investigation",
            other => {
                return Err(bad(
                    "/analysis/state",
                    &format!("`{other}` is not a CycloneDX analysis state"),
                ));
            }
        };
        let products = vulnerability
            .get("affects")
            .and_then(Value::as_array)
            .map(|affects| {
                affects
                    .iter()
                    .filter_map(|a| string(a, "ref"))
                    .map(|r| refs.get(&r).cloned().unwrap_or(r))
                    .collect()
            })
            .unwrap_or_default();
        out.push(VexStatement {
            document: shown.to_owned(),
            vulnerability: id,
            aliases: Vec::new(),
            products,
            status: status.to_owned(),
            justification: string(analysis, "justification"),
            detail: string(analysis, "detail"),
            author: author.clone(),
            matched: 0,
        });
    }
    Ok(out)
}

/// A package URL without its qualifiers and subpath, and whether it has a version.
fn purl_core(purl: &str) -> (&str, bool) {
    let core = purl.split(['?', '#']).next().unwrap_or(purl);
    let name_part = core.rsplit('/').next().unwrap_or(core);
    (core, name_part.contains('@'))
}

/// Whether a statement's product names the finding's package: the same package URL (a product
/// without a version names every version), else for a finding without a package URL, the same
/// name and version.
fn names_package(product: &str, finding: &Finding) -> bool {
    let Some(package) = &finding.package else {
        return false;
    };
    let (product_core, versioned) = purl_core(product);
    match &package.purl {
        Some(purl) => {
            let (core, _) = purl_core(purl);
            if versioned {
                core == product_core
            } else {
                core.split('@').next() == Some(product_core)
            }
        }
        None => {
            let name_version = product_core.rsplit('/').next().unwrap_or(product_core);
            let (name, version) = name_version
                .split_once('@')
                .map_or((name_version, None), |(n, v)| (n, Some(v)));
            name == package.name && (version.is_none() || version == package.version.as_deref())
        }
    }
}

/// Applies the statements: findings a `not_affected` or `fixed` statement matches move to
/// `cleared`; every statement counts what it matched.
pub fn apply(findings: &mut Vec<Finding>, statements: &mut [VexStatement]) -> Vec<ClearedFinding> {
    let mut cleared = Vec::new();
    findings.retain(|finding| {
        let hit = statements.iter_mut().find(|statement| {
            (statement.vulnerability == finding.rule || statement.aliases.contains(&finding.rule))
                && statement
                    .products
                    .iter()
                    .any(|product| names_package(product, finding))
        });
        let Some(statement) = hit else {
            return true;
        };
        if !matches!(statement.status.as_str(), "not_affected" | "fixed") {
            return true;
        }
        statement.matched += 1;
        cleared.push(ClearedFinding {
            finding: finding.clone(),
            status: statement.status.clone(),
            justification: statement.justification.clone(),
            author: statement.author.clone(),
            document: statement.document.clone(),
        });
        false
    });
    cleared
}
