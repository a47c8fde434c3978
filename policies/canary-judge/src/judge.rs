//! Classifying metrics and scoring the analysis.

use preflight_sdk::canary::{
    Canary, Direction, Judgement, Label, LabelCounts, Metric, MetricKind, MetricResult,
    ScoreThresholds, Series, Verdict,
};
use preflight_sdk::stats;
use preflight_sdk::{Decision, Issue, PolicyOutput, log};
use serde_json::Value;

use crate::settings::Settings;

/// A result for `metric` with only its label, rule and reason.
fn result(metric: &Metric, label: Label, rule: &'static str, reason: String) -> MetricResult {
    MetricResult {
        name: metric.name.clone(),
        kind: metric.kind,
        label,
        reason,
        rule: rule.to_owned(),
        critical: metric.critical,
        must_have_data: metric.must_have_data,
        weight: metric.weight,
        baseline: None,
        canary: None,
        delta: None,
        ratio: None,
        ratio_text: None,
        p_value: None,
        hodges_lehmann: None,
        tolerance: None,
        dropped: (0, 0),
    }
}

fn series_error(side: &str, series: &Series) -> Option<String> {
    series
        .error
        .as_ref()
        .map(|error| format!("the {side} query failed: {error}"))
}

/// Classifies one metric.
pub fn classify(metric: &Metric, settings: &Settings) -> MetricResult {
    match metric.kind {
        MetricKind::Compare => compare(metric, settings),
        MetricKind::Threshold => threshold(metric, settings),
        MetricKind::Unknown => result(
            metric,
            Label::Error,
            "definition",
            "the metric's kind is one this judge does not know".to_owned(),
        ),
    }
}

fn compare(metric: &Metric, settings: &Settings) -> MetricResult {
    let Some(baseline) = &metric.baseline else {
        return result(
            metric,
            Label::Error,
            "definition",
            "a compare metric needs a baseline series".to_owned(),
        );
    };
    if let Some(reason) =
        series_error("baseline", baseline).or_else(|| series_error("canary", &metric.canary))
    {
        return result(metric, Label::Error, "query", reason);
    }
    let (b, b_dropped) = stats::finite(&baseline.numbers());
    let (c, c_dropped) = stats::finite(&metric.canary.numbers());
    let min = settings.min_points;
    if b.len() < min || c.len() < min {
        let mut result = result(
            metric,
            Label::NoData,
            "min_points",
            format!(
                "baseline has {} usable points and canary {} (dropped NaN/Inf: {b_dropped} and {c_dropped}); at least {min} per side are needed",
                b.len(),
                c.len()
            ),
        );
        result.dropped = (b_dropped, c_dropped);
        return result;
    }
    let (Ok(bs), Ok(cs)) = (stats::summary(&b), stats::summary(&c)) else {
        return result(
            metric,
            Label::Error,
            "statistics",
            "the series could not be summarised".to_owned(),
        );
    };
    let mut result = result(metric, Label::Pass, "identical", String::new());
    result.baseline = Some(bs);
    result.canary = Some(cs);
    result.dropped = (b_dropped, c_dropped);
    let delta = cs.mean - bs.mean;
    result.delta = Some(delta);
    let ratio = if bs.mean == 0.0 {
        if cs.mean == 0.0 {
            1.0
        } else if cs.mean > 0.0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        }
    } else {
        cs.mean / bs.mean
    };
    result.ratio = ratio.is_finite().then_some(ratio);
    result.ratio_text = Some(if ratio.is_finite() {
        format!("{ratio:.4}")
    } else if ratio > 0.0 {
        "+Inf".to_owned()
    } else {
        "-Inf".to_owned()
    });

    let mut sorted_b = b.clone();
    let mut sorted_c = c.clone();
    stats::sort_doubles(&mut sorted_b);
    stats::sort_doubles(&mut sorted_c);
    if sorted_b == sorted_c {
        result.reason = "baseline and canary hold the same values".to_owned();
        return result;
    }
    // Both statistics depend on the values, not their order: given them sorted, their own sorts
    // find the input already in order.
    let (Ok(test), Ok(shift)) = (
        stats::mann_whitney_u(&sorted_c, &sorted_b),
        stats::hodges_lehmann(&sorted_c, &sorted_b, settings.confidence),
    ) else {
        result.label = Label::Error;
        result.rule = "statistics".to_owned();
        result.reason = "the Mann-Whitney test could not be computed".to_owned();
        return result;
    };
    let alpha = 1.0 - settings.confidence;
    let tolerance = settings.effect_fraction * shift.estimate.abs();
    result.p_value = Some(test.p_value);
    result.hodges_lehmann = Some(shift);
    result.tolerance = Some(tolerance);
    let significant = test.p_value < alpha;
    let up = significant && (shift.lower > tolerance || (shift.estimate == 0.0 && delta > 0.0));
    let down = significant && (shift.upper < -tolerance || (shift.estimate == 0.0 && delta < 0.0));
    let abs_tolerance = metric.absolute_tolerance.unwrap_or(0.0);
    let allowed_increase = metric.allowed_increase.unwrap_or(1.0);
    let allowed_decrease = metric.allowed_decrease.unwrap_or(1.0);
    let increase_bad = matches!(
        metric.direction,
        Direction::Increase | Direction::Either | Direction::Unknown
    );
    let decrease_bad = matches!(
        metric.direction,
        Direction::Decrease | Direction::Either | Direction::Unknown
    );
    let numbers = format!(
        "baseline mean {:.6} p95 {:.6}, canary mean {:.6} p95 {:.6}, ratio {}, HL shift {:.6} [{:.6}, {:.6}] at {}%, p = {:.3e}",
        bs.mean,
        bs.p95,
        cs.mean,
        cs.p95,
        result.ratio_text.as_deref().unwrap_or("?"),
        shift.estimate,
        shift.lower,
        shift.upper,
        settings.confidence * 100.0,
        test.p_value
    );
    if increase_bad && up && ratio > allowed_increase && delta > abs_tolerance {
        result.label = Label::High;
        result.rule = "increase".to_owned();
        result.reason = format!(
            "canary is higher: {numbers}; p < {alpha:.3}, interval above the tolerance {tolerance:.6}, ratio above the allowed {allowed_increase}"
        );
    } else if decrease_bad && down && ratio < allowed_decrease && -delta > abs_tolerance {
        result.label = Label::Low;
        result.rule = "decrease".to_owned();
        result.reason = format!(
            "canary is lower: {numbers}; p < {alpha:.3}, interval below −{tolerance:.6}, ratio below the allowed {allowed_decrease}"
        );
    } else {
        let rule = if !significant {
            "not_significant"
        } else if !(up || down) {
            "within_tolerance"
        } else if (up && !increase_bad) || (down && !decrease_bad) {
            "allowed_direction"
        } else {
            "allowed_effect"
        };
        result.rule = rule.to_owned();
        let why = match rule {
            "not_significant" => format!("no significant difference (p ≥ {alpha:.3})"),
            "within_tolerance" => "the shift's interval is within the tolerance".to_owned(),
            "allowed_direction" => {
                "the change is in a direction that is not bad for this metric".to_owned()
            }
            _ => format!(
                "the change is within the allowed effect (ratio bounds {allowed_decrease}–{allowed_increase}, absolute tolerance {abs_tolerance})"
            ),
        };
        result.reason = format!("{why}: {numbers}");
    }
    result
}

