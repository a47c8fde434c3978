//! `preflight run --facts-stream`: one report per input line, in order, each the same as a
//! single run on that fact set; bad lines fail closed without stopping the stream.

use std::io::Write as _;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::{preflight, repo, run, seed_facts};

fn reports(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn with_scores(readiness: f64, mvp: f64) -> Value {
    let mut facts = seed_facts();
    facts["scores"] = json!({ "readiness": readiness, "mvp": mvp });
    facts
}

#[test]
fn each_line_gets_the_report_of_a_replayed_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        seed_facts(),
        with_scores(4.0, 4.0),
        with_scores(2.0, 3.0),
        with_scores(10.0, 10.0),
    ];
    let stream = dir.path().join("facts.ndjson");
    let text: String = lines.iter().map(|facts| format!("{facts}\n")).collect();
    std::fs::write(&stream, text).unwrap();
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .arg("run")
        .arg("--facts-stream")
        .arg(&stream));
    assert_eq!(code, 1, "the worst line is NO_GO: {stderr}");
    let streamed = reports(&stdout);
    assert_eq!(streamed.len(), lines.len());
    let decisions: Vec<&str> = streamed
        .iter()
        .map(|r| r["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["GO", "GO_WITH_CAUTION", "NO_GO", "GO"]);
    assert_eq!(streamed[0]["risk_score"], 30.0);

    for (index, facts) in lines.iter().enumerate() {
        let file = dir.path().join(format!("line{index}.json"));
        std::fs::write(&file, facts.to_string()).unwrap();
        let (_, single, _) = run(preflight()
            .current_dir(dir.path())
            .args(["run", "--no-collect", "--facts"])
            .arg(&file));
        let single: Value = serde_json::from_str(&single).unwrap();
        for key in [
            "decision",
            "risk_score",
            "facts_sha256",
            "blocking_issues",
            "warnings",
        ] {
            assert_eq!(streamed[index][key], single[key], "line {index}, {key}");
        }
        assert_eq!(
            streamed[index]["sources"]["facts"],
            format!("--facts-stream {}:{}", stream.display(), index + 1)
        );
    }
}

#[test]
fn bad_lines_fail_closed_and_the_stream_goes_on() {
    let mut child = preflight()
        .current_dir(repo())
        .args(["run", "--facts-stream", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = format!(
        "{}\n\n{{not json\n[1, 2]\n{}\n{}\n",
        seed_facts(),
        json!({"scores": "high"}),
        with_scores(9.0, 9.0)
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let streamed = reports(&stdout);
    let summary: Vec<(&str, &str)> = streamed
        .iter()
        .map(|r| {
            (
                r["decision"].as_str().unwrap(),
                r["blocking_issues"][0]["id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("GO", ""),
            ("NO_GO", "facts.not_json"),
            ("NO_GO", "facts.not_json"),
            ("NO_GO", "facts.invalid"),
            ("GO", ""),
        ],
        "the blank line is skipped; the others keep their order"
    );
    for line in [
        "line 3: not JSON",
        "line 4: a fact set",
        "line 5: the fact set",
    ] {
        assert!(stderr.contains(line), "{line}: {stderr}");
    }
    assert!(
        streamed[1]["blocking_issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`-` line 3"),
        "{}",
        streamed[1]
    );
}

#[test]
fn stream_options_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("facts.ndjson");
    std::fs::write(&stream, format!("{}\n", seed_facts())).unwrap();
    let stream = stream.to_str().unwrap();

    // Reports go to a file with -o.
    let out = dir.path().join("reports.ndjson");
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).args([
        "run",
        "--facts-stream",
        stream,
        "-o",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    assert_eq!(
        reports(&std::fs::read_to_string(&out).unwrap())[0]["decision"],
        "GO"
    );

    // Only JSON; not together with --facts; an empty stream is an error, not a GO.
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).args([
        "run",
        "--facts-stream",
        stream,
        "--format",
        "text",
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("one JSON report per line"), "{stderr}");
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).args([
        "run",
        "--facts-stream",
        stream,
        "--facts",
        stream,
    ]));
    assert_eq!(code, 2, "{stderr}");
    let empty = dir.path().join("empty.ndjson");
    std::fs::write(&empty, "\n\n").unwrap();
    let (code, stdout, stderr) = run(preflight().current_dir(dir.path()).args([
        "run",
        "--facts-stream",
        empty.to_str().unwrap(),
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("has no fact sets"), "{stderr}");
    assert_eq!(reports(&stdout)[0]["decision"], "NO_GO");
    let (code, _, stderr) =
        run(preflight()
            .current_dir(dir.path())
            .args(["run", "--facts-stream", "missing.ndjson"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot read the fact stream `missing.ndjson`"),
        "{stderr}"
    );
}

/// With several workers the reports come out in input order and equal the one-thread run's,
/// bad and blank lines included.
#[test]
fn parallel_workers_keep_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut expected = Vec::new();
    for index in 0..1500usize {
        match index % 97 {
            13 => {
                text.push_str("{\"scores\": \n");
                expected.push(Some("NO_GO"));
            }
            41 => {
                text.push('\n');
                expected.push(None);
            }
            _ => {
                let score = 2.0 + f64::from(u8::try_from(index % 9).unwrap());
                text.push_str(&format!("{}\n", with_scores(score, score)));
                // Mode B, medium complexity: 100 − 10·(0.5s + 0.5s + 0.2·10)/1.2 + 5.
                let risk = 100.0 - 10.0 * (score + 2.0) / 1.2 + 5.0;
                expected.push(Some(if risk < 50.0 {
                    "GO"
                } else if risk < 65.0 {
                    "GO_WITH_CAUTION"
                } else {
                    "NO_GO"
                }));
            }
        }
    }
    let stream = dir.path().join("facts.ndjson");
    std::fs::write(&stream, &text).unwrap();
    let comparable = |stdout: &str| -> Vec<Value> {
        reports(stdout)
            .into_iter()
            .map(|mut report| {
                for policy in report["policies"].as_array_mut().unwrap() {
                    policy["elapsed_ms"] = 0.into();
                }
                report
            })
            .collect()
    };
    let mut runs = Vec::new();
    for jobs in ["1", "4", "7"] {
        let (code, stdout, stderr) = run(preflight()
            .current_dir(dir.path())
            .args(["run", "--jobs", jobs, "--facts-stream"])
            .arg(&stream));
        assert_eq!(code, 2, "bad lines make the run an error: {stderr}");
        runs.push(comparable(&stdout));
    }
    let lines: Vec<(usize, &str)> = expected
        .iter()
        .enumerate()
        .filter_map(|(index, decision)| decision.map(|d| (index + 1, d)))
        .collect();
    assert_eq!(runs[0].len(), lines.len());
    for (report, (number, decision)) in runs[0].iter().zip(&lines) {
        assert_eq!(report["decision"], *decision, "line {number}: {report}");
        if report["blocking_issues"][0]["id"] != "facts.not_json" {
            assert_eq!(
                report["sources"]["facts"],
                format!("--facts-stream {}:{number}", stream.display())
            );
        } else {
            let message = report["blocking_issues"][0]["message"].as_str().unwrap();
            assert!(message.contains(&format!("line {number}:")), "{message}");
        }
    }
    assert!(runs[1] == runs[0], "4 workers changed the reports");
    assert!(runs[2] == runs[0], "7 workers changed the reports");
}
