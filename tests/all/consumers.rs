//! The consumers' own validators, run on every report the suite produces: GitHub's SARIF rules
//! (the SARIF multitool, rule kinds `Gh;Sarif`), the Jenkins xUnit `junit-10.xsd` with
//! `xmllint`, two CommonMark renderers for Markdown, and GitLab's documented Code Quality
//! fields. `tests/consumers/install.sh` installs them (pinned) into `target/consumers` or
//! `$PREFLIGHT_CONSUMERS`; without them a check is skipped with a note, unless
//! `PREFLIGHT_REQUIRE_VALIDATORS=1` (CI), where that fails the test.
//!
//! [`check_outputs`] is called by [`crate::support::run`] for every `preflight` command a test
//! runs: whatever report it wrote, to stdout or to a file, goes through its validator.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::support::{repo, temp_file};

/// How many reports each validator accepted in this test process (for the summary test).
pub static SARIF_CHECKED: AtomicUsize = AtomicUsize::new(0);
/// JUnit reports checked.
pub static JUNIT_CHECKED: AtomicUsize = AtomicUsize::new(0);
/// Markdown reports checked.
pub static MARKDOWN_CHECKED: AtomicUsize = AtomicUsize::new(0);

/// The validators' folder, when installed.
pub fn installed() -> Option<PathBuf> {
    let dir = std::env::var_os("PREFLIGHT_CONSUMERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/consumers"));
    if dir.join("installed").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("PREFLIGHT_REQUIRE_VALIDATORS").is_none(),
        "PREFLIGHT_REQUIRE_VALIDATORS is set but the validators are not in `{}`: run tests/consumers/install.sh",
        dir.display()
    );
    None
}

fn multitool(dir: &Path) -> PathBuf {
    // The npm wrapper passes its arguments through a shell, which splits `Gh;Sarif`: run the
    // native tool it wraps.
    dir.join("node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool")
}

/// Validates a SARIF log with GitHub's rules; panics listing every error. Returns the warnings.
pub fn sarif(text: &str) -> Vec<String> {
    let Some(dir) = installed() else {
        return Vec::new();
    };
    let (work, path) = temp_file("report.sarif", text.as_bytes());
    let out = work.path().join("validation.sarif");
    let output = Command::new(multitool(&dir))
        .args(["validate", "--rule-kind", "Gh;Sarif", "--output"])
        .arg(&out)
        .arg(&path)
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        .output()
        .unwrap();
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_else(|err| {
        panic!(
            "the SARIF multitool wrote no result ({err}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }))
    .unwrap();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for run in log["runs"].as_array().into_iter().flatten() {
        for result in run["results"].as_array().into_iter().flatten() {
            let text = format!(
                "{} {}",
                result["ruleId"].as_str().unwrap_or("?"),
                result["message"]["arguments"]
                    .as_array()
                    .map(|args| args
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" | "))
                    .unwrap_or_default()
            );
            match result["level"].as_str().unwrap_or("warning") {
                "error" => errors.push(text),
                _ => warnings.push(text),
            }
        }
        for notification in run["invocations"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|i| {
                i["toolExecutionNotifications"]
                    .as_array()
                    .into_iter()
                    .flatten()
            })
        {
            if notification["level"] == "error" {
                errors.push(notification["message"]["text"].to_string());
            }
        }
    }
    assert!(
        errors.is_empty(),
        "GitHub's SARIF rules refuse this log:\n{}\n\n{text}",
        errors.join("\n")
    );
    SARIF_CHECKED.fetch_add(1, Ordering::Relaxed);
    warnings
}

/// Validates a JUnit report against `junit-10.xsd`; panics with xmllint's message.
pub fn junit(xml: &str) {
    let Some(dir) = installed() else { return };
    let schema = dir.join("junit-10.xsd");
    let schema = schema.to_str().unwrap();
    if let Some(result) = crate::support::xmllint(xml, &["--schema", schema]) {
        if let Err(message) = result {
            panic!("junit-10.xsd refuses this report: {message}\n{xml}");
        }
        JUNIT_CHECKED.fetch_add(1, Ordering::Relaxed);
    }
}

/// The HTML elements preflight's Markdown may produce; anything else came from untrusted text.
const ELEMENTS: [&str; 13] = [
    "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "strong", "em", "code", "br",
];

/// The element names in rendered HTML.
fn elements(html: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let name: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '!' || *c == '?')
            .collect();
        names.push(name.to_ascii_lowercase());
    }
    names
}

