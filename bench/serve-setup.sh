# Sourced by bench/serve.sh and bench/soak.sh: builds the release binary and the load generator,
# starts `preflight serve` on a free port in a scratch folder (the gate in mode B) and waits until
# it answers. Sets `preflight`, `facts`, `work`, `port` and `server` (its pid); on exit the
# server and any `load` pid are stopped and the folder removed. Leaves the shell in bench/.
cd "$(dirname "${BASH_SOURCE[0]}")"
(cd .. && cargo build --release -p preflight >/dev/null)
cargo build --release --bin load >/dev/null
preflight=$(realpath ../target/release/preflight)
facts=../examples/seed/facts.json
work=$(mktemp -d)
load=
trap 'kill "$server" ${load:+"$load"} 2>/dev/null || true; rm -rf "$work"' EXIT
printf '[gate]\nmode = "B"\n' > "$work/preflight.toml"
port=$((20000 + RANDOM % 20000))
(cd "$work" && exec "$preflight" serve --addr "127.0.0.1:$port" --max-inflight 256) 2>/dev/null &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
