//! `enisim::replay` proofs (issue #12): a trail synthesized from a run replays to the run;
//! a counterfactual agrees with simulating the changed settings; `--tenants-scale` doubles
//! the tenants' calls and raises their throttles on a tight bucket; a trail without the
//! controller replays its tenants.

use enisim::aws::profile::{BucketSpec, Tenant};
use enisim::controller::ControllerProfile;
use enisim::metrics::summary::summarise;
use enisim::metrics::thresholds::Thresholds;
use enisim::metrics::RunRecord;
use enisim::replay::{prepare, replayed_table, Measures, Prepared, ReplayOptions, Unit};
use enisim::scenario::{replicate, Model, ScenarioSpec, Settings};
use enisim::trace::{self, synth, synth_run, SynthCall, SynthOptions};
use enisim::workload::{RecordedWorkload, Scope, Trail};
use std::collections::BTreeMap;
use std::path::Path;

const START_NS: i64 = 1_735_689_600_000_000_000; // SynthOptions::default().start_time

fn settings(scenario: &str, sets: &[&str]) -> Settings {
    let mut s = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded(scenario).unwrap(),
    );
    for kv in sets {
        s.apply_set(kv).unwrap();
    }
    s
}

fn with_tenant(rate_per_s: f64) -> Model {
    let mut m = Model::embedded();
    m.ec2.background.push(Tenant {
        name: "vpc-cni".into(),
        action: "DescribeNetworkInterfaces".into(),
        rate_per_s,
        filtered: true,
    });
    m
}

fn write_run_trail(run: &RunRecord, dir: &Path) -> Trail {
    synth(&synth_run(run), &SynthOptions::default(), dir).unwrap();
    Trail::load(&[dir.to_path_buf()]).unwrap()
}

fn replay(p: &Prepared, sets: &[&str], model: &Model, reps: u32) -> Vec<RunRecord> {
    let mut s = Settings::new(ControllerProfile::embedded(), p.scenario.clone());
    for kv in sets {
        s.apply_set(kv).unwrap();
    }
    replicate(&s, &p.model(model), 11, reps, &|| {}).unwrap()
}

fn value(m: &Measures, name: &str) -> Option<f64> {
    m.values.iter().find(|v| v.0 == name).and_then(|v| v.2)
}

