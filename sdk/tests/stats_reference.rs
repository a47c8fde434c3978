//! `preflight_sdk::stats` against reference values: p-values and U from SciPy 1.17
//! (`scipy.stats.mannwhitneyu(x, y, alternative="two-sided")`, default `method="auto"`), and
//! Hodges-Lehmann estimates and 98 % intervals computed by brute force over every pairwise
//! difference with NumPy (`np.median(d)`, `d[C]`, `d[N-C-1]`, `C = floor(N/2 − z·√(n₁n₂(n₁+n₂+1)/12))`).

#![allow(clippy::unwrap_used, reason = "test code fails by panicking")]

use preflight_sdk::stats::{self, Method};

type Reference = (
    &'static str,
    &'static [f64],
    &'static [f64],
    f64,
    f64,
    f64,
    f64,
    f64,
);

const CASES: &[Reference] = &[
    (
        "small_exact",
        &[1.1, 2.3, 0.4, 5.6, 3.3],
        &[2.0, 4.5, 6.1, 7.7, 5.0, 8.2],
        5.0,
        0.08225108225108226,
        -3.0999999999999996,
        -7.1,
        1.0999999999999996,
    ),
    (
        "small_exact_8",
        &[19.5, 21.0, 18.2, 22.4, 20.1, 19.9, 23.3, 20.8],
        &[24.1, 22.9, 25.5, 21.7, 26.0, 23.8, 24.6, 25.1, 22.2, 27.3],
        5.0,
        0.0008684126331185155,
        -3.75,
        -5.900000000000002,
        -1.4000000000000021,
    ),
    (
        "ties",
        &[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0],
        &[2.0, 3.0, 4.0, 4.0, 5.0, 6.0, 6.0, 7.0, 7.0, 8.0, 8.0],
        23.5,
        0.027589528525118492,
        -2.0,
        -4.0,
        0.0,
    ),
    (
        "latency",
        &[
            0.21, 0.198, 0.225, 0.24, 0.199, 0.205, 0.231, 0.219, 0.202, 0.215, 0.228, 0.207,
        ],
        &[
            0.2, 0.195, 0.21, 0.204, 0.199, 0.201, 0.197, 0.206, 0.203, 0.198, 0.202, 0.196,
        ],
        120.0,
        0.00605474897959419,
        0.011999999999999983,
        0.001999999999999974,
        0.026999999999999996,
    ),
    (
        "constant_vs_constant",
        &[0.0; 12],
        &[1.0; 10],
        0.0,
        5.5095205937770545e-06,
        -1.0,
        -1.0,
        -1.0,
    ),
];

fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance * expected.abs().max(1e-300)
}

#[test]
fn mann_whitney_matches_scipy() {
    for (name, x, y, u, p, ..) in CASES {
        let test = stats::mann_whitney_u(x, y).unwrap();
        assert_eq!(test.u, *u, "{name}: U");
        assert!(
            close(test.p_value, *p, 1e-9),
            "{name}: p {} vs scipy {p}",
            test.p_value
        );
    }
    assert_eq!(
        stats::mann_whitney_u(CASES[0].1, CASES[0].2)
            .unwrap()
            .method,
        Method::Exact
    );
    assert_eq!(
        stats::mann_whitney_u(CASES[2].1, CASES[2].2)
            .unwrap()
            .method,
        Method::Asymptotic
    );
}

#[test]
fn hodges_lehmann_matches_brute_force() {
    for (name, x, y, _, _, estimate, lower, upper) in CASES {
        let shift = stats::hodges_lehmann(x, y, 0.98).unwrap();
        assert_eq!(shift.estimate, *estimate, "{name}: estimate");
        assert_eq!(shift.lower, *lower, "{name}: lower");
        assert_eq!(shift.upper, *upper, "{name}: upper");
    }
}

fn load(name: &str) -> Vec<f64> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

#[test]
fn large_samples_match_scipy_and_brute_force() {
    let (canary, baseline) = (load("large_canary.txt"), load("large_baseline.txt"));
    assert_eq!((canary.len(), baseline.len()), (200, 180));
    let test = stats::mann_whitney_u(&canary, &baseline).unwrap();
    assert_eq!(test.u, 20930.0);
    assert!(
        close(test.p_value, 0.0061413427993933355, 1e-9),
        "{}",
        test.p_value
    );
    let shift = stats::hodges_lehmann(&canary, &baseline, 0.98).unwrap();
    assert!(
        close(shift.estimate, 0.00770000000000004, 1e-12),
        "{shift:?}"
    );
    assert!(
        close(shift.lower, 0.0012999999999999956, 1e-12),
        "{shift:?}"
    );
    assert!(close(shift.upper, 0.014399999999999968, 1e-12), "{shift:?}");
}

#[test]
fn identical_and_constant_samples_do_not_crash() {
    let same = [3.0; 20];
    let test = stats::mann_whitney_u(&same, &same).unwrap();
    assert_eq!(test.p_value, 1.0);
    let shift = stats::hodges_lehmann(&same, &same, 0.98).unwrap();
    assert_eq!((shift.estimate, shift.lower, shift.upper), (0.0, 0.0, 0.0));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(stats::mann_whitney_u(&[], &[1.0]).is_err());
    assert!(stats::mann_whitney_u(&[f64::NAN], &[1.0]).is_err());
    assert!(stats::hodges_lehmann(&[1.0], &[1.0], 1.0).is_err());
    assert!(stats::summary(&[]).is_err());
    let (kept, dropped) = stats::finite(&[1.0, f64::NAN, f64::INFINITY, 2.0]);
    assert_eq!((kept, dropped), (vec![1.0, 2.0], 2));
}

#[test]
fn summary_uses_linear_interpolation() {
    let summary = stats::summary(&[4.0, 1.0, 3.0, 2.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
    assert_eq!(summary.p50, 5.5);
    assert!((summary.p95 - 9.55).abs() < 1e-12);
    assert_eq!(summary.mean, 5.5);
}
