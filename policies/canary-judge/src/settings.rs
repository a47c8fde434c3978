//! The judge's settings.

use preflight_sdk::Issue;
use serde::{Deserialize, Serialize};

/// Settings of `canary-judge`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Confidence of the test and of the Hodges-Lehmann interval (α = 1 − confidence).
    pub confidence: f64,
    /// Fewer values than this on a side is NoData.
    pub min_points: usize,
    /// Score at or above which the analysis passes.
    pub pass: f64,
    /// Score at or above which the analysis is marginal.
    pub marginal: f64,
    /// The effect tolerance as a fraction of |HL|.
    pub effect_fraction: f64,
    /// Share of metrics without data (NoData or Error) that fails the analysis.
    pub nodata_fail_share: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            confidence: 0.98,
            min_points: 50,
            pass: 95.0,
            marginal: 75.0,
            effect_fraction: 0.25,
            nodata_fail_share: 0.5,
        }
    }
}

impl Settings {
    /// Checks the ranges.
    ///
    /// # Errors
    /// A `settings.invalid` issue naming the setting.
    pub fn check(&self) -> Result<(), Issue> {
        let bad = |message: String| Err(Issue::new("settings.invalid", message));
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return bad(format!(
                "`confidence` is {}; it must be between 0.5 and 1",
                self.confidence
            ));
        }
        if self.min_points < 3 {
            return bad(format!(
                "`min_points` is {}; it must be at least 3",
                self.min_points
            ));
        }
        if !(0.0..=100.0).contains(&self.marginal) || !(self.marginal..=100.0).contains(&self.pass)
        {
            return bad(format!(
                "`marginal` ({}) and `pass` ({}) must satisfy 0 <= marginal <= pass <= 100",
                self.marginal, self.pass
            ));
        }
        if !(0.0..=1.0).contains(&self.effect_fraction)
            || !(0.0..=1.0).contains(&self.nodata_fail_share)
        {
            return bad(
                "`effect_fraction` and `nodata_fail_share` must be between 0 and 1".to_owned(),
            );
        }
        Ok(())
    }
}
