//! What a trail can tell at best: the Cramér–Rao floor of a service-time median.
//!
//! A call's service time is drawn from its action's distribution, lognormal with log-scale
//! σ = ln(p99 / median) / z₀.₉₉ (the profile's shape, an assumption). Even if a trail timed
//! every one of the controller's n admitted calls of an action exactly — CloudTrail rounds
//! them to the second and hides the rest in gaps that mix calls — no unbiased estimator of
//! ln(median) could have a standard error below σ/√n, the inverse of n draws' Fisher
//! information. Everything a calibration adds (rounding, the gaps' mixing, the optimiser)
//! only widens that. So the floor says two things the fit cannot: whether a target
//! precision is reachable from this recording at all, and how many calls reaching it
//! needs. A prediction's floor follows by the delta method from its elasticities
//! (∂ ln metric / ∂ ln median) under common random numbers.
//!
//! Only the controller's calls count: another tenant's calls arrive on their own schedule,
//! so their eventTimes carry nothing of their service times.

use serde::Serialize;

use super::observed::Trail;
use super::params;
use super::predict::{mean_var, values};
use crate::aws::Action;
use crate::engine::dist::{Distribution, Z99};
use crate::metrics::RunRecord;
use crate::plausible::NamedValue;
use crate::scenario::{replicate, BuildError, Model, Settings};

/// z with P(Z ≤ z) = 0.975 for a standard normal Z: a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The precision a median is wanted within (±15 %, issue #11): what the floor's "calls
/// for" column is reckoned against.
pub const TARGET: f64 = 0.15;

/// The step (in ln θ) of a prediction's elasticities.
const STEP: f64 = 0.2;

/// The floor of one service-time median.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LatencyFloor {
    /// `ec2.latency.<Action>.median_ms`.
    pub name: String,
    /// The controller's admitted calls of the action in the trail (its draws).
    pub calls: u64,
    /// One draw's information on ln(median), as σ = 1/√I: a lognormal's log-scale σ (the
    /// profile's p99 / median), 1 for an exponential.
    pub sigma: f64,
    /// The smallest standard error of ln(median) from those calls: σ / √calls.
    pub se_log: f64,
}

impl LatencyFloor {
    /// The narrowest 95 % interval's half width, as a share of the median (see [`half_width`]).
    pub fn half_width(&self) -> f64 {
        half_width(self.se_log)
    }

    /// Calls needed for the narrowest 95 % interval to be ± `share` of the median.
    pub fn calls_for(&self, share: f64) -> u64 {
        calls_for(self.sigma, share)
    }
}

/// ± share of a value whose logarithm has standard error `se_log`: the half width of
/// [e^(−z·se), e^(z·se)], sinh(z·se), which is how a prediction's (high − low) / (2 · mean)
/// is read.
pub fn half_width(se_log: f64) -> f64 {
    (Z95 * se_log).sinh()
}

/// The calls n with half_width(σ/√n) ≤ `share`.
pub fn calls_for(sigma: f64, share: f64) -> u64 {
    if share <= 0.0 {
        return u64::MAX;
    }
    (Z95 * sigma / share.asinh()).powi(2).ceil() as u64
}

/// 1/√(one draw's Fisher information on ln(scale)): a lognormal's log-scale σ, 1 for an
/// exponential; `None` for the others (a fixed time has no floor to speak of; a mixture's
/// or a uniform's scale is not one number's).
pub fn log_sigma(d: &Distribution) -> Option<f64> {
    match d {
        Distribution::Lognormal { median_ms, p99_ms } if *median_ms > 0.0 => {
            Some((p99_ms / median_ms).ln() / Z99)
        }
        Distribution::Exponential { .. } => Some(1.0),
        _ => None,
    }
}

/// The floor of every action's median the controller called in `trail`, for the service
/// times `model` gives (σ is the profile's, an assumption the trail does not test).
pub fn latency_floors(trail: &Trail, model: &Model) -> Vec<LatencyFloor> {
    let mut calls: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for c in trail.controller().filter(|c| !c.throttled) {
        *calls.entry(c.action.as_str()).or_default() += 1;
    }
    calls
        .into_iter()
        .filter_map(|(action, n)| {
            let a = Action::from_name(action)?;
            let sigma = log_sigma(model.ec2.latency_for(a))?;
            Some(LatencyFloor {
                name: format!("ec2.latency.{action}.median_ms"),
                calls: n,
                sigma,
                se_log: sigma / (n as f64).sqrt(),
            })
        })
        .collect()
}

/// One metric's floor: the narrowest 95 % interval a trail with these latency floors could
/// give its expected value, and what it is made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionFloor {
    pub metric: String,
    /// ± share of the metric's value (see [`half_width`]).
    pub half_width: f64,
    /// Per latency parameter: ∂ ln metric / ∂ ln median and its share of the variance.
    pub parts: Vec<FloorPart>,
}

