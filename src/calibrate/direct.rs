//! Direct estimates, exact where the data allow (calibration.md §2): other tenants' call
//! rate per action (Poisson, exact interval, over-dispersion per minute), the server-error
//! probability per action (Clopper–Pearson), and the token-bucket (size, refill) pairs
//! consistent with the recorded throttles (replayed through the model's own bucket).

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::distribution::{Beta, ChiSquared, ContinuousCDF};

use super::observed::Trail;
use crate::aws::bucket::{RefillMode, TokenBucket};
use crate::engine::time::SECOND;
use crate::engine::Nanos;

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

/// The (size, refill) pairs of one action's bucket that the recorded calls allow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketSet {
    pub action: String,
    pub calls: u64,
    pub throttles: u64,
    /// For each refill rate of the grid, the sizes consistent with the trail, as
    /// `[refill_per_s, smallest max, largest max]` (only refills with any).
    pub consistent: Vec<[f64; 3]>,
    /// No throttle was recorded: every bucket at least as generous as the smallest
    /// consistent one fits, so the set says only how small the bucket cannot be.
    pub lower_bound_only: bool,
}

impl BucketSet {
    /// Is (max, refill) in the set (refill on the grid's nearest point)?
    pub fn contains(&self, max: f64, refill: f64) -> bool {
        let Some(row) = self
            .consistent
            .iter()
            .min_by(|a, b| (a[0] - refill).abs().total_cmp(&(b[0] - refill).abs()))
        else {
            return false;
        };
        let step = self.refill_step();
        (row[0] - refill).abs() <= step / 2.0 + 1e-9 && row[1] <= max && max <= row[2]
    }

    fn refill_step(&self) -> f64 {
        self.consistent
            .windows(2)
            .map(|w| w[1][0] - w[0][0])
            .fold(f64::INFINITY, f64::min)
            .min(1.0)
    }

    /// The smallest consistent size at the refill nearest `refill`.
    pub fn min_max_at(&self, refill: f64) -> Option<f64> {
        self.consistent
            .iter()
            .min_by(|a, b| (a[0] - refill).abs().total_cmp(&(b[0] - refill).abs()))
            .map(|r| r[1])
    }
}

/// Replays one second-resolution call sequence through a bucket, every call of a second at
/// one instant of it (`late`: its end, after the second's refill; else its start), the
/// admitted ones first, then the throttled ones. The result: did every admitted call find a
/// token, and did every throttled one find none (a throttled request takes no token)?
fn replay(
    calls: &[(i64, bool)],
    max: f64,
    refill: f64,
    mode: RefillMode,
    late: bool,
) -> (bool, bool) {
    let mut b = TokenBucket::new("replay", max, refill, mode);
    let t0 = calls.first().map_or(0, |c| c.0);
    let mut admitted_ok = true;
    let mut throttled_ok = true;
    let mut i = 0;
    while i < calls.len() {
        let s = calls[i].0;
        let mut j = i;
        while j < calls.len() && calls[j].0 == s {
            j += 1;
        }
        // Arrivals fall in (s - 1, s]: the eventTime is the completion.
        let end = ((s - t0 + 1) as Nanos) * SECOND;
        let t = if late { end } else { end - SECOND + 1 };
        let admitted = calls[i..j].iter().filter(|c| c.1).count();
        for _ in 0..admitted {
            admitted_ok &= b.try_take(t);
        }
        if admitted < j - i && b.clone().try_take(t) {
            throttled_ok = false;
        }
        i = j;
    }
    (admitted_ok, throttled_ok)
}

/// The consistent (size, refill) set of every action that has a bucket in `grid`, from
/// all callers' calls. The order within a second is unknown, so both ways are tried: a pair
/// is consistent when every admitted call finds a token with the calls placed at the start
/// or at the end of their seconds, and every throttled call finds none in one of the two
/// (a set that may be a little wider than the truth allows, never narrower for these two
/// placements).
pub fn bucket_sets(
    trail: &Trail,
    grid: &BTreeMap<String, (Vec<f64>, Vec<f64>)>,
    mode: RefillMode,
) -> Vec<BucketSet> {
    let mut out = Vec::new();
    for (action, (maxes, refills)) in grid {
        let calls: Vec<(i64, bool)> = trail
            .calls
            .iter()
            .filter(|c| &c.action == action)
            .map(|c| (c.t_s, c.admitted()))
            .collect();
        if calls.is_empty() {
            continue;
        }
        let throttles = calls.iter().filter(|c| !c.1).count() as u64;
        let mut consistent = Vec::new();
        for &refill in refills {
            let ok: Vec<f64> = maxes
                .iter()
                .copied()
                .filter(|&max| {
                    let (adm_late, thr_late) = replay(&calls, max, refill, mode, true);
                    let (adm_early, thr_early) = replay(&calls, max, refill, mode, false);
                    (adm_late || adm_early) && (throttles == 0 || thr_late || thr_early)
                })
                .collect();
            if let (Some(lo), Some(hi)) = (ok.first(), ok.last()) {
                consistent.push([refill, *lo, *hi]);
            }
        }
        out.push(BucketSet {
            action: action.clone(),
            calls: calls.len() as u64,
            throttles,
            consistent,
            lower_bound_only: throttles == 0,
        });
    }
    out
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
        Call {
            t_s: t,
            action: action.into(),
            class: "other".into(),
            principal: None,
            error: throttled.then(|| "RequestLimitExceeded".into()),
            server_error: false,
            throttled,
            dry_run: false,
            eni: None,
            instance: None,
            nodeeni: None,
            node: None,
            subnet: None,
        }
    }

    #[test]
    fn a_burst_against_a_known_bucket_bounds_both_ways() {
        // 12 calls in one second into a bucket of 10, refill 1/s: 10 admitted, 2 throttled,
        // then one call per second for 5 s (all admitted).
        let mut calls = Vec::new();
        for k in 0..12 {
            calls.push(c(100, "AttachNetworkInterface", k >= 10));
        }
        for s in 1..=5 {
            calls.push(c(100 + s, "AttachNetworkInterface", false));
        }
        let trail = Trail { calls };
        let grid = BTreeMap::from([(
            "AttachNetworkInterface".to_string(),
            ((1..=20).map(f64::from).collect(), vec![0.5, 1.0, 2.0, 5.0]),
        )]);
        let sets = bucket_sets(&trail, &grid, RefillMode::Continuous);
        let s = &sets[0];
        assert_eq!(s.throttles, 2);
        assert!(!s.lower_bound_only);
        assert!(s.contains(10.0, 1.0), "{s:?}");
        assert!(
            !s.contains(12.0, 1.0),
            "12 tokens would admit the throttled calls"
        );
        assert!(
            !s.contains(8.0, 1.0),
            "8 tokens would throttle admitted calls"
        );
        let no_throttle = Trail {
            calls: trail
                .calls
                .iter()
                .filter(|x| !x.throttled)
                .cloned()
                .collect(),
        };
        let sets = bucket_sets(&no_throttle, &grid, RefillMode::Continuous);
        assert!(sets[0].lower_bound_only);
        assert!(sets[0].contains(20.0, 5.0));
        assert!(!sets[0].contains(5.0, 0.5));
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
