#!/usr/bin/env bash
# Reproduces docs/performance.md: criterion benches (sandboxed evaluation vs regorus, compile and
# cache load, canary-judge wasm vs native) and whole-process runs with hyperfine
# (`apt-get install hyperfine`): `preflight run` with a warm and a cold cache against the
# regorus peer CLI, plus peak RSS.
set -euo pipefail
cd "$(dirname "$0")"
cargo bench --bench evaluate -- --noplot "$@"
cargo build --release --bin regorus-gate
(cd .. && cargo build --release -p preflight)
preflight=../target/release/preflight
peer=target/release/regorus-gate
facts=../examples/seed/facts.json
export PREFLIGHT_HOME
PREFLIGHT_HOME=$(mktemp -d)
trap 'rm -rf "$PREFLIGHT_HOME"' EXIT
"$preflight" run --facts "$facts" --root ../examples/seed >/dev/null   # warm the cache
hyperfine -N --warmup 5 \
    -n "preflight run (warm cache)" "$preflight run --facts $facts --root ../examples/seed" \
    -n "regorus peer CLI" "$peer $facts"
hyperfine -N --warmup 2 --prepare "rm -rf $PREFLIGHT_HOME/compiled" \
    -n "preflight run (cold cache)" "$preflight run --facts $facts --root ../examples/seed" \
    -n "preflight run (cold cache, built-ins compiled at run time)" \
    "env PREFLIGHT_PRECOMPILED=0 $preflight run --facts $facts --root ../examples/seed" \
    -n "regorus peer CLI" "$peer $facts"
hyperfine -N --warmup 5 -n "preflight --version" "$preflight --version" -n "/bin/true" /bin/true
rm -rf "$PREFLIGHT_HOME/compiled"
/usr/bin/time -f "peak RSS, preflight run (cold cache): %M KB" "$preflight" run --facts "$facts" --root ../examples/seed >/dev/null
for label in warm; do
    /usr/bin/time -f "peak RSS, preflight run ($label cache): %M KB" "$preflight" run --facts "$facts" --root ../examples/seed >/dev/null
done
/usr/bin/time -f "peak RSS, regorus peer CLI: %M KB" "$peer" "$facts" >/dev/null
