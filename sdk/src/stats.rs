//! Statistics for canary analysis, usable from any policy: summaries, the two-sided
//! Mann-Whitney U test and the Hodges-Lehmann shift estimate with its confidence interval.
//!
//! The Mann-Whitney p-value matches `scipy.stats.mannwhitneyu(x, y, alternative="two-sided")`
//! with its default `method="auto"`: the exact distribution when there are no ties and one
//! sample has at most 8 values, otherwise the normal approximation with tie correction and
//! continuity correction.
//!
//! ```
//! use preflight_sdk::stats;
//!
//! let baseline = [10.0, 11.0, 9.5, 10.2, 10.8, 9.9, 10.1, 10.4, 9.7];
//! let canary = [12.1, 12.5, 11.9, 12.8, 12.2, 13.0, 12.4, 11.8, 12.6];
//! let test = stats::mann_whitney_u(&canary, &baseline).unwrap();
//! assert!(test.p_value < 0.001);
//! let shift = stats::hodges_lehmann(&canary, &baseline, 0.98).unwrap();
//! assert!(shift.lower > 0.0 && shift.estimate > 1.5);
//! ```

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsError {
    /// A sample is empty.
    Empty,
    /// A sample holds NaN or an infinity; filter with [`finite`] first.
    NotFinite,
    /// The confidence level is not strictly between 0 and 1.
    BadConfidence,
}

impl std::fmt::Display for StatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StatsError::Empty => "a sample is empty",
            StatsError::NotFinite => "a sample holds NaN or an infinite value",
            StatsError::BadConfidence => "the confidence level must be between 0 and 1",
        })
    }
}

impl std::error::Error for StatsError {}

/// The finite values of a sample, and how many were dropped (NaN, ±Inf).
pub fn finite(values: &[f64]) -> (Vec<f64>, usize) {
    let kept: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let dropped = values.len() - kept.len();
    (kept, dropped)
}

fn check(sample: &[f64]) -> Result<(), StatsError> {
    if sample.is_empty() {
        return Err(StatsError::Empty);
    }
    if sample.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NotFinite);
    }
    Ok(())
}

fn sorted(sample: &[f64]) -> Vec<f64> {
    let mut sorted = sample.to_vec();
    sort_doubles(&mut sorted);
    sorted
}

/// Sorts doubles in [`f64::total_cmp`] order: the same vector as
/// `values.sort_unstable_by(f64::total_cmp)` (doubles equal under `total_cmp` have the same bits,
/// so no sort order among equals can show), about twice as fast in a policy.
///
/// Each double is mapped to the integer whose order is `total_cmp`'s (negative doubles have
/// their magnitude bits flipped), the integers are sorted, and mapped back: one integer compare
/// per step instead of two such mappings and a compare.
pub fn sort_doubles(values: &mut [f64]) {
    // The map is its own inverse: it never changes the sign bit it depends on.
    let key = |bits: u64| bits ^ (((bits as i64 >> 63) as u64) >> 1);
    let mut keys: Vec<i64> = values.iter().map(|v| key(v.to_bits()) as i64).collect();
    keys.sort_unstable();
    for (value, k) in values.iter_mut().zip(keys) {
        *value = f64::from_bits(key(k as u64));
    }
}

/// Arithmetic mean; NaN for an empty sample.
pub fn mean(sample: &[f64]) -> f64 {
    if sample.is_empty() {
        return f64::NAN;
    }
    sample.iter().sum::<f64>() / sample.len() as f64
}

/// The `q` quantile of a sorted sample by linear interpolation (numpy's default); NaN when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let position = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let below = position.floor() as usize;
            let above = (below + 1).min(n - 1);
            let fraction = position - below as f64;
            sorted[below] + (sorted[above] - sorted[below]) * fraction
        }
    }
}

/// Summary statistics of a sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Number of values.
    pub count: usize,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// Summarises a sample of finite values.
///
/// # Errors
/// [`StatsError::Empty`] or [`StatsError::NotFinite`].
pub fn summary(sample: &[f64]) -> Result<Summary, StatsError> {
    check(sample)?;
    let sorted = sorted(sample);
    Ok(Summary {
        count: sorted.len(),
        mean: mean(&sorted),
        p50: quantile_sorted(&sorted, 0.5),
        p95: quantile_sorted(&sorted, 0.95),
        min: sorted[0],
        max: sorted[sorted.len() - 1],
    })
}

