//! Test results from JUnit XML (pytest, cargo2junit, Maven Surefire, Jest, go-junit-report, ...).

use std::path::Path;

use preflight_sdk::facts::{FailedTest, TestResults};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::input::{self, CollectError};
use crate::input::Root;

/// Failed tests kept in the facts.
const FAILED_KEPT: usize = 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failure,
    Error,
    Skipped,
}

/// Reads JUnit files and adds them up; returns the results and the files read.
///
/// # Errors
/// A [`CollectError`] naming the file and the line and column of the problem.
pub fn collect(
    root: &Root,
    patterns: &[String],
) -> Result<(TestResults, Vec<std::path::PathBuf>), CollectError> {
    let mut results = TestResults::default();
    let mut read = Vec::new();
    for pattern in patterns {
        for path in input::expand(root, pattern)? {
            let text = input::read_text(&path, preflight_engine::files::InputKind::Report)?;
            let before = results.failed.len();
            parse(&path, &text, &mut results)?;
            let shown = input::display_path(root, &path);
            // pytest's `line` counts from 0 (its xunit1 family); everyone else's from 1.
            let zero_based = text.contains("<testsuite name=\"pytest\"");
            for test in &mut results.failed[before..] {
                test.file = test
                    .file
                    .take()
                    .map(|file| input::normalize_reported(root, &file));
                test.line = test
                    .line
                    .map(|line| {
                        if zero_based {
                            line.saturating_add(1)
                        } else {
                            line
                        }
                    })
                    .filter(|line| *line > 0);
                test.report = Some(shown.clone());
            }
            results.files.push(shown);
            read.push(path);
        }
    }
    results.passed = results.total - results.failures - results.errors - results.skipped;
    Ok((results, read))
}

/// A `<testsuite>` being read: the tests it declares, and the test count when it opened.
struct OpenSuite {
    name: String,
    declared: Option<u64>,
    total_at_open: u64,
}

/// Reads one JUnit report's text, as the collector does.
///
/// # Errors
/// A [`CollectError`] naming `path` and the position of the problem.
pub fn read_report(path: &Path, text: &str) -> Result<TestResults, CollectError> {
    let mut results = TestResults::default();
    parse(path, text, &mut results)?;
    results.passed = results.total - results.failures - results.errors - results.skipped;
    Ok(results)
}

fn parse(path: &Path, text: &str, results: &mut TestResults) -> Result<(), CollectError> {
    let mut reader = Reader::from_str(text);
    let mut root_seen = false;
    // Elements open at this point: a report that ends with some still open was cut short.
    let mut open: Vec<String> = Vec::new();
    let mut suites: Vec<OpenSuite> = Vec::new();
    // The test case being read: (name, outcome, message).
    let mut case: Option<Case> = None;
    let syntax = |reader: &Reader<&[u8]>, err: &dyn std::fmt::Display| {
        CollectError::at_offset(
            path,
            text,
            reader.error_position() as usize,
            err.to_string(),
        )
    };
    loop {
        let event = reader.read_event().map_err(|err| syntax(&reader, &err))?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Decl(decl) => {
                if let Some(Ok(encoding)) = decl.encoding() {
                    let encoding = String::from_utf8_lossy(&encoding).to_ascii_lowercase();
                    if encoding != "utf-8" && encoding != "utf8" && encoding != "us-ascii" {
                        return Err(CollectError::content(
                            path,
                            format!(
                                "the XML declares encoding `{encoding}`; preflight reads UTF-8 JUnit reports"
                            ),
                        ));
                    }
                }
            }
            Event::Start(element) | Event::Empty(element) if !root_seen => {
                root_seen = true;
                let name = element.name();
                let name = String::from_utf8_lossy(name.as_ref()).into_owned();
                if name != "testsuites" && name != "testsuite" {
                    return Err(CollectError::content(
                        path,
                        format!(
                            "not a JUnit report: the root element is `<{name}>`, not `<testsuites>` or `<testsuite>`"
                        ),
                    ));
                }
                if name == "testsuite" {
                    suites.push(open_suite(&element, path, results.total)?);
                }
                if empty {
                    close_suite(&mut suites, path, results.total)?;
                } else {
                    open.push(name);
                }
            }
            Event::Start(element) => {
                open.push(String::from_utf8_lossy(element.name().as_ref()).into_owned());
                if element.name().as_ref() == b"testsuite" {
                    if let Some(done) = case.take() {
                        finish(done, results);
                    }
                    suites.push(open_suite(&element, path, results.total)?);
                }
                on_start(&element, &mut case, false, results, path)?;
            }
            Event::Empty(element) => {
                if element.name().as_ref() == b"testsuite" {
                    if let Some(done) = case.take() {
                        finish(done, results);
                    }
                    suites.push(open_suite(&element, path, results.total)?);
                    close_suite(&mut suites, path, results.total)?;
                }
                on_start(&element, &mut case, true, results, path)?;
            }
            Event::End(element) => {
                open.pop();
                match element.name().as_ref() {
                    b"testcase" => {
                        if let Some(done) = case.take() {
                            finish(done, results);
                        }
                    }
                    b"testsuite" => {
                        if let Some(done) = case.take() {
                            finish(done, results);
                        }
                        close_suite(&mut suites, path, results.total)?;
                    }
                    _ => {}
                }
            }
            Event::Eof => {
                if let Some(element) = open.last() {
                    return Err(CollectError::content(
                        path,
                        format!(
                            "the report ends inside `<{element}>`: it was cut short (the test run or the upload did not finish)"
                        ),
                    ));
                }
                break;
            }
            _ => {}
        }
    }
    if !root_seen {
        return Err(CollectError::content(
            path,
            "not a JUnit report: no XML element found",
        ));
    }
    Ok(())
}

