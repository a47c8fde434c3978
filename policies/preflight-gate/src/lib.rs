//! `preflight-gate`, the standard release gate.
//!
//! ```text
//! security  = 10 if the security gate passes, 0 if it fails
//! weighted  = (w_r·readiness + w_m·mvp + w_s·security) / (w_r + w_m + w_s)
//! risk      = 100 − 10·weighted + penalty(complexity)        (rounded to 2 decimals)
//! decision  = NO_GO if any blocking issue
//!             GO if risk < go; GO_WITH_CAUTION if risk < canary; NO_GO otherwise
//! ```
//!
//! The seed example (mode B, readiness 7, mvp 7, security PASS, complexity medium) gives
//! `(0.5·7 + 0.5·7 + 0.2·10) / 1.2 = 7.5` and `100 − 75 + 5 = 30`: GO.

pub mod licenses;
pub mod quality;
pub mod security;
pub mod settings;

use preflight_sdk::facts::{Complexity, GateVerdict};
use preflight_sdk::{Decision, Issue, PolicyInput, PolicyOutput, TypedOutput, log};
use serde::Serialize;

use settings::{Resolved, Settings};

/// The evaluation's first allocations come from the module's own zeroed memory, not the host.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: preflight_sdk::arena::Arena<{ 64 << 10 }> = preflight_sdk::arena::Arena::new();

preflight_sdk::export_policy! {
    name: "preflight-gate",
    description: "Risk score from readiness, MVP and security with go/canary bands; security gate from scanner findings; test, coverage and artifact rules",
    evaluate: evaluate_typed,
    settings_schema: include_str!("../settings.schema.json"),
    rules: [
        "risk.above_go", "risk.above_canary",
        "facts.score_out_of_range", "facts.missing",
        "security.gate_failed", "security.gate_unknown", "security.no_evidence",
        "security.vulnerability", "security.secret", "security.misconfiguration",
        "security.lint", "security.unknown",
        "tests.failing", "tests.none_ran",
        "coverage.missing", "coverage.no_data", "coverage.below_minimum",
        "coverage.path_below_minimum", "coverage.path_not_found",
        "artifacts.missing_required", "artifacts.missing",
        "licenses.refused", "licenses.unknown", "licenses.no_sbom",
        "vex.cleared", "vex.unused", "security.unchanged",
        "settings.invalid",
    ],
}

/// Evaluates the standard gate.
pub fn evaluate(input: PolicyInput) -> PolicyOutput {
    evaluate_typed(input).into_output()
}

/// Evaluates the standard gate with typed details: what the wasm module exports, so the
/// output is serialized without building a JSON tree first.
pub fn evaluate_typed(input: PolicyInput) -> TypedOutput<Details> {
    let settings: Settings = match input.settings() {
        Ok(settings) => settings,
        Err(issue) => return blocked(issue),
    };
    let resolved = match settings.resolve() {
        Ok(resolved) => resolved,
        Err(message) => return blocked(Issue::new("settings.invalid", message)),
    };
    gate(&input, &resolved)
}

/// The gate's `details`: empty when it could not get as far as a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Details {
    /// `{}`.
    Empty {},
    /// How the risk score and the decision were reached.
    Scored(Box<Scored>),
}

/// How the risk score and the decision were reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// The mode whose defaults applied.
    pub mode: &'static str,
    /// The weights used.
    pub weights: settings::Weights,
    /// The scores that went in.
    pub scores: ScoreDetails,
    /// The weighted score, 0 to 10, rounded to 4 decimals.
    pub weighted_score: f64,
    /// The complexity.
    pub complexity: &'static str,
    /// Its penalty.
    pub penalty: f64,
    /// Every complexity's penalty.
    pub penalties: settings::Penalties,
    /// The risk score.
    pub risk_score: f64,
    /// The go and canary thresholds.
    pub thresholds: settings::Thresholds,
    /// The decision the risk score alone gives.
    pub band: Decision,
    /// Optional artifacts that are missing.
    pub artifacts_missing: Vec<String>,
    /// Required artifacts that are missing.
    pub artifacts_missing_required: Vec<String>,
    /// The security gate.
    pub security: security::Details,
    /// Test and coverage rules.
    pub quality: Vec<serde_json::Value>,
}

/// The scores that went into the risk score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreDetails {
    /// Readiness, 0 to 10.
    pub readiness: f64,
    /// MVP, 0 to 10.
    pub mvp: f64,
    /// The security gate's verdict.
    pub security_gate: Option<&'static str>,
    /// 10 when the security gate passed, else 0.
    pub security: f64,
}

fn blocked(issue: Issue) -> TypedOutput<Details> {
    TypedOutput {
        decision: Decision::NoGo,
        blocking_issues: vec![issue],
        warnings: Vec::new(),
        details: Details::Empty {},
    }
}