fn threshold(metric: &Metric, settings: &Settings) -> MetricResult {
    if let Some(reason) = series_error("canary", &metric.canary) {
        return result(metric, Label::Error, "query", reason);
    }
    if metric.max.is_none() && metric.min.is_none() {
        return result(
            metric,
            Label::Error,
            "definition",
            "a threshold metric needs `max` or `min`".to_owned(),
        );
    }
    let (c, dropped) = stats::finite(&metric.canary.numbers());
    if c.len() < settings.min_points {
        let mut result = result(
            metric,
            Label::NoData,
            "min_points",
            format!(
                "canary has {} usable points (dropped {dropped}); at least {} are needed",
                c.len(),
                settings.min_points
            ),
        );
        result.dropped = (0, dropped);
        return result;
    }
    let Ok(summary) = stats::summary(&c) else {
        return result(
            metric,
            Label::Error,
            "statistics",
            "the series could not be summarised".to_owned(),
        );
    };
    let above = metric
        .max
        .map_or(0, |max| c.iter().filter(|v| **v > max).count());
    let below = metric
        .min
        .map_or(0, |min| c.iter().filter(|v| **v < min).count());
    let (label, rule, reason) = if above > 0 {
        (
            Label::High,
            "max",
            format!(
                "{above} of {} canary values are above the bound {} (max {})",
                c.len(),
                metric.max.unwrap_or(f64::NAN),
                summary.max
            ),
        )
    } else if below > 0 {
        (
            Label::Low,
            "min",
            format!(
                "{below} of {} canary values are below the bound {} (min {})",
                c.len(),
                metric.min.unwrap_or(f64::NAN),
                summary.min
            ),
        )
    } else {
        (
            Label::Pass,
            "bounds",
            format!(
                "all {} canary values are within the bounds (max {}, min {})",
                c.len(),
                summary.max,
                summary.min
            ),
        )
    };
    let mut result = result(metric, label, rule, reason);
    result.canary = Some(summary);
    result.dropped = (0, dropped);
    result
}