/// How a p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The exact null distribution of U (no ties, a sample of at most 8 values).
    Exact,
    /// The normal approximation with tie and continuity corrections.
    Asymptotic,
}

/// A two-sided Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MannWhitney {
    /// U statistic of the first sample (scipy's `statistic`).
    pub u: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// How the p-value was computed.
    pub method: Method,
}

/// Two-sided Mann-Whitney U test of `x` against `y`.
///
/// # Errors
/// [`StatsError::Empty`] or [`StatsError::NotFinite`].
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Result<MannWhitney, StatsError> {
    check(x)?;
    check(y)?;
    let (n1, n2) = (x.len(), y.len());
    // The ranks depend on the values only: each sample sorted (already sorted input costs one
    // pass), then merged, instead of sorting both together.
    let (x, y) = (sorted(x), sorted(y));
    // Midranks and the tie term Σ(t³ − t), one run of equal values at a time.
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0;
    let (mut i, mut j) = (0, 0);
    while i < n1 || j < n2 {
        let value = match (x.get(i), y.get(j)) {
            (Some(&a), Some(&b)) => {
                if a.total_cmp(&b).is_le() {
                    a
                } else {
                    b
                }
            }
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        // Ties compare equal with `==` (so −0.0 ties 0.0), as in the ranking they replace.
        let from_x = x[i..].iter().take_while(|&&v| v == value).count();
        let from_y = y[j..].iter().take_while(|&&v| v == value).count();
        let below = (i + j) as f64;
        let t = (from_x + from_y) as f64;
        let midrank = below + (t + 1.0) / 2.0;
        rank_sum_x += midrank * from_x as f64;
        tie_term += t * t * t - t;
        i += from_x;
        j += from_y;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = rank_sum_x - f1 * (f1 + 1.0) / 2.0;
    let u2 = f1 * f2 - u1;
    let u = u1.max(u2);
    let ties = tie_term > 0.0;
    let (p, method) = if (n1 <= 8 || n2 <= 8) && !ties {
        (2.0 * exact_sf(n1, n2, u.round() as usize), Method::Exact)
    } else {
        let n = f1 + f2;
        let variance = f1 * f2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
        let p = if variance <= 0.0 {
            1.0
        } else {
            let z = (u - f1 * f2 / 2.0 - 0.5) / variance.sqrt();
            2.0 * normal_sf(z)
        };
        (p, Method::Asymptotic)
    };
    Ok(MannWhitney {
        u: u1,
        p_value: p.clamp(0.0, 1.0),
        method,
    })
}

/// P(U ≥ u) under the null hypothesis, for samples of sizes `m` and `n` without ties: the
/// coefficients of the Gaussian binomial [m+n choose m]_q over C(m+n, m).
fn exact_sf(m: usize, n: usize, u: usize) -> f64 {
    let (m, n) = if m <= n { (m, n) } else { (n, m) };
    let max = m * n;
    let mut coefficients = vec![0.0f64; max + 1];
    coefficients[0] = 1.0;
    for i in 1..=m {
        // Multiply by (1 − q^(n+i)) ...
        let shift = n + i;
        for k in (shift..=max).rev() {
            coefficients[k] -= coefficients[k - shift];
        }
        // ... and divide by (1 − q^i).
        for k in i..=max {
            coefficients[k] += coefficients[k - i];
        }
    }
    let total: f64 = coefficients.iter().sum();
    let tail: f64 = coefficients.iter().skip(u.min(max + 1)).sum();
    tail / total
}

/// The upper tail of the standard normal distribution, P(Z > z).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// The `p` quantile of the standard normal distribution (Acklam's algorithm refined by one
/// Halley step; relative error below 1e-15).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let low = 0.02425;
    let x = if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step on Φ(x) − p.
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// The Hodges-Lehmann estimate of the shift of `x` over `y` and its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shift {
    /// Median of all pairwise differences `x_i − y_j`.
    pub estimate: f64,
    /// Lower end of the confidence interval.
    pub lower: f64,
    /// Upper end of the confidence interval.
    pub upper: f64,
    /// The confidence level.
    pub confidence: f64,
}

/// The Hodges-Lehmann shift of `x` over `y` with a distribution-free confidence interval: the
/// order statistics `D(C+1)` and `D(N−C)` of the `N = n₁·n₂` pairwise differences, with
/// `C = ⌊N/2 − z₁₋α/₂·√(n₁n₂(n₁+n₂+1)/12)⌋` (Hollander & Wolfe, normal approximation).
/// The differences are never all materialised: each order statistic takes a few O(n₁+n₂)
/// sweeps around pivots sampled from the differences; 10 000 values per side cost about 1 ms.
///
/// # Errors
/// [`StatsError::Empty`], [`StatsError::NotFinite`] or [`StatsError::BadConfidence`].
pub fn hodges_lehmann(x: &[f64], y: &[f64], confidence: f64) -> Result<Shift, StatsError> {
    check(x)?;
    check(y)?;
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(StatsError::BadConfidence);
    }
    let (x, y) = (sorted(x), sorted(y));
    let total = (x.len() as u64) * (y.len() as u64);
    let estimate = if total % 2 == 1 {
        kth_difference(&x, &y, total / 2 + 1)
    } else {
        let a = kth_difference(&x, &y, total / 2);
        let b = next_difference(&x, &y, a, total / 2 + 1);
        a + (b - a) / 2.0
    };
    let (f1, f2) = (x.len() as f64, y.len() as f64);
    let z = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let c = (total as f64 / 2.0 - z * (f1 * f2 * (f1 + f2 + 1.0) / 12.0).sqrt()).floor();
    let c = if c < 0.0 { 0 } else { c as u64 };
    let lower_rank = (c + 1).min(total);
    let upper_rank = total.saturating_sub(c).max(1);
    Ok(Shift {
        estimate,
        lower: kth_difference(&x, &y, lower_rank),
        upper: kth_difference(&x, &y, upper_rank),
        confidence,
    })
}

