//! Small predicts big (issue #11, "Proof"): θ̂ from the 2 × 3 round trip's trail, carried
//! with its uncertainty (θ drawn per replication, `run --calibration`'s path: the fitted
//! parameters around θ̂, what the trail left unidentified over its plausible range),
//! predicts the 10 × 10 burst's ENI creation p95 and full-reconcile time; the prediction
//! under θ* lies inside the 95 % interval.
//!
//! And what a 2 × 3 trail can tell at all: its controller calls timed exactly would pin each
//! median's logarithm to σ/√n at best (Cramér–Rao, `calibrate::floor`), which the burst's
//! elasticities carry into the narrowest interval any estimator could give.
//!
//! Measured over these 10 seeds: θ*'s creation p95 and full-reconcile time lie in all 10
//! intervals (split in logarithms); the intervals are ±32–71 % of their centre (median
//! ±40 %, 1.1–2.3 × the floor), 97–100 % of their variance from the parameters. The floor is above the issue's ±25 % in 9 of 10 seeds for
//! the creation p95 (±24–35 %) and in all 10 for the full reconcile (±25–35 %), most of it
//! from the six Creates (σ = 1.11: six draws pin a median to ±100 % at best) and six
//! Modifies: ±25 % is out of reach of any calibration from this recording; a longer one
//! (`calibrate` says how many calls) is what narrows it.

mod calibrate_common;

use calibrate_common::{recovered, settings, truth};
use enisim::calibrate::floor::{latency_floors, prediction_floor};
use enisim::calibrate::predict::with_parameter_uncertainty;
use enisim::calibrate::simulate::simulated_trail;
use enisim::calibrate::FittedDistribution;
use enisim::controller::ControllerProfile;
use enisim::metrics::summary::metric_values;
use enisim::scenario::{replicate, ScenarioSpec, Settings};
use rayon::prelude::*;

const METRICS: [&str; 2] = ["eni_creation_p95_s", "full_reconcile_s"];
const R: u32 = 40;
/// Draws of the exact-timing oracle's estimate.
const K: u32 = 80;

#[test]
fn a_2_by_3_calibration_predicts_the_10_by_10_burst() {
    let small = settings();
    let big = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    );
    let rows: Vec<_> = (0..10u64)
        .into_par_iter()
        .map(|seed| {
            let (true_model, _) = truth(seed);
            let (_, cal) = recovered(&small, seed);
            let truth_runs = replicate(&big, &true_model, 500 + seed, R, &|| {}).unwrap();
            let p = with_parameter_uncertainty(
                &big,
                &cal.model,
                &cal.fitted,
                500 + seed,
                R,
                &METRICS,
                &|| {},
            )
            .unwrap();
            // What the 2 × 3 trail could tell of the 10 × 10 burst at best: its calls timed
            // exactly (Cramér–Rao), carried by the burst's elasticities at θ*.
            let trail = simulated_trail(&small, &true_model, seed, 0).unwrap();
            let floors = latency_floors(&trail, &true_model);
            let floor =
                prediction_floor(&big, &true_model, &floors, 500 + seed, 20, &METRICS, &|| {})
                    .unwrap();
            (seed, truth_runs, p, floor)
        })
        .collect();
    let mut covered = [0usize; 2];
    let mut mostly_parameters = 0;
    let mut above_target = [0usize; 2];
    let mut narrower_than_floor = 0;
    for (seed, truth_runs, p, floor) in &rows {
        assert_eq!(p.splits.len(), 2, "seed {seed}: no fitted parameter");
        mostly_parameters += usize::from(p.splits[0].parameter_share > 0.5);
        for (i, s) in p.splits.iter().enumerate() {
            let xs: Vec<f64> = truth_runs
                .iter()
                .filter_map(|r| metric_values(&r.metrics).get(s.metric.as_str()).copied())
                .collect();
            let t = xs.iter().sum::<f64>() / xs.len() as f64;
            eprintln!(
                "seed {seed} {}: under θ* {t:.2}; predicted {:.2} [{:.2}, {:.2}] (±{:.0} %), {:.0} % of it parameters",
                s.metric,
                s.mean,
                s.low,
                s.high,
                100.0 * (s.high - s.low) / 2.0 / s.mean,
                100.0 * s.parameter_share
            );
            covered[i] += usize::from(s.low <= t && t <= s.high);
            let f = floor.iter().find(|f| f.metric == s.metric).unwrap();
            let top = f.largest().unwrap();
            eprintln!(
                "seed {seed} {}: at best ±{:.0} % from this trail, {:.0} % of it {}",
                s.metric,
                100.0 * f.half_width,
                100.0 * top.share,
                top.name
            );
            above_target[i] += usize::from(f.half_width > 0.25);
            // The floor is at θ*, the interval at θ̂: a fifth's slack for the elasticities'
            // difference between them. Measured: the narrowest is 1.12 of its floor (seed 9's
            // full reconcile, ±36 % against ±32 %).
            let half = (s.high - s.low) / 2.0 / s.mean;
            narrower_than_floor += usize::from(half < 0.8 * f.half_width);
        }
    }
    eprintln!("covered: {covered:?} of {}", rows.len());
    eprintln!("floor above ±25 %: {above_target:?} of {}", rows.len());
    for (m, c) in METRICS.iter().zip(covered) {
        assert!(c >= 9, "{m}: θ*'s value in {c} of {} intervals", rows.len());
    }
    for (m, c) in METRICS.iter().zip(above_target) {
        assert!(c >= 8, "{m}: the floor above ±25 % in only {c} seeds");
    }
    assert!(
        narrower_than_floor == 0,
        "{narrower_than_floor} intervals claim more than the trail holds"
    );
    assert!(mostly_parameters >= 8, "{mostly_parameters}");
}