fn open_suite(
    element: &BytesStart<'_>,
    path: &Path,
    total: u64,
) -> Result<OpenSuite, CollectError> {
    let mut suite = OpenSuite {
        name: String::new(),
        declared: None,
        total_at_open: total,
    };
    for attribute in element.attributes() {
        let attribute = attribute
            .map_err(|err| CollectError::content(path, format!("bad XML attribute: {err}")))?;
        let value = attribute.unescape_value().map_err(|err| {
            CollectError::content(path, format!("bad XML attribute value: {err}"))
        })?;
        match attribute.key.as_ref() {
            b"name" => suite.name = value.into_owned(),
            b"tests" => {
                suite.declared = Some(value.trim().parse().map_err(|_| {
                    CollectError::content(
                        path,
                        format!("a `<testsuite>` declares tests=\"{value}\", not a count"),
                    )
                })?);
            }
            _ => {}
        }
    }
    Ok(suite)
}

/// Closes the innermost suite; one that declares more tests than it holds is incomplete.
fn close_suite(suites: &mut Vec<OpenSuite>, path: &Path, total: u64) -> Result<(), CollectError> {
    if let Some(suite) = suites.pop()
        && let Some(declared) = suite.declared
    {
        let found = total - suite.total_at_open;
        if declared > found {
            return Err(CollectError::content(
                path,
                format!(
                    "the test suite `{}` declares {declared} tests but holds {found}: the report is incomplete",
                    suite.name
                ),
            ));
        }
    }
    Ok(())
}

fn on_start(
    element: &BytesStart<'_>,
    case: &mut Option<Case>,
    empty: bool,
    results: &mut TestResults,
    path: &Path,
) -> Result<(), CollectError> {
    let attr = |key: &[u8]| -> Result<Option<String>, CollectError> {
        for attribute in element.attributes() {
            let attribute = attribute
                .map_err(|err| CollectError::content(path, format!("bad XML attribute: {err}")))?;
            if attribute.key.as_ref() == key {
                let value = attribute.unescape_value().map_err(|err| {
                    CollectError::content(path, format!("bad XML attribute value: {err}"))
                })?;
                return Ok(Some(value.into_owned()));
            }
        }
        Ok(None)
    };
    match element.name().as_ref() {
        b"testcase" => {
            if let Some(done) = case.take() {
                finish(done, results);
            }
            let name = attr(b"name")?.unwrap_or_default();
            let full = match attr(b"classname")? {
                Some(class) if !class.is_empty() => format!("{class}.{name}"),
                _ => name,
            };
            *case = Some(Case {
                name: full,
                outcome: Outcome::Passed,
                message: String::new(),
                file: attr(b"file")?.filter(|file| !file.is_empty()),
                line: attr(b"line")?.and_then(|line| line.trim().parse().ok()),
            });
            if empty && let Some(done) = case.take() {
                finish(done, results);
            }
        }
        kind @ (b"failure" | b"error" | b"skipped") => {
            if let Some(Case {
                outcome, message, ..
            }) = case.as_mut()
            {
                let new = match kind {
                    b"failure" => Outcome::Failure,
                    b"error" => Outcome::Error,
                    _ => Outcome::Skipped,
                };
                // A failure or error outranks a skip; the first failure message is kept.
                if *outcome == Outcome::Passed
                    || (*outcome == Outcome::Skipped && new != Outcome::Skipped)
                {
                    *outcome = new;
                    *message = attr(b"message")?
                        .unwrap_or_default()
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_owned();
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A `<testcase>` being read.
struct Case {
    name: String,
    outcome: Outcome,
    message: String,
    file: Option<String>,
    line: Option<u32>,
}

fn finish(case: Case, results: &mut TestResults) {
    let Case {
        name,
        outcome,
        message,
        file,
        line,
    } = case;
    results.total += 1;
    match outcome {
        Outcome::Passed => {}
        Outcome::Skipped => results.skipped += 1,
        Outcome::Failure | Outcome::Error => {
            if outcome == Outcome::Failure {
                results.failures += 1;
            } else {
                results.errors += 1;
            }
            if results.failed.len() < FAILED_KEPT {
                results.failed.push(FailedTest {
                    name,
                    message,
                    file,
                    line,
                    report: None,
                });
            }
        }
    }
}
