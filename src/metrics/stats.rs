//! Summary statistics: quantiles and Student-t confidence intervals over replications
//! (queues-and-oracles.md §5.6: `x̄ ± t_{R−1,0.975}·s/√R`).

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanCi {
    pub mean: f64,
    /// Half-width of the 95 % interval (0 with fewer than two samples: no interval).
    pub half_width: f64,
    pub n: usize,
    /// Every sample was ≥ 0 (a duration, a count, a rate): the interval's lower end is
    /// floored at 0, since the mean of such a quantity cannot be negative.
    #[serde(skip)]
    pub nonnegative: bool,
}

impl MeanCi {
    pub fn low(&self) -> f64 {
        let low = self.mean - self.half_width;
        if self.nonnegative {
            low.max(0.0)
        } else {
            low
        }
    }
    /// Whether there is an interval at all (two samples or more).
    pub fn has_interval(&self) -> bool {
        self.n >= 2
    }
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }
    pub fn contains(&self, x: f64) -> bool {
        x >= self.low() && x <= self.high()
    }
}

/// Two-sided Student-t quantile t_{n−1, 1−α/2}.
pub fn t_quantile(n: usize, level: f64) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|t| t.inverse_cdf(1.0 - (1.0 - level) / 2.0))
        .unwrap_or(f64::NAN)
}

/// Mean and 95 % confidence half-width of independent samples.
pub fn mean_ci(xs: &[f64]) -> MeanCi {
    let n = xs.len();
    if n == 0 {
        return MeanCi {
            mean: f64::NAN,
            half_width: f64::NAN,
            n,
            nonnegative: false,
        };
    }
    let nonnegative = xs.iter().all(|x| *x >= 0.0);
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return MeanCi {
            mean,
            half_width: 0.0,
            n,
            nonnegative,
        };
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    MeanCi {
        mean,
        half_width: t_quantile(n, 0.95) * (var / n as f64).sqrt(),
        n,
        nonnegative,
    }
}

/// The mean of `xs` with the 95 % prediction interval of one more sample, mean ± t·s·√(1 +
/// 1/n), in place of the mean's interval. Where each replication draws the model's
/// parameters from a calibration, their spread holds the parameters' uncertainty, which
/// more replications do not shrink; without the same replications at the point estimate
/// to tell it from Monte Carlo noise (what `run --calibration` makes), this interval holds
/// both, conservatively.
pub fn mean_with_spread(xs: &[f64]) -> MeanCi {
    let mut m = mean_ci(xs);
    let n = xs.len();
    if n >= 2 {
        // mean_ci's half-width is t·s/√n.
        m.half_width *= ((n + 1) as f64).sqrt();
    }
    m
}

/// A quantile of data some of whose values are censored: known only to exceed a lower
/// bound (an ENI still not created when the run ended has a creation time "more than"
/// the time it waited).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CensoredQuantile {
    /// The quantile with every censored value at its lower bound: exact when not
    /// `censored`, otherwise a lower bound of the true quantile (quantiles are monotone in
    /// each value).
    pub value: f64,
    /// The quantile reaches a censored value: the true quantile is only known to be ≥
    /// `value`.
    pub censored: bool,
}

/// The p-quantile of (value, censored) samples, interpolated as [`quantile`]; a censored
/// sample sorts above every exact one (its true value is unbounded above), and the result
/// is censored when the interpolation gives a censored sample any weight. NaN (not
/// censored) for empty input.
pub fn censored_quantile(samples: &[(f64, bool)], p: f64) -> CensoredQuantile {
    if samples.is_empty() {
        return CensoredQuantile {
            value: f64::NAN,
            censored: false,
        };
    }
    // Order: exact values ascending, then censored ones (as +∞) — the order that decides
    // which samples the quantile touches.
    let mut order: Vec<(f64, bool)> = samples.to_vec();
    order.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.total_cmp(&b.0)));
    let n = order.len();
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let w = h - lo as f64;
    let censored = order[lo].1 || (w > 0.0 && order[hi].1);
    // The lower bound: the same quantile with censored samples at their bounds, sorted
    // by value.
    let mut bounds: Vec<f64> = samples.iter().map(|s| s.0).collect();
    bounds.sort_by(f64::total_cmp);
    CensoredQuantile {
        value: quantile(&bounds, p),
        censored,
    }
}

/// The p-quantile (0 ≤ p ≤ 1) of sorted data, linearly interpolated (Hyndman–Fan type 7,
/// the default of R and NumPy). NaN for empty input.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_spread_interval_is_a_draws_prediction_interval() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        let m = mean_ci(&xs);
        let p = mean_with_spread(&xs);
        // s = 1.291, t(3) = 3.182: the mean's half-width 2.054, one draw's 4.593.
        assert!((m.half_width - 2.0540).abs() < 1e-3, "{m:?}");
        assert!(
            (p.half_width - 3.182 * 1.2910 * (1.25f64).sqrt()).abs() < 2e-3,
            "{p:?}"
        );
        assert_eq!(p.mean, 2.5);
        assert_eq!(mean_with_spread(&[7.0]).half_width, 0.0);
    }

    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        assert!((t_quantile(20, 0.95) - 2.093).abs() < 1e-3);
        assert!((t_quantile(2, 0.95) - 12.706).abs() < 1e-3);
    }

    #[test]
    fn quantiles_interpolate() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(quantile(&xs, 1.0), 4.0);
        assert_eq!(quantile(&xs, 0.0), 1.0);
        let ci = mean_ci(&[1.0, 2.0, 3.0]);
        assert_eq!(ci.mean, 2.0);
        assert!((ci.half_width - 4.303 * (1.0f64 / 3.0).sqrt()).abs() < 1e-3);
    }

    #[test]
    fn intervals_of_nonnegative_samples_stay_above_zero() {
        // Mean 0.275, half-width ≈ 0.66: the raw interval reaches −0.39.
        let ci = mean_ci(&[0.0, 0.0, 0.0, 1.1]);
        assert!(ci.mean - ci.half_width < 0.0);
        assert_eq!(ci.low(), 0.0);
        let signed = mean_ci(&[-1.0, 0.0, 0.0, 1.1]);
        assert!(signed.low() < 0.0);
        assert!(!mean_ci(&[3.0]).has_interval());
    }

    #[test]
    fn censored_quantiles_flag_what_they_reach() {
        let exact: Vec<(f64, bool)> = (1..=100).map(|i| (i as f64, false)).collect();
        let q = censored_quantile(&exact, 0.95);
        assert!(!q.censored);
        assert!((q.value - 95.05).abs() < 1e-9);
        // Ten ENIs never created (waited 3 s each when the run ended): p95 reaches them
        // although their bounds are the smallest values.
        let mut some: Vec<(f64, bool)> = (1..=90).map(|i| (i as f64, false)).collect();
        some.extend((0..10).map(|_| (3.0, true)));
        let q = censored_quantile(&some, 0.95);
        assert!(q.censored);
        assert!(!censored_quantile(&some, 0.5).censored);
        // All censored: every quantile is.
        let none: Vec<(f64, bool)> = (0..100).map(|_| (0.6, true)).collect();
        let q = censored_quantile(&none, 0.5);
        assert!(q.censored);
        assert_eq!(q.value, 0.6);
    }
}
