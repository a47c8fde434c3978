#!/usr/bin/env bash
# Batch mode: `preflight run --facts-stream` over 10 000 and 100 000 fact sets (varied scores,
# the seed's shape), one core (taskset), release build. Prints fact sets per second and peak RSS
# for both sizes, so flat memory shows as the same RSS at both.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
python3 - "$work" <<'PY'
import json, random, sys
random.seed(7)
for n in (10_000, 100_000):
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
head -1 facts-10000.ndjson > one.ndjson
"$preflight" run --facts-stream one.ndjson >/dev/null || true   # warm the compiled cache
for n in 10000 100000; do
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o rss.txt taskset -c 0 "$preflight" run --facts-stream "facts-$n.ndjson" > "reports-$n.ndjson" || true
    end=$(date +%s.%N)
    lines=$(wc -l < "reports-$n.ndjson")
    python3 -c "
n, lines, secs, rss = $n, $lines, $end - $start, int(open('rss.txt').read().split()[-1])
assert lines == n, f'{lines} reports for {n} fact sets'
print(f'{n:>7} fact sets: {secs:6.2f} s on one core, {n / secs:8.0f} fact sets/s, peak RSS {rss / 1024:.1f} MB')
"
done