fn gate(input: &PolicyInput, settings: &Resolved) -> TypedOutput<Details> {
    let facts = &input.facts;
    let Some(scores) = facts.scores else {
        return blocked(Issue::new(
            "facts.missing",
            "the fact set has no `scores` (readiness and MVP); the standard gate needs them",
        ));
    };
    let Some(complexity) = facts.complexity else {
        return blocked(Issue::new(
            "facts.missing",
            "the fact set has no `complexity`; the standard gate needs it",
        ));
    };
    let mut blocking = Vec::new();
    let mut warnings = Vec::new();

    for (name, value) in [("readiness", scores.readiness), ("mvp", scores.mvp)] {
        if !(0.0..=10.0).contains(&value) {
            blocking.push(Issue::new(
                "facts.score_out_of_range",
                format!("{name} score is {value}; scores must be between 0 and 10"),
            ));
        }
    }

    let security = security::gate(&facts.security, &settings.security);
    let security_gate = security.verdict;
    let security_score = if security_gate == Some(GateVerdict::Pass) {
        10.0
    } else {
        0.0
    };
    blocking.extend(security.blocking);
    warnings.extend(security::vex_warnings(&facts.security));
    warnings.extend(security::unchanged_warning(
        &facts.security,
        &settings.security,
    ));

    let weights = settings.weights;
    let weight_sum = weights.readiness + weights.mvp + weights.security;
    let weighted = (weights.readiness * scores.readiness
        + weights.mvp * scores.mvp
        + weights.security * security_score)
        / weight_sum;
    let penalty = match complexity {
        Complexity::Low => settings.penalties.low,
        Complexity::Medium => settings.penalties.medium,
        // A complexity this version does not know is judged as the highest.
        Complexity::High | Complexity::Unknown => settings.penalties.high,
    };
    let risk = round2(100.0 - 10.0 * weighted + penalty);
    if !risk.is_finite() {
        // A risk that is not a number would compare as neither below nor above a threshold.
        return blocked(Issue::new(
            "settings.invalid",
            format!(
                "the risk score is {risk} with these weights and penalties; use smaller numbers"
            ),
        ));
    }
    let thresholds = settings.thresholds;
    log!(
        debug,
        "mode {} weighted {weighted:.4} penalty {penalty} risk {risk}",
        settings.mode.as_str()
    );

    let band = if risk < thresholds.go {
        Decision::Go
    } else if risk < thresholds.canary {
        warnings.push(Issue::new(
            "risk.above_go",
            format!(
                "risk score {risk} is at or above the go threshold {} and below the canary threshold {} (rule: go <= risk < canary gives GO_WITH_CAUTION)",
                thresholds.go, thresholds.canary
            ),
        ));
        Decision::GoWithCaution
    } else {
        blocking.push(Issue::new(
            "risk.above_canary",
            format!(
                "risk score {risk} is at or above the canary threshold {} (rule: risk >= canary gives NO_GO)",
                thresholds.canary
            ),
        ));
        Decision::NoGo
    };

    for path in &facts.artifacts.missing_required {
        blocking.push(Issue::new(
            "artifacts.missing_required",
            format!(
                "required artifact `{path}` is missing (rule: every required artifact must exist)"
            ),
        ));
    }
    if !facts.artifacts.missing.is_empty() {
        warnings.push(Issue::new(
            "artifacts.missing",
            format!(
                "{} optional artifact(s) missing: {} (listed, not blocking)",
                facts.artifacts.missing.len(),
                facts.artifacts.missing.join(", ")
            ),
        ));
    }

    let mut done = quality::Findings::default();
    quality::tests(facts.tests.as_ref(), &settings.tests, &mut done);
    quality::coverage(facts.coverage.as_ref(), &settings.coverage, &mut done);
    if let Err(issue) = licenses::check(facts.sbom.as_ref(), &settings.licenses, &mut done) {
        return blocked(issue);
    }
    blocking.extend(done.blocking);
    warnings.extend(done.warnings);

    let decision = if blocking.is_empty() {
        band
    } else {
        Decision::NoGo
    };
    let details = Details::Scored(Box::new(Scored {
        mode: settings.mode.as_str(),
        weights,
        scores: ScoreDetails {
            readiness: scores.readiness,
            mvp: scores.mvp,
            security_gate: security_gate.map(GateVerdict::as_str),
            security: security_score,
        },
        weighted_score: round4(weighted),
        complexity: complexity.as_str(),
        penalty,
        penalties: settings.penalties,
        risk_score: risk,
        thresholds,
        band,
        artifacts_missing: facts.artifacts.missing.clone(),
        artifacts_missing_required: facts.artifacts.missing_required.clone(),
        security: security.details,
        quality: done.details,
    }));
    TypedOutput {
        decision,
        blocking_issues: blocking,
        warnings,
        details,
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
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
    use std::path::Path;

    #[test]
    fn decision_cases() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
        match preflight_sdk::testing::run_cases_checked(&dir, evaluate, PREFLIGHT_METADATA) {
            Ok(count) => assert!(count >= 20, "only {count} cases"),
            Err(report) => panic!("{report}"),
        }
    }

    #[test]
    fn seed_formula_gives_thirty_not_thirty_five() {
        let weighted: f64 = (0.5 * 7.0 + 0.5 * 7.0 + 0.2 * 10.0) / 1.2;
        assert_eq!(round2(100.0 - 10.0 * weighted + 5.0), 30.0);
    }
}
