//! The workload of `enisim calibrate` (issue #11, "The workload"). A hidden-truth trail —
//! a 2 nodes × 3 ENIs burst and scale-down simulated with slower Create, Attach and
//! Describe than the defaults — calibrated with no scenario: the workload reconstructed
//! from the controller's calls is the run's (its NodeENIs, nodes, subnets, deletions), its
//! replications run the recorded cleanup to its end, and its fit finds what the fit with
//! the true scenario finds — the J test accepts, the truth is inside the intervals, each
//! estimate inside the other fit's interval. The run's audit log gives the same workload.

use enisim::calibrate::simulate::simulated_table;
use enisim::calibrate::{calibrate, Calibration, Choice, Options, Recording, Workload};
use enisim::controller::ControllerProfile;
use enisim::metrics::RunRecord;
use enisim::plausible::NamedValue;
use enisim::scenario::{simulate_replication, Kind, Model, ScenarioSpec, Settings};
use enisim::workload::{audit_log_of_run, RecordedWorkload, Scope, Trail};
use rayon::prelude::*;

/// θ*: the service-time medians the trails are made with (defaults 150, 500, 100 ms).
const TRUTH: [(&str, f64); 3] = [
    ("ec2.latency.CreateNetworkInterface.median_ms", 400.0),
    ("ec2.latency.AttachNetworkInterface.median_ms", 1000.0),
    ("ec2.latency.DescribeNetworkInterfaces.median_ms", 250.0),
];

/// The true scenario: 2 nodes × 3 ENIs, every NodeENI deleted 10 s after convergence.
fn small() -> Settings {
    let mut s = ScenarioSpec::embedded("scale-down").unwrap();
    s.cluster.nodes = 2;
    s.cluster.enis_per_node = 3;
    Settings::new(ControllerProfile::embedded(), s)
}

fn with(values: &[(&str, f64)]) -> Model {
    let mut m = Model::embedded();
    let mut s = small();
    for (n, v) in values {
        enisim::calibrate::params::set(&mut m, &mut s, n, &NamedValue::Number(*v)).unwrap();
    }
    m
}

/// Replication 0 of seed `seed` under θ*: the run, and its trail read as a recording.
fn recording(seed: u64) -> (RunRecord, Recording) {
    let truth = with(&TRUTH);
    let run = simulate_replication(&small(), &truth, seed, 0).unwrap();
    let df = simulated_table(&small(), &truth, seed, 0).unwrap();
    let rec = Recording::of(&Trail::from_table(df, "truth"), &Scope::default()).unwrap();
    (run, rec)
}

/// When the scale-down asked for the deletions (the first deleting reconcile).
fn deleted_at(run: &RunRecord) -> f64 {
    run.reconciles
        .iter()
        .filter(|r| r.deleting)
        .map(|r| r.start_s)
        .fold(f64::INFINITY, f64::min)
}

/// The 2 × 3 scale-down's workload: three NodeENIs (one per subnet) on both nodes, each
/// deleted no earlier than asked (within the trail's one second) and at most 6 s later:
/// the trail shows the first Detach the deletion led to, 0–5.2 s after it over seeds 1–8.
fn assert_is_the_runs(w: &RecordedWorkload, run: &RunRecord) {
    let names: Vec<&str> = w.nodeenis.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["multi-eni-0", "multi-eni-1", "multi-eni-2"]);
    let at = deleted_at(run);
    for (i, e) in w.nodeenis.iter().enumerate() {
        assert_eq!(e.created_s, 0.0, "{e:?}");
        assert_eq!(e.nodes, ["node-00", "node-01"]);
        assert_eq!(e.subnets.len(), 1);
        assert_eq!(e.device_index, i as u32 + 1);
        let d = e.deleted_s.expect("every NodeENI was deleted");
        assert!(d >= at.floor() && d <= at + 6.0, "{d} vs {at}");
    }
    assert_eq!(w.subnets.len(), 3);
    assert_eq!(w.desired_attachments(), 6);
    assert!(w.nodes.iter().all(|n| n.removed_s.is_none()));
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
}

