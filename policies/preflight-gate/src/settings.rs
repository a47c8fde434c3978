//! Modes and the settings that override them.

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
#[derive(Debug, Clone, Default, Deserialize)]
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
}

/// Weight overrides; unset weights come from the mode.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialWeights {
    readiness: Option<f64>,
    mvp: Option<f64>,
    security: Option<f64>,
}

/// Threshold overrides; unset thresholds come from the mode.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialThresholds {
    go: Option<f64>,
    canary: Option<f64>,
}

/// Penalty overrides; unset penalties are 0 / 5 / 10.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialPenalties {
    low: Option<f64>,
    medium: Option<f64>,
    high: Option<f64>,
}

/// Weights, thresholds and penalties after the mode and the overrides are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    /// The mode.
    pub mode: Mode,
    /// Effective weights.
    pub weights: Weights,
    /// Effective thresholds.
    pub thresholds: Thresholds,
    /// Effective penalties.
    pub penalties: Penalties,
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
        if sum <= 0.0 {
            return Err("the weights sum to 0; at least one of `weights.readiness`, `weights.mvp`, `weights.security` must be positive".to_owned());
        }
        if thresholds.go > thresholds.canary {
            return Err(format!(
                "setting `thresholds.go` ({}) is above `thresholds.canary` ({}); go must be <= canary",
                thresholds.go, thresholds.canary
            ));
        }
        Ok(Resolved {
            mode: self.mode,
            weights,
            thresholds,
            penalties,
        })
    }
}
