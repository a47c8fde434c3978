//! Canary analysis against a real Prometheus (Debian's `prometheus` and `promtool`): scenarios
//! are written as OpenMetrics, backfilled with `promtool tsdb create-blocks-from openmetrics`,
//! and served by Prometheus on 127.0.0.1. Faults come from a small server that misbehaves on
//! purpose. With `PREFLIGHT_REQUIRE_PROMETHEUS=1` (CI) a missing binary fails the suite.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, binary, free_port, preflight, run};

/// Start of the recorded data; the analysis window is its last 10 minutes.
const T0: i64 = 1_700_000_000;
const STEP: i64 = 10;
const POINTS: i64 = 120; // 20 minutes
const END: i64 = T0 + STEP * (POINTS - 1);
const BUCKETS: [f64; 8] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0];

/// A small deterministic PRNG (xorshift64*), so the scenarios are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// One track of one scenario.
#[derive(Clone, Copy)]
struct Track {
    /// Requests per 10 s.
    requests: u32,
    /// Median latency, seconds.
    median: f64,
    /// Log-normal sigma of the latency.
    sigma: f64,
    /// Share of 5xx.
    errors: f64,
    /// Breaker state per point index: open from this index on.
    breaker_open_from: Option<i64>,
}

const NORMAL: Track = Track {
    requests: 300,
    median: 0.12,
    sigma: 0.35,
    errors: 0.005,
    breaker_open_from: None,
};

fn scenarios() -> Vec<(&'static str, Track, Track)> {
    vec![
        ("healthy", NORMAL, NORMAL),
        (
            "latency",
            NORMAL,
            Track {
                median: 0.24,
                ..NORMAL
            },
        ),
        (
            "errors",
            NORMAL,
            Track {
                errors: 0.08,
                ..NORMAL
            },
        ),
        (
            "breaker",
            NORMAL,
            Track {
                breaker_open_from: Some(POINTS - 18),
                ..NORMAL
            },
        ),
        (
            "notraffic",
            Track {
                requests: 0,
                ..NORMAL
            },
            Track {
                requests: 0,
                ..NORMAL
            },
        ),
        (
            "noisy",
            NORMAL,
            Track {
                requests: 90,
                ..NORMAL
            },
        ),
    ]
}

fn openmetrics() -> String {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut buckets = String::from("# TYPE http_request_duration_seconds_bucket unknown\n");
    let mut requests = String::from("# TYPE http_requests counter\n");
    let mut breaker = String::from("# TYPE pms_circuit_breaker_state gauge\n");
    for (job, baseline, canary) in scenarios() {
        for (track, spec) in [("baseline", baseline), ("canary", canary)] {
            let labels = format!("job=\"{job}\",track=\"{track}\"");
            let mut cumulative = [0u64; BUCKETS.len() + 1];
            let (mut ok, mut failed) = (0u64, 0u64);
            let mut bucket_lines: Vec<Vec<String>> = vec![Vec::new(); BUCKETS.len() + 1];
            let (mut ok_lines, mut failed_lines, mut breaker_lines) =
                (Vec::new(), Vec::new(), Vec::new());
            for i in 0..POINTS {
                let t = T0 + i * STEP;
                for _ in 0..spec.requests {
                    let latency = spec.median * (spec.sigma * rng.normal()).exp();
                    for (b, le) in BUCKETS.iter().enumerate() {
                        if latency <= *le {
                            cumulative[b] += 1;
                        }
                    }
                    cumulative[BUCKETS.len()] += 1;
                    if rng.next() < spec.errors {
                        failed += 1
                    } else {
                        ok += 1
                    }
                }
                for (b, le) in BUCKETS
                    .iter()
                    .map(|v| format!("{v}"))
                    .chain(["+Inf".to_owned()])
                    .enumerate()
                {
                    bucket_lines[b].push(format!(
                        "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {} {t}",
                        cumulative[b]
                    ));
                }
                ok_lines.push(format!(
                    "http_requests_total{{{labels},status=\"200\"}} {ok} {t}"
                ));
                failed_lines.push(format!(
                    "http_requests_total{{{labels},status=\"503\"}} {failed} {t}"
                ));
                if spec.requests > 0 {
                    let open = spec.breaker_open_from.is_some_and(|from| i >= from);
                    breaker_lines.push(format!(
                        "pms_circuit_breaker_state{{{labels}}} {} {t}",
                        u8::from(open)
                    ));
                }
            }
            for lines in bucket_lines {
                buckets.push_str(&lines.join("\n"));
                buckets.push('\n');
            }
            for lines in [ok_lines, failed_lines] {
                requests.push_str(&lines.join("\n"));
                requests.push('\n');
            }
            for line in breaker_lines {
                let _ = writeln!(breaker, "{line}");
            }
        }
    }
    format!("{buckets}{requests}{breaker}# EOF\n")
}

