#!/usr/bin/env bash
# Runs every fuzz target for a set time, merges what it found into fuzz/corpus/, and prints
# executions and findings per target.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      default: 60 seconds, every target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz passes nightly flags to rustc;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. A crash is saved under
# fuzz/artifacts/TARGET/; copy it into fuzz/corpus/TARGET/ once fixed, so CI keeps it.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//')
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
printf '%-15s %12s %10s %8s %s\n' target executions exec/s corpus findings
for target in "${targets[@]}"; do
    log=$(mktemp)
    status=0
    # New inputs that add coverage go straight into the committed corpus, then it is minimized.
    cargo fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=262144 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
    rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
    cargo fuzz cmin -O "$target" "corpus/$target" >/dev/null 2>&1 || true
    found=$( ((status == 0)) && echo 0 || echo "1 (see fuzz/artifacts/$target)")
    printf '%-15s %12s %10s %8s %s\n' "$target" "$runs" "$rate" "$(ls "corpus/$target" | wc -l)" "$found"
    rm -f "$log"
done