#[test]
fn a_trail_synthesized_from_a_run_replays_to_the_run() {
    let s = settings(
        "burst",
        &["enisim.scenario.nodes=4", "enisim.scenario.enisPerNode=3"],
    );
    let model = with_tenant(3.0);
    // The run's own replications: the spread the replay must fall in.
    let runs = replicate(&s, &model, 1, 12, &|| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trail = write_run_trail(&runs[0], dir.path());
    // The replay's table of a run measures what synth → ingest of that run measures.
    let direct = replayed_table(&runs[0], START_NS).unwrap();
    let stats_direct = trace::stats(&direct).unwrap();
    let stats_trail = trace::stats(&trail.df).unwrap();
    assert_eq!(stats_direct.actions, stats_trail.actions);
    assert_eq!(stats_direct.gaps, stats_trail.gaps);

    let p = prepare(
        &trail,
        &ReplayOptions::default(),
        &ScenarioSpec::embedded("burst").unwrap(),
    )
    .unwrap();
    assert_eq!(p.workload.desired_attachments(), 12);
    assert_eq!(
        p.tenant_summary.calls.keys().collect::<Vec<_>>(),
        ["vpc-cni"]
    );
    // Replayed without the Poisson tenant: the recorded one replaces it.
    let replayed = replay(&p, &[], &Model::embedded(), 12);
    let measure = |r: &RunRecord| {
        let df = replayed_table(r, START_NS).unwrap();
        let st = trace::stats(&df).unwrap();
        let w =
            RecordedWorkload::from_trail(&Trail::from_table(df, "run"), &Scope::default()).unwrap();
        Measures::of(&st, &w)
    };
    let original: Vec<Measures> = runs.iter().map(measure).collect();
    let again: Vec<Measures> = replayed.iter().map(|r| p.measure(r).unwrap()).collect();
    let names: Vec<(String, Unit)> = original[0]
        .values
        .iter()
        .filter(|(n, _, _)| {
            n.contains("(controller)") || n.starts_with("NodeENI") || n.starts_with("every")
        })
        .map(|(n, u, _)| (n.clone(), *u))
        .collect();
    assert!(names
        .iter()
        .any(|(n, _)| n == "calls CreateNetworkInterface (controller)"));
    for (name, _) in &names {
        let spread: Vec<f64> = original.iter().filter_map(|m| value(m, name)).collect();
        let mean_replay = {
            let v: Vec<f64> = again.iter().filter_map(|m| value(m, name)).collect();
            if v.is_empty() {
                assert!(spread.is_empty(), "{name}: the replay lacks it");
                continue;
            }
            v.iter().sum::<f64>() / v.len() as f64
        };
        let lo = spread.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = spread.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // ± one call or one second: the trail's resolution.
        assert!(
            mean_replay >= lo - 1.0 && mean_replay <= hi + 1.0,
            "{name}: replayed mean {mean_replay} outside the run's spread [{lo}, {hi}]"
        );
    }
    // The validation the command prints says the same.
    let v = p.validate(&replayed).unwrap();
    for r in v.rows.iter().filter(|r| r.metric.contains("(controller)")) {
        assert!(r.inside, "{r:?}");
    }
    // The tenant's calls are replayed at their recorded seconds and actions, unchanged.
    let recorded: BTreeMap<(i64, String), usize> = {
        let (t, a, c) = (
            col_i64(&trail.df, "time"),
            col_str(&trail.df, "action"),
            col_str(&trail.df, "caller_class"),
        );
        let mut m = BTreeMap::new();
        for i in 0..t.len() {
            if c[i].as_deref() == Some("vpc-cni") {
                *m.entry(((t[i] - START_NS) / 1_000_000_000, a[i].clone().unwrap()))
                    .or_default() += 1;
            }
        }
        m
    };
    assert!(recorded.values().sum::<usize>() > 50);
    for r in &replayed {
        let mut m: BTreeMap<(i64, String), usize> = BTreeMap::new();
        for c in &r.tenant_calls {
            *m.entry(((c.at / 1_000_000_000) as i64, c.action.name().to_string()))
                .or_default() += 1;
        }
        assert_eq!(m, recorded);
        assert_eq!(r.tenant_names, ["vpc-cni"]);
    }
}

fn col_i64(df: &polars::prelude::DataFrame, name: &str) -> Vec<i64> {
    df.column(name)
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

fn col_str(df: &polars::prelude::DataFrame, name: &str) -> Vec<Option<String>> {
    let c = df
        .column(name)
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    c.str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

#[test]
fn a_counterfactual_agrees_with_simulating_the_changed_settings() {
    let mcr = |n: u32| format!("controller.maxConcurrentReconciles={n}");
    let five = settings("burst", &[&mcr(5)]);
    let model = Model::embedded();
    let recorded = replicate(&five, &model, 3, 1, &|| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trail = write_run_trail(&recorded[0], dir.path());
    let p = prepare(
        &trail,
        &ReplayOptions::default(),
        &ScenarioSpec::embedded("burst").unwrap(),
    )
    .unwrap();
    assert_eq!(p.workload.desired_attachments(), 100);
    assert!(p.workload.nodeenis.iter().all(|e| e.created_s == 0.0));
    let reps = 10;
    let th = Thresholds::embedded();
    let replayed = summarise(&replay(&p, &[&mcr(15)], &model, reps), &th, 15);
    let simulated = summarise(
        &replicate(&settings("burst", &[&mcr(15)]), &model, 5, reps, &|| {}).unwrap(),
        &th,
        15,
    );
    let at_five = summarise(&replay(&p, &[], &model, reps), &th, 5);
    for metric in ["eni_creation_p95_s", "full_reconcile_s"] {
        let (a, b, c) = (
            replayed.metrics[metric],
            simulated.metrics[metric],
            at_five.metrics[metric],
        );
        assert!(
            (a.mean - b.mean).abs() <= a.half_width + b.half_width,
            "{metric}: replay {a:?} vs run {b:?}"
        );
        // And the counterfactual moved: 15 workers are not 5.
        assert!(
            (a.mean - c.mean).abs() > a.half_width + c.half_width,
            "{metric}: MCR 15 {a:?} vs MCR 5 {c:?}"
        );
    }
}

/// A tenant-only trail: `per_s` DescribeNetworkInterfaces calls every second for `secs`.
fn tenant_trail(dir: &Path, per_s: u64, secs: u64) -> Trail {
    let calls: Vec<SynthCall> = (0..secs * per_s)
        .map(|k| {
            let t = (k / per_s) * 1_000_000_000 + (k % per_s) * 1_000_000_000 / per_s;
            SynthCall {
                start_ns: t,
                end_ns: t,
                action: "DescribeNetworkInterfaces".into(),
                caller: trace::VPC_CNI_USER_AGENT.into(),
                principal: "eks-vpc-cni".into(),
                ..SynthCall::default()
            }
        })
        .collect();
    synth(&calls, &SynthOptions::default(), dir).unwrap();
    Trail::load(&[dir.to_path_buf()]).unwrap()
}

#[test]
fn tenants_scale_two_doubles_the_calls_and_raises_their_throttles_on_a_tight_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let trail = tenant_trail(dir.path(), 3, 300);
    let mut tight = Model::embedded();
    tight.ec2.throttling.actions.insert(
        "DescribeNetworkInterfaces".into(),
        BucketSpec {
            max: 20.0,
            refill_per_s: 4.0,
        },
    );
    let base = ScenarioSpec::embedded("burst").unwrap();
    let at = |x: f64| {
        let p = prepare(
            &trail,
            &ReplayOptions {
                tenants_scale: x,
                ..ReplayOptions::default()
            },
            &base,
        )
        .unwrap();
        assert!(p.workload.is_empty());
        let runs = replay(&p, &[], &tight, 1);
        let rows = p.tenant_rows(&runs);
        assert_eq!(rows.len(), 1);
        (
            rows[0].recorded_calls,
            rows[0].replayed_calls,
            rows[0].replayed_throttled,
        )
    };
    let (rec, one, thr1) = at(1.0);
    let (_, two, thr2) = at(2.0);
    assert_eq!(rec, 900);
    assert_eq!(one, 900.0);
    assert!((two / one - 2.0).abs() <= 0.02, "{two} vs {one}");
    // 3/s fits a 4/s bucket; 6/s does not.
    assert_eq!(thr1, 0.0);
    assert!(thr2 > 300.0, "{thr2}");
    // Thinning: half the calls, ± 1 %.
    let (_, half, _) = at(0.5);
    assert!((half / 450.0 - 1.0).abs() <= 0.05, "{half}");
}

#[test]
fn a_trail_without_the_controller_replays_its_tenants_only() {
    let dir = tempfile::tempdir().unwrap();
    let trail = tenant_trail(dir.path(), 1, 120);
    let p = prepare(
        &trail,
        &ReplayOptions::default(),
        &ScenarioSpec::embedded("burst").unwrap(),
    )
    .unwrap();
    assert!(p
        .workload
        .describe()
        .contains("no controller workload to replay"));
    let runs = replay(&p, &[], &Model::embedded(), 2);
    assert!(runs
        .iter()
        .all(|r| r.calls.is_empty() && r.tenant_calls.len() == 120));
    let v = p.validate(&runs).unwrap();
    assert!(v.rows.iter().all(|r| r.inside), "{}", v.to_text());
    assert!(
        v.summary.starts_with("replay reproduces the trail"),
        "{}",
        v.summary
    );
}

/// A tenant's throttles on `bucket` when its calls arrive at `arrivals` (nobody else draws
/// on that bucket): the model's own `TokenBucket`, brought past the last call.
fn throttles_alone(bucket: &BucketSpec, arrivals: Vec<u64>) -> u64 {
    use enisim::aws::bucket::{RefillMode, TokenBucket};
    let mut b = TokenBucket::new("x", bucket.max, bucket.refill_per_s, RefillMode::Continuous);
    let end = arrivals.iter().max().copied().unwrap_or(0) + 1_000_000_000;
    b.add_recorded(arrivals.into_iter().map(|t| (t, 0)));
    b.tokens(end);
    b.stats.background_throttled
}

/// Issue #12: a Poisson tenant recorded by a run near its bucket's limit, replayed, is
/// throttled as often as it was. Given a second's count, a Poisson stream's positions are
/// iid uniform in it, which is what the replay draws; so the recorded count is one more draw
/// from the distribution the R replays sample, and lies within the prediction interval
/// mean ± t(99.5 %, R−1)·s·√(1 + 1/R). Spreading a second's calls evenly lies far outside
/// it. Measured (a bucket of 5 refilled at 2/s, offered 2/s for 15 min; R = 8): recordings
/// of seeds 1, 2, 3 throttled 162, 172, 186 calls; their replays 157.9 ± 6.1, 170.0 ± 17.3,
/// 185.8 ± 13.0 (mean ± the interval's half-width); evenly spread 127, 137, 156.
#[test]
fn a_poisson_tenant_near_its_limit_is_throttled_in_the_replay_as_in_the_recording() {
    use enisim::scenario::replication_seed;
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let bucket = BucketSpec {
        max: 5.0,
        refill_per_s: 2.0,
    };
    // The controller makes no AssignPrivateIpAddresses call: the tenant has the bucket.
    let mut model = Model::embedded();
    model
        .ec2
        .throttling
        .actions
        .insert("AssignPrivateIpAddresses".into(), bucket);
    let mut recording = model.clone();
    recording.ec2.background.push(Tenant {
        name: "vpc-cni".into(),
        action: "AssignPrivateIpAddresses".into(),
        rate_per_s: 2.0,
        filtered: true,
    });
    let mut s = settings(
        "burst",
        &["enisim.scenario.nodes=2", "enisim.scenario.enisPerNode=2"],
    );
    s.scenario.run.observe_after_converged.0 = 900 * 1_000_000_000;
    let reps = 8u32;
    let t = StudentsT::new(0.0, 1.0, f64::from(reps - 1))
        .unwrap()
        .inverse_cdf(0.995);
    for seed in [1, 2, 3] {
        let run = &replicate(&s, &recording, seed, 1, &|| {}).unwrap()[0];
        let dir = tempfile::tempdir().unwrap();
        let trail = write_run_trail(run, dir.path());
        let p = prepare(
            &trail,
            &ReplayOptions::default(),
            &ScenarioSpec::embedded("burst").unwrap(),
        )
        .unwrap();
        let recorded = p.tenant_summary.throttled["vpc-cni"] as f64;
        let runs = replay(&p, &[], &model, reps);
        let replayed: Vec<f64> = runs
            .iter()
            .map(|r| r.tenant_calls.iter().filter(|c| c.throttled).count() as f64)
            .collect();
        // The bucket alone, at the replay's own arrivals, throttles exactly what the replay
        // did: the even spread below is measured on the same footing.
        for (r, n) in replayed.iter().enumerate() {
            let at = p.tenants.arrivals(replication_seed(11, r as u32));
            assert_eq!(throttles_alone(&bucket, at) as f64, *n);
        }
        let mean = replayed.iter().sum::<f64>() / f64::from(reps);
        let sd =
            (replayed.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(reps - 1)).sqrt();
        assert!(
            sd > 0.0,
            "replications place the calls differently: {replayed:?}"
        );
        let half = t * sd * (1.0 + 1.0 / f64::from(reps)).sqrt();
        let even: Vec<u64> = p
            .tenants
            .calls
            .chunk_by(|a, b| a.second == b.second)
            .flat_map(|g| {
                let n = g.len() as u64;
                (0..n).map(move |m| {
                    g[0].second * 1_000_000_000 + (2 * m + 1) * 1_000_000_000 / (2 * n)
                })
            })
            .collect();
        let even = throttles_alone(&bucket, even) as f64;
        assert!(recorded > 100.0, "the bucket is tight: {recorded}");
        assert!(
            (recorded - mean).abs() <= half,
            "recorded {recorded}, replayed {mean} ± {half} ({replayed:?})"
        );
        assert!(
            (recorded - even).abs() > half,
            "evenly spread {even} would pass too: recorded {recorded}, ± {half}"
        );
    }
}