/// The shared Prometheus, started once for the whole suite; `None` when not installed.
fn prometheus() -> Option<&'static std::sync::Mutex<Server>> {
    static SERVER: OnceLock<Option<std::sync::Mutex<Server>>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let (Some(prometheus), Some(promtool)) = (binary("prometheus"), binary("promtool"))
            else {
                assert!(
                    std::env::var_os("PREFLIGHT_REQUIRE_PROMETHEUS").is_none(),
                    "PREFLIGHT_REQUIRE_PROMETHEUS is set but prometheus/promtool are not installed"
                );
                eprintln!("prometheus or promtool not found: skipping the real-Prometheus tests");
                return None;
            };
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            let input = dir.path().join("scenarios.om");
            std::fs::write(&input, openmetrics()).unwrap();
            let status = Command::new(&promtool)
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&input)
                .arg(&data)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "promtool failed");
            let config = dir.path().join("prometheus.yml");
            std::fs::write(
                &config,
                "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
            )
            .unwrap();
            let port = free_port();
            // The server outlives every test, and statics are never dropped, so a watchdog
            // shell holds it: when this process exits, the shell's stdin closes and it stops
            // Prometheus, which would otherwise outlive the test run.
            let child = Command::new("sh")
                .args([
                    "-c",
                    "\"$0\" \"$@\" </dev/null & pid=$!; read -r _; kill $pid; wait $pid",
                ])
                .arg(&prometheus)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg("--storage.tsdb.retention.time=100y")
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=error")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let server = Server {
                child,
                port,
                _dir: dir,
            }
            .wait_until_ready("/-/ready", Duration::from_secs(60), "Prometheus");
            Some(std::sync::Mutex::new(server))
        })
        .as_ref()
}

/// Runs `canary analyze` for a scenario; returns (exit code, report, diff report).
fn analyze(job: &str, extra: &[&str]) -> Option<(i32, Value, Value)> {
    let port = prometheus()?.lock().unwrap().port;
    let dir = tempfile::tempdir().unwrap();
    let diff = dir.path().join("diff.json");
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args([
            "canary",
            "analyze",
            "--prometheus",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args(["--baseline", &format!("job=\"{job}\",track=\"baseline\"")])
        .args(["--canary", &format!("job=\"{job}\",track=\"canary\"")])
        .args([
            "--end",
            &END.to_string(),
            "--window",
            "10m",
            "--step",
            "10s",
        ])
        .arg("--report")
        .arg(&diff)
        .args(extra));
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}\n{stderr}"));
    let diff: Value = serde_json::from_str(&std::fs::read_to_string(&diff).unwrap()).unwrap();
    Some((code, report, diff))
}

fn label(diff: &Value, metric: &str) -> String {
    let metrics = diff["metrics"].as_array().unwrap();
    let metric = metrics.iter().find(|m| m["name"] == metric).unwrap();
    metric["label"].as_str().unwrap().to_owned()
}

#[test]
fn healthy_canary_passes() {
    let Some((code, report, diff)) = analyze("healthy", &[]) else {
        return;
    };
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["decision"], "GO");
    assert_eq!(diff["verdict"], "PASS");
    assert_eq!(diff["score"], 100.0);
    for metric in diff["metrics"].as_array().unwrap() {
        assert_eq!(metric["label"], "Pass", "{metric:#}");
        assert!(
            metric["canary"]["count"].as_u64().unwrap() >= 50,
            "{metric:#}"
        );
    }
    let p95 = diff["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "p95_latency")
        .unwrap();
    assert_eq!(p95["canary"]["count"], 61, "10 m at 10 s gives 61 points");
    assert!(
        p95["baseline_mean"].as_f64().unwrap() > 0.1
            && p95["baseline_mean"].as_f64().unwrap() < 0.5
    );
    assert!(p95["p_value"].is_number() && p95["hodges_lehmann"]["estimate"].is_number());
}

