//! A whole calibration: direct estimates first (they fix the parameters that need no
//! simulation and start the rest), then simulated moments for the service times and the
//! detach delay — identification from the Jacobian at the start, Nelder–Mead on what is
//! identified, covariance and the J test at the optimum.

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use super::buckets::{bucket_sets, BucketSet, Grid};
use super::check::{check, trail_settings, TrailSettings};
use super::direct::{error_rates, tenant_rates, ErrorRate, TenantRate};
use super::distance::{column_means, Distance, Free, MsmCost, SimulatedMoments};
use super::floor::{latency_floors, LatencyFloor};
use super::moments::{choose, compute, gap_counts, label, Moment};
use super::observed::Trail;
use super::optimise::minimise;
use super::params::{self, Registry};
use super::simulate::SimulateError;
use super::uncertainty::{
    at_least, conditioned, j_test_simulated, pseudo_inverse, sample_covariance, sandwich, weight,
    JTest,
};
use crate::aws::Action;
use crate::plausible::NamedValue;
use crate::scenario::{Model, Settings};

/// Why a calibration cannot be done (the input's fault unless said otherwise).
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error("{source_name}: the trail has no EC2 calls")]
    Empty { source_name: String },
    #[error("{source_name}: the trail has no controller calls; caller classes found: {classes}. If the controller's calls are there under another class, add a rule: --caller-rule principal:contains:ROLE=controller (or user-agent:…=controller)")]
    NoController {
        source_name: String,
        classes: String,
    },
    #[error("{source_name}: {detail}")]
    Contradiction { source_name: String, detail: String },
    #[error("simulation failed: {0}")]
    Simulate(#[from] SimulateError),
    #[error("optimiser failed: {0}")]
    Optimise(String),
}

/// How hard to work.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub seed: u64,
    /// Replications per cost evaluation (common random numbers across θ).
    pub replications: u32,
    /// Replications for the moments' covariance (the weight).
    pub weight_replications: u32,
    pub max_iters: u64,
    /// A gap moment needs at least this many recorded gaps.
    pub min_gaps: u64,
    /// Log-space step of the finite differences.
    pub step: f64,
    /// Levenberg–Marquardt iterations (each one Jacobian) before Nelder–Mead.
    pub lm_iters: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            replications: 10,
            weight_replications: 100,
            max_iters: 40,
            min_gaps: 3,
            step: 0.3,
            lm_iters: 3,
        }
    }
}

/// What happened to one parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamResult {
    pub name: String,
    pub prior: f64,
    /// The prior's plausible range.
    pub prior_range: [f64; 2],
    /// The value written to the calibrated profile (the prior when not identified).
    pub value: f64,
    /// 95 % interval (the plausible range when not identified).
    pub low: f64,
    pub high: f64,
    /// Observations it rests on (gaps, calls).
    pub n: u64,
    pub method: String,
    pub identified: bool,
    /// Why not identified (or what limits it).
    pub note: Option<String>,
}

/// One moment, recorded beside simulated at θ̂.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MomentResult {
    pub name: String,
    pub moment: Moment,
    pub observed: f64,
    pub simulated: f64,
    /// Standard deviation of one trail's value (from the replications at θ̂).
    pub sd: f64,
}

/// The distribution of θ a calibrated prediction draws from (normal in log space), for
/// `--calibration`: the fitted parameters around θ̂ with their covariance, and the
/// simulated-moment candidates the trail did not identify (`assumed`) around their
/// assumption with the variance of their plausible range — a prediction's interval then
/// holds what the trail left open as well as what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct FittedDistribution {
    pub names: Vec<String>,
    /// ln θ̂ (ln of the assumption for an assumed one).
    pub mean_log: Vec<f64>,
    /// Covariance of ln θ̂.
    pub covariance_log: Vec<Vec<f64>>,
    /// Plausible bounds each draw is kept inside.
    pub bounds: Vec<[f64; 2]>,
    /// The names kept as assumptions (not identified), drawn over their plausible range.
    #[serde(default)]
    pub assumed: Vec<String>,
}

impl FittedDistribution {
    /// θ̂ with its covariance (already raised to the trail's floors: [`at_least`]).
    fn fitted(
        names: Vec<String>,
        mean_log: Vec<f64>,
        covariance_log: Vec<Vec<f64>>,
        bounds: Vec<[f64; 2]>,
    ) -> FittedDistribution {
        FittedDistribution {
            names,
            mean_log,
            covariance_log,
            bounds,
            assumed: Vec::new(),
        }
    }

