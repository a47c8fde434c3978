#!/usr/bin/env bash
# `preflight serve` under sustained load: 64 clients on the seed facts for SECONDS (default 600),
# the service's resident memory sampled every 30 s. Flat memory means no growth after warm-up.
#
#   bench/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
(cd .. && cargo build --release -p preflight >/dev/null)
cargo build --release --bin load >/dev/null
preflight=$(realpath ../target/release/preflight)
facts=../examples/seed/facts.json
work=$(mktemp -d)
trap 'kill "$server" "$load" 2>/dev/null || true; rm -rf "$work"' EXIT
printf '[gate]\nmode = "B"\n' > "$work/preflight.toml"
port=$((20000 + RANDOM % 20000))
(cd "$work" && exec "$preflight" serve --addr "127.0.0.1:$port" --max-inflight 256) 2>/dev/null &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
target/release/load "127.0.0.1:$port" "$facts" 64 "$seconds" > "$work/load.json" &
load=$!
for ((t = 0; t <= seconds; t += 30)); do
    echo "t=${t}s RSS $(grep VmRSS /proc/$server/status | awk '{print $2}') KB"
    sleep 30
done
wait "$load"
cat "$work/load.json"
echo "peak RSS $(grep VmHWM /proc/$server/status | awk '{print $2}') KB"
