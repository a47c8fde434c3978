//! A load generator for `preflight serve`: C clients, each on one keep-alive HTTP/1.1
//! connection, POST the same fact set for D seconds. Prints throughput, p50, p99 and the status
//! counts as one JSON line.
//!
//!   load ADDR FACTS.json CONCURRENCY SECONDS

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: load ADDR FACTS.json CONCURRENCY SECONDS");
        std::process::exit(2);
    }
    let addr = args[1].clone();
    let body = std::fs::read(&args[2]).expect("the facts file");
    let clients: usize = args[3].parse().expect("a concurrency");
    let seconds: u64 = args[4].parse().expect("seconds");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let addr = addr.clone();
            let body = body.clone();
            std::thread::spawn(move || client(&addr, &body, deadline))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for worker in workers {
        let (times, codes) = worker.join().expect("a client");
        latencies.extend(times);
        for (code, count) in codes {
            *statuses.entry(code).or_insert(0u64) += count;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "{{\"concurrency\": {clients}, \"requests\": {}, \"per_second\": {:.0}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"statuses\": {:?}}}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pick(0.50),
        pick(0.99),
        statuses
    );
}

fn client(addr: &str, body: &[u8], deadline: Instant) -> (Vec<f64>, Vec<(u16, u64)>) {
    let mut times = Vec::new();
    let mut codes = std::collections::BTreeMap::new();
    let mut stream = TcpStream::connect(addr).expect("the service");
    stream.set_nodelay(true).ok();
    let mut reader = BufReader::new(stream.try_clone().expect("a stream"));
    let head = format!(
        "POST /v1/decisions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    while Instant::now() < deadline {
        let sent = Instant::now();
        if stream.write_all(&request).is_err() {
            break;
        }
        // Status line, headers, then Content-Length bytes.
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut payload = vec![0; length];
        if reader.read_exact(&mut payload).is_err() {
            break;
        }
        times.push(sent.elapsed().as_secs_f64() * 1000.0);
        *codes.entry(status).or_insert(0) += 1;
    }
    (times, codes.into_iter().collect())
}