fn fit(rec: &Recording, settings: &Settings, seed: u64) -> Calibration {
    calibrate(
        &rec.calls,
        rec.name(),
        &Model::embedded(),
        settings,
        &Options {
            seed,
            replications: 8,
            max_iters: 12,
            ..Options::default()
        },
        &|_, _, _| {},
    )
    .unwrap()
}

/// (identified, value, low, high) of a parameter.
fn param(c: &Calibration, name: &str) -> (bool, f64, f64, f64) {
    let p = c.parameters.iter().find(|p| p.name == name).unwrap();
    (p.identified, p.value, p.low, p.high)
}

#[test]
fn reconstructed_from_the_trail_the_workload_fits_as_the_true_scenario_does() {
    let seeds: Vec<u64> = (1..=6).collect();
    let fits: Vec<(Calibration, Calibration)> = seeds
        .par_iter()
        .map(|&seed| {
            let (run, rec) = recording(seed);
            let w = Workload::of(&rec, Choice::Reconstruct).unwrap();
            assert_is_the_runs(w.recorded.as_ref().unwrap(), &run);
            assert_eq!(w.scenario.kind, Kind::Recorded);
            assert_eq!(
                (w.scenario.cluster.nodes, w.scenario.cluster.enis_per_node),
                (2, 3)
            );
            let recorded = Settings::new(ControllerProfile::embedded(), w.scenario.clone());
            (
                fit(&rec, &small(), 100 + seed),
                fit(&rec, &recorded, 100 + seed),
            )
        })
        .collect();
    let (mut identified, mut covered) = ([0usize; 2], [0usize; 2]);
    for (seed, (true_fit, rec_fit)) in seeds.iter().zip(&fits) {
        let p = rec_fit.j_test.as_ref().unwrap().p_value;
        assert!(
            p > 0.01,
            "seed {seed}: the reconstructed workload is rejected (p = {p})"
        );
        assert!(rec_fit.warnings.is_empty(), "{:?}", rec_fit.warnings);
        for (name, truth) in TRUTH {
            let a = param(true_fit, name);
            let b = param(rec_fit, name);
            for (k, f) in [a, b].iter().enumerate() {
                if f.0 {
                    identified[k] += 1;
                    covered[k] += (f.2 <= truth && truth <= f.3) as usize;
                }
            }
            // Where both fits identify it, their intervals agree: each estimate inside the
            // other's interval for Attach (about a second, well told by six gaps); the
            // intervals overlap for the sub-second calls, which a handful of one-second
            // gaps tell only weakly (a Create's five).
            if a.0 && b.0 {
                let agree = if name.contains("Attach") {
                    b.2 <= a.1 && a.1 <= b.3 && a.2 <= b.1 && b.1 <= a.3
                } else {
                    a.2 <= b.3 && b.2 <= a.3
                };
                assert!(
                    agree,
                    "seed {seed} {name}: true scenario {a:?}, reconstructed {b:?}"
                );
            }
        }
        // The attach median, which every 2 × 3 trail informs, is identified either way.
        let attach = "ec2.latency.AttachNetworkInterface.median_ms";
        assert!(
            param(true_fit, attach).0 && param(rec_fit, attach).0,
            "seed {seed}"
        );
    }
    // As many of θ*'s parameters identified, and their truth inside the intervals as often.
    println!("θ* identified (true scenario, reconstructed): {identified:?}; covered: {covered:?}");
    assert!(
        identified[1] + 2 >= identified[0],
        "identified: {identified:?}"
    );
    for k in 0..2 {
        assert!(
            covered[k] as f64 >= 0.7 * identified[k] as f64,
            "covered {covered:?} of {identified:?}"
        );
    }
}

