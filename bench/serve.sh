#!/usr/bin/env bash
# `preflight serve` under load, with its peers in the same run: the CLI (one process per
# decision) and the engine in-process. Concurrency 1, 16 and 64 on the seed facts, SECONDS each
# (default 10); the load generator (src/load.rs) runs on the same machine.
#
#   bench/serve.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-10}
(cd .. && cargo build --release -p preflight >/dev/null)
cargo build --release --bin load >/dev/null
preflight=$(realpath ../target/release/preflight)
facts=../examples/seed/facts.json
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
printf '[gate]\nmode = "B"\n' > "$work/preflight.toml"
port=$((20000 + RANDOM % 20000))
(cd "$work" && exec "$preflight" serve --addr "127.0.0.1:$port" --max-inflight 256) 2>/dev/null &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
echo "# preflight serve on $(nproc) cores, seed facts, $seconds s per level"
for clients in 1 16 64; do
    target/release/load "127.0.0.1:$port" "$facts" "$clients" "$seconds"
done
echo "peak RSS, preflight serve: $(grep VmHWM /proc/$server/status | awk '{print $2}') KB"
kill "$server"; wait "$server" 2>/dev/null || true
# Peers: one process per decision (the CLI), and the engine in-process.
cargo run --quiet --release --example inprocess -- "$(nproc)" "$seconds"
start=$(date +%s.%N); n=200
for _ in $(seq $n); do "$preflight" run --no-collect --facts "$facts" >/dev/null; done
end=$(date +%s.%N)
echo "{\"peer\": \"preflight run, one process per decision\", \"per_second\": $(echo "$n / ($end - $start)" | bc -l | cut -c1-7)}"