    /// Adds a kept assumption, drawn independently of the rest around `value` with the
    /// variance of ln θ for θ log-uniform on [low, high], kept inside it.
    fn push_assumed(&mut self, name: &str, value: f64, low: f64, high: f64) {
        let k = self.names.len();
        for row in &mut self.covariance_log {
            row.push(0.0);
        }
        let mut row = vec![0.0; k + 1];
        row[k] = (high / low).ln().powi(2) / 12.0;
        self.covariance_log.push(row);
        self.names.push(name.to_string());
        self.mean_log.push(value.ln());
        self.bounds.push([low, high]);
        self.assumed.push(name.to_string());
    }
}

/// The result of a calibration.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub source: String,
    pub seed: u64,
    pub replications: u32,
    pub parameters: Vec<ParamResult>,
    pub moments: Vec<MomentResult>,
    pub j_test: Option<JTest>,
    pub verdict: String,
    pub eigenvalues: Vec<f64>,
    pub tenants: Vec<TenantRate>,
    pub errors: Vec<ErrorRate>,
    pub buckets: Vec<BucketSet>,
    pub trail_settings: TrailSettings,
    pub warnings: Vec<String>,
    pub fitted: FittedDistribution,
    /// What this trail could tell of each service-time median at best (Cramér–Rao).
    pub floors: Vec<LatencyFloor>,
    pub evaluations: u64,
    pub iterations: u64,
    /// The calibrated model (the EC2 profile to write).
    #[serde(skip)]
    pub model: Model,
}

/// A throttled action's refill that the simulated moments refine inside its bucket set.
struct RefinedRefill {
    free: Free,
    /// The bucket size it is refined at (the set's chosen one).
    size: f64,
    /// The recorded throttles of the action, all callers (what it rests on).
    throttles: u64,
}

/// How far a simulated moment covariance is shrunk toward its diagonal before it is
/// inverted (off-diagonal terms from 100 replications of some 25 moments are noisy); the
/// same for W₀ and for Σ₁, so the sandwich is the efficient covariance when the two agree.
const SHRINK: f64 = 0.1;

/// Progress: (phase, done, total).
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// The longest a call of this latency plausibly takes, in whole seconds (rounded up): the
/// larger of the profile's 99.9th percentile and the top of the plausible p99's range. The
/// bucket set counts a call as possibly arrived that long before its eventTime.
fn longest_s(latency: &crate::engine::dist::Distribution, p99_range: Option<(f64, f64)>) -> i64 {
    let ms = latency
        .quantile_ms(0.999)
        .max(p99_range.map_or(0.0, |r| r.1));
    (ms / 1000.0).ceil() as i64
}

fn num(m: &Model, s: &Settings, name: &str) -> Option<f64> {
    params::get(m, s, name).ok().and_then(|v| v.as_f64())
}

