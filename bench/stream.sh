#!/usr/bin/env bash
# Batch mode: `preflight run --facts-stream` over 100 000 fact sets (varied scores, the seed's
# shape) with `--jobs 1` pinned to one core and `--jobs 2` on both, then 1 000 000 with the
# default jobs; release build. Prints fact sets per second and peak RSS, so flat memory shows as
# the same RSS at 100 000 and 1 000 000 lines. `bench/stream.sh 1` skips the million.
set -euo pipefail
million=${1:-0}
source "$(dirname "$0")/setup.sh"
python3 - "$work" <<'PY'
import json, random, sys
random.seed(7)
for n in (100_000, 1_000_000):
    with open(f"{sys.argv[1]}/facts-{n}.ndjson", "w") as out:
        for i in range(n):
            facts = {
                "project": {"name": f"service-{i}", "version": "1.0.0"},
                "scores": {"readiness": round(random.uniform(2, 10), 1), "mvp": round(random.uniform(2, 10), 1)},
                "security": {"gate": random.choice(["PASS", "PASS", "PASS", "FAIL"])},
                "complexity": random.choice(["low", "medium", "high"]),
            }
            out.write(json.dumps(facts) + "\n")
PY
cd "$work"
measure() {
    local label=$1 n=$2
    shift 2
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o rss.txt "$@" --facts-stream "facts-$n.ndjson" > reports.ndjson 2>/dev/null || true
    end=$(date +%s.%N)
    lines=$(wc -l < reports.ndjson)
    python3 -c "
n, lines, secs, rss = $n, $lines, $end - $start, int(open('rss.txt').read().split()[-1])
assert lines == n, f'{lines} reports for {n} fact sets'
print(f'{\"$label\":<28} {n:>9} fact sets: {secs:6.2f} s, {n / secs:8.0f} fact sets/s, peak RSS {rss / 1024:.1f} MB')
"
}
measure "--jobs 1 (one core)" 100000 taskset -c 0 "$preflight" run --jobs 1
measure "--jobs 2 (two cores)" 100000 "$preflight" run --jobs 2
measure "default jobs" 100000 "$preflight" run
if [ "$million" != 1 ]; then
    measure "default jobs" 1000000 "$preflight" run
fi
