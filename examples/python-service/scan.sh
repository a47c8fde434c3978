#!/usr/bin/env bash
# Produces reports/ with the real tools, the way a CI pipeline would before `preflight run`:
#   pip install ruff bandit[sarif] semgrep pytest coverage
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p reports
ruff check --no-cache --output-format json src tests > reports/ruff.json || true
bandit -q -r src -f sarif -o reports/bandit.sarif || true
semgrep scan --metrics=off --disable-version-check --config semgrep-rules.yml --sarif -o reports/semgrep.sarif src -q || true
python -m coverage run --source=src -m pytest -q -p no:cacheprovider --junitxml=reports/junit.xml tests
python -m coverage lcov -o reports/lcov.info
rm -f .coverage
