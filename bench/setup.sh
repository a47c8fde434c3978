# Sourced by the bench scripts: builds the release binary and makes a scratch folder with its own
# PREFLIGHT_HOME, removed on exit. Sets `preflight` and `work`; leaves the shell at the repo root.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet -p preflight
preflight=$PWD/target/release/preflight
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PREFLIGHT_HOME=$work/home
