//! The engine as a library (#12): the compiled cache evicts what can never be used and the
//! least recently used past its cap; modules fetched over HTTPS from inside a tokio program.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::support::{preflight, repo, returning, run};

fn entries(home: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(home.join("compiled"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    entries.sort();
    entries
}

fn age(path: &Path, days: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400))
        .unwrap();
}

#[test]
fn the_compiled_cache_evicts_other_versions_and_the_least_recently_used() {
    let home = tempfile::tempdir().unwrap();
    let seed = repo().join("examples/seed/facts.json");
    let dir = tempfile::tempdir().unwrap();
    // Modules with enough code that their entries are about a megabyte (the cap is in MiB).
    let module = |name: &str| {
        let output = br#"{"decision":"GO"}"#;
        let escaped: String = output.iter().map(|b| format!("\\{b:02x}")).collect();
        let mut body = format!(
            r#"(data (i32.const 1024) "{escaped}")
               (func (export "preflight_evaluate") (param i32 i32) (result i64)
                 (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const {len})))"#,
            len = output.len()
        );
        for index in 0..6000 {
            body.push_str(&format!(
                "(func (export \"f{index}\") (param i32) (result i32) local.get 0 i32.const {index} i32.add i32.const 7 i32.mul i32.const 3 i32.xor)"
            ));
        }
        let path = dir.path().join(format!("{name}.wasm"));
        std::fs::write(
            &path,
            crate::support::module(&body, Some(&crate::support::metadata(name))),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (first, second) = (module("always-go"), module("also-go"));
    let go = |extra: &[&str], max_mb: &str| {
        let (code, _, stderr) = run(preflight()
            .env("PREFLIGHT_HOME", home.path())
            .env("PREFLIGHT_CACHE_MAX_MB", max_mb)
            .args(["run", "--no-collect", "--facts"])
            .arg(&seed)
            .args(extra));
        assert_eq!(code, 0, "{stderr}");
    };
    // The built-in gate comes compiled; a team policy is compiled and cached.
    go(&["--policy", &first], "512");
    let cached = entries(home.path()).remove(0);
    let size = std::fs::metadata(&cached).unwrap().len();
    let compiled = home.path().join("compiled");
    let name = cached.file_name().unwrap().to_string_lossy().into_owned();
    let version = format!("{}-", env!("CARGO_PKG_VERSION"));
    assert!(name.starts_with(&version), "{name}");

    // An entry of another preflight version (never usable again), one of this version for
    // another engine (the pooled one, another CPU), recently used, and two copies of the
    // cached entry that were last used long ago.
    std::fs::copy(&cached, compiled.join("0.0.1-old-version.cwasm")).unwrap();
    // The trailer ends `engine:<16 hex> <tag padded to 69 bytes>`.
    let mut other = std::fs::read(&cached).unwrap();
    let at = other.len() - 69 - 1 - 16;
    assert_eq!(&other[at - 7..at], b"engine:");
    other[at..at + 16].copy_from_slice(b"0000000000000000");
    let other_engine = format!("{version}other-engine.cwasm");
    std::fs::write(compiled.join(&other_engine), &other).unwrap();
    for (name, days) in [("old", 30), ("older", 60)] {
        let copy = compiled.join(format!("{version}{name}.cwasm"));
        std::fs::copy(&cached, &copy).unwrap();
        age(&copy, days);
    }
    // A run that only loads cached code touches its entry; nothing is written, nothing evicted.
    go(&["--policy", &first], "512");
    assert_eq!(entries(home.path()).len(), 5);

    // A run that compiles a new module writes it and evicts: the other version's entry always,
    // then the least recently used until the folder is under 4 entries' worth.
    let cap_mb = (3 * size + (64 << 10)).div_ceil(1 << 20);
    assert!(cap_mb << 20 < 4 * size, "the cap must not fit four entries");
    go(
        &["--policy", &first, "--policy", &second],
        &cap_mb.to_string(),
    );
    let left: Vec<String> = entries(home.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        !left.contains(&"0.0.1-old-version.cwasm".to_owned()),
        "{left:?}"
    );
    assert!(!left.contains(&format!("{version}older.cwasm")), "{left:?}");
    assert!(
        left.contains(&name),
        "the recently used entry stays: {left:?}"
    );
    assert!(
        left.contains(&other_engine),
        "the other engine's recent entry stays: {left:?}"
    );
    let total: u64 = entries(home.path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(
        total <= cap_mb << 20,
        "{total} bytes left, cap {cap_mb} MiB"
    );
}

/// A module served over HTTPS by Python's `http.server` with a certificate made here.
struct HttpsServer {
    child: std::process::Child,
    port: u16,
    ca: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn https_server(module: &[u8]) -> Option<HttpsServer> {
    let openssl = crate::support::validator("openssl")?;
    let python = crate::support::validator("python3")?;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.wasm"), module).unwrap();
    // A CA, and a server certificate for 127.0.0.1 it signs.
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new(&openssl)
            .current_dir(dir.path())
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl {args:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "1",
                "-subj",
                "/CN=test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "key.pem",
                "-out",
                "server.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.path().join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    let port = crate::support::free_port();
    let script = format!(
        "import http.server, ssl\n\
         server = http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler)\n\
         context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
         context.load_cert_chain('cert.pem', 'key.pem')\n\
         server.socket = context.wrap_socket(server.socket, server_side=True)\n\
         server.serve_forever()\n"
    );
    let child = std::process::Command::new(python)
        .current_dir(dir.path())
        .args(["-c", &script])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the HTTPS server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(HttpsServer {
        child,
        port,
        ca,
        _dir: dir,
    })
}

/// An embedder's async program: fetch a pinned module over HTTPS with `preflight-sources`
/// (no runtime of its own, so no "runtime within a runtime" panic), check its pin and evaluate
/// it with `preflight-engine`, all from inside a tokio test.
#[tokio::test]
async fn an_https_policy_is_fetched_and_evaluated_inside_a_tokio_program() {
    use preflight_engine::{Limits, Pin, PolicyEntry, Runtime, facts, pin};
    use preflight_sources::{Fetcher, PolicySource};

    let module = returning(
        "remote-go",
        br#"{"decision":"GO","blocking_issues":[],"warnings":[],"details":{}}"#,
    );
    let sha256 = preflight_engine::sandbox::sha256_hex(&module);
    let Some(server) = https_server(&module) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new()
        .unwrap()
        .with_store(Some(store.path().to_owned()))
        .with_root_certificates(&server.ca)
        .unwrap();
    let source = PolicySource::parse(
        &format!("https://127.0.0.1:{}/policy.wasm", server.port),
        Path::new("."),
    )
    .unwrap();
    let fetched = fetcher.module(&source, Some(&sha256)).await.unwrap();
    let verified = pin::verify(
        &source.to_string(),
        &fetched.bytes,
        None,
        &Pin::none().with_sha256(&sha256, "the test"),
    )
    .unwrap();
    let runtime = Runtime::new(Limits::default()).unwrap();
    let policy = runtime
        .load_verified(&source.to_string(), &fetched.bytes, verified)
        .unwrap();
    let facts = facts::from_value(crate::support::seed_facts()).unwrap();
    let evaluation = runtime.evaluate_all(
        &[PolicyEntry::loaded(policy, serde_json::json!({}))],
        &facts,
    );
    assert_eq!(evaluation.report.decision.as_str(), "GO");
    assert_eq!(evaluation.report.policies[0].name, "remote-go");
    // It is in the store now: the next fetch needs no network.
    drop(server);
    let again = fetcher
        .clone()
        .offline(true)
        .module(&source, Some(&sha256))
        .await
        .unwrap();
    assert_eq!(again.bytes.as_ref(), module.as_slice());
}

/// Each built-in module and its build-time machine code are in the binary once (a `const`
/// table of them put three copies of each into a release binary).
#[test]
fn each_builtin_is_in_the_binary_once() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_preflight")).unwrap();
    for builtin in preflight_engine::builtin::BUILTINS {
        for (what, bytes) in [
            ("module", builtin.wasm),
            ("machine code", builtin.compiled),
            ("pooled machine code", builtin.compiled_pooled),
        ] {
            assert!(bytes.len() > 8192, "{} {what} is missing", builtin.name);
            // A stretch from the middle, where nothing is shared with other modules.
            let probe = &bytes[bytes.len() / 2..bytes.len() / 2 + 4096];
            let copies = memchr::memmem::find_iter(&binary, probe).count();
            assert_eq!(copies, 1, "{} {what}", builtin.name);
        }
    }
}
