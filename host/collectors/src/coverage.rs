//! Line coverage from lcov tracefiles or Cobertura XML.

use std::collections::BTreeMap;
use std::path::Path;

use preflight_sdk::facts::{Coverage, FileCoverage};
use quick_xml::Reader;
use quick_xml::events::Event;
use serde::Deserialize;

use super::input::{self, CollectError};
use crate::input::Root;

/// Which coverage report to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageInput {
    /// An lcov tracefile (`lcov.info`).
    #[serde(default)]
    pub lcov: Option<String>,
    /// A Cobertura XML report (`coverage.xml`).
    #[serde(default)]
    pub cobertura: Option<String>,
}

/// Reads the configured report.
///
/// # Errors
/// A [`CollectError`] naming the file and the position of the problem; also when both or
/// neither format is given.
pub fn collect(
    root: &Root,
    input: &CoverageInput,
) -> Result<(Coverage, std::path::PathBuf), CollectError> {
    let (format, pattern) = match (&input.lcov, &input.cobertura) {
        (Some(lcov), None) => ("lcov", lcov),
        (None, Some(cobertura)) => ("cobertura", cobertura),
        _ => {
            return Err(CollectError::content(
                Path::new("preflight.toml"),
                "[coverage] needs exactly one of `lcov` and `cobertura`",
            ));
        }
    };
    let paths = input::expand(root, pattern)?;
    let [path] = paths.as_slice() else {
        return Err(CollectError::content(
            Path::new(pattern),
            format!("matches {} files; name one coverage report", paths.len()),
        ));
    };
    let text = input::read_text(path, preflight_engine::files::InputKind::Report)?;
    Ok((
        read_report(format == "lcov", root, path, &text)?,
        path.clone(),
    ))
}

/// Reads one coverage report's text (lcov when `lcov`, else Cobertura), as the collector does.
///
/// # Errors
/// A [`CollectError`] naming `path` and the position of the problem; a report without line
/// data is an error.
pub fn read_report(
    lcov_format: bool,
    root: &Root,
    path: &Path,
    text: &str,
) -> Result<Coverage, CollectError> {
    let (format, lines) = if lcov_format {
        ("lcov", lcov(path, text)?)
    } else {
        ("cobertura", cobertura(path, text)?)
    };
    let files: Vec<FileCoverage> = lines
        .into_iter()
        .map(|(file, lines)| FileCoverage {
            path: input::normalize_reported(root, &file),
            lines_total: lines.len() as u64,
            lines_covered: lines.values().filter(|hits| **hits > 0).count() as u64,
        })
        .collect();
    let lines_total: u64 = files.iter().map(|f| f.lines_total).sum();
    let lines_covered = files.iter().map(|f| f.lines_covered).sum();
    if lines_total == 0 {
        // An empty report is no evidence; read as 100 % it would pass any minimum.
        return Err(CollectError::content(
            path,
            format!(
                "the {format} report holds no line data ({} file(s), no {}): the coverage run recorded nothing",
                files.len(),
                if format == "lcov" {
                    "`DA:` records"
                } else {
                    "`<line>` elements"
                }
            ),
        ));
    }
    let line_percent = ((10_000.0 * lines_covered as f64 / lines_total as f64).round()) / 100.0;
    Ok(Coverage {
        format: format.to_owned(),
        path: input::display_path(root, path),
        lines_total,
        lines_covered,
        line_percent,
        files,
    })
}

type Lines = BTreeMap<String, BTreeMap<u64, u64>>;

/// lcov: `SF:` starts a file, `DA:line,hits` records a line, `end_of_record` ends it. Records of
/// the same file (several test runs) merge line by line.
fn lcov(path: &Path, text: &str) -> Result<Lines, CollectError> {
    let mut files = Lines::new();
    let mut current: Option<String> = None;
    let mut saw_record = false;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        let bad = |message: String| CollectError::Syntax {
            path: path.to_owned(),
            line: number + 1,
            column: 1,
            message,
        };
        if let Some(file) = line.strip_prefix("SF:") {
            current = Some(file.to_owned());
            files.entry(file.to_owned()).or_default();
            saw_record = true;
        } else if let Some(data) = line.strip_prefix("DA:") {
            let file = current
                .as_ref()
                .ok_or_else(|| bad("`DA:` before any `SF:`".to_owned()))?;
            let mut parts = data.split(',');
            let (Some(line_no), Some(hits)) = (parts.next(), parts.next()) else {
                return Err(bad(format!("`DA:{data}` is not `DA:<line>,<hits>`")));
            };
            let line_no: u64 = line_no
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{line_no}` is not a line number")))?;
            let hits: f64 = hits
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{hits}` is not a hit count")))?;
            let entry = files
                .entry(file.clone())
                .or_default()
                .entry(line_no)
                .or_insert(0);
            *entry = (*entry).max(hits.max(0.0) as u64);
        } else if line == "end_of_record" {
            current = None;
        }
    }
    if !saw_record {
        return Err(CollectError::content(
            path,
            "not an lcov tracefile: no `SF:` record",
        ));
    }
    Ok(files)
}

