//! Untrusted text (from policies, scanners, Prometheus, case files) made safe for where it is
//! read: a terminal or CI log, XML, Markdown. JSON and SARIF keep the exact text.
//!
//! Control characters are never passed through: an escape sequence would drive the terminal,
//! and a newline would forge a line (`FAKE LINE: GO`, or a `::error::` that GitHub runs as a
//! workflow command). They are shown as `\u001b`, so the text stays readable and exact.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a character is a control character: C0 (U+0000–U+001F), DEL (U+007F) or C1
/// (U+0080–U+009F).
pub fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Characters that change how text is laid out or read without being control characters:
/// bidirectional overrides and isolates (the "Trojan Source" characters), and the line and
/// paragraph separators.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
    )
}

fn push_escaped(out: &mut String, c: char) {
    let _ = write!(out, "\\u{:04x}", c as u32);
}

/// Text for a terminal or a CI log: every control character (and bidirectional override) as
/// `\u001b`.
pub fn control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_control(c) || is_format(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) || is_format(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether XML 1.0 allows a character: tab, newline, carriage return, and U+0020 up, except
/// U+FFFE and U+FFFF.
fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

/// Text for an XML document: characters XML 1.0 forbids (most of C0, U+FFFE, U+FFFF) as
/// `\u001b`; the XML writer escapes markup. With `keep_lines` false, newlines, tabs and
/// carriage returns are escaped too (for attributes a CI shows on one line).
pub fn xml(text: &str, keep_lines: bool) -> Cow<'_, str> {
    let allowed = |c: char| xml_allowed(c) && (keep_lines || !matches!(c, '\t' | '\n' | '\r'));
    if text.chars().all(allowed) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if allowed(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// Markdown text that renders as exactly the characters given: control characters escaped as
/// [`control`] does, and every character with a meaning in CommonMark or GitHub's tables
/// (`` ` * _ [ ] < > & | ~ \ ! # ``) backslash-escaped, so no HTML, link, emphasis or code
/// span can come out of it.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) || is_format(c) {
            // The backslash of `\u001b` itself must survive rendering.
            out.push('\\');
            push_escaped(&mut out, c);
        } else if matches!(
            c,
            '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' | '\\' | '!' | '#'
        ) {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

/// A Markdown code span holding `text` exactly: fenced with one more backtick than the longest
/// run inside it, pipes escaped for GitHub tables, control characters as `\u001b`.
pub fn markdown_code(text: &str) -> String {
    let text = control(text).replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    if longest > 0 || text.starts_with(' ') || text.ends_with(' ') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(control("plain"), "plain");
        assert_eq!(
            control("a\u{1b}]0;owned\u{7}\nFAKE LINE: GO\u{9b}"),
            "a\\u001b]0;owned\\u0007\\u000aFAKE LINE: GO\\u009b"
        );
        assert_eq!(control("x\u{202e}y"), "x\\u202ey");
    }

    #[test]
    fn xml_drops_what_xml_forbids() {
        assert_eq!(xml("a\u{1}b\tc\nd", true), "a\\u0001b\tc\nd");
        assert_eq!(xml("a\nb", false), "a\\u000ab");
        assert_eq!(xml("\u{fffe}", true), "\\ufffe");
    }

    #[test]
    fn markdown_has_no_live_markup() {
        assert_eq!(
            markdown("<script>alert(1)</script> `x` [a](b) **c**"),
            "\\<script\\>alert(1)\\</script\\> \\`x\\` \\[a\\](b) \\*\\*c\\*\\*"
        );
        assert_eq!(markdown("a|b\nc"), "a\\|b\\\\u000ac");
        assert_eq!(markdown_code("id"), "`id`");
        assert_eq!(markdown_code("a`b"), "`` a`b ``");
        assert_eq!(markdown_code("a|b"), "`a\\|b`");
    }
}
