//! `canary-judge`, the standard canary judge, after Kayenta's NetflixACAJudge.
//!
//! Per compared metric: NaN and infinities are dropped (and counted); fewer than `min_points`
//! values on a side is NoData; identical series pass; otherwise the two-sided Mann-Whitney U
//! test, the Hodges-Lehmann shift of canary over baseline with its `confidence` interval, and
//! the canary/baseline mean ratio decide:
//!
//! - **High** when an increase is bad, p < 1 − confidence, the interval's lower end is above
//!   `effect_fraction·|HL|` (or HL is 0 and the canary mean is higher, e.g. a zero baseline),
//!   the ratio is above `allowed_increase` and the mean difference above `absolute_tolerance`;
//! - **Low** symmetrically for decreases;
//! - **Pass** otherwise, with the reason.
//!
//! A zero baseline mean gives an infinite ratio, never a NaN that passes silently. Threshold
//! metrics compare every canary value with `max`/`min`. The score is the weighted share of Pass
//! among metrics with a verdict (Pass, High, Low); a critical metric that is not Pass, a
//! must-have-data metric without data, or half the metrics without data fail the analysis.

pub mod judge;
pub mod settings;

use preflight_sdk::{PolicyInput, PolicyOutput};

preflight_sdk::export_policy! {
    name: "canary-judge",
    description: "Baseline vs canary: Mann-Whitney U, Hodges-Lehmann shift and mean ratio per metric; weighted score to PASS, MARGINAL or FAIL",
    evaluate: evaluate,
    settings_schema: include_str!("../settings.schema.json"),
    rules: [
        "canary.score", "canary.critical_metric", "canary.high", "canary.low",
        "canary.marginal", "canary.no_data", "canary.no_metrics", "canary.required_data",
        "canary.too_little_data", "canary.error", "settings.invalid",
    ],
}

/// Judges the fact set's `canary` section.
pub fn evaluate(input: PolicyInput) -> PolicyOutput {
    let settings: settings::Settings = match input.settings() {
        Ok(settings) => settings,
        Err(issue) => return PolicyOutput::blocked(issue),
    };
    if let Err(issue) = settings.check() {
        return PolicyOutput::blocked(issue);
    }
    judge::judge(input.facts.canary.as_ref(), &settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_schema_is_generated_from_the_settings_type() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("settings.schema.json");
        if let Err(problem) = preflight_sdk::testing::check_settings_schema::<settings::Settings>(
            &path,
            PREFLIGHT_METADATA,
        ) {
            panic!("{problem}");
        }
    }

    #[test]
    fn decision_cases() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
        match preflight_sdk::testing::run_cases_checked(&dir, evaluate, PREFLIGHT_METADATA) {
            Ok(count) => assert!(count >= 10, "only {count} cases"),
            Err(report) => panic!("{report}"),
        }
    }
}
