//! License rules over the SBOM: every component's licenses must be satisfiable with allowed
//! licenses (`MIT OR GPL-3.0-only` passes a GPL deny list; `MIT AND GPL-3.0-only` does not).

use preflight_sdk::Issue;
use preflight_sdk::Location;
use preflight_sdk::facts::{Component, Sbom};
use preflight_sdk::license::{Rules, Verdict};
use serde_json::json;

use crate::quality::Findings;
use crate::settings::LicenseRules;

/// Issues listed one by one; past this, one summary issue counts the rest.
const LISTED: usize = 50;

fn describe(component: &Component) -> String {
    let mut text = format!("`{}`", component.name);
    if let Some(version) = &component.version {
        text.push(' ');
        text.push_str(version);
    }
    if let Some(purl) = &component.purl {
        text.push_str(&format!(" ({purl})"));
    }
    text
}

/// Checks every component's licenses against the rules.
///
/// # Errors
/// A `settings.invalid` issue when a deny or allow entry is not an SPDX license.
pub fn check(sbom: Option<&Sbom>, rules: &LicenseRules, out: &mut Findings) -> Result<(), Issue> {
    if !rules.active() {
        return Ok(());
    }
    let checker = Rules::new(&rules.deny, &rules.allow)
        .map_err(|message| Issue::new("settings.invalid", format!("licenses: {message}")))?;
    let Some(sbom) = sbom else {
        out.raise(
            rules.level,
            Issue::new(
                "licenses.no_sbom",
                "license rules are set but the fact set has no `sbom` (rule: licenses need an SBOM to be checked)",
            ),
        );
        return Ok(());
    };
    let mut refused = Vec::new();
    let mut unknown = Vec::new();
    for component in &sbom.components {
        let expressions: Vec<&str> = component
            .licenses
            .iter()
            .filter_map(|license| license.expression.as_deref())
            .collect();
        if expressions.is_empty() {
            unknown.push(component);
            continue;
        }
        // Every license listed applies: each must be satisfiable with allowed licenses.
        let mut needs = Vec::new();
        for expression in &expressions {
            match checker.check(expression) {
                Ok(Verdict::Allowed) => {}
                Ok(Verdict::Refused(licenses)) => needs.extend(licenses),
                // The collector checked every expression; one that does not parse is unknown.
                Err(_) => unknown.push(component),
            }
        }
        if !needs.is_empty() {
            needs.dedup();
            refused.push((component, expressions.join(" AND "), needs));
        }
    }
    for (component, expression, needs) in refused.iter().take(LISTED) {
        let rule = if rules.allow.is_empty() {
            "licenses.deny"
        } else {
            "licenses.allow"
        };
        out.raise(
            rules.level,
            Issue::new(
                "licenses.refused",
                format!(
                    "{} is licensed `{expression}`, which needs {} (rule: {rule})",
                    describe(component),
                    needs.join(", ")
                ),
            )
            .at(Location::new(component.origin.clone())),
        );
    }
    if refused.len() > LISTED {
        out.raise(
            rules.level,
            Issue::new(
                "licenses.refused",
                format!("{} more components are refused", refused.len() - LISTED),
            ),
        );
    }
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().take(10).map(|c| describe(c)).collect();
        out.raise(
            rules.unknown,
            Issue::new(
                "licenses.unknown",
                format!(
                    "{} component(s) have no SPDX license to check: {}{} (rule: licenses.unknown)",
                    unknown.len(),
                    names.join(", "),
                    if unknown.len() > 10 { ", ..." } else { "" }
                ),
            )
            .at_each(unknown.iter().take(100).map(|c| {
                Location::new(c.origin.clone())
                    .with_message(format!("{} has no SPDX license", describe(c)))
            })),
        );
    }
    out.details.push(json!({
        "rule": "licenses",
        "components": sbom.components.len(),
        "refused": refused.len(),
        "unknown": unknown.len(),
        "outcome": if refused.is_empty() { "pass" } else { "fail" },
    }));
    Ok(())
}
