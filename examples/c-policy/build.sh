#!/usr/bin/env bash
# Builds min-readiness.wasm (or the file given) with clang: Debian's clang-19 and lld-19, or
# CLANG=/path/to/clang. Needs nothing but sdk/c/preflight.h: no libc, no wasi-sdk.
#
#   ./build.sh [OUT.wasm]
set -euo pipefail
out=$(realpath -m "${1:-min-readiness.wasm}")
cd "$(dirname "$0")"
clang=${CLANG:-$(command -v clang-19 || command -v clang)}
"$clang" --target=wasm32-unknown-unknown -O2 -nostdlib -Wall -Wextra -Werror \
    -I ../../sdk/c -Wl,--no-entry -Wl,-z,stack-size=65536 -Wl,--strip-debug \
    -o "$out" min-readiness.c
sha256sum "$out"
