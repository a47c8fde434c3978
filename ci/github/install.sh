#!/usr/bin/env bash
# Installs the preflight release binary for this runner, checksum-verified, into the tool cache
# and onto PATH; falls back to `cargo install --locked` from the action's checkout when no
# binary can be had (unless PREFLIGHT_INSTALL_FROM_SOURCE=never). Outputs `bin` (the binary)
# and `home` (PREFLIGHT_HOME: the compiled-policy cache and module store, for actions/cache).
#
# Environment: PREFLIGHT_VERSION, PREFLIGHT_RELEASE_URL, PREFLIGHT_INSTALL_FROM_SOURCE, and
# GitHub's RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, GITHUB_PATH, GITHUB_OUTPUT, GITHUB_ENV.
set -euo pipefail

version=${PREFLIGHT_VERSION:?set PREFLIGHT_VERSION}
base=${PREFLIGHT_RELEASE_URL:-https://github.com/preflight-gate/preflight/releases/download}
from_source=${PREFLIGHT_INSTALL_FROM_SOURCE:-auto}
action_dir=$(cd "$(dirname "$0")/../.." && pwd)

case "${RUNNER_OS:-}-${RUNNER_ARCH:-}" in
    Linux-X64) target=x86_64-unknown-linux-musl ;;
    Linux-ARM64) target=aarch64-unknown-linux-musl ;;
    macOS-ARM64) target=aarch64-apple-darwin ;;
    macOS-X64) target=x86_64-apple-darwin ;;
    *) target="" ;;
esac

home=${PREFLIGHT_HOME:-${HOME:-/tmp}/.cache/preflight}
mkdir -p "$home"
echo "PREFLIGHT_HOME=$home" >> "${GITHUB_ENV:-/dev/null}"
echo "home=$home" >> "${GITHUB_OUTPUT:-/dev/null}"

dest="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/preflight/$version/${target:-source}"
bin="$dest/preflight"

fetch() { # URL FILE
    if command -v curl >/dev/null; then
        curl --fail --silent --show-error --location --retry 3 --output "$2" "$1"
    else
        wget --quiet --output-document "$2" "$1"
    fi
}

sha256() {
    if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

installed=false
if [[ -x "$bin" ]] && "$bin" --version >/dev/null 2>&1; then
    installed=true
elif [[ -n "$target" ]]; then
    archive="preflight-$version-$target.tar.gz"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    if fetch "$base/v$version/$archive" "$work/$archive" && fetch "$base/v$version/$archive.sha256" "$work/$archive.sha256"; then
        expected=$(cut -d' ' -f1 < "$work/$archive.sha256")
        actual=$(sha256 "$work/$archive")
        if [[ "$expected" != "$actual" ]]; then
            echo "::error title=preflight install::checksum mismatch for $archive: expected $expected, got $actual" >&2
            if [[ "$from_source" == never ]]; then exit 1; fi
        else
            mkdir -p "$dest"
            tar -xzf "$work/$archive" -C "$dest" preflight
            chmod +x "$bin"
            installed=true
        fi
    else
        echo "::warning title=preflight install::no release binary at $base/v$version/$archive" >&2
    fi
else
    echo "::warning title=preflight install::no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}" >&2
fi

if [[ "$installed" != true ]]; then
    if [[ "$from_source" == never ]]; then
        echo "::error title=preflight install::no preflight $version binary for this runner, and install-from-source is never" >&2
        exit 1
    fi
    echo "building preflight from $action_dir with cargo install --locked" >&2
    cargo install --locked --quiet --root "$dest/.cargo" --path "$action_dir/host"
    mkdir -p "$dest"
    cp "$dest/.cargo/bin/preflight" "$bin"
fi

echo "$dest" >> "${GITHUB_PATH:-/dev/null}"
echo "bin=$bin" >> "${GITHUB_OUTPUT:-/dev/null}"
"$bin" --version
