//! Small predicts big (issue #11, "Proof"): θ̂ from the 2 × 3 round trip's trail, carried
//! with its uncertainty (θ drawn per replication, `run --calibration`'s path), predicts the
//! 10 × 10 burst's ENI creation p95 and full-reconcile time; the prediction under θ* lies
//! inside the 95 % interval.
//!
//! Measured over these 10 seeds: the creation p95 under θ* lies in 8 of the 10 intervals,
//! the full-reconcile time in 9; the intervals are ±6–45 % of their centre (median ±30 %),
//! 93–99 % of their variance from the parameters in 9 seeds. Six Creates and six Attaches
//! tell a 10 × 10 burst's pace only so well: the issue's ±25 % is not met from this trail.

mod calibrate_common;

use calibrate_common::{recovered, settings, truth};
use enisim::calibrate::predict::with_parameter_uncertainty;
use enisim::controller::ControllerProfile;
use enisim::metrics::summary::metric_values;
use enisim::scenario::{replicate, ScenarioSpec, Settings};
use rayon::prelude::*;

const METRICS: [&str; 2] = ["eni_creation_p95_s", "full_reconcile_s"];
const R: u32 = 40;

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
            (seed, truth_runs, p)
        })
        .collect();
    let mut covered = [0usize; 2];
    let mut mostly_parameters = 0;
    for (seed, truth_runs, p) in &rows {
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
        }
    }
    eprintln!("covered: {covered:?} of {}", rows.len());
    for (m, c) in METRICS.iter().zip(covered) {
        assert!(c >= 8, "{m}: θ*'s value in {c} of {} intervals", rows.len());
    }
    assert!(mostly_parameters >= 8, "{mostly_parameters}");
}
