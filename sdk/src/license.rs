//! SPDX license expressions, and allow and deny rules over them: the one reading of licenses
//! that the host (when it reads SBOMs) and policies (when they gate on licenses) share.
//!
//! An expression is allowed when some way of satisfying it uses only allowed licenses: with
//! `GPL-3.0-only` denied, `MIT OR GPL-3.0-only` is allowed (take MIT), `MIT AND GPL-3.0-only` is
//! not. A license is allowed when no deny entry matches it and, if there is an allow list, an
//! allow entry does. Entries are SPDX licensees (`MIT`, `GPL-2.0-or-later`,
//! `GPL-2.0-only WITH Classpath-exception-2.0`): `GPL-2.0-only` denies `GPL-2.0-or-later` too,
//! and a license with an exception is matched only by an entry with that exception.

use spdx::{Expression, LicenseReq, Licensee, ParseMode};

/// How expressions are read: SPDX syntax with its license list, deprecated identifiers
/// (`GPL-2.0`) and `+` on GPL accepted, as real SBOMs contain them; no guessing from imprecise
/// names and no `/` for `OR`.
pub const PARSE_MODE: ParseMode = ParseMode {
    allow_slash_as_or_operator: false,
    allow_imprecise_license_names: false,
    allow_postfix_plus_on_gpl: true,
    allow_deprecated: true,
    allow_unknown: false,
};

/// Parses an SPDX license expression.
///
/// # Errors
/// The parser's message, with the position of the problem.
pub fn parse(expression: &str) -> Result<Expression, String> {
    Expression::parse_mode(expression, PARSE_MODE).map_err(|err| err.to_string())
}

/// Allow and deny lists of licensees.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    deny: Vec<Licensee>,
    allow: Vec<Licensee>,
}

/// What rules say of one expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Some way of satisfying it uses only allowed licenses.
    Allowed,
    /// Every way of satisfying it needs one of these licenses, which are not allowed.
    Refused(Vec<String>),
}

impl Rules {
    /// Rules from deny and allow entries (SPDX licensees).
    ///
    /// # Errors
    /// A message naming the entry that is not an SPDX licensee.
    pub fn new(deny: &[String], allow: &[String]) -> Result<Rules, String> {
        let parse = |list: &str, entries: &[String]| -> Result<Vec<Licensee>, String> {
            entries
                .iter()
                .map(|entry| {
                    Licensee::parse_mode(entry, PARSE_MODE).map_err(|err| {
                        format!("`{list}` entry `{entry}` is not an SPDX license: {err}")
                    })
                })
                .collect()
        };
        Ok(Rules {
            deny: parse("deny", deny)?,
            allow: parse("allow", allow)?,
        })
    }

    /// Whether a license requirement is allowed.
    pub fn allows(&self, req: &LicenseReq) -> bool {
        !self.deny.iter().any(|licensee| denies(licensee, req))
            && (self.allow.is_empty() || self.allow.iter().any(|licensee| licensee.satisfies(req)))
    }

    /// What the rules say of an expression.
    ///
    /// # Errors
    /// The parser's message when `expression` is not an SPDX expression.
    pub fn check(&self, expression: &str) -> Result<Verdict, String> {
        let expression = parse(expression)?;
        Ok(
            match expression.evaluate_with_failures(|req| self.allows(req)) {
                Ok(()) => Verdict::Allowed,
                Err(failures) => {
                    let mut refused: Vec<String> = failures
                        .iter()
                        .map(|failed| failed.req.to_string())
                        .collect();
                    refused.dedup();
                    Verdict::Refused(refused)
                }
            },
        )
    }
}

/// A license's family: its identifier without `-only`, `-or-later` or `+` (`GPL-2.0`).
fn family(name: &str) -> &str {
    name.strip_suffix("-only")
        .or_else(|| name.strip_suffix("-or-later"))
        .or_else(|| name.strip_suffix('+'))
        .unwrap_or(name)
}

/// Whether a deny entry covers a requirement: it satisfies it, or names the same license family
/// with the same exception (denying `GPL-2.0-only` denies `GPL-2.0-or-later` and `GPL-2.0+`:
/// whoever denies a license does not mean to let its "or later" forms through).
fn denies(entry: &Licensee, req: &LicenseReq) -> bool {
    if entry.satisfies(req) {
        return true;
    }
    let entry = entry.clone().into_req();
    let names = match (&entry.license, &req.license) {
        (spdx::LicenseItem::Spdx { id: a, .. }, spdx::LicenseItem::Spdx { id: b, .. }) => {
            Some((a.name, b.name))
        }
        _ => None,
    };
    names.is_some_and(|(a, b)| family(a) == family(b)) && entry.addition == req.addition
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(deny: &[&str], allow: &[&str]) -> Rules {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Rules::new(&owned(deny), &owned(allow)).unwrap()
    }

    #[test]
    fn or_passes_when_one_branch_is_allowed_and_and_needs_both() {
        let gpl = rules(&["GPL-3.0-only", "AGPL-3.0-only"], &[]);
        assert_eq!(gpl.check("MIT OR GPL-3.0-only"), Ok(Verdict::Allowed));
        assert_eq!(
            gpl.check("MIT AND GPL-3.0-only"),
            Ok(Verdict::Refused(vec!["GPL-3.0-only".to_owned()]))
        );
        assert_eq!(gpl.check("Apache-2.0"), Ok(Verdict::Allowed));
        assert!(matches!(
            gpl.check("AGPL-3.0-or-later"),
            Ok(Verdict::Refused(_))
        ));
        assert!(matches!(gpl.check("GPL-3.0+"), Ok(Verdict::Refused(_))));
        assert_eq!(gpl.check("LGPL-3.0-only"), Ok(Verdict::Allowed));
    }

    #[test]
    fn exceptions_are_matched_with_their_license() {
        let gpl2 = rules(&["GPL-2.0-only"], &[]);
        assert_eq!(
            gpl2.check("GPL-2.0-only WITH Classpath-exception-2.0"),
            Ok(Verdict::Allowed)
        );
        assert!(matches!(
            gpl2.check("GPL-2.0-only"),
            Ok(Verdict::Refused(_))
        ));
        let classpath = rules(&["GPL-2.0-only WITH Classpath-exception-2.0"], &[]);
        assert!(matches!(
            classpath.check("GPL-2.0-only WITH Classpath-exception-2.0"),
            Ok(Verdict::Refused(_))
        ));
    }

    #[test]
    fn an_allow_list_admits_only_its_licenses() {
        let permissive = rules(&[], &["MIT", "Apache-2.0", "BSD-3-Clause"]);
        assert_eq!(
            permissive.check("MIT OR LGPL-2.1-or-later"),
            Ok(Verdict::Allowed)
        );
        assert!(matches!(
            permissive.check("LGPL-2.1-or-later"),
            Ok(Verdict::Refused(_))
        ));
        assert!(matches!(
            permissive.check("LicenseRef-Proprietary"),
            Ok(Verdict::Refused(_))
        ));
    }

    #[test]
    fn what_does_not_parse_is_an_error() {
        let none = rules(&[], &[]);
        assert!(none.check("MIT OR").is_err());
        assert!(none.check("Not-A-License").is_err());
        assert!(none.check("mit").is_err());
        assert_eq!(none.check("GPL-2.0+"), Ok(Verdict::Allowed));
        assert!(Rules::new(&["Nope".to_owned()], &[]).is_err());
    }
}