impl PredictionFloor {
    /// The part with the largest share of the variance.
    pub fn largest(&self) -> Option<&FloorPart> {
        self.parts.iter().max_by(|a, b| a.share.total_cmp(&b.share))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloorPart {
    pub name: String,
    pub elasticity: f64,
    pub share: f64,
}

/// The mean of a metric over `runs` (NaN with no finite value).
fn mean_of(runs: &[RunRecord], metric: &str) -> f64 {
    mean_var(&values(runs, metric)).0
}

/// How many replications [`prediction_floor`] runs for `floors`: two sets per median.
pub fn replications_needed(floors: &[LatencyFloor], replications: u32) -> u64 {
    2 * floors.len() as u64 * u64::from(replications)
}

/// The floor of each of `metrics` (names as in `run --format json`'s metrics) predicted for
/// (settings, model) when the latency medians are known only to `floors`: each median
/// moved by e^(±0.2) over the same `replications` (common random numbers), the elasticity
/// the central difference of the means' logarithms (0 where a mean is not positive, as for
/// an error rate of 0), and Var(ln metric) = Σ elasticity² · se². `done` is called once per
/// finished replication. No floors, no prediction floor (an empty list).
pub fn prediction_floor(
    settings: &Settings,
    model: &Model,
    floors: &[LatencyFloor],
    seed: u64,
    replications: u32,
    metrics: &[&str],
    done: &(dyn Fn() + Sync),
) -> Result<Vec<PredictionFloor>, BuildError> {
    if floors.is_empty() {
        return Ok(Vec::new());
    }
    let mut elasticities: Vec<Vec<f64>> = Vec::new();
    for f in floors {
        let Some(v) = params::get(model, settings, &f.name)
            .ok()
            .and_then(|v| v.as_f64())
        else {
            elasticities.push(vec![0.0; metrics.len()]);
            continue;
        };
        let moved = |k: f64| -> Result<Vec<RunRecord>, BuildError> {
            let (mut m, mut s) = (model.clone(), settings.clone());
            params::set(&mut m, &mut s, &f.name, &NamedValue::Number(v * k.exp()))
                .map_err(|e| BuildError::Varied(e.to_string()))?;
            replicate(&s, &m, seed, replications, done)
        };
        let (up, down) = (moved(STEP)?, moved(-STEP)?);
        elasticities.push(
            metrics
                .iter()
                .map(|m| {
                    let e = (mean_of(&up, m).ln() - mean_of(&down, m).ln()) / (2.0 * STEP);
                    if e.is_finite() {
                        e
                    } else {
                        0.0
                    }
                })
                .collect(),
        );
    }
    Ok(metrics
        .iter()
        .enumerate()
        .map(|(j, &metric)| {
            let terms: Vec<f64> = floors
                .iter()
                .zip(&elasticities)
                .map(|(f, e)| (e[j] * f.se_log).powi(2))
                .collect();
            let v: f64 = terms.iter().sum();
            let parts = floors
                .iter()
                .zip(&elasticities)
                .zip(&terms)
                .map(|((f, e), t)| FloorPart {
                    name: f.name.clone(),
                    elasticity: e[j],
                    share: if v > 0.0 { t / v } else { 0.0 },
                })
                .collect();
            PredictionFloor {
                metric: metric.to_string(),
                half_width: half_width(v.sqrt()),
                parts,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng;
    use rand::RngExt;
    use rand_distr::{Distribution as _, StandardNormal};

    #[test]
    fn sigma_half_width_and_calls_agree() {
        let d = Distribution::Lognormal {
            median_ms: 150.0,
            p99_ms: 2000.0,
        };
        let s = log_sigma(&d).unwrap();
        assert!((s - (2000.0f64 / 150.0).ln() / Z99).abs() < 1e-12);
        // Six Creates pin the median to no better than about ± 100 %; ±15 % needs 214.
        let six = half_width(s / 6f64.sqrt());
        assert!(six > 0.9 && six < 1.1, "{six}");
        let n = calls_for(s, 0.15);
        assert_eq!(n, 214);
        assert!(half_width(s / (n as f64).sqrt()) <= 0.15);
        assert!(half_width(s / ((n - 1) as f64).sqrt()) > 0.15);
        assert_eq!(log_sigma(&Distribution::Fixed { ms: 1.0 }), None);
    }

    /// The floor is the precision of the best estimator given exact times: the mean of n
    /// log service times, whose spread over many trails is σ/√n.
    #[test]
    fn the_floor_is_what_exact_times_give() {
        let (sigma, n, trails) = (1.1, 6usize, 4000);
        let mut g = rng::stream(7, "floor-test");
        let est: Vec<f64> = (0..trails)
            .map(|_| {
                (0..n)
                    .map(|_| {
                        sigma * {
                            let z: f64 = StandardNormal.sample(&mut g);
                            z
                        }
                    })
                    .sum::<f64>()
                    / n as f64
            })
            .collect();
        let m = est.iter().sum::<f64>() / trails as f64;
        let sd = (est.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (trails - 1) as f64).sqrt();
        let floor = sigma / (n as f64).sqrt();
        assert!((sd / floor - 1.0).abs() < 0.05, "sd {sd} floor {floor}");
        // An exponential's: the log of the mean of 20 draws, sd 1/√20 (σ = 1).
        let sigma = log_sigma(&Distribution::Exponential { mean_ms: 300.0 }).unwrap();
        let n = 20;
        let est: Vec<f64> = (0..trails)
            .map(|_| {
                let m = (0..n).map(|_| -(1.0 - g.random::<f64>()).ln()).sum::<f64>() / n as f64;
                m.ln()
            })
            .collect();
        let m = est.iter().sum::<f64>() / trails as f64;
        let sd = (est.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (trails - 1) as f64).sqrt();
        let floor = sigma / (n as f64).sqrt();
        assert!((sd / floor - 1.0).abs() < 0.05, "sd {sd} floor {floor}");
    }
}
