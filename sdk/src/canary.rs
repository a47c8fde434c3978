//! The `canary` section of a fact set: baseline and canary metric series from Prometheus, and
//! the definition of each metric, so a canary analysis can be recorded and replayed.

use serde::{Deserialize, Serialize};

/// A canary analysis: where the data came from and every metric's series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Canary {
    /// The Prometheus the data came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<String>,
    /// Label selector of the baseline, e.g. `job="api",track="baseline"`.
    pub baseline: String,
    /// Label selector of the canary.
    pub canary: String,
    /// Window start, Unix seconds.
    pub start: f64,
    /// Window end, Unix seconds.
    pub end: f64,
    /// Resolution, seconds.
    pub step: f64,
    /// The metrics.
    pub metrics: Vec<Metric>,
}

/// How a metric is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Canary against baseline (Mann-Whitney U, Hodges-Lehmann, mean ratio).
    Compare,
    /// Canary against absolute bounds.
    Threshold,
    /// A kind this SDK does not know (written by a newer host).
    #[serde(other)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    Unknown,
}

/// Which change of a metric is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// An increase is bad (latency, errors).
    Increase,
    /// A decrease is bad (throughput, success rate).
    Decrease,
    /// Either change is bad.
    Either,
    /// A direction this SDK does not know (written by a newer host); judge it as `either`.
    #[serde(other)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    Unknown,
}

/// A metric's definition and data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Metric {
    /// Name, e.g. `p95_latency`.
    pub name: String,
    /// `compare` or `threshold`.
    pub kind: MetricKind,
    /// Which change is bad (compare metrics).
    pub direction: Direction,
    /// A critical metric that does not pass fails the whole analysis.
    #[serde(default)]
    pub critical: bool,
    /// A metric without data fails the analysis instead of being left out of the score.
    #[serde(default)]
    pub must_have_data: bool,
    /// Largest tolerated canary/baseline mean ratio for an increase, e.g. 1.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_increase: Option<f64>,
    /// Smallest tolerated canary/baseline mean ratio for a decrease, e.g. 0.8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_decrease: Option<f64>,
    /// Differences of means at or below this are never a failure (noise floor), e.g. 0.001.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_tolerance: Option<f64>,
    /// Upper bound on every canary value (threshold metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Lower bound on every canary value (threshold metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Weight in the score (default 1).
    #[serde(default = "one")]
    pub weight: f64,
    /// The baseline series (compare metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Series>,
    /// The canary series.
    pub canary: Series,
}

fn one() -> f64 {
    1.0
}

/// One range query's result.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Series {
    /// The PromQL that was run.
    pub query: String,
    /// Sample times, Unix seconds.
    #[serde(default)]
    pub timestamps: Vec<f64>,
    /// Sample values; `"NaN"`, `"+Inf"` and `"-Inf"` as strings, as Prometheus writes them.
    #[serde(default)]
    pub values: Vec<Sample>,
    /// Warnings Prometheus returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why there is no data: the query failed, timed out, returned an error or several series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Series {
    /// The values as doubles (NaN and infinities included).
    pub fn numbers(&self) -> Vec<f64> {
        self.values.iter().map(|s| s.0).collect()
    }
}

/// A sample value: a JSON number, or `"NaN"`, `"+Inf"`, `"-Inf"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample(pub f64);

impl Serialize for Sample {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_nan() {
            serializer.serialize_str("NaN")
        } else if v == f64::INFINITY {
            serializer.serialize_str("+Inf")
        } else if v == f64::NEG_INFINITY {
            serializer.serialize_str("-Inf")
        } else {
            serializer.serialize_f64(v)
        }
    }
}

