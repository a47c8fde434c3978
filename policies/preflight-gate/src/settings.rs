//! Modes and the settings that override them.

use preflight_sdk::facts::{Category, Severity};
use serde::{Deserialize, Serialize};

/// A named set of weights and thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Mode {
    /// Aggressive: ship more readily. Weighs MVP completeness over readiness and security, and
    /// moves both thresholds up by 10.
    #[serde(rename = "A", alias = "a", alias = "aggressive")]
    Aggressive,
    /// Balanced, the seed's default.
    #[default]
    #[serde(rename = "B", alias = "b", alias = "balanced")]
    Balanced,
    /// Safe: weighs security and readiness more and moves both thresholds down by 10.
    #[serde(rename = "S", alias = "s", alias = "safe")]
    Safe,
}

impl Mode {
    /// `A`, `B` or `S`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Aggressive => "A",
            Mode::Balanced => "B",
            Mode::Safe => "S",
        }
    }

    /// The mode's weights and thresholds before overrides.
    pub fn defaults(self) -> (Weights, Thresholds) {
        match self {
            Mode::Aggressive => (
                Weights {
                    readiness: 0.4,
                    mvp: 0.6,
                    security: 0.1,
                },
                Thresholds {
                    go: 60.0,
                    canary: 75.0,
                },
            ),
            Mode::Balanced => (
                Weights {
                    readiness: 0.5,
                    mvp: 0.5,
                    security: 0.2,
                },
                Thresholds {
                    go: 50.0,
                    canary: 65.0,
                },
            ),
            Mode::Safe => (
                Weights {
                    readiness: 0.5,
                    mvp: 0.3,
                    security: 0.4,
                },
                Thresholds {
                    go: 40.0,
                    canary: 55.0,
                },
            ),
        }
    }
}

/// The schema lists every spelling serde accepts, aliases included.
#[cfg(test)]
impl schemars::JsonSchema for Mode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Mode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The mode: A (aggressive), B (balanced) or S (safe).",
            "type": "string",
            "enum": ["A", "a", "aggressive", "B", "b", "balanced", "S", "s", "safe"]
        })
    }
}

/// Weights of the three scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    /// Weight of the readiness score.
    pub readiness: f64,
    /// Weight of the MVP score.
    pub mvp: f64,
    /// Weight of the security score (10 on PASS, 0 on FAIL).
    pub security: f64,
}

/// Risk thresholds: GO below `go`, GO_WITH_CAUTION below `canary`, NO_GO from `canary` up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Below this risk the release may go.
    pub go: f64,
    /// Below this risk (and at or above `go`) the release goes behind a canary.
    pub canary: f64,
}

/// Risk added for the change's complexity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Penalties {
    /// Penalty for `low` complexity.
    pub low: f64,
    /// Penalty for `medium` complexity.
    pub medium: f64,
    /// Penalty for `high` complexity.
    pub high: f64,
}

impl Default for Penalties {
    fn default() -> Self {
        Penalties {
            low: 0.0,
            medium: 5.0,
            high: 10.0,
        }
    }
}

/// The policy's settings, as given.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The mode: `A`, `B` (default) or `S`.
    #[serde(default)]
    pub mode: Mode,
    /// Weight overrides.
    #[serde(default)]
    pub weights: PartialWeights,
    /// Threshold overrides.
    #[serde(default)]
    pub thresholds: PartialThresholds,
    /// Penalty overrides.
    #[serde(default)]
    pub penalties: PartialPenalties,
    /// When scanner findings fail the security gate.
    #[serde(default)]
    pub security: SecurityRules,
    /// What the test results must show.
    #[serde(default)]
    pub tests: TestRules,
    /// What line coverage must reach.
    #[serde(default)]
    pub coverage: CoverageRules,
    /// Which licenses the components in the SBOM may carry.
    #[serde(default)]
    pub licenses: LicenseRules,
}

