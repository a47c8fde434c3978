#!/usr/bin/env bash
# Runs the gate as the action's `gate` step: `preflight run` with GitHub annotations on stdout,
# the Markdown step summary (preflight appends it to $GITHUB_STEP_SUMMARY), and the SARIF and
# JSON reports in files; sets the outputs `decision`, `exit-code`, `sarif-file` and
# `report-file`; exits with preflight's code, except that GO_WITH_CAUTION passes when
# PREFLIGHT_CAUTION=pass.
#
# Environment: PREFLIGHT_CONFIG, PREFLIGHT_LOCKED, PREFLIGHT_CAUTION, PREFLIGHT_SARIF,
# PREFLIGHT_REPORT, PREFLIGHT_ARGS, and GitHub's GITHUB_OUTPUT and GITHUB_STEP_SUMMARY.
set -uo pipefail

sarif=${PREFLIGHT_SARIF:-preflight.sarif}
report=${PREFLIGHT_REPORT:-preflight-report.json}
caution=${PREFLIGHT_CAUTION:-fail}
case "$caution" in
    pass | fail) ;;
    *)
        echo "::error title=preflight::the caution input is \`$caution\`; use pass or fail" >&2
        exit 2
        ;;
esac

args=(run --format github --format "sarif=$sarif" --format "json=$report")
if [[ "${PREFLIGHT_LOCKED:-true}" == true ]]; then
    args+=(--locked)
fi
if [[ -n "${PREFLIGHT_CONFIG:-}" ]]; then
    args+=(--config "$PREFLIGHT_CONFIG")
fi
read -r -a extra <<< "${PREFLIGHT_ARGS:-}"

preflight "${args[@]}" "${extra[@]}"
code=$?

# The report's top-level decision is its first `decision` key.
decision=$(sed -n 's/^  "decision": "\([A-Z_]*\)",*$/\1/p' "$report" 2>/dev/null | head -n 1)
{
    echo "decision=${decision:-NO_GO}"
    echo "exit-code=$code"
    echo "sarif-file=$sarif"
    echo "report-file=$report"
} >> "${GITHUB_OUTPUT:-/dev/null}"

case "$code" in
    3)
        if [[ "$caution" == pass ]]; then
            echo "::notice title=preflight::GO_WITH_CAUTION: passing as the caution input asks; deploy behind a canary"
            exit 0
        fi
        exit 3
        ;;
    *) exit "$code" ;;
esac
