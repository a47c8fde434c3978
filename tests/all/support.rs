//! Helpers shared by the end-to-end tests.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use preflight_engine::{Limits, PolicyEntry, Runtime, builtin as builtins};
use serde_json::{Value, json};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The built `preflight` binary.
pub fn preflight() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_preflight"));
    command
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY");
    command
}

/// Runs the binary and returns (exit code, stdout, stderr).
pub fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let stdout = String::from_utf8(stdout).unwrap();
    // Every report a test produces goes through its consumer's validator.
    crate::consumers::check_outputs(command, &stdout);
    (
        status.code().unwrap_or(-1),
        stdout,
        String::from_utf8(stderr).unwrap(),
    )
}

/// A runtime with short limits for tests.
pub fn runtime(limits: Limits) -> Runtime {
    Runtime::new(limits).unwrap()
}

/// Both sandbox allocators: fresh mappings (`run`) and the pool (`--facts-stream`, `test`).
pub fn runtimes(limits: Limits) -> [(&'static str, Runtime); 2] {
    [
        ("on-demand", Runtime::new(limits).unwrap()),
        ("pooled", Runtime::pooled(limits).unwrap()),
    ]
}

/// Test limits: 200 ms deadline, default fuel and memory.
pub fn test_limits() -> Limits {
    Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    }
}

/// Loads a built-in policy as an enforced entry with `settings`.
pub fn builtin(runtime: &Runtime, name: &str, settings: Value) -> PolicyEntry {
    let policy = runtime.load_builtin(builtins::find(name).unwrap()).unwrap();
    PolicyEntry::loaded(policy, settings)
}

/// The seed's fact set.
pub fn seed_facts() -> Value {
    json!({
        "scores": {"readiness": 7.0, "mvp": 7.0},
        "security": {"gate": "PASS"},
        "complexity": "medium"
    })
}

/// Metadata JSON for a test module.
pub fn metadata(name: &str) -> String {
    format!(r#"{{"name":"{name}","version":"0.1.0","abi":1,"description":"test module"}}"#)
}

/// Escapes text for a WAT string literal.
pub fn wat_string(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' => format!("\\{}", b as char),
            0x20..=0x7e => (b as char).to_string(),
            _ => format!("\\{b:02x}"),
        })
        .collect()
}

/// A module with the standard memory and allocator, `body` and the given metadata section.
pub fn module(body: &str, metadata: Option<&str>) -> Vec<u8> {
    let custom = metadata
        .map(|m| format!(r#"(@custom "preflight.policy" "{}")"#, wat_string(m)))
        .unwrap_or_default();
    let text = format!(
        r#"(module
            {body}
            (memory (export "memory") 1)
            (func (export "preflight_alloc") (param i32) (result i32) i32.const 4096)
            {custom})"#
    );
    wat::parse_str(&text).unwrap()
}

/// A module whose `preflight_evaluate` returns the bytes `output` placed at offset 1024.
pub fn returning(name: &str, output: &[u8]) -> Vec<u8> {
    let escaped: String = output.iter().map(|b| format!("\\{b:02x}")).collect();
    let body = format!(
        r#"(data (i32.const 1024) "{escaped}")
           (func (export "preflight_evaluate") (param i32 i32) (result i64)
             (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const {len})))"#,
        len = output.len()
    );
    module(&body, Some(&metadata(name)))
}

/// Writes bytes to a file in a temporary folder and returns both.
pub fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// An installed program, looked up on PATH and in the usual folders.
pub fn binary(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// A port on 127.0.0.1 nothing listens on (at the time of asking).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET over HTTP/1.0; (status, whole response) or None when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text))
}

impl Server {
    /// Waits until `GET path` answers 200, failing the test after `limit`.
    pub fn wait_until_ready(self, path: &str, limit: Duration, what: &str) -> Server {
        let started = std::time::Instant::now();
        while http_get(self.port, path).is_none_or(|(status, _)| status != 200) {
            assert!(started.elapsed() < limit, "{what} did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        self
    }
}

/// A server process the tests started, killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        match self.child.stdin.take() {
            // A watchdog shell: closing its stdin makes it stop the server and exit.
            Some(stdin) => drop(stdin),
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// Serves `body` for every request on 127.0.0.1 until the process ends; returns the port.
pub fn serve(body: Vec<u8>) -> u16 {
    serve_raw(body.len() as u64, body)
}

/// Serves `body` for every request on 127.0.0.1, claiming it is `content_length` bytes long;
/// returns the port.
pub fn serve_raw(content_length: u64, body: Vec<u8>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(&body);
        }
    });
    port
}

/// An external validator the tests run (xmllint, the SARIF multitool, ...). Absent, the test
/// that needs it is skipped with a note, unless `PREFLIGHT_REQUIRE_VALIDATORS=1` (CI), where a
/// missing validator fails the suite.
pub fn validator(name: &str) -> Option<PathBuf> {
    let found = binary(name);
    if found.is_none() {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_VALIDATORS").is_none(),
            "PREFLIGHT_REQUIRE_VALIDATORS is set but `{name}` is not installed"
        );
        eprintln!("`{name}` not found: skipping its check");
    }
    found
}

/// Runs `xmllint --noout` on a document: `Ok` when it is well-formed XML.
pub fn xmllint(xml: &str, extra: &[&str]) -> Option<Result<(), String>> {
    let xmllint = validator("xmllint")?;
    let (_dir, path) = temp_file("doc.xml", xml.as_bytes());
    let output = Command::new(xmllint)
        .arg("--noout")
        .args(extra)
        .arg(&path)
        .output()
        .unwrap();
    Some(if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    })
}

/// Sends process `pid` the signal `name` (`INT`, `TERM`, `HUP`) with `kill`.
pub fn send_signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name} {pid}");
}