/// The floor's delta method against the oracle it stands for: an estimator that saw the
/// trail's calls timed exactly has ln(median) ~ N(ln θ*, σ²/n) per action; drawn so (the
/// `--calibration` path) into the 10 × 10 burst, the spread it makes is the floor where the
/// burst is near linear in ln θ over that spread (n × 4: the floors halved), and no smaller
/// than the floor where it is not (the 2 × 3 trail's own n: six Creates spread ln θ by
/// ±0.9, over which the burst is convex).
#[test]
fn the_floor_is_what_the_exact_oracle_spreads() {
    let big = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    );
    let (true_model, _) = truth(0);
    let trail = simulated_trail(&settings(), &true_model, 0, 0).unwrap();
    let floors = latency_floors(&trail, &true_model);
    let floor = prediction_floor(&big, &true_model, &floors, 900, 20, &METRICS, &|| {}).unwrap();
    let oracle_sd = |scale: f64| -> Vec<(String, f64)> {
        let p = floors.len();
        let oracle = FittedDistribution {
            names: floors.iter().map(|f| f.name.clone()).collect(),
            mean_log: floors
                .iter()
                .map(|f| {
                    enisim::calibrate::params::get(&true_model, &big, &f.name)
                        .unwrap()
                        .as_f64()
                        .unwrap()
                        .ln()
                })
                .collect(),
            covariance_log: (0..p)
                .map(|i| {
                    (0..p)
                        .map(|j| {
                            if i == j {
                                (scale * floors[i].se_log).powi(2)
                            } else {
                                0.0
                            }
                        })
                        .collect()
                })
                .collect(),
            bounds: vec![[1e-3, 1e6]; p],
            assumed: Vec::new(),
        };
        // K draws of the oracle's θ̂, each the mean of the same replications (common random
        // numbers): the spread of ln(expected metric) over the draws.
        let means: Vec<Vec<f64>> = (0..K)
            .into_par_iter()
            .map(|k| {
                let (mut m, mut s) = (true_model.clone(), big.clone());
                oracle.apply(&mut m, &mut s, 900, k).unwrap();
                let runs = replicate(&s, &m, 900, 10, &|| {}).unwrap();
                METRICS
                    .iter()
                    .map(|x| {
                        let v: Vec<f64> =
                            runs.iter().map(|r| metric_values(&r.metrics)[*x]).collect();
                        (v.iter().sum::<f64>() / v.len() as f64).ln()
                    })
                    .collect()
            })
            .collect();
        METRICS
            .iter()
            .enumerate()
            .map(|(j, x)| {
                let v: Vec<f64> = means.iter().map(|m| m[j]).collect();
                let mu = v.iter().sum::<f64>() / v.len() as f64;
                let var = v.iter().map(|y| (y - mu).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
                (x.to_string(), var.sqrt())
            })
            .collect()
    };
    for (scale, linear) in [(0.5, true), (1.0, false)] {
        for (metric, sd) in oracle_sd(scale) {
            let f = floor.iter().find(|f| f.metric == metric).unwrap();
            let delta = scale * f.half_width.asinh() / 1.959_963_984_540_054;
            eprintln!(
                "{metric} at {scale} × the floor: oracle sd of ln {sd:.3}, delta method {delta:.3}"
            );
            if linear {
                // Measured 1.08 and 1.17: the oracle's means keep a little Monte Carlo
                // noise of their ten replications, on top.
                assert!(
                    (0.9..1.25).contains(&(sd / delta)),
                    "{metric}: oracle {sd} vs {delta}"
                );
            } else {
                assert!(
                    sd > 0.9 * delta,
                    "{metric}: oracle {sd} under the floor {delta}"
                );
            }
        }
    }
}
