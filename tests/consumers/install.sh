#!/usr/bin/env bash
# Installs the validators the test suite runs on every report it produces, pinned:
#   SARIF multitool 5.7.0 (npm @microsoft/sarif-multitool): GitHub's code-scanning rules
#   commonmark 0.31.2 and markdown-it 15.0.3 (npm): CommonMark renderers
#   junit-10.xsd (Jenkins xUnit schema), from the pytest 8.3.4 sdist on PyPI, sha256-checked
# into $PREFLIGHT_CONSUMERS (default: target/consumers). Needs node, npm and pip.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${PREFLIGHT_CONSUMERS:-$here/../../target/consumers}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
stamp="sarif-multitool@5.7.0 commonmark@0.31.2 markdown-it@15.0.3 pytest-8.3.4"
cp "$here/render-markdown.js" "$dir/render-markdown.js"
if [[ -f "$dir/installed" && "$(cat "$dir/installed")" == "$stamp" ]]; then
    echo "validators already in $dir"
    exit 0
fi
npm install --silent --no-audit --no-fund --prefix "$dir" \
    @microsoft/sarif-multitool@5.7.0 commonmark@0.31.2 markdown-it@15.0.3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: -d "$work" pytest==8.3.4
tar -xzf "$work"/pytest-8.3.4.tar.gz -C "$work" pytest-8.3.4/testing/example_scripts/junit-10.xsd
cp "$work"/pytest-8.3.4/testing/example_scripts/junit-10.xsd "$dir/junit-10.xsd"
echo "a1a816f58d1bf95ebabf371994df0b9246dee66ea9572fbec4f9296f1b2c0ff6  $dir/junit-10.xsd" | sha256sum -c --quiet
echo "$stamp" > "$dir/installed"
echo "validators installed in $dir"