/// Cobertura: `<class filename="...">` elements hold `<line number hits>`; the same file in
/// several classes merges line by line.
fn cobertura(path: &Path, text: &str) -> Result<Lines, CollectError> {
    let mut reader = Reader::from_str(text);
    let mut files = Lines::new();
    let mut current: Option<String> = None;
    let mut root_seen = false;
    let mut in_methods = 0usize;
    loop {
        let event = reader.read_event().map_err(|err| {
            CollectError::at_offset(
                path,
                text,
                reader.error_position() as usize,
                err.to_string(),
            )
        })?;
        let (element, is_empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(e) => {
                match e.name().as_ref() {
                    b"class" => current = None,
                    b"methods" => in_methods = in_methods.saturating_sub(1),
                    _ => {}
                }
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        let Some(element) = element else { continue };
        let attr = |key: &[u8]| -> Result<Option<String>, CollectError> {
            for attribute in element.attributes() {
                let attribute = attribute.map_err(|err| {
                    CollectError::content(path, format!("bad XML attribute: {err}"))
                })?;
                if attribute.key.as_ref() == key {
                    return Ok(Some(
                        attribute
                            .unescape_value()
                            .map_err(|err| {
                                CollectError::content(
                                    path,
                                    format!("bad XML attribute value: {err}"),
                                )
                            })?
                            .into_owned(),
                    ));
                }
            }
            Ok(None)
        };
        let name = element.name();
        if !root_seen {
            root_seen = true;
            if name.as_ref() != b"coverage" {
                return Err(CollectError::content(
                    path,
                    format!(
                        "not a Cobertura report: the root element is `<{}>`, not `<coverage>`",
                        String::from_utf8_lossy(name.as_ref())
                    ),
                ));
            }
            continue;
        }
        match name.as_ref() {
            b"class" => {
                let file = attr(b"filename")?
                    .ok_or_else(|| CollectError::content(path, "a `<class>` has no `filename`"))?;
                files.entry(file.clone()).or_default();
                current = if is_empty { None } else { Some(file) };
            }
            b"methods" if !is_empty => in_methods += 1,
            b"line" if in_methods == 0 => {
                let Some(file) = current.clone() else {
                    continue;
                };
                let number: u64 =
                    attr(b"number")?
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| {
                            CollectError::content(
                                path,
                                format!("a `<line>` in `{file}` has no valid `number`"),
                            )
                        })?;
                let hits: u64 = attr(b"hits")?
                    .and_then(|h| h.parse::<f64>().ok())
                    .map(|h| h.max(0.0) as u64)
                    .ok_or_else(|| {
                        CollectError::content(
                            path,
                            format!("line {number} of `{file}` has no valid `hits`"),
                        )
                    })?;
                let entry = files.entry(file).or_default().entry(number).or_insert(0);
                *entry = (*entry).max(hits);
            }
            _ => {}
        }
    }
    if !root_seen {
        return Err(CollectError::content(
            path,
            "not a Cobertura report: no XML element found",
        ));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcov_merges_records_of_the_same_file() {
        let text = "TN:\nSF:src/a.py\nDA:1,1\nDA:2,0\nend_of_record\nSF:src/a.py\nDA:2,3\nDA:3,0\nend_of_record\n";
        let files = lcov(Path::new("lcov.info"), text).unwrap();
        assert_eq!(files["src/a.py"], BTreeMap::from([(1, 1), (2, 3), (3, 0)]));
    }

    #[test]
    fn lcov_reports_the_bad_line() {
        let err = lcov(Path::new("lcov.info"), "SF:a\nDA:x,1\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
