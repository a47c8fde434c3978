//! The GitHub Action's scripts, run as its steps would run on a runner, with a simulated
//! `GITHUB_*` and `RUNNER_*` environment and a local server in place of the release page:
//! `ci/github/install.sh` installs the release binary only when its checksum matches, and
//! `ci/github/run.sh` writes the files and outputs the workflow reads and exits as the
//! `caution` input says.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::repo;

/// Serves the files under `dir` on 127.0.0.1 (404 for anything else); returns the base URL.
fn serve_dir(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let file = dir.join(path.trim_start_matches('/'));
            let found = !path.contains("..") && file.is_file();
            let body = if found {
                std::fs::read(&file).unwrap()
            } else {
                b"not found".to_vec()
            };
            let status = if found { "200 OK" } else { "404 Not Found" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A release folder as the release workflow publishes it, holding this build's binary.
fn release(dir: &Path, checksum: Option<&str>) {
    let stage = tempfile::tempdir().unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_preflight"),
        stage.path().join("preflight"),
    )
    .unwrap();
    let folder = dir.join("v0.2.0");
    std::fs::create_dir_all(&folder).unwrap();
    let archive = folder.join("preflight-0.2.0-x86_64-unknown-linux-musl.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(stage.path())
        .arg("preflight")
        .status()
        .unwrap();
    assert!(status.success());
    let actual = preflight_engine::sandbox::sha256_hex(&std::fs::read(&archive).unwrap());
    std::fs::write(
        folder.join("preflight-0.2.0-x86_64-unknown-linux-musl.tar.gz.sha256"),
        format!(
            "{}  preflight-0.2.0-x86_64-unknown-linux-musl.tar.gz\n",
            checksum.unwrap_or(&actual)
        ),
    )
    .unwrap();
}

/// The files GitHub gives a step.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let runner = Runner {
            dir: tempfile::tempdir().unwrap(),
        };
        for file in ["output", "path", "env", "summary"] {
            std::fs::write(runner.file(file), "").unwrap();
        }
        runner
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap()
    }

    /// `bash SCRIPT` with the runner's environment.
    fn step(&self, script: &str, cwd: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
        let mut command = Command::new("bash");
        command
            .arg(repo().join(script))
            .current_dir(cwd)
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_PATH", self.file("path"))
            .env("GITHUB_ENV", self.file("env"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary"))
            .env("RUNNER_TOOL_CACHE", self.dir.path().join("tools"))
            .env("RUNNER_TEMP", self.dir.path().join("temp"))
            .env("HOME", self.dir.path().join("home"))
            .env("NO_COLOR", "1")
            .env_remove("PREFLIGHT_HOME");
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// The value of an output the step set.
    fn output(&self, key: &str) -> Option<String> {
        self.read("output")
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix(&format!("{key}=")).map(str::to_owned))
    }
}

fn install(runner: &Runner, url: &str, os: &str, arch: &str) -> (i32, String, String) {
    runner.step(
        "ci/github/install.sh",
        runner.dir.path(),
        &[
            ("PREFLIGHT_VERSION", "0.2.0"),
            ("PREFLIGHT_RELEASE_URL", url),
            ("PREFLIGHT_INSTALL_FROM_SOURCE", "never"),
            ("RUNNER_OS", os),
            ("RUNNER_ARCH", arch),
        ],
    )
}

#[test]
fn the_action_installs_only_a_binary_whose_checksum_matches() {
    let good = tempfile::tempdir().unwrap();
    release(good.path(), None);
    let url = serve_dir(good.path().to_owned());
    let runner = Runner::new();
    let (code, stdout, stderr) = install(&runner, &url, "Linux", "X64");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("preflight 0.2.0"), "{stdout}");
    let bin = PathBuf::from(runner.output("bin").unwrap());
    assert!(bin.is_file());
    assert!(
        runner
            .read("path")
            .contains(bin.parent().unwrap().to_str().unwrap())
    );
    let home = runner.output("home").unwrap();
    assert!(
        runner
            .read("env")
            .contains(&format!("PREFLIGHT_HOME={home}"))
    );

    // A checksum that does not match: nothing is installed, the step fails and says why.
    let bad = tempfile::tempdir().unwrap();
    release(bad.path(), Some(&"0".repeat(64)));
    let url = serve_dir(bad.path().to_owned());
    let runner = Runner::new();
    let (code, _, stderr) = install(&runner, &url, "Linux", "X64");
    assert_eq!(code, 1);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(runner.output("bin").is_none());

    // No binary for the runner, and no building from source: a clear failure.
    let (code, _, stderr) = install(&Runner::new(), &url, "Windows", "X64");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no preflight 0.2.0 binary for this runner"),
        "{stderr}"
    );
}

/// A project with readiness and MVP both `readiness` (9: GO, 3: GO_WITH_CAUTION, 1: NO_GO).
fn project(readiness: u8) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("preflight.toml"),
        format!(
            "complexity = \"low\"\n[scores]\nreadiness = {readiness}\nmvp = {readiness}\n[security]\ngate = \"PASS\"\n[artifacts]\noptional = []\n"
        ),
    )
    .unwrap();
    // CI runs pinned policies: lock them first, as the docs say.
    let (code, _, stderr) = crate::support::run(
        crate::support::preflight()
            .current_dir(dir.path())
            .args(["policy", "lock"]),
    );
    assert_eq!(code, 0, "{stderr}");
    dir
}

