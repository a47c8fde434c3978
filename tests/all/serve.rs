//! `preflight serve` over real HTTP on 127.0.0.1: the same reports as the CLI, the errors a
//! client can make, auth, metrics `promtool` accepts, the decision log, reloads that keep
//! serving, load shedding, slow clients and SIGTERM.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{binary, free_port, preflight, run};

const TOKEN: &str = "s3cret-token-for-the-tests-0123456789";

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, args: &[&str]) -> Server {
    let port = free_port();
    // Owned by `Server` from the start: dropped, it is killed and waited for.
    let server = Server {
        child: preflight()
            .current_dir(dir)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        port,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if http(port, "GET", "/healthz", &[], b"").is_some_and(|(status, _, _)| status == 200) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("preflight serve did not come up on port {port}");
}

/// Sends the server a signal (`HUP`, `TERM`) with `kill`.
fn signal(server: &Server, name: &str) {
    crate::support::send_signal(server.child.id(), name);
}

/// One HTTP/1.1 request with `Connection: close`: (status, headers, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_ascii_lowercase(), body.to_owned()))
}

fn post(port: u16, body: &[u8], token: Option<&str>) -> (u16, String, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    http(port, "POST", "/v1/decisions", &headers, body).expect("a response")
}

/// The report without what differs between a run and a request: timings and provenance.
fn comparable(mut report: Value) -> Value {
    report.as_object_mut().unwrap().remove("sources");
    for policy in report["policies"].as_array_mut().unwrap() {
        policy["elapsed_ms"] = 0.into();
    }
    report
}

/// Three fact sets: GO, caution, blocked.
fn fact_sets(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let sets = [
        r#"{"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "medium"}"#,
        r#"{"scores": {"readiness": 4, "mvp": 4}, "security": {"gate": "PASS"}, "complexity": "medium"}"#,
        r#"{"scores": {"readiness": 3, "mvp": 2}, "security": {"gate": "FAIL"}, "complexity": "high"}"#,
    ];
    sets.iter()
        .enumerate()
        .map(|(index, text)| {
            let path = dir.join(format!("facts-{index}.json"));
            std::fs::write(&path, text).unwrap();
            (path, text.as_bytes().to_vec())
        })
        .collect()
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("preflight.toml"), "[gate]\nmode = \"B\"\n").unwrap();
    dir
}