/// Judges the whole analysis.
pub fn judge(canary: Option<&Canary>, settings: &Settings) -> PolicyOutput {
    let Some(canary) = canary else {
        return PolicyOutput::blocked(Issue::new(
            "canary.no_data",
            "the fact set has no `canary` section: run `preflight canary analyze`, or replay a recorded analysis with --facts",
        ));
    };
    let results: Vec<MetricResult> = canary
        .metrics
        .iter()
        .map(|m| classify(m, settings))
        .collect();
    let countable: Vec<&MetricResult> = results.iter().filter(|r| r.label.has_verdict()).collect();
    let total_weight: f64 = countable.iter().map(|r| r.weight).sum();
    let pass_weight: f64 = countable
        .iter()
        .filter(|r| r.label == Label::Pass)
        .map(|r| r.weight)
        .sum();
    let score = if total_weight > 0.0 {
        round2(100.0 * pass_weight / total_weight)
    } else {
        0.0
    };
    let without_data = results.iter().filter(|r| !r.label.has_verdict()).count();
    let nodata_share = if results.is_empty() {
        1.0
    } else {
        without_data as f64 / results.len() as f64
    };

    let mut reasons: Vec<Issue> = Vec::new();
    if results.is_empty() {
        reasons.push(Issue::new(
            "canary.no_metrics",
            "the analysis has no metrics (rule: nothing measured cannot pass)",
        ));
    }
    for result in &results {
        if result.critical && result.label != Label::Pass {
            reasons.push(Issue::new(
                "canary.critical_metric",
                format!("critical metric `{}` is {}: {} (rule: a critical metric that is not Pass fails the analysis)", result.name, result.label.as_str(), result.reason),
            ));
        } else if result.must_have_data && !result.label.has_verdict() {
            reasons.push(Issue::new(
                "canary.required_data",
                format!(
                    "metric `{}` must have data but is {}: {} (rule: must_have_data)",
                    result.name,
                    result.label.as_str(),
                    result.reason
                ),
            ));
        }
    }
    if !results.is_empty() && nodata_share >= settings.nodata_fail_share {
        reasons.push(Issue::new(
            "canary.too_little_data",
            format!(
                "{without_data} of {} metrics have no data (NoData or Error), at or above {:.0}% (rule: nodata_fail_share)",
                results.len(),
                settings.nodata_fail_share * 100.0
            ),
        ));
    }
    let verdict = if !reasons.is_empty() {
        Verdict::Fail
    } else if score >= settings.pass {
        Verdict::Pass
    } else if score >= settings.marginal {
        Verdict::Marginal
    } else {
        reasons.push(Issue::new(
            "canary.score",
            format!("score {score} is below the marginal threshold {} (rule: score < marginal gives FAIL)", settings.marginal),
        ));
        Verdict::Fail
    };
    log!(debug, "canary score {score}, verdict {verdict:?}");

    let metric_issues: Vec<Issue> = results
        .iter()
        .filter(|r| r.label != Label::Pass)
        .map(|r| {
            let id = match r.label {
                Label::High => "canary.high",
                Label::Low => "canary.low",
                Label::NoData => "canary.no_data",
                _ => "canary.error",
            };
            Issue::new(
                id,
                format!(
                    "`{}` is {} ({}): {}",
                    r.name,
                    r.label.as_str(),
                    r.rule,
                    r.reason
                ),
            )
        })
        .collect();
    let mut output = match verdict {
        Verdict::Pass => PolicyOutput::new(Decision::Go),
        Verdict::Marginal => PolicyOutput::new(Decision::GoWithCaution),
        Verdict::Fail => PolicyOutput::new(Decision::NoGo),
    };
    if verdict == Verdict::Fail {
        output.blocking_issues = reasons;
        output.blocking_issues.extend(metric_issues);
    } else {
        if verdict == Verdict::Marginal {
            output.warnings.push(Issue::new(
                "canary.marginal",
                format!("score {score} is below the pass threshold {} and at or above the marginal threshold {}", settings.pass, settings.marginal),
            ));
        }
        output.warnings.extend(metric_issues);
    }
    let count = |label: Label| results.iter().filter(|r| r.label == label).count();
    let judgement = Judgement {
        verdict,
        score,
        thresholds: ScoreThresholds {
            pass: settings.pass,
            marginal: settings.marginal,
        },
        confidence: settings.confidence,
        min_points: settings.min_points,
        counts: LabelCounts {
            pass: count(Label::Pass),
            high: count(Label::High),
            low: count(Label::Low),
            nodata: count(Label::NoData),
            error: count(Label::Error),
        },
        metrics: results,
    };
    output.details = serde_json::to_value(&judgement).unwrap_or(Value::Null);
    output
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