#[test]
fn latency_regression_fails() {
    let Some((code, report, diff)) = analyze("latency", &[]) else {
        return;
    };
    assert_eq!(code, 1);
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(diff["verdict"], "FAIL");
    assert_eq!(label(&diff, "p95_latency"), "High");
    assert_eq!(label(&diff, "error_rate"), "Pass");
    let p95 = diff["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "p95_latency")
        .unwrap();
    assert!(
        p95["reason"].as_str().unwrap().contains("canary is higher"),
        "{p95:#}"
    );
    assert!(p95["p_value"].as_f64().unwrap() < 0.02);
}

#[test]
fn error_spike_fails() {
    let Some((code, _, diff)) = analyze("errors", &[]) else {
        return;
    };
    assert_eq!(code, 1);
    assert_eq!(diff["verdict"], "FAIL");
    assert_eq!(label(&diff, "error_rate"), "High");
    assert_eq!(label(&diff, "p95_latency"), "Pass");
}

#[test]
fn open_breaker_is_a_critical_failure() {
    let Some((code, report, diff)) = analyze("breaker", &[]) else {
        return;
    };
    assert_eq!(code, 1);
    assert_eq!(diff["verdict"], "FAIL");
    assert_eq!(label(&diff, "circuit_breaker"), "High");
    assert_eq!(label(&diff, "p95_latency"), "Pass");
    let ids: Vec<&str> = report["blocking_issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"canary.critical_metric"), "{ids:?}");
}

#[test]
fn no_traffic_is_no_data_and_fails() {
    let Some((code, _, diff)) = analyze("notraffic", &[]) else {
        return;
    };
    assert_eq!(code, 1);
    assert_eq!(diff["verdict"], "FAIL");
    for metric in ["p95_latency", "error_rate", "circuit_breaker"] {
        assert_eq!(label(&diff, metric), "NoData", "{metric}");
    }
}

#[test]
fn slightly_noisy_but_fine_passes() {
    let Some((code, _, diff)) = analyze("noisy", &[]) else {
        return;
    };
    assert_eq!(code, 0, "{diff:#}");
    assert_eq!(diff["verdict"], "PASS");
}

#[test]
fn unknown_selector_has_no_data() {
    let Some((code, _, diff)) = analyze("nonexistent", &[]) else {
        return;
    };
    assert_eq!(code, 1);
    assert_eq!(label(&diff, "p95_latency"), "NoData");
}

#[test]
fn record_and_replay_without_prometheus() {
    let Some(server) = prometheus() else { return };
    let port = server.lock().unwrap().port;
    let dir = tempfile::tempdir().unwrap();
    // `canary analyze` puts the fetched series into the report's facts; record them with
    // `--format json` and replay through `--facts`.
    let saved = dir.path().join("facts.json");
    let script = format!(
        "{{\"canary\": {}}}",
        serde_json::to_string(&fetch_section(port, "latency")).unwrap()
    );
    std::fs::write(&saved, script).unwrap();
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args(["canary", "analyze", "--facts"])
        .arg(&saved)
        .args(["--report", "replayed.json"]));
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    let diff: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("replayed.json")).unwrap())
            .unwrap();
    assert_eq!(label(&diff, "p95_latency"), "High");
}

/// The `canary` section as `canary analyze` builds it, through the library.
fn fetch_section(port: u16, job: &str) -> Value {
    let options = preflight_canary::prometheus::Options::new(format!("http://127.0.0.1:{port}"));
    let client = preflight_canary::prometheus::Client::new(options).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let window = preflight_canary::Window {
        start: (END - 600) as f64,
        end: END as f64,
        step: 10.0,
    };
    let section = runtime.block_on(preflight_canary::collect(
        &client,
        "test",
        &preflight_canary::default_metrics(),
        &format!("job=\"{job}\",track=\"baseline\""),
        &format!("job=\"{job}\",track=\"canary\""),
        window,
    ));
    serde_json::to_value(section).unwrap()
}

// ---- faults: a server that misbehaves on purpose ---------------------------------------

/// Serves every request with `respond` until dropped; returns the port.
fn fake(respond: fn(&str) -> Option<(u16, String, Duration)>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buffer = [0u8; 8192];
                let n = stream.read(&mut buffer).unwrap_or(0);
                let request = String::from_utf8_lossy(&buffer[..n]).into_owned();
                let Some((status, body, delay)) = respond(&request) else {
                    return;
                };
                std::thread::sleep(delay);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn analyze_at(port: u16) -> (i32, Value, Option<Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args([
            "canary",
            "analyze",
            "--prometheus",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args([
            "--baseline",
            "track=\"baseline\"",
            "--canary",
            "track=\"canary\"",
        ])
        .args([
            "--end",
            "1700000000",
            "--query-timeout",
            "300ms",
            "--retries",
            "1",
        ]));
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}\n{stderr}"));
    let diff = std::fs::read_to_string(dir.path().join(".playbook/canary_diff_report.json"))
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap());
    (code, report, diff, stderr)
}

