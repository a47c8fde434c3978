#!/usr/bin/env bash
# Builds the built-in policies to wasm32 and copies them to policies/dist/.
#
#   policies/build.sh           build and update policies/dist/
#   policies/build.sh --check   build and fail if policies/dist/ differs (what CI runs)
#   policies/build.sh --out DIR [CARGO ARGS...]
#                               build variants into DIR (e.g. `--features
#                               preflight-sdk/stage-clock` for bench/judge-stages.sh), in a
#                               target folder of their own; policies/dist/ is not touched
#
# The bytes do not depend on the checkout folder: paths are remapped. With the
# wasm32-unknown-unknown target installed through rustup the normal build is used; otherwise
# Debian's rustc (packages rustc-web, rust-web-src, lld-19) builds std for wasm32 itself.
# Different compilers give different bytes, so policies/dist/TOOLCHAIN records the one used.
# The stack is 128 KiB instead of Rust's 1 MiB: stack, data and the first heap pages then fit in
# the 256 KiB of a sandbox's memory that stays mapped between evaluations (docs/performance.md).
# A policy that overflows it traps, and the run fails closed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dist="$root/policies/dist"
check=false
variant_out=""
extra=()
if [[ "${1:-}" == "--check" ]]; then
    check=true
elif [[ "${1:-}" == "--out" ]]; then
    variant_out=${2:?--out needs a folder}
    shift 2
    extra=("$@")
fi

policies=(preflight-gate canary-judge)
target=wasm32-unknown-unknown
target_dir="$root/target/policy-build"
[[ -n "$variant_out" ]] && target_dir="$root/target/policy-build-variant"

if rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    rustc_bin=$(rustup which rustc)
    build=(cargo build)
else
    rustc_bin=/usr/bin/rustc
    if [[ ! -x "$rustc_bin" ]] || ! command -v wasm-ld-19 >/dev/null; then
        echo "error: no wasm32 toolchain: run 'rustup target add $target', or install Debian's rustc-web rust-web-src lld-19" >&2
        exit 2
    fi
    export RUSTC="$rustc_bin" RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19
    build=(cargo build -Zbuild-std=std,panic_abort)
fi
sysroot=$("$rustc_bin" --print sysroot)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
export RUSTFLAGS="--remap-path-prefix=$root=/preflight --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$sysroot=/rustc -C debuginfo=0 -C link-arg=-zstack-size=131072"
export CARGO_TARGET_DIR="$target_dir"
unset CARGO_ENCODED_RUSTFLAGS

packages=()
for policy in "${policies[@]}"; do packages+=(-p "$policy"); done
(cd "$root" && "${build[@]}" --locked --profile policy --target "$target" "${packages[@]}" ${extra[@]+"${extra[@]}"})

toolchain="$("$rustc_bin" -V)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for policy in "${policies[@]}"; do
    cp "$target_dir/$target/policy/${policy//-/_}.wasm" "$out/$policy.wasm"
done
echo "$toolchain" > "$out/TOOLCHAIN"
(cd "$out" && sha256sum -- *.wasm > SHA256SUMS)

if [[ -n "$variant_out" ]]; then
    mkdir -p "$variant_out"
    cp "$out"/*.wasm "$variant_out/"
    echo "built into $variant_out: ${policies[*]}"
elif $check; then
    if ! diff -r "$dist" "$out" >/dev/null; then
        echo "error: policies/dist/ is out of date with the policy sources" >&2
        diff <(cat "$dist/TOOLCHAIN" "$dist/SHA256SUMS") <(cat "$out/TOOLCHAIN" "$out/SHA256SUMS") >&2 || true
        echo "run policies/build.sh and commit policies/dist/" >&2
        exit 1
    fi
    echo "policies/dist/ is up to date ($toolchain)"
else
    mkdir -p "$dist"
    cp "$out"/* "$dist/"
    cat "$dist/SHA256SUMS"
fi
