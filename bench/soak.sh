#!/usr/bin/env bash
# `preflight serve` under sustained load: 64 clients on the seed facts for SECONDS (default 600),
# the service's resident memory sampled every 30 s. Flat memory means no growth after warm-up.
#
#   bench/soak.sh [SECONDS]
set -euo pipefail
seconds=${1:-600}
source "$(dirname "$0")/serve-setup.sh"
target/release/load "127.0.0.1:$port" "$facts" 64 "$seconds" > "$work/load.json" &
load=$!
for ((t = 0; t <= seconds; t += 30)); do
    echo "t=${t}s RSS $(grep VmRSS /proc/$server/status | awk '{print $2}') KB"
    sleep 30
done
wait "$load"
cat "$work/load.json"
echo "peak RSS $(grep VmHWM /proc/$server/status | awk '{print $2}') KB"