fn assert_never_pass(code: i32, report: &Value) {
    assert_ne!(code, 0);
    assert_eq!(report["decision"], "NO_GO");
}

#[test]
fn unreachable_prometheus_fails_closed() {
    let port = free_port(); // nothing listens there
    let (code, report, diff, stderr) = analyze_at(port);
    assert_never_pass(code, &report);
    assert_eq!(code, 2);
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert_eq!(diff.unwrap()["verdict"], "FAIL");
}

#[test]
fn server_errors_are_retried_then_fail_closed() {
    static HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let port = fake(|_| {
        HITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some((
            503,
            r#"{"status":"error","errorType":"unavailable","error":"TSDB not ready"}"#.to_owned(),
            Duration::ZERO,
        ))
    });
    let (code, report, _, stderr) = analyze_at(port);
    assert_never_pass(code, &report);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unavailable: TSDB not ready"),
        "errorType and error verbatim: {stderr}"
    );
    // 5 queries (2 compare metrics × 2 sides + 1 threshold), each tried twice.
    assert_eq!(HITS.load(std::sync::atomic::Ordering::SeqCst), 10);
}

#[test]
fn bad_data_is_surfaced_verbatim() {
    let port = fake(|_| {
        Some((400, r#"{"status":"error","errorType":"bad_data","error":"1:12: parse error: unexpected \"}\""}"#.to_owned(), Duration::ZERO))
    });
    let (code, report, _, stderr) = analyze_at(port);
    assert_eq!(code, 2);
    assert_never_pass(code, &report);
    assert!(stderr.contains("bad_data: 1:12: parse error"), "{stderr}");
}

#[test]
fn slow_prometheus_times_out() {
    let port = fake(|_| {
        Some((
            200,
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.to_owned(),
            Duration::from_secs(3),
        ))
    });
    let started = Instant::now();
    let (code, report, _, stderr) = analyze_at(port);
    assert_eq!(code, 2);
    assert_never_pass(code, &report);
    assert!(stderr.contains("did not answer within 300 ms"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn malformed_json_fails_closed() {
    let port = fake(|_| {
        Some((200, r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1, "#.to_owned(), Duration::ZERO))
    });
    let (code, report, _, stderr) = analyze_at(port);
    assert_eq!(code, 2);
    assert_never_pass(code, &report);
    assert!(stderr.contains("malformed response"), "{stderr}");
}

#[test]
fn empty_results_are_no_data() {
    let port = fake(|_| {
        Some((
            200,
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.to_owned(),
            Duration::ZERO,
        ))
    });
    let (code, report, diff, _) = analyze_at(port);
    assert_eq!(code, 1);
    assert_never_pass(code, &report);
    let diff = diff.unwrap();
    assert_eq!(diff["verdict"], "FAIL");
    assert_eq!(label(&diff, "p95_latency"), "NoData");
}

#[test]
fn all_nan_is_no_data_and_warnings_are_kept() {
    fn respond(request: &str) -> Option<(u16, String, Duration)> {
        let _ = request;
        let values: Vec<String> = (0..61)
            .map(|i| format!("[{}, \"NaN\"]", 1_699_999_400 + i * 10))
            .collect();
        Some((
            200,
            format!(
                r#"{{"status":"success","warnings":["some PromQL warning"],"data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
                values.join(",")
            ),
            Duration::ZERO,
        ))
    }
    let port = fake(respond);
    let (code, report, diff, _) = analyze_at(port);
    assert_eq!(code, 1);
    assert_never_pass(code, &report);
    let diff = diff.unwrap();
    assert_eq!(label(&diff, "p95_latency"), "NoData");
    let metric = diff["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "p95_latency")
        .unwrap();
    assert_eq!(metric["dropped"], serde_json::json!([61, 61]));
}

/// Prometheus writes a sample as the shortest decimal that reads back as the same double, up to
/// 17 digits; the judge in the sandbox must read those digits as that double. serde_json's
/// default number parser reads about one such value in eight one bit off (0.19047619047619047
/// as 0.1904761904761905), so the judge once summarised values the query never returned.
#[test]
fn the_judge_reads_every_sample_as_the_double_prometheus_wrote() {
    const LOW: &str = "0.19047619047619047";
    const HIGH: &str = "0.38095238095238093";
    fn respond(request: &str) -> Option<(u16, String, Duration)> {
        let _ = request;
        let values: Vec<String> = (0..61)
            .map(|i| {
                let value = if i % 2 == 0 { LOW } else { HIGH };
                format!("[{}, \"{value}\"]", 1_699_999_400 + i * 10)
            })
            .collect();
        Some((
            200,
            format!(
                r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
                values.join(",")
            ),
            Duration::ZERO,
        ))
    }
    let port = fake(respond);
    let (_, _, diff, _) = analyze_at(port);
    let diff = diff.unwrap();
    let (low, high): (f64, f64) = (LOW.parse().unwrap(), HIGH.parse().unwrap());
    let mut compared = 0;
    for metric in diff["metrics"].as_array().unwrap() {
        for side in ["baseline", "canary"] {
            let summary = &metric[side];
            if summary.is_null() {
                continue;
            }
            // The report's text, read by Rust's own (correctly rounded) parser.
            let bits = |key: &str| {
                summary[key]
                    .to_string()
                    .parse::<f64>()
                    .unwrap_or_else(|err| panic!("{key}: {err}: {summary}"))
                    .to_bits()
            };
            assert_eq!(bits("min"), low.to_bits(), "{}: {summary}", metric["name"]);
            assert_eq!(bits("max"), high.to_bits(), "{}: {summary}", metric["name"]);
            compared += 1;
        }
    }
    assert!(compared >= 4, "two compare metrics, two sides each: {diff}");
}

#[test]
fn many_series_is_an_error_not_a_guess() {
    let port = fake(|_| {
        Some((
            200,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a"},"values":[[1,"1"]]},{"metric":{"pod":"b"},"values":[[1,"2"]]}]}}"#.to_owned(),
            Duration::ZERO,
        ))
    });
    let (code, report, _, stderr) = analyze_at(port);
    assert_eq!(code, 2);
    assert_never_pass(code, &report);
    assert!(stderr.contains("returned 2 series"), "{stderr}");
}

/// Runs `canary monitor` on a scenario; returns (exit code, report, stderr, diff report).
fn monitor(job: &str, extra: &[&str]) -> Option<(i32, Value, String, Value)> {
    let port = prometheus()?.lock().unwrap().port;
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(preflight()
        .current_dir(dir.path())
        .args([
            "canary",
            "monitor",
            "--prometheus",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args(["--baseline", &format!("job=\"{job}\",track=\"baseline\"")])
        .args(["--canary", &format!("job=\"{job}\",track=\"canary\"")])
        .args(["--interval", "60s", "--window", "10m"])
        .args(extra));
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    let diff_path = dir.path().join(".playbook/canary_diff_report.json");
    let diff = serde_json::from_str(&std::fs::read_to_string(diff_path).unwrap()).unwrap();
    Some((code, report, stderr, diff))
}

#[test]
fn monitor_stops_at_the_failure_limit() {
    let start = (END - 300).to_string();
    let Some((code, report, stderr, diff)) = monitor(
        "latency",
        &[
            "--start",
            &start,
            "--duration",
            "5m",
            "--failure-limit",
            "2",
        ],
    ) else {
        return;
    };
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["decision"], "NO_GO");
    assert_eq!(
        diff["intervals"].as_array().unwrap().len(),
        2,
        "stops after two failed intervals"
    );
    assert!(
        stderr.contains("interval 1/5"),
        "plain progress lines without a TTY: {stderr}"
    );
}

#[test]
fn monitor_passes_when_every_interval_passes() {
    let start = (END - 180).to_string();
    let Some((code, report, stderr, diff)) =
        monitor("healthy", &["--start", &start, "--duration", "3m"])
    else {
        return;
    };
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["decision"], "GO");
    assert_eq!(diff["intervals"].as_array().unwrap().len(), 3);
}

#[test]
fn ctrl_c_writes_the_report_so_far_with_no_go() {
    let Some(server) = prometheus() else { return };
    let port = server.lock().unwrap().port;
    let dir = tempfile::tempdir().unwrap();
    // Starting now, the first interval ends a minute from now: the monitor is waiting.
    let child = preflight()
        .current_dir(dir.path())
        .args([
            "canary",
            "monitor",
            "--prometheus",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args([
            "--baseline",
            "job=\"healthy\",track=\"baseline\"",
            "--canary",
            "job=\"healthy\",track=\"canary\"",
        ])
        .args(["--interval", "60s", "--duration", "5m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    crate::support::send_signal(child.id(), "INT");
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["decision"], "NO_GO");
    assert!(
        report["blocking_issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "canary.interrupted"),
        "{report:#}"
    );
    let diff =
        std::fs::read_to_string(dir.path().join(".playbook/canary_diff_report.json")).unwrap();
    let diff: Value = serde_json::from_str(&diff).unwrap();
    assert_eq!(diff["verdict"], "FAIL");
}
