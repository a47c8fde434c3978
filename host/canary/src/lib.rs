#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod prometheus;

use preflight_engine::Report;
use preflight_sdk::canary::{Canary, Direction, Judgement, Metric, MetricKind, Sample, Series};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::prometheus::{Client, QueryResult};

/// The standard canary judge's name.
pub const JUDGE: &str = "canary-judge";

/// The placeholder a query template carries for the label selector.
pub const PLACEHOLDER: &str = "SELECTOR";

/// A metric definition, from `[[canary.metric]]` in `preflight.toml` or the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDef {
    /// Name.
    pub name: String,
    /// PromQL with `SELECTOR` where the baseline or canary selector goes.
    pub query: String,
    /// `compare` (default) or `threshold`.
    #[serde(default = "compare")]
    pub kind: MetricKind,
    /// Which change is bad (default `increase`).
    #[serde(default = "increase")]
    pub direction: Direction,
    /// A critical metric that is not Pass fails the analysis.
    #[serde(default)]
    pub critical: bool,
    /// NoData fails the analysis.
    #[serde(default)]
    pub must_have_data: bool,
    /// Largest tolerated canary/baseline mean ratio, e.g. 1.2.
    #[serde(default)]
    pub allowed_increase: Option<f64>,
    /// Smallest tolerated ratio, e.g. 0.8.
    #[serde(default)]
    pub allowed_decrease: Option<f64>,
    /// Mean differences at or below this never fail.
    #[serde(default)]
    pub absolute_tolerance: Option<f64>,
    /// Upper bound on canary values (threshold metrics).
    #[serde(default)]
    pub max: Option<f64>,
    /// Lower bound on canary values (threshold metrics).
    #[serde(default)]
    pub min: Option<f64>,
    /// Weight in the score.
    #[serde(default = "one")]
    pub weight: f64,
}

fn compare() -> MetricKind {
    MetricKind::Compare
}
fn increase() -> Direction {
    Direction::Increase
}
fn one() -> f64 {
    1.0
}

/// The seed's three metrics.
pub fn default_metrics() -> Vec<MetricDef> {
    let base = |name: &str, query: &str| MetricDef {
        name: name.to_owned(),
        query: query.to_owned(),
        kind: MetricKind::Compare,
        direction: Direction::Increase,
        critical: false,
        must_have_data: false,
        allowed_increase: None,
        allowed_decrease: None,
        absolute_tolerance: None,
        max: None,
        min: None,
        weight: 1.0,
    };
    vec![
        MetricDef {
            allowed_increase: Some(1.2),
            ..base(
                "p95_latency",
                "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{SELECTOR}[5m])) by (le))",
            )
        },
        MetricDef {
            allowed_increase: Some(1.2),
            absolute_tolerance: Some(0.001),
            ..base(
                "error_rate",
                "sum(rate(http_requests_total{SELECTOR,status=~\"5..\"}[5m])) / sum(rate(http_requests_total{SELECTOR}[5m]))",
            )
        },
        MetricDef {
            kind: MetricKind::Threshold,
            critical: true,
            max: Some(0.0),
            ..base(
                "circuit_breaker",
                "max(pms_circuit_breaker_state{SELECTOR})",
            )
        },
    ]
}

/// Puts a selector into a query template.
pub fn render(template: &str, selector: &str) -> String {
    let selector = selector
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}');
    if selector.is_empty() {
        template.replace("{SELECTOR,", "{").replace(PLACEHOLDER, "")
    } else {
        template.replace(PLACEHOLDER, selector)
    }
}

/// The analysis window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Start, Unix seconds.
    pub start: f64,
    /// End, Unix seconds.
    pub end: f64,
    /// Step, seconds.
    pub step: f64,
}

/// Fetches one side of one metric; failures go into the series as `error`.
async fn fetch(client: &Client, query: String, window: Window) -> Series {
    let mut series = Series {
        query: query.clone(),
        ..Series::default()
    };
    match client
        .query_range(&query, window.start, window.end, window.step)
        .await
    {
        Ok(response) => {
            series.warnings = response.warnings;
            match response.result {
                QueryResult::Matrix(list) if list.is_empty() => {}
                QueryResult::Matrix(mut list) if list.len() == 1 => {
                    for (time, value) in list.remove(0).points {
                        series.timestamps.push(time);
                        series.values.push(Sample(value));
                    }
                }
                QueryResult::Matrix(list) => {
                    series.error = Some(format!(
                        "the query returned {} series; aggregate it to one (e.g. with sum or max)",
                        list.len()
                    ));
                }
                other => {
                    series.error = Some(format!(
                        "a range query returned {other:?} instead of a matrix"
                    ));
                }
            }
        }
        Err(err) => series.error = Some(err.to_string()),
    }
    series
}