/// 1 000 requests from 32 concurrent clients: every report is the CLI's for the same facts.
#[test]
fn concurrent_decisions_equal_the_cli() {
    let dir = project();
    let sets = fact_sets(dir.path());
    let expected: Vec<Value> = sets
        .iter()
        .map(|(path, _)| {
            let (_, stdout, _) = run(preflight()
                .current_dir(dir.path())
                .args(["run", "--no-collect", "--facts"])
                .arg(path));
            comparable(serde_json::from_str(&stdout).unwrap())
        })
        .collect();
    assert_eq!(expected[0]["decision"], "GO");
    assert_eq!(expected[1]["decision"], "GO_WITH_CAUTION");
    assert_eq!(expected[2]["decision"], "NO_GO");
    let log = dir.path().join("decisions.ndjson");
    let server = start(
        dir.path(),
        &[
            "--decision-log",
            log.to_str().unwrap(),
            "--max-inflight",
            "256",
        ],
    );
    let port = server.port;
    let sets = std::sync::Arc::new(sets);
    let expected = std::sync::Arc::new(expected);
    let clients: Vec<_> = (0..32)
        .map(|client| {
            let sets = sets.clone();
            let expected = expected.clone();
            std::thread::spawn(move || {
                for request in 0..1000 / 32 + usize::from(client < 1000 % 32) {
                    let which = (client + request) % 3;
                    let (status, head, body) = post(port, &sets[which].1, None);
                    assert_eq!(status, 200, "{body}");
                    let report: Value = serde_json::from_str(&body).unwrap();
                    assert!(
                        head.contains(&format!(
                            "preflight-decision: {}",
                            report["decision"].as_str().unwrap().to_ascii_lowercase()
                        )),
                        "{head}"
                    );
                    assert_eq!(comparable(report), expected[which]);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1000);
    assert!(lines.iter().all(|line| line.get("facts").is_none()));
    assert!(
        lines
            .iter()
            .all(|line| line["facts_sha256"].as_str().unwrap().len() == 64)
    );
    assert_eq!(lines[0]["policies"][0]["name"], "preflight-gate");

    // Metrics: counted, and what promtool accepts.
    let (status, _, metrics) = http(port, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(status, 200);
    let go = metrics
        .lines()
        .find(|line| line.starts_with("preflight_decisions_total{decision=\"GO\"}"))
        .unwrap();
    assert!(go.ends_with(" 334") || go.ends_with(" 333"), "{go}");
    assert!(
        metrics.contains("preflight_evaluation_seconds_count 1000"),
        "{metrics}"
    );
    match binary("promtool") {
        Some(promtool) => {
            let mut check = std::process::Command::new(promtool)
                .args(["check", "metrics"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            check
                .stdin
                .take()
                .unwrap()
                .write_all(metrics.as_bytes())
                .unwrap();
            let out = check.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        None => assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_PROMETHEUS").is_none(),
            "PREFLIGHT_REQUIRE_PROMETHEUS is set but promtool is missing"
        ),
    }
}

/// Every bad request gets its status and, for decisions, a NO_GO report saying why.
#[test]
fn bad_requests_get_their_status_and_a_no_go_report() {
    let dir = project();
    let server = start(dir.path(), &["--max-body", "1KiB"]);
    let port = server.port;
    let no_go = |body: &str, id: &str| {
        let report: Value = serde_json::from_str(body).unwrap();
        assert_eq!(report["decision"], "NO_GO");
        assert_eq!(report["blocking_issues"][0]["id"], id, "{body}");
    };
    let (status, _, body) = post(port, b"not json", None);
    assert_eq!(status, 400);
    no_go(&body, "facts.not_json");
    let (status, _, body) = post(port, b"[1, 2]", None);
    assert_eq!(status, 400);
    no_go(&body, "facts.not_json");
    let (status, _, body) = post(port, br#"{"scores": {"readiness": "high"}}"#, None);
    assert_eq!(status, 422);
    no_go(&body, "facts.invalid");
    assert!(body.contains("/scores/readiness"), "{body}");
    let big = format!(
        r#"{{"scores": {{"readiness": 7, "mvp": 7}}, "pad": "{}"}}"#,
        "x".repeat(2000)
    );
    let (status, _, body) = post(port, big.as_bytes(), None);
    assert_eq!(status, 413);
    no_go(&body, "facts.too_large");
    let (status, _, body) = http(
        port,
        "POST",
        "/v1/decisions",
        &[("Content-Type", "text/plain")],
        b"{}",
    )
    .unwrap();
    assert_eq!(status, 415);
    no_go(&body, "facts.not_json");
    assert_eq!(http(port, "GET", "/v1/decisions", &[], b"").unwrap().0, 405);
    assert_eq!(http(port, "GET", "/nothing", &[], b"").unwrap().0, 404);
    // Still serving.
    let (status, _, _) = post(port, br#"{"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "low"}"#, None);
    assert_eq!(status, 200);
}

#[test]
fn tokens_are_required_when_configured_and_open_binds_need_them() {
    let dir = project();
    std::fs::write(
        dir.path().join("tokens"),
        format!("# the CI runners\n{TOKEN}\n"),
    )
    .unwrap();
    let server = start(dir.path(), &["--token-file", "tokens"]);
    let facts = br#"{"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "low"}"#;
    let (status, head, _) = post(server.port, facts, None);
    assert_eq!(status, 401);
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    assert_eq!(
        post(server.port, facts, Some("wrong-token-wrong-token-wrong")).0,
        401
    );
    assert_eq!(post(server.port, facts, Some(TOKEN)).0, 200);
    // Health and metrics stay open for probes and scrapers.
    assert_eq!(
        http(server.port, "GET", "/healthz", &[], b"").unwrap().0,
        200
    );
    drop(server);

    let (code, _, stderr) = run(preflight().current_dir(dir.path()).args([
        "serve",
        "--addr",
        &format!("0.0.0.0:{}", free_port()),
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("without --token-file"), "{stderr}");
}

/// A reload with a broken config or a tampered module keeps the old set serving; a good one
/// switches. SIGHUP reloads too.
#[test]
fn failed_reloads_keep_the_old_set_and_good_ones_switch() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("careful.wasm");
    std::fs::write(
        &wasm,
        crate::support::returning("careful", br#"{"decision":"GO_WITH_CAUTION"}"#),
    )
    .unwrap();
    std::fs::write(dir.path().join("tokens"), format!("{TOKEN}\n")).unwrap();
    let good = "[[policy]]\nsource = \"careful.wasm\"\n";
    std::fs::write(dir.path().join("preflight.toml"), good).unwrap();
    let (code, _, stderr) = run(preflight().current_dir(dir.path()).args(["policy", "lock"]));
    assert_eq!(code, 0, "{stderr}");
    let server = start(dir.path(), &["--token-file", "tokens", "--locked"]);
    let port = server.port;
    let facts = br#"{"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "low"}"#;
    let decision = || {
        let (status, _, body) = post(port, facts, Some(TOKEN));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["decision"].clone()
    };
    assert_eq!(decision(), "GO_WITH_CAUTION");
    let auth = format!("Bearer {TOKEN}");
    let reload = || {
        http(
            port,
            "POST",
            "/v1/admin/reload",
            &[("Authorization", &auth)],
            b"",
        )
        .unwrap()
    };
    assert_eq!(
        http(port, "POST", "/v1/admin/reload", &[], b"").unwrap().0,
        401
    );

    // A broken config: 409, the old set serves, readyz says why.
    std::fs::write(dir.path().join("preflight.toml"), "[[policy]\n").unwrap();
    let (status, _, body) = reload();
    assert_eq!(status, 409, "{body}");
    assert_eq!(decision(), "GO_WITH_CAUTION");
    let (_, _, ready) = http(port, "GET", "/readyz", &[], b"").unwrap();
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["generation"], 1);
    assert!(
        ready["last_reload_error"]
            .as_str()
            .unwrap()
            .contains("preflight.toml"),
        "{ready}"
    );

    // A tampered module (the lock pins the old digest): refused, the old set serves.
    std::fs::write(dir.path().join("preflight.toml"), good).unwrap();
    std::fs::write(
        &wasm,
        crate::support::returning("careful", br#"{"decision":"GO"}"#),
    )
    .unwrap();
    let (status, _, body) = reload();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("sha256"), "{body}");
    assert_eq!(decision(), "GO_WITH_CAUTION");

    // Re-locked: the reload switches.
    let (code, _, _) = run(preflight().current_dir(dir.path()).args(["policy", "lock"]));
    assert_eq!(code, 0);
    let (status, _, body) = reload();
    assert_eq!(status, 200, "{body}");
    assert_eq!(decision(), "GO");

    // SIGHUP: back to the built-in gate.
    std::fs::write(dir.path().join("preflight.toml"), "").unwrap();
    let (code, _, _) = run(preflight().current_dir(dir.path()).args(["policy", "lock"]));
    assert_eq!(code, 0);
    signal(&server, "HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, _, ready) = http(port, "GET", "/readyz", &[], b"").unwrap();
        let ready: Value = serde_json::from_str(&ready).unwrap();
        if ready["generation"] == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no reload after SIGHUP: {ready}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, _, body) = http(
        port,
        "GET",
        "/v1/policies",
        &[("Authorization", &auth)],
        b"",
    )
    .unwrap();
    let policies: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(policies["policies"][0]["name"], "preflight-gate");
}

/// A module that takes about a second per decision.
fn slow_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"(data (i32.const 1024) "{\"decision\":\"GO\"}")
        (func (export "preflight_evaluate") (param i32 i32) (result i64)
          (local $i i64)
          (block $done (loop $spin
            (local.set $i (i64.add (local.get $i) (i64.const 1)))
            (br_if $done (i64.ge_u (local.get $i) (i64.const 400000000)))
            (br $spin)))
          (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 17)))"#;
    std::fs::write(
        dir.path().join("slow.wasm"),
        crate::support::module(body, Some(&crate::support::metadata("slow"))),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("preflight.toml"),
        "[[policy]]\nsource = \"slow.wasm\"\n",
    )
    .unwrap();
    dir
}

/// Over `--max-inflight`, 503 with Retry-After; never a crash. SIGTERM lets in-flight requests
/// finish, refuses new ones, exits 0. Slow headers are cut off.
#[test]
fn overload_sheds_sigterm_drains_and_slow_clients_are_cut_off() {
    let dir = slow_project();
    let mut server = start(
        dir.path(),
        &[
            "--max-inflight",
            "1",
            "--timeout-ms",
            "20000",
            "--fuel",
            "100000000000",
            "--header-timeout",
            "3s",
        ],
    );
    let port = server.port;
    let facts = br#"{"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "low"}"#.to_vec();
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let facts = facts.clone();
            std::thread::spawn(move || post(port, &facts, None))
        })
        .collect();
    let results: Vec<(u16, String, String)> =
        requests.into_iter().map(|r| r.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let shed: Vec<&(u16, String, String)> = results.iter().filter(|r| r.0 == 503).collect();
    assert!(ok >= 1, "{results:?}");
    assert!(!shed.is_empty(), "no request was shed: {results:?}");
    assert!(shed.iter().all(|r| r.1.contains("retry-after: 1")));
    let (_, _, metrics) = http(port, "GET", "/metrics", &[], b"").unwrap();
    assert!(
        metrics.contains(&format!("preflight_shed_requests_total {}", shed.len())),
        "{metrics}"
    );

    // A client that sends its headers at one byte a second is cut off: the timeout covers the
    // whole header, not each read.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Each wait for the server is the second between two bytes.
    slow.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let started = Instant::now();
    let mut cut = None;
    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: a-very-slow-client\r\n" {
        if slow.write_all(&[*byte]).is_err() {
            cut = Some(started.elapsed());
            break;
        }
        let mut buffer = [0u8; 256];
        match slow.read(&mut buffer) {
            // Closed, or answered before the headers were complete: either way, cut off.
            Ok(_) => {
                cut = Some(started.elapsed());
                break;
            }
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                cut = Some(started.elapsed());
                break;
            }
        }
    }
    let cut = cut.expect("a client sending a byte a second held its connection for a minute");
    assert!(
        cut >= Duration::from_secs(2) && cut < Duration::from_secs(7),
        "cut off after {cut:?}, the header timeout is 3 s"
    );

    // SIGTERM while a decision is in flight: it completes; the process exits 0.
    let in_flight = {
        let facts = facts.clone();
        std::thread::spawn(move || post(port, &facts, None))
    };
    std::thread::sleep(Duration::from_millis(300));
    signal(&server, "TERM");
    let (status, _, body) = in_flight.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let exit = server.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    assert!(
        http(port, "GET", "/healthz", &[], b"").is_none(),
        "still accepting after SIGTERM"
    );
}

/// `schemas/openapi.json` is what the types generate, and a valid OpenAPI 3.1 document by
/// `openapi-spec-validator` (PyPI).
#[test]
fn the_openapi_document_is_current_and_valid() {
    let (code, stdout, _) = run(preflight().args(["schema", "openapi"]));
    assert_eq!(code, 0);
    let committed =
        std::fs::read_to_string(crate::support::repo().join("schemas/openapi.json")).unwrap();
    assert_eq!(
        stdout, committed,
        "schemas/openapi.json drifted: run `preflight schema openapi > schemas/openapi.json`"
    );
    let document: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/v1/decisions"]["post"].is_object());
    let Some(python) = binary("python3") else {
        return;
    };
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))",
        ])
        .arg(crate::support::repo().join("schemas/openapi.json"))
        .output()
        .unwrap();
    let missing = String::from_utf8_lossy(&out.stderr).contains("No module named");
    if missing {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_VALIDATORS").is_none(),
            "PREFLIGHT_REQUIRE_VALIDATORS is set but openapi-spec-validator is not installed"
        );
        return;
    }
    assert!(
        out.status.success(),
        "openapi-spec-validator refuses schemas/openapi.json: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A real Prometheus (the Debian package) scrapes `/metrics` and has the service's counters.
#[test]
fn a_real_prometheus_scrapes_the_service() {
    let Some(prometheus) = binary("prometheus") else {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_PROMETHEUS").is_none(),
            "PREFLIGHT_REQUIRE_PROMETHEUS is set but prometheus is not installed"
        );
        return;
    };
    let dir = project();
    let server = start(dir.path(), &[]);
    let facts = br#"{"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "low"}"#;
    for _ in 0..3 {
        assert_eq!(post(server.port, facts, None).0, 200);
    }
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: preflight\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            server.port
        ),
    )
    .unwrap();
    let port = free_port();
    let scraper = Server {
        child: std::process::Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                work.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        port,
    };
    let query = |expr: &str| -> Option<f64> {
        let encoded: String = expr
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, _, body) = http(
            scraper.port,
            "GET",
            &format!("/api/v1/query?query={encoded}"),
            &[],
            b"",
        )?;
        if status != 200 {
            return None;
        }
        let value: Value = serde_json::from_str(&body).ok()?;
        value["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = query("up{job=\"preflight\"}");
        let go = query("preflight_decisions_total{job=\"preflight\",decision=\"GO\"}");
        if up == Some(1.0) && go == Some(3.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not scrape the service: up {up:?}, GO decisions {go:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let count = query("preflight_evaluation_seconds_count{job=\"preflight\"}");
    assert_eq!(count, Some(3.0));
}

/// A module named `name` that spins `spins` times, then answers `output`.
fn spinning(name: &str, spins: u64, output: &str) -> Vec<u8> {
    let escaped: String = output.bytes().map(|b| format!("\\{b:02x}")).collect();
    let body = format!(
        r#"(data (i32.const 1024) "{escaped}")
        (func (export "preflight_evaluate") (param i32 i32) (result i64)
          (local $i i64)
          (block $done (loop $spin
            (local.set $i (i64.add (local.get $i) (i64.const 1)))
            (br_if $done (i64.ge_u (local.get $i) (i64.const {spins})))
            (br $spin)))
          (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const {len})))"#,
        len = output.len()
    );
    crate::support::module(&body, Some(&crate::support::metadata(name)))
}

/// Writes `text` to `path` the way an operator's deploy does: whole, by rename.
fn replace(path: &Path, text: &str) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

/// Under sustained load from 8 clients: 20 reloads alternate between two policy sets and no
/// response sees a mix of them; then SIGTERM: every request already taken completes with a
/// whole report, new connections are refused, the process exits 0.
#[test]
fn reloads_and_sigterm_under_sustained_load() {
    let dir = tempfile::tempdir().unwrap();
    // About 20-50 ms per decision, so requests are in flight whenever a reload or SIGTERM lands.
    std::fs::write(
        dir.path().join("careful.wasm"),
        spinning("careful", 20_000_000, r#"{"decision":"GO_WITH_CAUTION"}"#),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("steady.wasm"),
        spinning("steady", 1_000, r#"{"decision":"GO"}"#),
    )
    .unwrap();
    std::fs::write(dir.path().join("tokens"), format!("{TOKEN}\n")).unwrap();
    let one = "[[policy]]\nsource = \"careful.wasm\"\n";
    let two = "[[policy]]\nsource = \"careful.wasm\"\n\n[[policy]]\nsource = \"steady.wasm\"\n";
    let config = dir.path().join("preflight.toml");
    replace(&config, one);
    let mut server = start(
        dir.path(),
        &[
            "--token-file",
            "tokens",
            "--max-inflight",
            "64",
            "--fuel",
            "100000000000",
            "--shutdown-timeout",
            "30s",
        ],
    );
    let port = server.port;
    let facts = br#"{"scores": {"readiness": 7, "mvp": 7}, "security": {"gate": "PASS"}, "complexity": "low"}"#;
    // Each client: (finished at, the response) per request, until the server goes away.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let auth = format!("Bearer {TOKEN}");
                let headers = [
                    ("Content-Type", "application/json"),
                    ("Authorization", auth.as_str()),
                ];
                let mut seen = Vec::new();
                loop {
                    let response = http(port, "POST", "/v1/decisions", &headers, facts);
                    let done = response.is_none();
                    seen.push((Instant::now(), response));
                    if done {
                        return seen;
                    }
                }
            })
        })
        .collect();

    let auth = format!("Bearer {TOKEN}");
    for round in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        replace(&config, if round % 2 == 0 { two } else { one });
        let (status, _, body) = http(
            port,
            "POST",
            "/v1/admin/reload",
            &[("Authorization", &auth)],
            b"",
        )
        .unwrap();
        assert_eq!(status, 200, "reload {round}: {body}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    signal(&server, "TERM");
    let exit = server.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "SIGTERM under load must exit 0");

    let mut sets = std::collections::BTreeMap::<Vec<String>, usize>::new();
    let mut after_signal = 0;
    for client in clients {
        for (finished, response) in client.join().unwrap() {
            let Some((status, _, body)) = response else {
                // Refused or closed before a response began: the server had stopped accepting.
                assert!(finished >= signalled, "a request failed before SIGTERM");
                continue;
            };
            assert_eq!(status, 200, "{body}");
            let report: Value = serde_json::from_str(&body)
                .unwrap_or_else(|err| panic!("not a whole report ({err}): {body}"));
            let names: Vec<String> = report["policies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(report["decision"], "GO_WITH_CAUTION", "{report}");
            *sets.entry(names).or_default() += 1;
            if finished > signalled {
                after_signal += 1;
            }
        }
    }
    let keys: Vec<&Vec<String>> = sets.keys().collect();
    assert_eq!(
        keys,
        [
            &vec!["preflight-gate".to_owned(), "careful".to_owned()],
            &vec![
                "preflight-gate".to_owned(),
                "careful".to_owned(),
                "steady".to_owned()
            ]
        ],
        "every response comes from one whole policy set: {sets:?}"
    );
    assert!(
        after_signal >= 1,
        "no request in flight at SIGTERM completed: {sets:?}"
    );
    assert!(
        http(port, "GET", "/healthz", &[], b"").is_none(),
        "still accepting after SIGTERM"
    );
}