/// Calibrates (model, settings) — the recorded cluster's settings and workload — to
/// `trail`. `source` names the trail in messages and comments.
pub fn calibrate(
    trail: &Trail,
    source: &str,
    model: &Model,
    settings: &Settings,
    opts: &Options,
    progress: Progress<'_>,
) -> Result<Calibration, CalibrateError> {
    if trail.calls.is_empty() {
        return Err(CalibrateError::Empty {
            source_name: source.into(),
        });
    }
    if trail.controller().next().is_none() {
        let classes = trail
            .classes()
            .iter()
            .map(|(c, n)| format!("{c} ({n} calls)"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(CalibrateError::NoController {
            source_name: source.into(),
            classes,
        });
    }
    let seen = trail_settings(trail);
    let mut warnings = check(&seen, settings).map_err(|detail| CalibrateError::Contradiction {
        source_name: source.into(),
        detail,
    })?;
    let registry = Registry::of(model, settings);
    let mut model = model.clone();
    let mut settings = settings.clone();
    let mut results: Vec<ParamResult> = Vec::new();
    let range_of = |name: &str| registry.get(name).and_then(|p| p.range());

    // 1. Direct: other tenants' rates.
    let tenants = tenant_rates(trail);
    for t in &tenants {
        if Action::from_name(&t.action).is_none() {
            warnings.push(format!(
                "other callers made {} {} call(s), an action the model does not have: left out",
                t.calls, t.action
            ));
            continue;
        }
        let name = format!("ec2.tenant.{}.rate_per_s", t.action);
        let prior = num(&model, &settings, &name).unwrap_or(0.0);
        let _ = params::set(
            &mut model,
            &mut settings,
            &name,
            &NamedValue::Number(t.rate_per_s.estimate),
        );
        let mut note = None;
        if let (Some(d), Some(p)) = (t.dispersion, t.dispersion_p) {
            if p < 0.01 {
                note = Some(format!("over-dispersed per minute (variance/mean {d:.1}, p = {p:.3}): the rate varies over time; a constant rate is a simplification (replay keeps the recorded times)"));
            }
        }
        results.push(ParamResult {
            prior_range: range_of(&name).map_or([0.0, 0.0], |(a, b)| [a, b]),
            name,
            prior,
            value: t.rate_per_s.estimate,
            low: t.rate_per_s.low,
            high: t.rate_per_s.high,
            n: t.calls,
            method: "Poisson rate, exact (Garwood) interval".into(),
            identified: true,
            note,
        });
    }
    // Server errors.
    let errors = error_rates(trail);
    for e in &errors {
        let name = format!("ec2.error_probability.{}", e.action);
        if Action::from_name(&e.action).is_none() {
            continue;
        }
        let prior = num(&model, &settings, &name).unwrap_or(0.0);
        let _ = params::set(
            &mut model,
            &mut settings,
            &name,
            &NamedValue::Number(e.probability.estimate),
        );
        results.push(ParamResult {
            prior_range: range_of(&name).map_or([0.0, 0.0], |(a, b)| [a, b]),
            name,
            prior,
            value: e.probability.estimate,
            low: e.probability.low,
            high: e.probability.high,
            n: e.calls,
            method: "binomial, Clopper–Pearson interval".into(),
            identified: true,
            note: None,
        });
    }
    // Buckets.
    let mut grid = BTreeMap::new();
    for (action, b) in &model.ec2.throttling.actions {
        let (mlo, mhi) =
            range_of(&format!("ec2.bucket.{action}.max")).unwrap_or((1.0, (3.0 * b.max).max(1.0)));
        let (rlo, rhi) = range_of(&format!("ec2.bucket.{action}.refill_per_s"))
            .unwrap_or((0.5, 3.0 * b.refill_per_s.max(0.5)));
        let maxes: Vec<f64> = (mlo.ceil().max(1.0) as u32..=mhi.floor() as u32)
            .map(f64::from)
            .collect();
        let refills: Vec<f64> = (0..)
            .map(|k| rlo + 0.5 * f64::from(k))
            .take_while(|r| *r <= rhi + 1e-9)
            .collect();
        grid.insert(
            action.clone(),
            Grid {
                maxes,
                refills,
                admitted_latency_s: longest_s(
                    Action::from_name(action)
                        .map_or(&model.ec2.latency.default, |a| model.ec2.latency_for(a)),
                    range_of(&format!("ec2.latency.{action}.p99_ms")),
                ),
                rejected_latency_s: longest_s(
                    model
                        .ec2
                        .latency
                        .rejected_actions
                        .get(action)
                        .unwrap_or(&model.ec2.latency.rejected),
                    None,
                ),
            },
        );
    }
    let buckets = bucket_sets(trail, &grid, model.ec2.throttling.refill);
    // Where a trail was throttled, the set says which refills could have made its throttles;
    // how often the model then throttles changes steeply with the refill when the demand is
    // near it (under 3.1 calls/s, a bucket of 66 refilling 3.0 /s throttled 0.4 % of the
    // calls, θ*'s 50 at 2.8 /s 5.8 %). The refill at the chosen size is refined by the
    // simulated moments inside the set, so the throttles are matched by the bucket and not
    // by service times bent to make more calls.
    let mut refined: Vec<RefinedRefill> = Vec::new();
    for s in &buckets {
        let b = model.ec2.throttling.actions[&s.action];
        let (name_max, name_refill) = (
            format!("ec2.bucket.{}.max", s.action),
            format!("ec2.bucket.{}.refill_per_s", s.action),
        );
        let fits = s.contains(b.max, b.refill_per_s);
        let note = if s.lower_bound_only {
            Some(format!(
                "no throttle in {} calls: a lower bound only (at refill {} /s the bucket holds at least {} tokens); kept assumption",
                s.calls,
                b.refill_per_s,
                s.min_max_at(b.refill_per_s).map_or("?".into(), |m| m.to_string())
            ))
        } else if fits {
            Some(format!(
                "{} throttles in {} calls; the assumed bucket is in the consistent set",
                s.throttles, s.calls
            ))
        } else {
            Some(format!(
                "{} throttles in {} calls: the assumed bucket ({} / {} per s) does not reproduce them",
                s.throttles, s.calls, b.max, b.refill_per_s
            ))
        };
        let (value_max, value_refill) = if fits || s.lower_bound_only {
            (b.max, b.refill_per_s)
        } else {
            // The consistent pair nearest the assumption (in log distance).
            let best = s
                .consistent
                .iter()
                .flat_map(|r| [(r[1], r[0]), (r[2], r[0])])
                .min_by(|x, y| {
                    let d = |p: &(f64, f64)| {
                        (p.0 / b.max).ln().powi(2)
                            + (p.1.max(0.01) / b.refill_per_s.max(0.01)).ln().powi(2)
                    };
                    d(x).total_cmp(&d(y))
                });
            match best {
                Some(p) => p,
                None => {
                    warnings.push(format!("no bucket in the plausible grid reproduces the {} throttles of {}: kept the assumption", s.throttles, s.action));
                    (b.max, b.refill_per_s)
                }
            }
        };
        let _ = params::set(
            &mut model,
            &mut settings,
            &name_max,
            &NamedValue::Number(value_max),
        );
        let _ = params::set(
            &mut model,
            &mut settings,
            &name_refill,
            &NamedValue::Number(value_refill),
        );
        let max_lo = s
            .consistent
            .iter()
            .map(|r| r[1])
            .fold(f64::INFINITY, f64::min);
        let max_hi = s.consistent.iter().map(|r| r[2]).fold(0.0, f64::max);
        let ref_lo = s.consistent.first().map_or(f64::NAN, |r| r[0]);
        let ref_hi = s.consistent.last().map_or(f64::NAN, |r| r[0]);
        // An empty set identifies nothing: the assumption is kept (the warning says so).
        let identified = !s.lower_bound_only && !s.consistent.is_empty();
        if identified {
            if let Some((lo, hi)) = s.refills_holding(value_max).filter(|(lo, hi)| hi > lo) {
                refined.push(RefinedRefill {
                    free: Free {
                        name: name_refill.clone(),
                        // A refill of 0 would never refill: the bound stays positive.
                        low: lo.max(0.05),
                        high: hi,
                    },
                    size: value_max,
                    throttles: s.throttles,
                });
            }
        }
        for (name, prior, value, low, high) in [
            (name_max, b.max, value_max, max_lo, max_hi),
            (name_refill, b.refill_per_s, value_refill, ref_lo, ref_hi),
        ] {
            // No consistent pair: the interval is the plausible range, as for anything kept.
            let (low, high) = if s.consistent.is_empty() {
                range_of(&name).unwrap_or((low, high))
            } else {
                (low, high)
            };
            results.push(ParamResult {
                prior_range: range_of(&name).map_or([low, high], |(a, b)| [a, b]),
                name,
                prior,
                value,
                low,
                high,
                n: s.calls,
                method: "token-bucket bounds over all callers' calls (the pairs that could have made them)"
                    .into(),
                identified,
                note: note.clone(),
            });
        }
    }

    // 2. Simulated moments.
    let moments = choose(trail, opts.min_gaps);
    let observed = compute(&moments, trail);
    let gaps = gap_counts(trail);
    let ctl_counts: BTreeMap<String, u64> = trail.controller().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.action.clone()).or_default() += 1;
        m
    });
    let _ = label;
    let mut candidates: Vec<Free> = Vec::new();
    // An action called fewer than five times leaves too little to fit its service time.
    for action in ctl_counts.iter().filter(|(_, n)| **n >= 5).map(|(a, _)| a) {
        let name = format!("ec2.latency.{action}.median_ms");
        if let Some((lo, hi)) = range_of(&name) {
            candidates.push(Free {
                name,
                low: lo,
                high: hi,
            });
        }
    }
    candidates.extend(refined.iter().map(|r| r.free.clone()));
    let refined_as = |name: &str| refined.iter().find(|r| r.free.name == name);
    let has_detach = trail
        .controller()
        .any(|c| c.action == "DetachNetworkInterface" && !c.dry_run);
    for (name, wanted) in [
        ("ec2.detach_delay.median_ms", has_detach),
        ("ec2.attach_delay.median_ms", true),
    ] {
        if wanted {
            if let Some((lo, hi)) = range_of(name) {
                candidates.push(Free {
                    name: name.into(),
                    low: lo,
                    high: hi,
                });
            }
        }
    }
    let x_of = |m: &Model, s: &Settings, free: &[Free]| -> Vec<f64> {
        free.iter()
            .map(|f| {
                num(m, s, &f.name)
                    .unwrap_or(f.low)
                    .clamp(f.low, f.high)
                    .ln()
            })
            .collect()
    };
    let n_for = |name: &str| -> u64 {
        if let Some(r) = refined_as(name) {
            return r.throttles;
        }
        let action = name
            .strip_prefix("ec2.latency.")
            .and_then(|r| r.strip_suffix(".median_ms"));
        match action {
            // Every label of the action: a DryRun Detach probe's gaps time Detach too.
            Some(a) => gaps
                .iter()
                .filter(|(l, _)| super::moments::action_of(l) == a)
                .map(|(_, n)| n)
                .sum(),
            None if name.contains("detach_delay") => trail
                .controller()
                .filter(|c| c.action == "DetachNetworkInterface" && !c.dry_run)
                .count() as u64,
            None => 0,
        }
    };

    let r = opts.replications;
    // The model under θ for these parameters and moments, with these many replications.
    let sim_of = |free: &[Free], moments: &[Moment], replications: u32| SimulatedMoments {
        settings: &settings,
        model: &model,
        seed: opts.seed,
        replications,
        free: free.to_vec(),
        moments: moments.to_vec(),
    };
    let sim_all = sim_of(&candidates, &moments, opts.weight_replications.max(r));
    let x0_all = x_of(&model, &settings, &candidates);
    progress("weight", 0, 1);
    let samples0 = sim_all.samples(&x0_all)?;
    progress("weight", 1, 1);
    // Moments the model holds fixed and the trail agrees with carry nothing: drop them.
    let mean0 = column_means(&samples0);
    let cov0 = sample_covariance(&samples0);
    let var0: Vec<f64> = (0..moments.len())
        .map(|j| cov0.as_ref().map_or(0.0, |c| c[(j, j)]))
        .collect();
    let keep: Vec<usize> = (0..moments.len())
        .filter(|&j| {
            observed[j].is_finite()
                && mean0[j].is_finite()
                && !(var0[j] < 1e-12 && (observed[j] - mean0[j]).abs() < 0.5)
        })
        .collect();
    let moments: Vec<Moment> = keep.iter().map(|&j| moments[j].clone()).collect();
    let observed: Vec<f64> = keep.iter().map(|&j| observed[j]).collect();
    let sub = |rows: &[Vec<f64>]| -> Vec<Vec<f64>> {
        rows.iter()
            .map(|r| keep.iter().map(|&j| r[j]).collect())
            .collect()
    };
    let floors: Vec<f64> = moments
        .iter()
        .map(|m| match m {
            Moment::GapBefore { label } => {
                (1.0 / 12.0) / gaps.get(label).copied().unwrap_or(1).max(1) as f64
            }
            Moment::GapCrossing { .. }
            | Moment::SteadyRate { .. }
            | Moment::ThrottledShare { .. } => 1e-4,
            _ => 1.0 / 12.0,
        })
        .collect();
    let w0 = match sample_covariance(&sub(&samples0)) {
        Some(c) => weight(&c, SHRINK, &floors),
        None => DMatrix::from_diagonal(&DVector::from_iterator(
            floors.len(),
            floors.iter().map(|f| 1.0 / f),
        )),
    };
    let distance0 = Distance {
        target: DVector::from_column_slice(&observed),
        weight: w0.clone(),
    };

    // ∂m̄/∂x by finite differences under common random numbers: central, or forward from a
    // known mean `base` (half the simulations; what the Levenberg–Marquardt steps use).
    let jacobian = |sim: &SimulatedMoments,
                    x: &[f64],
                    base: Option<&[f64]>|
     -> Result<DMatrix<f64>, SimulateError> {
        let k = sim.moments.len();
        let p = x.len();
        let mut jac = DMatrix::zeros(k, p);
        for i in 0..p {
            let mut up = x.to_vec();
            let mut down = x.to_vec();
            // Stay inside the bounds: one-sided near them.
            let (lo, hi) = (sim.free[i].low.ln(), sim.free[i].high.ln());
            up[i] = (x[i] + opts.step).min(hi);
            if up[i] <= x[i] && base.is_some() {
                up[i] = (x[i] - opts.step).max(lo);
            }
            if base.is_none() {
                down[i] = (x[i] - opts.step).max(lo);
            }
            let h = up[i] - down[i];
            if h == 0.0 {
                continue;
            }
            let mu = sim.mean(&up)?;
            let md = match base {
                Some(b) => b.to_vec(),
                None => sim.mean(&down)?,
            };
            for j in 0..k {
                let d = (mu[j] - md[j]) / h;
                jac[(j, i)] = if d.is_finite() { d } else { 0.0 };
            }
            progress("jacobian", i as u64 + 1, p as u64);
        }
        Ok(jac)
    };

    // Identification at the start: a parameter no moment moves keeps its prior; the others
    // are all fitted together (one held at a wrong prior would bias the rest).
    let mut free = candidates.clone();
    let mut why_not: BTreeMap<String, String> = BTreeMap::new();
    {
        let sim = sim_of(&free, &moments, r);
        let jac0 = jacobian(&sim, &x_of(&model, &settings, &free), None)?;
        let info = jac0.transpose() * &w0 * &jac0;
        let mut active: Vec<usize> = Vec::new();
        for (i, f) in free.iter().enumerate() {
            // CloudTrail holds nothing of attaching → attached (calibration.md §2): whatever
            // the moments seem to say of it comes through side effects and noise; its
            // information is reported, never fitted.
            let attach = f.name.contains("attach_delay");
            if info[(i, i)] < 1e-6 || attach {
                why_not.insert(
                    f.name.clone(),
                    if attach {
                        format!("not identifiable from CloudTrail alone: EC2's attaching → attached is not logged, and v1.3.8 never waits for it (its diagonal of JᵀWJ here: {:.2e})", info[(i, i)])
                    } else {
                        "not identifiable from this trail: no moment moves with it".into()
                    },
                );
            } else {
                active.push(i);
            }
        }
        free = active.iter().map(|&i| free[i].clone()).collect();
    }

    // 3. Levenberg–Marquardt from the priors (a few Jacobians), then Nelder–Mead.
    let sim = sim_of(&free, &moments, r);
    let x0 = x_of(&model, &settings, &free);
    let evals = std::sync::atomic::AtomicU64::new(0);
    let observer = super::optimise::Progress::default();
    let on_eval = |_: f64| {
        evals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        progress("fit", observer.iteration(), opts.max_iters);
    };
    let (x_hat, iterations) = if free.is_empty() {
        (x0.clone(), 0)
    } else {
        let bounds: Vec<(f64, f64)> = free.iter().map(|f| (f.low.ln(), f.high.ln())).collect();
        let lm = super::optimise::levenberg_marquardt(
            &x0,
            &bounds,
            &distance0.target,
            &distance0.weight,
            &|x| {
                on_eval(0.0);
                sim.mean(x)
            },
            &|x, m| jacobian(&sim, x, Some(m)),
            opts.lm_iters,
        )?;
        let cost = MsmCost {
            sim: &sim,
            distance: &distance0,
            on_eval: &on_eval,
        };
        let max = opts.max_iters;
        let m = minimise(cost, &lm.x, 0.1, max, 1e-3, &observer)
            .map_err(|e| CalibrateError::Optimise(e.to_string()))?;
        let best = if m.cost <= lm.cost { m.x } else { lm.x };
        (best, lm.iterations + m.iterations)
    };
    let x_hat: Vec<f64> = x_hat
        .iter()
        .zip(&free)
        .map(|(x, f)| x.clamp(f.low.ln(), f.high.ln()))
        .collect();

    // 4. At θ̂: the moments' covariance Σ₁, the Jacobian, the covariance of θ̂ and the J
    // test. The fit minimised under W₀, simulated at the priors and not Σ₁⁻¹, so its
    // covariance is the sandwich of W₀ around Σ₁: (JᵀW₁J)⁻¹ would be an estimator's that had
    // used W₁ = Σ₁⁻¹, narrower than this one's (docs/calibrate.md).
    let sim_w = sim_of(&free, &moments, opts.weight_replications.max(r));
    let samples1 = sim_w.samples(&x_hat)?;
    let cov1 = sample_covariance(&samples1);
    let sigma1 = cov1.as_ref().map(|c| conditioned(c, SHRINK, &floors));
    let w1 = match &sigma1 {
        Some(c) => pseudo_inverse(c, 1e-12),
        None => w0.clone(),
    };
    let sd1: Vec<f64> = (0..moments.len())
        .map(|j| {
            cov1.as_ref()
                .map_or(f64::NAN, |c| c[(j, j)].max(0.0).sqrt())
        })
        .collect();
    let mean_hat = sim.mean(&x_hat)?;
    let unc = if free.is_empty() {
        None
    } else {
        let jac1 = jacobian(&sim, &x_hat, None)?;
        Some(sandwich(&jac1, &w0, sigma1.as_ref(), r))
    };
    let d = DVector::from_column_slice(&observed) - DVector::from_column_slice(&mean_hat);
    let df = moments.len().saturating_sub(free.len()) as u32;
    let jt = if mean_hat.iter().all(|v| v.is_finite()) {
        j_test_simulated(&d, &w1, r, df, &samples1)
    } else {
        None
    };
    let verdict = match &jt {
        Some(j) if j.p_value >= 0.05 => format!(
            "the {} model explains this trail (J = {:.1} on {} degrees of freedom, p = {:.2})",
            settings.controller.name, j.statistic, j.df, j.p_value
        ),
        Some(j) => {
            // The largest standardised misfit.
            let worst = (0..moments.len())
                .max_by(|&a, &b| {
                    let z = |i: usize| (d[i] / sd1[i].max(1e-9)).abs();
                    z(a).total_cmp(&z(b))
                })
                .map(|i| {
                    format!(
                        "{}: observed {:.3}, simulated {:.3}",
                        moments[i].name(),
                        observed[i],
                        mean_hat[i]
                    )
                })
                .unwrap_or_default();
            format!(
                "the {} model does not explain this trail (J = {:.1} on {} degrees of freedom, p = {:.2e}): the largest misfit is {worst}",
                settings.controller.name, j.statistic, j.df, j.p_value
            )
        }
        None => "no goodness-of-fit test: as many parameters as moments".into(),
    };

    // Write θ̂ into the model; results per MSM candidate.
    let floors = latency_floors(trail, &model);
    let floor_se = |name: &str| {
        floors
            .iter()
            .find(|f| f.name == name)
            .map_or(0.0, |f| f.se_log)
    };
    // No standard error under the trail's floor (the row and column scaled alike, so the
    // correlations stay), and then no direction of θ surer than the floors allow: raised
    // alone, the standard errors keep a negative correlation that can leave a sum of
    // medians, what a prediction turns on, surer than the trail (`at_least`).
    let covariance = unc.as_ref().map(|u| {
        let k = free.len();
        let floor: Vec<f64> = free.iter().map(|f| floor_se(&f.name)).collect();
        let scale: Vec<f64> = (0..k)
            .map(|i| {
                let se = u.covariance[i][i].max(0.0).sqrt();
                if se > 0.0 && se < floor[i] {
                    floor[i] / se
                } else {
                    1.0
                }
            })
            .collect();
        let c = DMatrix::from_fn(k, k, |i, j| u.covariance[i][j] * scale[i] * scale[j]);
        at_least(&c, &floor.iter().map(|f| f * f).collect::<Vec<f64>>())
    });
    // What the moments identified (a refined bucket refill's set result says identified
    // whatever the moments said).
    let mut moments_identified: Vec<String> = Vec::new();
    for f in &candidates {
        let prior = num(&model, &settings, &f.name).unwrap_or(f.low);
        let pos = free.iter().position(|g| g.name == f.name);
        let kept = |why: String| (prior, f.low, f.high, false, Some(why));
        let (value, low, high, identified, note) = match (pos, &covariance) {
            (Some(i), Some(c)) => {
                // No interval narrower than the trail's floor: the covariance's curvature
                // can claim more than n draws hold (a flat direction the optimiser did not
                // see, Monte Carlo noise in the Jacobian).
                let se = c[(i, i)].max(0.0).sqrt();
                // The interval is kept inside the plausible range (the prior's support).
                let low = (x_hat[i] - 1.96 * se).exp().max(f.low);
                let high = (x_hat[i] + 1.96 * se).exp().min(f.high);
                let share = (high / low).ln() / (f.high / f.low).ln();
                if share > 0.9 {
                    // The trail leaves it where the prior had it: not identified.
                    kept(if f.name.contains("attach_delay") {
                        "not identifiable from CloudTrail alone: EC2's attaching → attached is not logged, and v1.3.8 never waits for it".into()
                    } else {
                        format!(
                            "not identifiable from this trail: the 95 % interval spans {:.0} % of the plausible range ({} observations)",
                            100.0 * share,
                            n_for(&f.name)
                        )
                    })
                } else {
                    let note = (share > 0.5).then(|| {
                        format!(
                            "weakly identified: the 95 % interval spans {:.0} % of the plausible range ({} observations)",
                            100.0 * share,
                            n_for(&f.name)
                        )
                    });
                    (x_hat[i].exp(), low, high, true, note)
                }
            }
            _ => kept(
                why_not
                    .get(&f.name)
                    .cloned()
                    .unwrap_or_else(|| "not identifiable from this trail: kept assumption".into()),
            ),
        };
        if identified {
            moments_identified.push(f.name.clone());
        }
        if let Some(r) = refined_as(&f.name) {
            // A bucket's refill refined inside its set: the set's answer stands unless the
            // moments narrowed it (its prior and plausible range stay the assumption's).
            if let Some(set) = results.iter_mut().find(|p| p.name == f.name) {
                if identified {
                    set.value = value;
                    set.low = low;
                    set.high = high;
                    set.method = format!(
                        "simulated moments inside the token-bucket set ({:.2}–{:.2} /s at size {}; Hansen's sandwich covariance ×(1+1/R))",
                        f.low, f.high, r.size
                    );
                    set.note = note.or(set.note.take());
                }
            }
            continue;
        }
        results.push(ParamResult {
            name: f.name.clone(),
            prior,
            prior_range: [f.low, f.high],
            value,
            low,
            high,
            n: n_for(&f.name),
            method: if identified {
                "simulated moments (Nelder–Mead; Hansen's sandwich covariance ×(1+1/R))".into()
            } else {
                "prior (plausible range)".into()
            },
            identified,
            note,
        });
    }
    // `--calibration` draws what the trail identified around θ̂; the rest keeps its prior
    // in the written profile and is drawn over its plausible range.
    let identified: Vec<usize> = free
        .iter()
        .enumerate()
        .filter(|(_, f)| moments_identified.contains(&f.name))
        .map(|(i, _)| i)
        .collect();
    let mut fitted = match &covariance {
        Some(c) => FittedDistribution::fitted(
            identified.iter().map(|&i| free[i].name.clone()).collect(),
            identified.iter().map(|&i| x_hat[i]).collect(),
            identified
                .iter()
                .map(|&i| identified.iter().map(|&j| c[(i, j)]).collect())
                .collect(),
            identified
                .iter()
                .map(|&i| [free[i].low, free[i].high])
                .collect(),
        ),
        None => FittedDistribution::fitted(Vec::new(), Vec::new(), Vec::new(), Vec::new()),
    };
    // What the trail did not identify is drawn over its plausible range.
    for f in candidates.iter().filter(|f| refined_as(&f.name).is_none()) {
        if !moments_identified.contains(&f.name) {
            let prior = num(&model, &settings, &f.name)
                .unwrap_or(f.low)
                .clamp(f.low, f.high);
            fitted.push_assumed(&f.name, prior, f.low, f.high);
        }
    }
    let x_written: Vec<f64> = (0..free.len())
        .map(|i| {
            if identified.contains(&i) {
                x_hat[i]
            } else {
                x0[i]
            }
        })
        .collect();
    let (m_hat, s_hat) = sim
        .configure(&x_written)
        .map_err(|e| CalibrateError::Simulate(SimulateError::Param(e.to_string())))?;
    drop(s_hat);
    let moments_out = moments
        .iter()
        .enumerate()
        .map(|(i, m)| MomentResult {
            name: m.name(),
            moment: m.clone(),
            observed: observed[i],
            simulated: mean_hat[i],
            sd: sd1[i],
        })
        .collect();
    Ok(Calibration {
        source: source.to_string(),
        seed: opts.seed,
        replications: r,
        parameters: results,
        moments: moments_out,
        j_test: jt,
        verdict,
        eigenvalues: unc
            .as_ref()
            .map_or_else(Vec::new, |u| u.eigenvalues.clone()),
        tenants,
        errors,
        buckets,
        trail_settings: seen,
        warnings,
        fitted,
        floors,
        evaluations: evals.into_inner(),
        iterations,
        model: m_hat,
    })
}