fn gate(runner: &Runner, project: &Path, caution: &str) -> (i32, String, String) {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_preflight")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    runner.step(
        "ci/github/run.sh",
        project,
        &[
            ("PATH", &path),
            ("PREFLIGHT_LOCKED", "true"),
            ("PREFLIGHT_CAUTION", caution),
            ("PREFLIGHT_SARIF", "preflight.sarif"),
            ("PREFLIGHT_REPORT", "preflight-report.json"),
            ("PREFLIGHT_ARGS", "--mode B"),
        ],
    )
}

#[test]
fn the_action_gate_step_writes_what_the_workflow_reads() {
    let go = project(9);
    let runner = Runner::new();
    let (code, stdout, stderr) = gate(&runner, go.path(), "fail");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("::group::preflight-gate"),
        "annotations: {stdout}"
    );
    assert_eq!(runner.output("decision").as_deref(), Some("GO"));
    assert_eq!(runner.output("exit-code").as_deref(), Some("0"));
    let sarif = std::fs::read_to_string(go.path().join("preflight.sarif")).unwrap();
    crate::consumers::sarif(&sarif);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(go.path().join("preflight-report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["decision"], "GO");
    assert!(runner.read("summary").starts_with("## preflight: ✅ GO"));

    // GO_WITH_CAUTION (risk 58.33): the step fails or passes as the input says.
    let careful = project(3);
    for (caution, expected) in [("fail", 3), ("pass", 0)] {
        let runner = Runner::new();
        let (code, stdout, stderr) = gate(&runner, careful.path(), caution);
        assert_eq!(code, expected, "{caution}: {stdout}{stderr}");
        assert_eq!(
            runner.output("decision").as_deref(),
            Some("GO_WITH_CAUTION")
        );
        assert_eq!(runner.output("exit-code").as_deref(), Some("3"));
    }

    // NO_GO fails the step; an unusable input is an error, never a pass.
    let blocked = project(1);
    let runner = Runner::new();
    let (code, _, _) = gate(&runner, blocked.path(), "pass");
    assert_eq!(code, 1);
    assert_eq!(runner.output("decision").as_deref(), Some("NO_GO"));
    let (code, _, stderr) = gate(&Runner::new(), go.path(), "maybe");
    assert_eq!(code, 2);
    assert!(stderr.contains("use pass or fail"), "{stderr}");
}

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(repo().join(path)).unwrap())
        .unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The Action's metadata, the example workflow and the GitLab template say what the scripts
/// and the docs say.
#[test]
fn the_ci_templates_are_consistent() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    for (name, input) in action["inputs"].as_object().unwrap() {
        assert!(
            input["description"].is_string(),
            "input `{name}` needs a description"
        );
        assert!(
            input["default"].is_string(),
            "input `{name}` needs a default"
        );
    }
    let steps = action["runs"]["steps"].as_array().unwrap();
    for step in steps {
        if let Some(run) = step["run"].as_str() {
            let script = run
                .split('"')
                .find(|part| part.starts_with("$GITHUB_ACTION_PATH/"))
                .unwrap()
                .trim_start_matches("$GITHUB_ACTION_PATH/");
            assert!(repo().join(script).is_file(), "{script}");
            assert_eq!(step["shell"], "bash");
        }
    }
    let cache = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/cache@"))
        })
        .expect("the compiled-policy cache is restored and saved");
    assert!(
        cache["with"]["key"]
            .as_str()
            .unwrap()
            .contains("preflight.lock")
    );
    for output in ["decision", "exit-code", "sarif-file", "report-file"] {
        assert!(action["outputs"][output]["value"].is_string(), "{output}");
    }

    let workflow = yaml("examples/github-workflow.yml");
    let steps = workflow["jobs"]["gate"]["steps"].as_array().unwrap();
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif"))
        })
        .unwrap();
    assert!(upload["if"].as_str().unwrap().contains("always()"));
    assert_eq!(workflow["permissions"]["security-events"], "write");

    let gitlab = yaml("ci/gitlab/preflight.gitlab-ci.yml");
    let job = &gitlab[".preflight"];
    assert_eq!(job["allow_failure"]["exit_codes"], serde_json::json!([3]));
    assert_eq!(job["artifacts"]["reports"]["junit"], "preflight-junit.xml");
    assert_eq!(
        job["artifacts"]["reports"]["codequality"],
        "gl-code-quality-report.json"
    );
    assert_eq!(job["artifacts"]["when"], "always");
    let script = job["script"][0].as_str().unwrap();
    for format in [
        "junit=preflight-junit.xml",
        "codeclimate=gl-code-quality-report.json",
        "--locked",
    ] {
        assert!(script.contains(format), "{script}");
    }
    assert_eq!(job["image"]["entrypoint"], serde_json::json!([""]));

    let release = yaml(".github/workflows/release.yml");
    let targets: Vec<&str> = release["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    let install = std::fs::read_to_string(repo().join("ci/github/install.sh")).unwrap();
    for target in &targets {
        assert!(
            install.contains(target),
            "install.sh does not know {target}"
        );
    }
}