/// License rules over the SBOM's components (checked when `deny` or `allow` is set).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LicenseRules {
    /// SPDX licenses no component may need (`AGPL-3.0-only`, `GPL-3.0-only`): denying a
    /// license denies its `-or-later` and `+` forms too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// When set, the only licenses components may be used under.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// What a component without an SPDX license is: `warn` (default), `block` or `off`.
    #[serde(default = "warn")]
    pub unknown: Level,
    /// Whether a refused license blocks (default) or warns.
    #[serde(default)]
    pub level: Level,
}

fn warn() -> Level {
    Level::Warn
}

impl Default for LicenseRules {
    fn default() -> Self {
        LicenseRules {
            deny: Vec::new(),
            allow: Vec::new(),
            unknown: Level::Warn,
            level: Level::Block,
        }
    }
}

impl LicenseRules {
    /// Whether any license rule is set.
    pub fn active(&self) -> bool {
        !self.deny.is_empty() || !self.allow.is_empty()
    }
}

/// A severity, or `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Fail on any finding.
    Info,
    /// Fail on low or above.
    Low,
    /// Fail on medium or above.
    Medium,
    /// Fail on high or above.
    High,
    /// Fail on critical only.
    Critical,
    /// Never fail on this category.
    Never,
}

impl FailOn {
    /// The lowest severity that fails, or `None` for `never`.
    pub fn severity(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Low => Some(Severity::Low),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::High => Some(Severity::High),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::Never => None,
        }
    }

    /// `high`, `never`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Info => "info",
            FailOn::Low => "low",
            FailOn::Medium => "medium",
            FailOn::High => "high",
            FailOn::Critical => "critical",
            FailOn::Never => "never",
        }
    }
}

/// Per-category security rules: a category fails the gate when more than `allow` findings are
/// at or above `fail_on`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SecurityRules {
    /// Lowest failing severity per category.
    #[serde(default)]
    pub fail_on: PerCategory<FailOn>,
    /// Findings tolerated at or above `fail_on`, per category (default 0).
    #[serde(default)]
    pub allow: PerCategory<u64>,
    /// Count only findings new against the baseline (`preflight run --baseline`, or the
    /// scanner's SARIF `baselineState`); unchanged ones are summarised as a warning.
    #[serde(default)]
    pub only_new: bool,
}

/// One optional value per finding category.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub struct PerCategory<T> {
    /// Vulnerabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<T>,
    /// Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<T>,
    /// Lint findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<T>,
    /// Misconfigurations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misconfiguration: Option<T>,
}

impl<T> Default for PerCategory<T> {
    fn default() -> Self {
        PerCategory {
            vulnerability: None,
            secret: None,
            lint: None,
            misconfiguration: None,
        }
    }
}

impl<T: Copy> PerCategory<T> {
    /// The value for one category.
    pub fn get(&self, category: Category) -> Option<T> {
        match category {
            Category::Vulnerability | Category::Unknown => self.vulnerability,
            Category::Secret => self.secret,
            Category::Lint => self.lint,
            Category::Misconfiguration => self.misconfiguration,
        }
    }
}

impl SecurityRules {
    /// The failing severity for a category: the setting, else the default (vulnerability high,
    /// secret info — any secret —, lint high — SARIF `error` —, misconfiguration high).
    pub fn fail_on(&self, category: Category) -> FailOn {
        self.fail_on.get(category).unwrap_or(match category {
            Category::Secret => FailOn::Info,
            Category::Vulnerability
            | Category::Lint
            | Category::Misconfiguration
            | Category::Unknown => FailOn::High,
        })
    }

    /// Findings tolerated for a category.
    pub fn allow(&self, category: Category) -> u64 {
        self.allow.get(category).unwrap_or(0)
    }
}

/// Whether a rule blocks, warns or is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A blocking issue.
    #[default]
    Block,
    /// A warning.
    Warn,
    /// Not checked.
    Off,
}

/// Rules on test results (checked when the fact set has `tests`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TestRules {
    /// All tests must pass (default `block`).
    #[serde(default)]
    pub require_passing: Level,
}

