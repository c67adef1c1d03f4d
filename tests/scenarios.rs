//! The four other scenarios and the resource model (issue: other scenarios, CPU and memory).

use enisim::aws::profile::BucketSpec;
use enisim::controller::{BreakerState, ControllerProfile};
use enisim::engine::Distribution;
use enisim::metrics::thresholds::Thresholds;
use enisim::metrics::RunRecord;
use enisim::scenario::kinds::degradation_points;
use enisim::scenario::{simulate, Model, ScenarioSpec, Settings};

fn settings(name: &str, sets: &[&str]) -> Settings {
    let mut s = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded(name).unwrap(),
    );
    for kv in sets {
        s.apply_set(kv).unwrap();
    }
    s
}

fn runs(s: &Settings, model: &Model, seeds: std::ops::Range<u64>) -> Vec<RunRecord> {
    seeds
        .map(|seed| simulate(s, model, seed).unwrap())
        .collect()
}

#[test]
fn scale_down_removes_every_eni() {
    for name in ["scale-down", "drain"] {
        let s = settings(name, &[]);
        for r in runs(&s, &Model::embedded(), 1..4) {
            let m = &r.metrics;
            assert_eq!(m.stuck_finalizers, 0, "{name}");
            assert_eq!(m.forced_finalizer_removals, 0, "{name}");
            assert!(m.cleanup_total_s > 0.0, "{name}");
            if name == "scale-down" {
                // Every NodeENI gone and no ENI left in EC2.
                assert_eq!(m.leaked_enis, 0, "{name}: {m:?}");
                assert!(m.detach_polls >= 100, "{name}");
            }
        }
    }
}

#[test]
fn a_stuck_detach_forces_the_finalizer_and_the_leak_is_counted_exactly() {
    let mut model = Model::embedded();
    // Detaches take ten minutes; cleanup gives up after one.
    model.ec2.attachment.detach = Distribution::fixed_ms(600_000.0);
    let s = settings("scale-down", &["enisim.env.MAX_CLEANUP_DURATION=1m"]);
    let r = simulate(&s, &model, 5).unwrap();
    let m = &r.metrics;
    assert_eq!(m.forced_finalizer_removals, 10, "one per NodeENI");
    assert_eq!(m.stuck_finalizers, 0);
    assert_eq!(m.leaked_enis, 100, "every ENI still exists in EC2: {m:?}");
}

#[test]
fn after_an_outage_every_attachment_is_restored() {
    let s = settings("failure", &[]);
    for r in runs(&s, &Model::embedded(), 1..4) {
        let m = &r.metrics;
        assert_eq!(m.attached_at_end, 100);
        assert!(m.converged);
        assert!(m.recovery_s > 0.0, "{}", m.recovery_s);
        assert!(m.sdk_retries > 0);
    }
}

fn breaker_end_state(r: &RunRecord) -> String {
    r.breaker.last().map(|(_, s)| s.clone()).unwrap_or_default()
}

#[test]
fn wired_breaker_v138_sticks_half_open_and_the_fixed_one_closes() {
    let v138 = simulate(
        &settings("failure", &["enisim.whatIf.circuitBreaker=v1.3.8"]),
        &Model::embedded(),
        1,
    )
    .unwrap();
    assert_eq!(
        breaker_end_state(&v138),
        format!("{:?}", BreakerState::HalfOpen)
    );
    assert!(
        !v138.metrics.converged,
        "a stuck half-open breaker rejects every call"
    );
    let fixed = simulate(
        &settings("failure", &["enisim.whatIf.circuitBreaker=fixed"]),
        &Model::embedded(),
        1,
    )
    .unwrap();
    assert_eq!(
        breaker_end_state(&fixed),
        format!("{:?}", BreakerState::Closed)
    );
    assert!(fixed.breaker.iter().any(|(_, s)| s == "HalfOpen"));
    assert!(fixed.metrics.converged);
}

#[test]
fn a_larger_attach_bucket_moves_the_degradation_point_later() {
    let thresholds = Thresholds::embedded();
    let point = |max: f64, refill: f64| {
        let mut model = Model::embedded();
        model.ec2.throttling.actions.insert(
            "AttachNetworkInterface".into(),
            BucketSpec {
                max,
                refill_per_s: refill,
            },
        );
        let s = settings("gradual", &[]);
        let rs = runs(&s, &model, 1..4);
        degradation_points(&rs, &thresholds)["eni_creation_p95_s"].unwrap_or(u32::MAX)
    };
    let small = point(2.0, 0.1);
    let large = point(50.0, 5.0);
    assert!(
        small < large,
        "small bucket degrades at step {small}, large at {large}"
    );
}

#[test]
fn mixed_operations_account_for_every_eni() {
    let s = settings("mixed", &[]);
    let rs = runs(&s, &Model::embedded(), 1..5);
    let mut converged = 0;
    for r in &rs {
        let m = &r.metrics;
        assert!(m.changes > 5, "{m:?}");
        assert_eq!(m.stuck_finalizers, 0);
        if m.converged {
            converged += 1;
            // ENIs created minus ENIs deleted = what the final NodeENIs and nodes require.
            assert_eq!(m.eni_balance_gap, 0, "{m:?}");
            assert_eq!(m.orphaned_attachments, 0);
            assert_eq!(m.leaked_enis, 0);
        }
    }
    assert!(converged >= 2);
}

#[test]
fn removing_a_subnet_from_spec_orphans_its_eni_in_v138() {
    let mut s = settings("mixed", &[]);
    if let Some(m) = s.scenario.mixed.as_mut() {
        m.rates_per_min = Default::default();
        m.rates_per_min.add_subnet = 2.0;
        m.rates_per_min.remove_subnet = 2.0;
    }
    let rs = runs(&s, &Model::embedded(), 1..3);
    assert!(rs.iter().any(|r| r.metrics.orphaned_attachments > 0));
}

#[test]
fn cpu_rises_with_attachments_and_falls_when_paced_by_period() {
    let model = Model::embedded();
    let cpu = |sets: &[&str]| {
        let s = settings("burst", sets);
        let rs = runs(&s, &model, 1..4);
        rs.iter().map(|r| r.metrics.cpu_p95_millicores).sum::<f64>() / rs.len() as f64
    };
    let few = cpu(&["enisim.scenario.enisPerNode=2"]);
    let many = cpu(&[]);
    let paced = cpu(&["enisim.whatIf.paceByPeriod=true"]);
    assert!(
        many > few,
        "2 ENIs/node {few:.1} m, 10 ENIs/node {many:.1} m"
    );
    assert!(
        paced < many,
        "paced {paced:.1} m vs self-triggered {many:.1} m"
    );
}

#[test]
fn memory_grows_with_the_caches() {
    let model = Model::embedded();
    let small = simulate(&settings("burst", &["enisim.scenario.nodes=2"]), &model, 1).unwrap();
    let big = simulate(&settings("burst", &[]), &model, 1).unwrap();
    assert!(big.metrics.memory_peak_mib > small.metrics.memory_peak_mib);
    assert!(big.metrics.memory_peak_mib > 40.0 && big.metrics.memory_peak_mib < 256.0);
}
