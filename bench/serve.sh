#!/usr/bin/env bash
# `preflight serve` under load, with its peers in the same run: the CLI (one process per
# decision) and the engine in-process. Concurrency 1, 16 and 64 on the seed facts, SECONDS each
# (default 10); the load generator (src/load.rs) runs on the same machine.
#
#   bench/serve.sh [SECONDS]
set -euo pipefail
seconds=${1:-10}
source "$(dirname "$0")/serve-setup.sh"
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