/// Rules on line coverage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CoverageRules {
    /// Minimum overall line coverage in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// Minimum line coverage per path prefix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathCoverageRule>,
    /// Whether a shortfall blocks or warns (default `block`).
    #[serde(default)]
    pub level: Level,
}

/// Minimum line coverage for the files under a path prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PathCoverageRule {
    /// Path prefix, e.g. `src/payments/`.
    pub path: String,
    /// Minimum line coverage in percent.
    pub minimum: f64,
}

/// Weight overrides; unset weights come from the mode.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PartialWeights {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvp: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<f64>,
}

/// Threshold overrides; unset thresholds come from the mode.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PartialThresholds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<f64>,
}

/// Penalty overrides; unset penalties are 0 / 5 / 10.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PartialPenalties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
}

/// Weights, thresholds and penalties after the mode and the overrides are combined.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The mode.
    pub mode: Mode,
    /// Effective weights.
    pub weights: Weights,
    /// Effective thresholds.
    pub thresholds: Thresholds,
    /// Effective penalties.
    pub penalties: Penalties,
    /// Security rules.
    pub security: SecurityRules,
    /// Test rules.
    pub tests: TestRules,
    /// Coverage rules.
    pub coverage: CoverageRules,
    /// License rules.
    pub licenses: LicenseRules,
}

impl Settings {
    /// Combines the mode with the overrides and checks the result.
    ///
    /// # Errors
    /// A message naming the setting and its value when a number is negative or not finite, the
    /// weights sum to zero, or `go` is above `canary`.
    pub fn resolve(&self) -> Result<Resolved, String> {
        let (mut weights, mut thresholds) = self.mode.defaults();
        let mut penalties = Penalties::default();
        let overrides = [
            (
                "weights.readiness",
                self.weights.readiness,
                &mut weights.readiness,
            ),
            ("weights.mvp", self.weights.mvp, &mut weights.mvp),
            (
                "weights.security",
                self.weights.security,
                &mut weights.security,
            ),
            ("thresholds.go", self.thresholds.go, &mut thresholds.go),
            (
                "thresholds.canary",
                self.thresholds.canary,
                &mut thresholds.canary,
            ),
            ("penalties.low", self.penalties.low, &mut penalties.low),
            (
                "penalties.medium",
                self.penalties.medium,
                &mut penalties.medium,
            ),
            ("penalties.high", self.penalties.high, &mut penalties.high),
        ];
        for (name, value, slot) in overrides {
            if let Some(value) = value {
                if !value.is_finite() || value < 0.0 {
                    return Err(format!(
                        "setting `{name}` is {value}; it must be a finite number >= 0"
                    ));
                }
                *slot = value;
            }
        }
        let sum = weights.readiness + weights.mvp + weights.security;
        if !sum.is_finite() {
            return Err(format!(
                "the weights sum to {sum}; weights must be small enough to add up to a finite number"
            ));
        }
        if sum <= 0.0 {
            return Err("the weights sum to 0; at least one of `weights.readiness`, `weights.mvp`, `weights.security` must be positive".to_owned());
        }
        if thresholds.go > thresholds.canary {
            return Err(format!(
                "setting `thresholds.go` ({}) is above `thresholds.canary` ({}); go must be <= canary",
                thresholds.go, thresholds.canary
            ));
        }
        let minimums = self
            .coverage
            .minimum
            .map(|m| ("coverage.minimum".to_owned(), m))
            .into_iter()
            .chain(self.coverage.paths.iter().map(|rule| {
                (
                    format!("coverage.paths[{}].minimum", rule.path),
                    rule.minimum,
                )
            }));
        for (name, value) in minimums {
            if !(0.0..=100.0).contains(&value) {
                return Err(format!(
                    "setting `{name}` is {value}; it must be a percentage from 0 to 100"
                ));
            }
        }
        Ok(Resolved {
            mode: self.mode,
            weights,
            thresholds,
            penalties,
            security: self.security,
            tests: self.tests,
            coverage: self.coverage.clone(),
            licenses: self.licenses.clone(),
        })
    }
}
