//! Direct estimates, exact where the data allow (calibration.md §2): other tenants' call
//! rate per action (Poisson, exact interval, over-dispersion per minute), the server-error
//! probability per action (Clopper–Pearson); the token-bucket pairs the recorded throttles
//! allow are [`super::buckets`].

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::distribution::{Beta, ChiSquared, ContinuousCDF};

use super::observed::Trail;

/// An estimate with its exact 95 % interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// Garwood's exact interval for a Poisson mean given `k` events (level 1 − alpha).
pub fn poisson_interval(k: u64, alpha: f64) -> (f64, f64) {
    let lo = if k == 0 {
        0.0
    } else {
        ChiSquared::new(2.0 * k as f64)
            .map(|c| c.inverse_cdf(alpha / 2.0) / 2.0)
            .unwrap_or(0.0)
    };
    let hi = ChiSquared::new(2.0 * (k as f64 + 1.0))
        .map(|c| c.inverse_cdf(1.0 - alpha / 2.0) / 2.0)
        .unwrap_or(f64::INFINITY);
    (lo, hi)
}

/// Clopper–Pearson's exact interval for a binomial probability, `k` of `n`.
pub fn clopper_pearson(k: u64, n: u64, alpha: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n) = (k as f64, n as f64);
    let lo = if k == 0.0 {
        0.0
    } else {
        Beta::new(k, n - k + 1.0)
            .map(|b| b.inverse_cdf(alpha / 2.0))
            .unwrap_or(0.0)
    };
    let hi = if k == n {
        1.0
    } else {
        Beta::new(k + 1.0, n - k)
            .map(|b| b.inverse_cdf(1.0 - alpha / 2.0))
            .unwrap_or(1.0)
    };
    (lo, hi)
}

/// Other tenants' calls of one action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantRate {
    pub action: String,
    pub calls: u64,
    /// The observation window (s): the trail's first to last second, inclusive.
    pub window_s: f64,
    /// Calls per second, with Garwood's exact 95 % interval.
    pub rate_per_s: Interval,
    /// Index of dispersion of the per-minute counts (variance / mean; 1 for Poisson) and
    /// its χ² p-value (small: the rate varies over time, a constant rate is a simplification).
    pub dispersion: Option<f64>,
    pub dispersion_p: Option<f64>,
}

/// Server errors of one action (all callers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRate {
    pub action: String,
    pub calls: u64,
    pub server_errors: u64,
    pub probability: Interval,
}

/// Rates of every action the non-controller callers made.
pub fn tenant_rates(trail: &Trail) -> Vec<TenantRate> {
    let Some((first, last)) = trail.span() else {
        return Vec::new();
    };
    let window_s = (last - first + 1) as f64;
    let minutes = ((last - first) / 60 + 1) as usize;
    let mut by: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for c in trail.calls.iter().filter(|c| !c.is_controller()) {
        let m = by
            .entry(c.action.as_str())
            .or_insert_with(|| vec![0; minutes]);
        m[((c.t_s - first) / 60) as usize] += 1;
    }
    by.into_iter()
        .map(|(action, per_min)| {
            let k: u64 = per_min.iter().sum();
            let (lo, hi) = poisson_interval(k, 0.05);
            // Only whole minutes: a cut last minute would look like over-dispersion.
            let whole = ((last - first + 1) / 60) as usize;
            let (dispersion, dispersion_p) = if whole >= 3 {
                let xs = &per_min[..whole];
                let mean = xs.iter().sum::<u64>() as f64 / whole as f64;
                let ss: f64 = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum();
                if mean > 0.0 {
                    let stat = ss / mean;
                    let p = ChiSquared::new((whole - 1) as f64)
                        .map(|c| 1.0 - c.cdf(stat))
                        .ok();
                    (Some(stat / (whole - 1) as f64), p)
                } else {
                    (None, None)
                }
            } else {
                (None, None)
            };
            TenantRate {
                action: action.to_string(),
                calls: k,
                window_s,
                rate_per_s: Interval {
                    estimate: k as f64 / window_s,
                    low: lo / window_s,
                    high: hi / window_s,
                },
                dispersion,
                dispersion_p,
            }
        })
        .collect()
}

/// Server-error probability of every action in the trail: `Server.*` codes among the
/// admitted calls (throttles are not service errors).
pub fn error_rates(trail: &Trail) -> Vec<ErrorRate> {
    let mut by: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for c in trail.calls.iter().filter(|c| c.admitted()) {
        let e = by.entry(c.action.as_str()).or_default();
        e.0 += 1;
        e.1 += u64::from(c.server_error);
    }
    by.into_iter()
        .map(|(action, (n, k))| {
            let (lo, hi) = clopper_pearson(k, n, 0.05);
            ErrorRate {
                action: action.to_string(),
                calls: n,
                server_errors: k,
                probability: Interval {
                    estimate: if n > 0 { k as f64 / n as f64 } else { 0.0 },
                    low: lo,
                    high: hi,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::observed::Call;

    #[test]
    fn exact_intervals_match_tables() {
        // Garwood for k = 10: [4.795, 18.390] (e.g. Ulm 1990's table).
        let (lo, hi) = poisson_interval(10, 0.05);
        assert!(
            (lo - 4.7954).abs() < 1e-3 && (hi - 18.3904).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(poisson_interval(0, 0.05).0, 0.0);
        assert!((poisson_interval(0, 0.05).1 - 3.6889).abs() < 1e-3);
        // Clopper–Pearson 3 of 100: [0.00622, 0.08518].
        let (lo, hi) = clopper_pearson(3, 100, 0.05);
        assert!(
            (lo - 0.00622).abs() < 1e-4 && (hi - 0.08518).abs() < 1e-4,
            "{lo} {hi}"
        );
        assert_eq!(clopper_pearson(0, 50, 0.05).0, 0.0);
    }

    fn c(t: i64, action: &str, throttled: bool) -> Call {
        Call::other(t, action, throttled)
    }

    #[test]
    fn tenant_rates_and_error_rates() {
        let mut calls = Vec::new();
        for s in 0..300 {
            calls.push(c(s, "DescribeNetworkInterfaces", false));
            if s % 3 == 0 {
                calls.push(c(s, "DescribeNetworkInterfaces", false));
            }
        }
        let mut e = c(5, "AttachNetworkInterface", false);
        e.server_error = true;
        e.error = Some("InternalError".into());
        calls.push(e);
        calls.push(c(6, "AttachNetworkInterface", false));
        calls.sort_by_key(|x| x.t_s);
        let t = Trail { calls };
        let r = tenant_rates(&t);
        let d = r
            .iter()
            .find(|x| x.action == "DescribeNetworkInterfaces")
            .unwrap();
        assert_eq!(d.calls, 400);
        assert!((d.rate_per_s.estimate - 400.0 / 300.0).abs() < 1e-12);
        assert!(
            d.rate_per_s.low < d.rate_per_s.estimate && d.rate_per_s.estimate < d.rate_per_s.high
        );
        // Evenly spread calls are under-dispersed, not over.
        assert!(d.dispersion.unwrap() < 0.1);
        let er = error_rates(&t);
        let a = er
            .iter()
            .find(|x| x.action == "AttachNetworkInterface")
            .unwrap();
        assert_eq!((a.calls, a.server_errors), (2, 1));
    }
}