/// Read straight from the deserializer's number or string, with no buffering: a canary's fact
/// set holds tens of thousands of samples (an untagged enum buffered each one first).
impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Sample;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a number, or \"NaN\", \"+Inf\", \"-Inf\"")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Sample, E> {
                Ok(Sample(v))
            }
            // As serde reads an integer into an `f64`.
            #[allow(clippy::cast_precision_loss, reason = "a sample is a double")]
            fn visit_i64<E>(self, v: i64) -> Result<Sample, E> {
                Ok(Sample(v as f64))
            }
            #[allow(clippy::cast_precision_loss, reason = "a sample is a double")]
            fn visit_u64<E>(self, v: u64) -> Result<Sample, E> {
                Ok(Sample(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Sample, E> {
                parse_sample(text)
                    .map(Sample)
                    .ok_or_else(|| E::custom(format!("`{text}` is not a sample value")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Parses a Prometheus sample string: a number, `NaN`, `+Inf`, `-Inf`, `Inf`.
pub fn parse_sample(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Sample {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Sample".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A sample value: a number, or \"NaN\", \"+Inf\", \"-Inf\".",
            "anyOf": [{ "type": "number" }, { "enum": ["NaN", "+Inf", "-Inf"] }]
        })
    }
}

/// A metric's label, as the judge gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Label {
    /// No meaningful change, or a change within what is allowed.
    Pass,
    /// The canary is significantly higher.
    High,
    /// The canary is significantly lower.
    Low,
    /// Not enough data to judge.
    NoData,
    /// The data could not be fetched or judged.
    Error,
    /// A label this SDK does not know (written by a newer judge).
    #[serde(other)]
    Unknown,
}

impl Label {
    /// `Pass`, `High`, `Low`, `NoData`, `Error` or `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Pass => "Pass",
            Label::High => "High",
            Label::Low => "Low",
            Label::NoData => "NoData",
            Label::Error => "Error",
            Label::Unknown => "Unknown",
        }
    }

    /// Whether the metric has a verdict (Pass, High, Low) rather than no data or an error.
    pub fn has_verdict(self) -> bool {
        matches!(self, Label::Pass | Label::High | Label::Low)
    }
}

/// One metric's result, explained: what the judge puts in `details.metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    /// The metric.
    pub name: String,
    /// `compare` or `threshold`.
    pub kind: MetricKind,
    /// The label.
    pub label: Label,
    /// Why, with the numbers.
    pub reason: String,
    /// The rule that produced the label.
    pub rule: String,
    /// Critical metric.
    pub critical: bool,
    /// Must have data.
    pub must_have_data: bool,
    /// Weight in the score.
    pub weight: f64,
    /// Baseline summary.
    pub baseline: Option<crate::stats::Summary>,
    /// Canary summary.
    pub canary: Option<crate::stats::Summary>,
    /// Canary mean − baseline mean.
    pub delta: Option<f64>,
    /// Canary mean / baseline mean (`null` in JSON when infinite: see `ratio_text`).
    pub ratio: Option<f64>,
    /// The ratio as text (`"+Inf"` for a zero baseline).
    pub ratio_text: Option<String>,
    /// Two-sided Mann-Whitney p-value.
    pub p_value: Option<f64>,
    /// Hodges-Lehmann shift of canary over baseline, with its interval.
    pub hodges_lehmann: Option<crate::stats::Shift>,
    /// The effect tolerance, `effect_fraction·|HL|`.
    pub tolerance: Option<f64>,
    /// Values dropped as NaN or infinite: (baseline, canary).
    pub dropped: (usize, usize),
}

/// The analysis verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Promote.
    Pass,
    /// Promote with care.
    Marginal,
    /// Roll back.
    Fail,
}

/// The judge's pass and marginal thresholds on the score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreThresholds {
    /// PASS at or above this score.
    pub pass: f64,
    /// MARGINAL at or above this score, below `pass`.
    pub marginal: f64,
}

/// How many metrics got each label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LabelCounts {
    /// Pass.
    pub pass: usize,
    /// High.
    pub high: usize,
    /// Low.
    pub low: usize,
    /// NoData.
    pub nodata: usize,
    /// Error.
    pub error: usize,
}

/// The canary judge's `details`: the verdict, the score and every metric's result. The judge
/// writes it and the host reads it (for the diff report) through this one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// The weighted share of Pass among metrics with a verdict, 0 to 100.
    pub score: f64,
    /// The score thresholds.
    pub thresholds: ScoreThresholds,
    /// The confidence of the Hodges-Lehmann interval.
    pub confidence: f64,
    /// The fewest values a side needs.
    pub min_points: usize,
    /// How many metrics got each label.
    pub counts: LabelCounts,
    /// Every metric's result.
    pub metrics: Vec<MetricResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How samples were read before: an untagged enum, which buffers each value first.
    fn buffered(json: &str) -> Option<f64> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match serde_json::from_str::<Raw>(json).ok()? {
            Raw::Number(v) => Some(v),
            Raw::Text(text) => parse_sample(&text),
        }
    }

    /// The direct reading accepts and refuses what the buffered one did, to the bit.
    #[test]
    fn samples_read_directly_as_they_were_buffered() {
        let inputs = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "-1",
            "42",
            "0.25",
            "1e3",
            "-2.5E-3",
            "1e308",
            "2.2250738585072014e-308",
            "5e-324",
            "9007199254740993",
            "18446744073709551615",
            "-9223372036854775808",
            "123456789012345678901234567890",
            "0.1234567890123456789",
            "\"NaN\"",
            "\"+Inf\"",
            "\"Inf\"",
            "\"-Inf\"",
            "\"1.5\"",
            "\"-0\"",
            "\"1e999\"",
            "\"inf\"",
            "\"nan\"",
            "\"\"",
            "\"x\"",
            "true",
            "false",
            "null",
            "[]",
            "[1]",
            "{}",
            "{\"v\":1}",
            "1e999",
            "-",
            "01",
            "1.",
            "\"\\u0031\"",
        ];
        for json in inputs {
            let direct = serde_json::from_str::<Sample>(json).ok().map(|s| s.0);
            let old = buffered(json);
            assert_eq!(
                direct.map(f64::to_bits),
                old.map(f64::to_bits),
                "{json}: {direct:?} against {old:?}"
            );
        }
        // Inside a series, as the judge reads them.
        let series: Series =
            serde_json::from_str(r#"{"query":"q","values":[1,"NaN",2.5,"-Inf",-3]}"#).unwrap();
        let numbers = series.numbers();
        assert_eq!(numbers.len(), 5);
        assert!(numbers[1].is_nan());
        assert_eq!(numbers[3], f64::NEG_INFINITY);
        assert_eq!([numbers[0], numbers[2], numbers[4]], [1.0, 2.5, -3.0]);
        assert!(serde_json::from_str::<Series>(r#"{"query":"q","values":[true]}"#).is_err());
    }
}