/// Sample size per round of [`kth_difference`].
const SAMPLE: usize = 512;

/// For each row `i`, the first column at or after `from[i]` (and at most `to[i]`) whose
/// difference `x_i − y_j` is at most `v` (`strict`: below `v`), into `out`; returns how many
/// differences are at most (below) `v`. Differences fall along a row and rise down a column,
/// so the cut never moves left from one row to the next.
///
/// Kept out of line: inlined into [`kth_difference`], the sweep shares its registers with
/// everything live there, and Cranelift (compiling the policy to machine code) then reloads `xi`,
/// `v` and the memory base from the stack on every step.
#[inline(never)]
fn cuts(
    x: &[f64],
    y: &[f64],
    v: f64,
    strict: bool,
    bounds: (&[usize], &[usize]),
    out: &mut [usize],
) -> u64 {
    let (from, to) = bounds;
    let mut j = 0;
    let mut count = 0u64;
    for (((&xi, &start), &end), cut) in x.iter().zip(from).zip(to).zip(out.iter_mut()) {
        j = j.max(start);
        // Sliced to the row's end once, so each step checks one bound, not two.
        let row = &y[..end];
        if strict {
            while j < row.len() && xi - row[j] >= v {
                j += 1;
            }
        } else {
            while j < row.len() && xi - row[j] > v {
                j += 1;
            }
        }
        *cut = j;
        count += (y.len() - j) as u64;
    }
    count
}

/// The k-th smallest pairwise difference when the (k−1)-th is `previous`: `previous` again if
/// at least k differences are at most it, else the smallest difference above it. One sweep.
fn next_difference(x: &[f64], y: &[f64], previous: f64, k: u64) -> f64 {
    let mut j = 0;
    let mut count = 0u64;
    let mut above = f64::INFINITY;
    for &xi in x {
        while j < y.len() && xi - y[j] > previous {
            j += 1;
        }
        count += (y.len() - j) as u64;
        // Columns before `j` hold this row's differences above `previous`, the last the least.
        if j > 0 {
            above = above.min(xi - y[j - 1]);
        }
    }
    if count >= k { previous } else { above + 0.0 }
}

/// SplitMix64: a fixed-seed generator for the pivot samples. The answer never depends on it,
/// only the time does.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((u128::from(z) * u128::from(bound)) >> 64) as u64
    }
}

