#!/usr/bin/env bash
# Where the canary judge's time goes inside the sandbox: builds the built-in policies with the
# SDK's `stage-clock` feature (into a scratch folder; policies/dist/ is not touched) and runs
# the `breakdown` example's guest-stage timer on the judge at 3 metrics × 10 000 samples per
# side, beside the same stages natively.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
policies/build.sh --out "$out" --features preflight-sdk/stage-clock >/dev/null
cd bench
cargo run --release --quiet --example breakdown -- stages "$out/canary-judge.wasm"