/// Fetches every metric for both sides into a `canary` section.
pub async fn collect(
    client: &Client,
    prometheus: &str,
    defs: &[MetricDef],
    baseline: &str,
    canary: &str,
    window: Window,
) -> Canary {
    let mut metrics = Vec::new();
    for def in defs {
        let canary_series = fetch(client, render(&def.query, canary), window).await;
        let baseline_series = match def.kind {
            MetricKind::Compare => Some(fetch(client, render(&def.query, baseline), window).await),
            MetricKind::Threshold | MetricKind::Unknown => None,
        };
        metrics.push(Metric {
            name: def.name.clone(),
            kind: def.kind,
            direction: def.direction,
            critical: def.critical,
            must_have_data: def.must_have_data,
            allowed_increase: def.allowed_increase,
            allowed_decrease: def.allowed_decrease,
            absolute_tolerance: def.absolute_tolerance,
            max: def.max,
            min: def.min,
            weight: def.weight,
            baseline: baseline_series,
            canary: canary_series,
        });
    }
    Canary {
        prometheus: Some(prometheus.to_owned()),
        baseline: baseline.to_owned(),
        canary: canary.to_owned(),
        start: window.start,
        end: window.end,
        step: window.step,
        metrics,
    }
}

/// `.playbook/canary_diff_report.json`: per metric the summaries of both sides, delta, ratio,
/// p-value, label and reason; the score and the verdict. The judge's details are read through
/// [`Judgement`], the type the judge writes them with.
pub fn diff_report(report: &Report, canary: Option<&Value>) -> Value {
    let judge = report
        .policies
        .iter()
        .find(|p| p.name == JUDGE)
        .or_else(|| report.policies.first());
    let judgement: Option<Judgement> =
        judge.and_then(|p| serde_json::from_value(p.details.clone()).ok());
    let verdict = match report.decision {
        preflight_sdk::Decision::Go => "PASS",
        preflight_sdk::Decision::GoWithCaution => "MARGINAL",
        preflight_sdk::Decision::NoGo => "FAIL",
    };
    let metrics: Vec<Value> = judgement
        .as_ref()
        .map(|judgement| {
            judgement
                .metrics
                .iter()
                .map(|m| {
                    json!({
                        "name": m.name,
                        "kind": m.kind,
                        "label": m.label,
                        "status": if m.label == preflight_sdk::canary::Label::Pass { "PASS" } else { "FAIL" },
                        "reason": m.reason,
                        "rule": m.rule,
                        "critical": m.critical,
                        "baseline": m.baseline,
                        "canary": m.canary,
                        "baseline_mean": m.baseline.map(|s| s.mean),
                        "canary_mean": m.canary.map(|s| s.mean),
                        "delta": m.delta,
                        "ratio": m.ratio_text,
                        "p_value": m.p_value,
                        "hodges_lehmann": m.hodges_lehmann,
                        "dropped": m.dropped,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let window = canary.map(|c| {
        json!({
            "prometheus": c.get("prometheus"),
            "baseline": c.get("baseline"),
            "canary": c.get("canary"),
            "start": c.get("start"),
            "end": c.get("end"),
            "step": c.get("step"),
        })
    });
    json!({
        "verdict": judgement.as_ref().map_or_else(|| json!(verdict), |j| json!(j.verdict)),
        "status": verdict,
        "decision": report.decision,
        "score": judgement.as_ref().map(|j| j.score),
        "thresholds": judgement.as_ref().map(|j| j.thresholds),
        "judge": judge.map(|p| json!({ "name": p.name, "version": p.version, "sha256": p.sha256 })),
        "analysis": window,
        "metrics": metrics,
        "blocking_issues": report.blocking_issues,
        "facts_sha256": report.facts_sha256,
        "preflight_version": report.preflight_version,
    })
}