/// The k-th smallest (1-based) pairwise difference `x_i − y_j` (both sorted ascending).
///
/// The differences form a matrix sorted along rows and columns, so the set of differences in
/// a range `(low, high]` is one column range per row. Each round samples differences from
/// that set, takes two sample values that bracket the k-th with high probability, and counts
/// the differences at most each with one sweep; the range shrinks about tenfold a round, and
/// when few enough are left they are selected directly. Every round removes at least one
/// (a pivot is a difference in play); three or four rounds replace a bisection's 64 sweeps.
fn kth_difference(x: &[f64], y: &[f64], k: u64) -> f64 {
    let (n, m) = (x.len(), y.len());
    // Row i's differences in play are columns high[i]..low[i]: above `low`, at most `high`.
    let mut low = vec![m; n];
    let mut high = vec![0; n];
    let (mut at_most_low, mut at_most_high) = (0u64, (n as u64) * (m as u64));
    let mut cut = vec![0; n];
    let mut starts = vec![0u64; n + 1];
    let mut sample = Vec::with_capacity(SAMPLE);
    let mut random = SplitMix(k);
    let direct = (4 * (n + m)).max(1024) as u64;
    loop {
        let in_play = at_most_high - at_most_low;
        let rank = k - at_most_low;
        if in_play <= direct {
            let mut values = Vec::with_capacity(in_play as usize);
            for (i, &xi) in x.iter().enumerate() {
                values.extend(y[high[i]..low[i]].iter().map(|&yj| xi - yj));
            }
            let (_, kth, _) = values.select_nth_unstable_by((rank - 1) as usize, f64::total_cmp);
            // −0.0 and 0.0 are the same difference; answer the one the sweeps compare equal.
            return *kth + 0.0;
        }
        for i in 0..n {
            starts[i + 1] = starts[i] + (low[i] - high[i]) as u64;
        }
        sample.clear();
        for _ in 0..SAMPLE {
            let r = random.below(in_play);
            let i = starts.partition_point(|&start| start <= r) - 1;
            sample.push(x[i] - y[high[i] + (r - starts[i]) as usize]);
        }
        sample.sort_unstable_by(f64::total_cmp);
        // The k-th falls near this sample index; √SAMPLE on each side is two to four standard
        // deviations of where it falls, so both pivots usually bracket it.
        let at = (rank as f64 - 0.5) / in_play as f64 * SAMPLE as f64;
        let spread = (SAMPLE as f64).sqrt();
        let pivots = [
            (at - spread >= 0.0).then(|| sample[(at - spread) as usize]),
            ((at + spread) < SAMPLE as f64).then(|| sample[(at + spread).ceil() as usize]),
        ];
        for v in pivots.into_iter().flatten() {
            let count = cuts(x, y, v, false, (&high, &low), &mut cut);
            if count < k {
                std::mem::swap(&mut low, &mut cut);
                at_most_low = count;
            } else if count < at_most_high {
                std::mem::swap(&mut high, &mut cut);
                at_most_high = count;
                // The upper pivot is at least this one, so it cannot narrow further.
                break;
            } else {
                // Every difference in play is at most `v`, a sampled one: either it is the
                // k-th, or the k-th is below it and the range shrinks to below `v`.
                let below = cuts(x, y, v, true, (&high, &low), &mut cut);
                if below < k {
                    return v + 0.0;
                }
                std::mem::swap(&mut high, &mut cut);
                at_most_high = below;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_kth(x: &[f64], y: &[f64], k: usize) -> f64 {
        let mut d: Vec<f64> = x
            .iter()
            .flat_map(|a| y.iter().map(move |b| a - b))
            .collect();
        d.sort_by(f64::total_cmp);
        d[k - 1]
    }

    #[test]
    fn sort_doubles_is_the_total_cmp_sort() {
        let mut random = SplitMix(3);
        let specials = [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::from_bits(1),
            -f64::from_bits(1),
            f64::MAX,
            f64::MIN,
        ];
        for n in [0, 1, 2, 7, 20, 33, 500, 4000] {
            let values: Vec<f64> = (0..n)
                .map(|i| match random.below(4) {
                    0 => specials[i % specials.len()],
                    1 => f64::from_bits(random.below(u64::MAX)),
                    2 => random.below(9) as f64 - 4.0,
                    _ => (random.below(1 << 50) as f64 - (1u64 << 49) as f64) * 1e-7,
                })
                .collect();
            let mut expected = values.clone();
            expected.sort_unstable_by(f64::total_cmp);
            let mut fast = values;
            sort_doubles(&mut fast);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&expected), "n = {n}");
        }
    }

    /// Ranks by sorting both samples together, as `mann_whitney_u` did before it merged them.
    fn rank_terms_by_sorting_both(x: &[f64], y: &[f64]) -> (f64, f64) {
        let mut all: Vec<(f64, bool)> = x
            .iter()
            .map(|v| (*v, true))
            .chain(y.iter().map(|v| (*v, false)))
            .collect();
        all.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let (mut rank_sum_x, mut tie_term, mut i) = (0.0, 0.0, 0);
        while i < all.len() {
            let mut j = i + 1;
            while j < all.len() && all[j].0 == all[i].0 {
                j += 1;
            }
            let t = (j - i) as f64;
            let midrank = (i + j + 1) as f64 / 2.0;
            rank_sum_x += midrank * all[i..j].iter().filter(|(_, from_x)| *from_x).count() as f64;
            tie_term += t * t * t - t;
            i = j;
        }
        (rank_sum_x, tie_term)
    }

    #[test]
    fn merged_ranks_match_ranks_of_both_sorted_together() {
        let mut random = SplitMix(5);
        for (n, m) in [(1, 1), (3, 4), (9, 2), (50, 70), (1000, 800), (3000, 3000)] {
            for distinct in [1, 2, 5, 1 << 30] {
                let mut draw = || match random.below(distinct) {
                    0 if distinct > 1 => [0.0, -0.0][random.below(2) as usize],
                    v => v as f64 * 0.5 - 3.0,
                };
                let x: Vec<f64> = (0..n).map(|_| draw()).collect();
                let y: Vec<f64> = (0..m).map(|_| draw()).collect();
                let (rank_sum_x, tie_term) = rank_terms_by_sorting_both(&x, &y);
                let (f1, f2) = (n as f64, m as f64);
                let u1 = rank_sum_x - f1 * (f1 + 1.0) / 2.0;
                let test = mann_whitney_u(&x, &y).unwrap();
                let case = format!("n={n} m={m} distinct={distinct}");
                assert_eq!(test.u.to_bits(), u1.to_bits(), "{case}");
                let exact = (n <= 8 || m <= 8) && tie_term == 0.0;
                assert_eq!(test.method == Method::Exact, exact, "{case}");
                if !exact {
                    let total = f1 + f2;
                    let variance =
                        f1 * f2 / 12.0 * ((total + 1.0) - tie_term / (total * (total - 1.0)));
                    let p = if variance <= 0.0 {
                        1.0
                    } else {
                        let u = u1.max(f1 * f2 - u1);
                        2.0 * normal_sf((u - f1 * f2 / 2.0 - 0.5) / variance.sqrt())
                    };
                    assert_eq!(
                        test.p_value.to_bits(),
                        p.clamp(0.0, 1.0).to_bits(),
                        "{case}"
                    );
                }
            }
        }
    }

    #[test]
    fn kth_difference_matches_brute_force() {
        let x = [1.5, -2.0, 3.25, 3.25, 0.1, 7.0, 2.2];
        let y = [0.3, 0.3, -1.0, 4.4, 2.0];
        let (xs, ys) = (sorted(&x), sorted(&y));
        for k in 1..=35 {
            assert_eq!(
                kth_difference(&xs, &ys, k as u64),
                brute_kth(&x, &y, k),
                "k = {k}"
            );
        }
    }

    /// Maps doubles to integers in the same order.
    fn key(v: f64) -> i64 {
        let bits = v.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    }

    fn from_key(k: i64) -> f64 {
        let bits = if k < 0 { i64::MIN - k } else { k };
        f64::from_bits(bits as u64)
    }

    /// The bisection over the bits of a double that [`kth_difference`] replaced.
    fn kth_by_bisection(x: &[f64], y: &[f64], k: u64) -> f64 {
        let count_at_most = |v: f64| {
            let mut j = 0;
            let mut count = 0u64;
            for &xi in x {
                while j < y.len() && xi - y[j] > v {
                    j += 1;
                }
                count += (y.len() - j) as u64;
            }
            count
        };
        let mut lo = i128::from(key(x[0] - y[y.len() - 1])) - 1;
        let mut hi = i128::from(key(x[x.len() - 1] - y[0]));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if count_at_most(from_key(mid as i64)) >= k {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        from_key(hi as i64)
    }

    #[test]
    fn kth_difference_matches_the_bisection_it_replaced() {
        let mut random = SplitMix(7);
        // Few distinct values (many ties), wide ranges, signed zeros, and sizes on both sides
        // of the direct-selection cutoff.
        let mut draw = |kind: u64| -> f64 {
            match kind {
                0 => random.below(5) as f64 - 2.0,
                1 => [0.0, -0.0, 1.5][random.below(3) as usize],
                2 => (random.below(1 << 40) as f64 - (1u64 << 39) as f64) * 1e-9,
                _ => (random.below(2000) as f64 - 1000.0) * 1e290,
            }
        };
        for (n, m) in [
            (1, 1),
            (1, 7),
            (9, 1),
            (13, 29),
            (300, 200),
            (1500, 900),
            (2000, 2500),
        ] {
            for kind in 0..4 {
                let x = sorted(&(0..n).map(|_| draw(kind)).collect::<Vec<_>>());
                let y = sorted(&(0..m).map(|_| draw(kind)).collect::<Vec<_>>());
                let total = (n * m) as u64;
                let mut ranks = vec![1, total, total / 2, total / 2 + 1, total.div_ceil(3)];
                ranks.extend((0..20).map(|i| 1 + i * 7919 % total));
                for k in ranks.into_iter().filter(|&k| k >= 1) {
                    let (fast, slow) = (kth_difference(&x, &y, k), kth_by_bisection(&x, &y, k));
                    assert_eq!(
                        fast.to_bits(),
                        slow.to_bits(),
                        "n={n} m={m} kind={kind} k={k}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_estimate_matches_the_bisection_it_replaced() {
        let mut random = SplitMix(11);
        for (n, m) in [(1, 2), (2, 2), (4, 6), (30, 40), (300, 200), (1000, 600)] {
            for distinct in [2, 7, 1 << 30] {
                let mut draw = || (random.below(distinct) as f64 - (distinct / 2) as f64) * 0.25;
                let x: Vec<f64> = (0..n).map(|_| draw()).collect();
                let y: Vec<f64> = (0..m).map(|_| draw()).collect();
                let (xs, ys) = (sorted(&x), sorted(&y));
                let total = (n * m) as u64;
                let a = kth_by_bisection(&xs, &ys, total / 2);
                let b = kth_by_bisection(&xs, &ys, total / 2 + 1);
                let shift = hodges_lehmann(&x, &y, 0.95).unwrap();
                assert_eq!(
                    shift.estimate.to_bits(),
                    (a + (b - a) / 2.0).to_bits(),
                    "n={n} m={m} distinct={distinct}"
                );
            }
        }
    }

    #[test]
    fn kth_difference_below_a_pivot_that_ties_most_differences() {
        // 39 000 of the 40 000 differences are 0; the 300th smallest is among the 1 000
        // negative ones, and the first pivot drawn is the tied top value.
        let x = vec![0.0; 200];
        let mut y = vec![0.0; 195];
        y.extend([1.0, 2.0, 3.0, 4.0, 5.0]);
        for k in [1, 200, 300, 999, 1000, 1001, 40_000] {
            assert_eq!(
                kth_difference(&x, &y, k).to_bits(),
                kth_by_bisection(&x, &y, k).to_bits(),
                "k = {k}"
            );
        }
    }

    #[test]
    fn key_order_is_float_order() {
        let values = [-1e300, -2.5, -0.0, 0.0, 1e-300, 3.0, 1e300];
        for pair in values.windows(2) {
            assert!(key(pair[0]) <= key(pair[1]));
            assert_eq!(from_key(key(pair[0])), pair[0]);
        }
    }

    #[test]
    fn normal_quantile_round_trips() {
        for p in [1e-10, 0.01, 0.025, 0.3, 0.5, 0.9, 0.975, 0.99, 1.0 - 1e-10] {
            let x = normal_quantile(p);
            assert!((1.0 - normal_sf(x) - p).abs() < 1e-14, "p = {p}");
        }
        assert!((normal_quantile(0.99) - 2.3263478740408408).abs() < 1e-12);
    }

    #[test]
    fn exact_distribution_sums_to_one() {
        assert!((exact_sf(3, 4, 0) - 1.0).abs() < 1e-15);
        // U over {0..12} for 3 vs 4; P(U ≥ 12) = 1/35.
        assert!((exact_sf(3, 4, 12) - 1.0 / 35.0).abs() < 1e-15);
    }
}
