//! JUnit XML: per policy, one test case for its decision and one per blocking issue (a failure)
//! or warning (a passing case with the message in `system-out`). What GitLab shows as a test
//! report. The document follows the Jenkins xUnit `junit-10.xsd`; test identities are stable
//! across runs (the decision is in the message, never in a name), so a CI's test history lines
//! up.

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
    /// Seconds.
    time: Option<f64>,
}

struct Suite {
    name: String,
    cases: Vec<Case>,
    /// The module file, for policies loaded from one.
    file: Option<String>,
    /// Seconds.
    time: f64,
}

/// `time` as the schema's `SUREFIRE_TIME` takes it: seconds with at most three decimals.
fn seconds(time: f64) -> String {
    format!("{:.3}", time.max(0.0))
}

/// Names made unique within a suite: a repeated issue id gets ` #2`, ` #3`, ... in order.
fn unique(cases: &mut [Case]) {
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for case in cases {
        let count = seen.entry(case.name.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            case.name = format!("{} #{count}", case.name);
        }
    }
}

/// Renders the report as JUnit XML.
pub fn render(report: &Report) -> String {
    let mut suites: Vec<Suite> = Vec::new();
    for policy in &report.policies {
        let mut cases = Vec::new();
        let decision_failure = match (&policy.error, policy.decision, policy.enforced) {
            (Some(error), _, _) => Some(("error", error.clone())),
            (None, Decision::NoGo, true) => {
                Some(("failure", format!("{} decided NO_GO", policy.name)))
            }
            _ => None,
        };
        let decided = format!("{} decided {}", policy.name, policy.decision);
        cases.push(Case {
            classname: policy.name.clone(),
            name: "decision".to_owned(),
            failure: decision_failure,
            output: Some(if policy.enforced {
                decided
            } else {
                format!("{decided}; not enforced: the decision does not count")
            }),
            time: Some(policy.elapsed_ms / 1000.0),
        });
        for issue in &policy.blocking_issues {
            let failing = policy.enforced || policy.error.is_some();
            cases.push(Case {
                classname: policy.name.clone(),
                name: issue.id.clone(),
                failure: failing.then(|| ("failure", issue.message.clone())),
                output: (!failing).then(|| format!("not enforced: {}", issue.message)),
                time: None,
            });
        }
        for issue in &policy.warnings {
            cases.push(Case {
                classname: policy.name.clone(),
                name: issue.id.clone(),
                failure: None,
                output: Some(format!("warning: {}", issue.message)),
                time: None,
            });
        }
        unique(&mut cases);
        suites.push(Suite {
            name: policy.name.clone(),
            cases,
            file: (!policy.source.starts_with("builtin:")).then(|| policy.source.clone()),
            time: policy.elapsed_ms / 1000.0,
        });
    }
    let mut outer: Vec<Case> = report
        .blocking_issues
        .iter()
        .filter(|i| i.policy == "preflight")
        .map(|issue| Case {
            classname: "preflight".to_owned(),
            name: issue.id.clone(),
            failure: Some(("error", issue.message.clone())),
            output: None,
            time: None,
        })
        .collect();
    if !outer.is_empty() {
        unique(&mut outer);
        suites.push(Suite {
            name: "preflight".to_owned(),
            cases: outer,
            file: None,
            time: 0.0,
        });
    }
    write(&suites).unwrap_or_default()
}

fn count(cases: &[Case], kind: &str) -> usize {
    cases
        .iter()
        .filter(|c| c.failure.as_ref().is_some_and(|(k, _)| *k == kind))
        .count()
}

fn write(suites: &[Suite]) -> Result<String, std::io::Error> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let all: Vec<&Case> = suites.iter().flat_map(|suite| &suite.cases).collect();
    let failures = all
        .iter()
        .filter(|c| c.failure.as_ref().is_some_and(|(k, _)| *k == "failure"))
        .count();
    let errors = all
        .iter()
        .filter(|c| c.failure.as_ref().is_some_and(|(k, _)| *k == "error"))
        .count();
    let total_time: f64 = suites.iter().map(|suite| suite.time).sum();
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "preflight"));
    root.push_attribute(("tests", all.len().to_string().as_str()));
    root.push_attribute(("failures", failures.to_string().as_str()));
    root.push_attribute(("errors", errors.to_string().as_str()));
    root.push_attribute(("time", seconds(total_time).as_str()));
    writer.write_event(Event::Start(root))?;
    for (id, suite) in suites.iter().enumerate() {
        let cases = &suite.cases;
        let mut element = BytesStart::new("testsuite");
        element.push_attribute(("name", xml(&suite.name, false).as_ref()));
        element.push_attribute(("tests", cases.len().to_string().as_str()));
        element.push_attribute(("failures", count(cases, "failure").to_string().as_str()));
        element.push_attribute(("errors", count(cases, "error").to_string().as_str()));
        element.push_attribute(("skipped", "0"));
        element.push_attribute(("time", seconds(suite.time).as_str()));
        element.push_attribute(("id", id.to_string().as_str()));
        if let Some(file) = &suite.file {
            element.push_attribute(("file", xml(file, false).as_ref()));
        }
        writer.write_event(Event::Start(element))?;
        for case in cases {
            let mut element = BytesStart::new("testcase");
            element.push_attribute(("classname", xml(&case.classname, false).as_ref()));
            element.push_attribute(("name", xml(&case.name, false).as_ref()));
            if let Some(time) = case.time {
                element.push_attribute(("time", seconds(time).as_str()));
            }
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
