//! JUnit XML: per policy, one test case for its decision and one per blocking issue (a failure)
//! or warning (a passing case with the message in `system-out`). What GitLab shows as a test
//! report.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use preflight_sdk::Decision;

use crate::escape::xml;
use preflight_engine::Report;

struct Case {
    classname: String,
    name: String,
    failure: Option<(&'static str, String)>,
    output: Option<String>,
}

/// Renders the report as JUnit XML.
pub fn render(report: &Report) -> String {
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    for policy in &report.policies {
        let mut cases = Vec::new();
        let decision_failure = match (&policy.error, policy.decision, policy.enforced) {
            (Some(error), _, _) => Some(("error", error.clone())),
            (None, Decision::NoGo, true) => {
                Some(("failure", format!("{} decided NO_GO", policy.name)))
            }
            _ => None,
        };
        cases.push(Case {
            classname: policy.name.clone(),
            name: format!("decision: {}", policy.decision),
            failure: decision_failure,
            output: (!policy.enforced)
                .then(|| "not enforced: the decision does not count".to_owned()),
        });
        for issue in &policy.blocking_issues {
            let failing = policy.enforced || policy.error.is_some();
            cases.push(Case {
                classname: policy.name.clone(),
                name: issue.id.clone(),
                failure: failing.then(|| ("failure", issue.message.clone())),
                output: (!failing).then(|| format!("not enforced: {}", issue.message)),
            });
        }
        for issue in &policy.warnings {
            cases.push(Case {
                classname: policy.name.clone(),
                name: issue.id.clone(),
                failure: None,
                output: Some(format!("warning: {}", issue.message)),
            });
        }
        suites.push((policy.name.clone(), cases));
    }
    let outer: Vec<Case> = report
        .blocking_issues
        .iter()
        .filter(|i| i.policy == "preflight")
        .map(|issue| Case {
            classname: "preflight".to_owned(),
            name: issue.id.clone(),
            failure: Some(("error", issue.message.clone())),
            output: None,
        })
        .collect();
    if !outer.is_empty() {
        suites.push(("preflight".to_owned(), outer));
    }
    write(report, &suites).unwrap_or_default()
}

fn count(cases: &[Case], kind: &str) -> usize {
    cases
        .iter()
        .filter(|c| c.failure.as_ref().is_some_and(|(k, _)| *k == kind))
        .count()
}

fn write(report: &Report, suites: &[(String, Vec<Case>)]) -> Result<String, std::io::Error> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let all: Vec<&Case> = suites.iter().flat_map(|(_, cases)| cases).collect();
    let failures = all
        .iter()
        .filter(|c| c.failure.as_ref().is_some_and(|(k, _)| *k == "failure"))
        .count();
    let errors = all
        .iter()
        .filter(|c| c.failure.as_ref().is_some_and(|(k, _)| *k == "error"))
        .count();
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", format!("preflight {}", report.decision).as_str()));
    root.push_attribute(("tests", all.len().to_string().as_str()));
    root.push_attribute(("failures", failures.to_string().as_str()));
    root.push_attribute(("errors", errors.to_string().as_str()));
    writer.write_event(Event::Start(root))?;
    for (name, cases) in suites {
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", xml(name, false).as_ref()));
        suite.push_attribute(("tests", cases.len().to_string().as_str()));
        suite.push_attribute(("failures", count(cases, "failure").to_string().as_str()));
        suite.push_attribute(("errors", count(cases, "error").to_string().as_str()));
        writer.write_event(Event::Start(suite))?;
        for case in cases {
            let mut element = BytesStart::new("testcase");
            element.push_attribute(("classname", xml(&case.classname, false).as_ref()));
            element.push_attribute(("name", xml(&case.name, false).as_ref()));
            if case.failure.is_none() && case.output.is_none() {
                writer.write_event(Event::Empty(element))?;
                continue;
            }
            writer.write_event(Event::Start(element))?;
            if let Some((kind, message)) = &case.failure {
                let mut failure = BytesStart::new(*kind);
                failure.push_attribute((
                    "message",
                    xml(message.lines().next().unwrap_or(""), false).as_ref(),
                ));
                failure.push_attribute((
                    "type",
                    if *kind == "error" {
                        "policy.error"
                    } else {
                        "blocking"
                    },
                ));
                writer.write_event(Event::Start(failure))?;
                writer.write_event(Event::Text(BytesText::new(&xml(message, true))))?;
                writer.write_event(Event::End(BytesEnd::new(*kind)))?;
            }
            if let Some(output) = &case.output {
                writer.write_event(Event::Start(BytesStart::new("system-out")))?;
                writer.write_event(Event::Text(BytesText::new(&xml(output, true))))?;
                writer.write_event(Event::End(BytesEnd::new("system-out")))?;
            }
            writer.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        writer.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    writer.write_event(Event::End(BytesEnd::new("testsuites")))?;
    let mut text = String::from_utf8_lossy(&writer.into_inner()).into_owned();
    text.push('\n');
    Ok(text)
}