#[test]
fn the_recorded_scenario_runs_its_cleanup_to_the_end() {
    // A recording whose cleanup was quick (38 s in all).
    let (_, rec) = recording(4);
    let w = Workload::of(&rec, Choice::Reconstruct).unwrap();
    let recorded = w.recorded.as_ref().unwrap();
    let settings = Settings::new(ControllerProfile::embedded(), w.scenario.clone());
    // Detaches three times slower than the recording's: the cleanup outlasts it.
    let slow = with(&[("ec2.detach_delay.median_ms", 9000.0)]);
    let span = rec.calls.span().map(|(a, b)| b - a).unwrap();
    for r in 0..3 {
        let df = simulated_table(&settings, &slow, 5, r).unwrap();
        let again = Recording::of(&Trail::from_table(df, "sim"), &Scope::default()).unwrap();
        // The same NodeENIs on the same nodes and subnets, deleted when the recording says.
        let w2 = Workload::of(&again, Choice::Reconstruct).unwrap();
        let w2 = w2.recorded.as_ref().unwrap();
        assert_eq!(w2.nodes, recorded.nodes, "replication {r}");
        assert_eq!(w2.subnets, recorded.subnets);
        for (a, b) in w2.nodeenis.iter().zip(&recorded.nodeenis) {
            assert_eq!(
                (&a.name, &a.nodes, &a.subnets),
                (&b.name, &b.nodes, &b.subnets)
            );
            assert_eq!(a.device_index, b.device_index);
            let (da, db) = (a.deleted_s.unwrap(), b.deleted_s.unwrap());
            assert!(da >= db && da <= db + 6.0, "{da} vs {db}");
        }
        // Every ENI deleted, after the recording's end: the run went on until clean.
        let deletes: Vec<i64> = again
            .calls
            .controller()
            .filter(|c| c.action == "DeleteNetworkInterface" && c.ok())
            .map(|c| c.t_s)
            .collect();
        assert_eq!(deletes.len(), 6, "replication {r}");
        let (first, last) = again.calls.span().unwrap();
        assert!(last - first > span, "{} ≤ {span}", last - first);
    }
}

#[test]
fn the_runs_audit_log_gives_the_reconstructed_workload() {
    let (run, rec) = recording(2);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    // Virtual time 0 of the simulated trail: SynthOptions::default's start.
    std::fs::write(&log, audit_log_of_run(&run, 1_735_689_600_000_000_000)).unwrap();
    let from_log = Workload::of(&rec, Choice::AuditLog(log.clone())).unwrap();
    let rebuilt = Workload::of(&rec, Choice::Reconstruct).unwrap();
    let (a, b) = (
        from_log.recorded.as_ref().unwrap(),
        rebuilt.recorded.as_ref().unwrap(),
    );
    assert_is_the_runs(b, &run);
    assert_eq!(a.start_ns, b.start_ns);
    assert_eq!(a.nodes, b.nodes);
    assert_eq!(a.subnets, b.subnets);
    assert_eq!(a.nodeenis.len(), b.nodeenis.len());
    for (x, y) in a.nodeenis.iter().zip(&b.nodeenis) {
        assert_eq!(
            (&x.name, &x.nodes, &x.subnets),
            (&y.name, &y.nodes, &y.subnets)
        );
        assert_eq!((x.created_s, x.device_index), (y.created_s, y.device_index));
        // The audit log has the delete itself; the trail its first Detach (in whole
        // seconds), a little later.
        let (dx, dy) = (x.deleted_s.unwrap(), y.deleted_s.unwrap());
        assert!(dx.floor() <= dy && dy <= dx + 6.0, "{dx} vs {dy}");
    }
    assert_eq!(from_log.scenario.cluster, rebuilt.scenario.cluster);
    assert_eq!(from_log.note().audit_log.as_deref(), Some(log.as_path()));
    assert_eq!(rebuilt.note().nodeenis, Some(3));
}