/// Renders Markdown with commonmark.js and markdown-it, raw HTML allowed; panics when any
/// element outside [`ELEMENTS`] comes out (untrusted text that became markup).
pub fn markdown(text: &str) {
    let Some(dir) = installed() else { return };
    let mut child = Command::new("node")
        .arg(dir.join("render-markdown.js"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs the Markdown renderers");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Markdown renderers failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rendered: Value = serde_json::from_slice(&output.stdout).unwrap();
    for renderer in ["commonmark", "markdown_it"] {
        let html = rendered[renderer].as_str().unwrap();
        for name in elements(html) {
            assert!(
                ELEMENTS.contains(&name.as_str()),
                "{renderer} renders untrusted text as markup (`<{name}`):\n{html}\n\nfrom:\n{text}"
            );
        }
    }
    MARKDOWN_CHECKED.fetch_add(1, Ordering::Relaxed);
}

/// Checks a GitLab Code Quality report against the fields GitLab documents: an array of
/// objects with `description`, `check_name`, `fingerprint` (unique), `severity` (`info`,
/// `minor`, `major`, `critical`, `blocker`) and `location.path` with `location.lines.begin`.
pub fn codeclimate(text: &str) {
    let report: Value = serde_json::from_str(text).expect("a Code Quality report is JSON");
    let entries = report
        .as_array()
        .expect("a Code Quality report is an array");
    let mut fingerprints = std::collections::BTreeSet::new();
    for entry in entries {
        for key in ["description", "check_name", "fingerprint", "severity"] {
            assert!(entry[key].is_string(), "`{key}` must be a string: {entry}");
        }
        assert!(
            ["info", "minor", "major", "critical", "blocker"]
                .contains(&entry["severity"].as_str().unwrap()),
            "{entry}"
        );
        let path = entry["location"]["path"].as_str().expect("location.path");
        assert!(
            !path.is_empty() && !path.starts_with("./"),
            "a path relative to the repository: {entry}"
        );
        assert!(
            entry["location"]["lines"]["begin"]
                .as_u64()
                .is_some_and(|l| l >= 1),
            "location.lines.begin: {entry}"
        );
        assert!(
            fingerprints.insert(entry["fingerprint"].as_str().unwrap().to_owned()),
            "fingerprints are unique: {entry}"
        );
    }
}

/// Validates the reports a `preflight` command wrote: every `--format` of `run`, `canary` and
/// `test`, on stdout or in its file.
pub fn check_outputs(command: &Command, stdout: &str) {
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some(sub) = args.first() else { return };
    if !matches!(sub.as_str(), "run" | "canary" | "test") {
        return;
    }
    let mut formats: Vec<(String, Option<String>)> = Vec::new();
    let mut outputs: Vec<String> = Vec::new();
    let mut iter = args.iter().skip(1).peekable();
    while let Some(arg) = iter.next() {
        let value =
            |iter: &mut std::iter::Peekable<std::iter::Skip<std::slice::Iter<'_, String>>>,
             flag: &str|
             -> Option<String> {
                match arg.strip_prefix(&format!("{flag}=")) {
                    Some(value) => Some(value.to_owned()),
                    None if arg == flag => iter.next().cloned(),
                    None => None,
                }
            };
        if let Some(spec) = value(&mut iter, "--format") {
            match spec.split_once('=') {
                Some((name, file)) => {
                    formats.push((name.to_ascii_lowercase(), Some(file.to_owned())))
                }
                None => formats.push((spec.to_ascii_lowercase(), None)),
            }
        } else if let Some(file) = value(&mut iter, "--output").or_else(|| value(&mut iter, "-o")) {
            outputs.push(file);
        }
    }
    let mut outputs = outputs.into_iter();
    let cwd = command
        .get_current_dir()
        .map(Path::to_owned)
        .unwrap_or_else(|| std::env::current_dir().unwrap());
    for (format, file) in formats {
        let file = file.or_else(|| outputs.next());
        let text = match &file {
            Some(file) => match std::fs::read_to_string(cwd.join(file)) {
                Ok(text) => text,
                Err(_) => continue, // not written: the test checks why
            },
            None => stdout.to_owned(),
        };
        if text.trim().is_empty() {
            continue;
        }
        match format.as_str() {
            "sarif" => {
                sarif(&text);
            }
            "junit" => junit(&text),
            "markdown" => markdown(&text),
            "codeclimate" => codeclimate(&text),
            _ => {}
        }
    }
}

/// The validators are live: each refuses what its consumer refuses.
#[test]
fn the_validators_refuse_what_their_consumers_refuse() {
    if installed().is_none() {
        return;
    }
    let refused =
        |check: &dyn Fn()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).is_err();
    // A result without a location: GitHub refuses the whole file.
    let no_location = r#"{"version":"2.1.0","$schema":"https://json.schemastore.org/sarif-2.1.0.json",
        "runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"r","shortDescription":{"text":"r"},
        "fullDescription":{"text":"r"},"help":{"text":"r"}}]}},
        "results":[{"ruleId":"r","level":"error","message":{"text":"m"}}]}]}"#;
    assert!(refused(&|| {
        sarif(no_location);
    }));
    // A testcase without a name breaks junit-10.xsd.
    assert!(refused(&|| junit(
        r#"<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase/></testsuite></testsuites>"#
    )));
    // Raw HTML becomes markup.
    assert!(refused(&|| markdown(
        "| a |\n|---|\n| <script>alert(1)</script> |\n"
    )));
    assert!(refused(&|| codeclimate(r#"[{"description":"d"}]"#)));
    // And what preflight writes passes.
    markdown("## ok\n\n| a |\n|---|\n| \\<script\\> `x` |\n");
}
