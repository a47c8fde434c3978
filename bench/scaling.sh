#!/usr/bin/env bash
# How the cost of `preflight run` grows with the number of policies: 1, 4 and 16 policies (the
# built-in gate plus copies of it as file policies, all from a warm compiled cache), whole
# process, hyperfine. The fact-set size and the canary sample count are criterion groups
# (`scale/findings/*`, `judge/*`) in benches/evaluate.rs.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cp examples/seed/facts.json "$work/facts.json"
for n in 1 4 16; do
    dir=$work/p$n
    mkdir -p "$dir"
    : > "$dir/preflight.toml"
    for ((k = 1; k < n; k++)); do
        cp policies/dist/preflight-gate.wasm "$dir/gate-$k.wasm"
        printf '[[policy]]\nsource = "gate-%d.wasm"\n' "$k" >> "$dir/preflight.toml"
    done
    (cd "$dir" && "$preflight" run --no-collect --facts ../facts.json > /dev/null)   # warm the cache
done
args=()
for n in 1 4 16; do
    args+=(-n "$n policies" "sh -c 'cd $work/p$n && $preflight run --no-collect --facts ../facts.json'")
done
hyperfine -N --warmup 5 "${args[@]}" 2>/dev/null || hyperfine --warmup 5 "${args[@]}"
