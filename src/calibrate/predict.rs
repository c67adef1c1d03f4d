//! A prediction's interval with the parameters' uncertainty in it (calibration.md §4): the
//! replications with θ drawn per replication beside the same replications (same seeds) at
//! θ̂. Their difference in variance is the parameters' share; the interval of a metric's
//! expected value is mean ± 1.96·√(V_θ + V_mc/R), in logarithms for a positive metric.

use serde::Serialize;

use super::FittedDistribution;
use crate::metrics::summary::metric_values;
use crate::metrics::RunRecord;
use crate::scenario::{replicate, replicate_varied, BuildError, Model, Settings};

/// One metric's interval and what it is made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split {
    pub metric: String,
    /// Mean over the replications with θ drawn.
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    /// Variance between replications at θ̂ (Monte Carlo noise of one replication).
    pub mc_variance: f64,
    /// Variance the parameters add (drawn minus fixed, at least 0).
    pub parameter_variance: f64,
    /// Share of the interval's variance that is parameter uncertainty.
    pub parameter_share: f64,
}

/// A metric's finite values over `runs`.
pub(super) fn values(runs: &[RunRecord], metric: &str) -> Vec<f64> {
    runs.iter()
        .filter_map(|r| metric_values(&r.metrics).get(metric).copied())
        .filter(|v| v.is_finite())
        .collect()
}

/// Mean and sample variance (NaN, NaN with no value; variance 0 with one).
pub(super) fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = xs.iter().sum::<f64>() / n;
    let v = if xs.len() > 1 {
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, v)
}

/// The split for each of `metrics` (names as in `run --format json`'s metrics).
pub fn split(drawn: &[RunRecord], fixed: &[RunRecord], metrics: &[&str]) -> Vec<Split> {
    metrics
        .iter()
        .filter_map(|&metric| split_values(metric, &values(drawn, metric), &values(fixed, metric)))
        .collect()
}

/// One metric's split from its values with θ drawn and at θ̂. A metric that is positive in
/// every replication is split in logarithms: θ is drawn log-normal, so what it moves is
/// skewed, and the interval exp(m ± 1.96·√(V_θ + V_mc/R)) of the log values keeps a time
/// above zero where the linear one would not.
pub fn split_values(metric: &str, drawn: &[f64], fixed: &[f64]) -> Option<Split> {
    let (mean, v_total) = mean_var(drawn);
    let (_, v_mc) = mean_var(fixed);
    if !mean.is_finite() {
        return None;
    }
    let r = drawn.len().max(1) as f64;
    let v_par = (v_total - v_mc).max(0.0);
    let v = v_par + v_mc / r;
    let positive = drawn.iter().chain(fixed).all(|x| *x > 0.0);
    let (low, high, share) = if positive {
        let ln = |xs: &[f64]| xs.iter().map(|x| x.ln()).collect::<Vec<f64>>();
        let (m_log, vt_log) = mean_var(&ln(drawn));
        let (_, vmc_log) = mean_var(&ln(fixed));
        let vp_log = (vt_log - vmc_log).max(0.0);
        let v_log = vp_log + vmc_log / r;
        let half = 1.96 * v_log.sqrt();
        let share = if v_log > 0.0 { vp_log / v_log } else { 0.0 };
        ((m_log - half).exp(), (m_log + half).exp(), share)
    } else {
        let half = 1.96 * v.sqrt();
        (
            mean - half,
            mean + half,
            if v > 0.0 { v_par / v } else { 0.0 },
        )
    };
    Some(Split {
        metric: metric.to_string(),
        mean,
        low,
        high,
        mc_variance: v_mc,
        parameter_variance: v_par,
        parameter_share: share,
    })
}

/// A prediction under a calibration: the replications with θ drawn per replication (every
/// other stream as without it), and each metric's split against the same replications at
/// θ̂ (none when no parameter was fitted).
pub struct Prediction {
    pub drawn: Vec<RunRecord>,
    pub splits: Vec<Split>,
}

/// `replications` of (settings, model) with θ drawn from `fitted` for each, beside the same
/// replications at θ̂ (the model as calibrated), split for `metrics`. `done` is called once
/// per finished replication of either set.
pub fn with_parameter_uncertainty(
    settings: &Settings,
    model: &Model,
    fitted: &FittedDistribution,
    seed: u64,
    replications: u32,
    metrics: &[&str],
    done: &(dyn Fn() + Sync),
) -> Result<Prediction, BuildError> {
    let drawn = replicate_varied(
        settings,
        model,
        seed,
        replications,
        &|r, m, s| fitted.apply(m, s, seed, r).map_err(|e| e.to_string()),
        done,
    )?;
    // Nothing drawn: the drawn replications are those at θ̂, nothing to split.
    let splits = if fitted.names.is_empty() {
        Vec::new()
    } else {
        let fixed = replicate(settings, model, seed, replications, done)?;
        split(&drawn, &fixed, metrics)
    };
    Ok(Prediction { drawn, splits })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A positive metric that θ moves log-normally: the interval is the log values', above
    /// zero and wider upward; the parameters' share is of the log variance. A metric with
    /// zeros is split linearly.
    #[test]
    fn a_positive_metric_is_split_in_logarithms() {
        let fixed = [9.9, 10.0, 10.1, 10.0];
        let drawn = [2.0, 5.0, 10.0, 20.0, 50.0];
        let s = split_values("m", &drawn, &fixed).unwrap();
        let ln: Vec<f64> = drawn.iter().map(|x: &f64| x.ln()).collect();
        let (m, v) = mean_var(&ln);
        let (_, vf) = mean_var(&fixed.iter().map(|x: &f64| x.ln()).collect::<Vec<_>>());
        let half = 1.96 * ((v - vf) + vf / 5.0).sqrt();
        assert!(
            (s.low - (m - half).exp()).abs() < 1e-9 && s.low > 0.0,
            "{s:?}"
        );
        assert!((s.high - (m + half).exp()).abs() < 1e-9, "{s:?}");
        assert!(s.high - s.mean > s.mean - s.low, "{s:?}");
        assert_eq!(s.mean, 17.4);
        assert!(s.parameter_share > 0.99);
        let z = split_values("e", &[0.0, 1.0, 2.0], &[1.0, 1.0, 1.0]).unwrap();
        assert!((z.low - (1.0 - 1.96)).abs() < 1e-9, "{z:?}");
    }
}
