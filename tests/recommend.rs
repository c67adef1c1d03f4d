//! Recommendations: the known best point of a constructed case, an overlay that parses and
//! holds only chart keys, a Deployment patch for env-only knobs, a diagnosis when nothing
//! qualifies, and the plan's preset judged beside it.

use assert_cmd::Command;
use enisim::metrics::thresholds::Thresholds;
use enisim::recommend::{self, knobs, render, Options};
use enisim::scenario::Model;
use enisim::sweep::definition::{replication_seed, Manifest};
use enisim::sweep::{self, Grid, RunOptions, RunRow, SweepDef, SweepResults, CALLS_PER_MIN};
use predicates::prelude::*;
use serde_yaml_ng::Value;

mod sweep_common;
use sweep_common::base;

fn def(grid: &[&str], replications: u32) -> SweepDef {
    sweep_common::def(grid, replications, 1)
}

/// Results with chosen metric values per point (a little noise across replications).
fn constructed(d: SweepDef, per_point: &[(f64, f64, f64)]) -> SweepResults {
    let idx = |name: &str| d.metrics.iter().position(|m| m == name).unwrap();
    let mut rows = Vec::new();
    for (p, (creation, error_rate, calls)) in per_point.iter().enumerate() {
        for r in 0..d.replications {
            let mut v = vec![0.0; d.metrics.len()];
            let noise = [-0.1, 0.0, 0.1][r as usize % 3];
            v[idx("eni_creation_p95_s")] = creation + noise;
            v[idx("eni_attachment_p95_s")] = 5.0 + noise;
            v[idx("full_reconcile_s")] = 2.0 * creation + noise;
            v[idx("error_rate_percent")] = error_rate + noise / 10.0;
            v[idx(CALLS_PER_MIN)] = calls + noise;
            rows.push(RunRow {
                point: p as u32,
                replication: r,
                seed: replication_seed(d.seed, r),
                outcome: Ok(v),
            });
        }
    }
    SweepResults {
        dir: std::path::PathBuf::from("constructed"),
        manifest: Manifest::new(&d, None),
        def: d,
        rows,
    }
}

fn leaf_keys(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                let k = k.as_str().unwrap();
                let key = if prefix.is_empty() {
                    k.to_string()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_keys(&key, child, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

#[test]
fn recommend_picks_the_known_best_point() {
    // Points: workers 1..5. 1 is too slow; 2 makes the most calls; 4 makes the fewest,
    // but 3 is within 2 % of it and has fewer workers; 5 throttles (error rate).
    let d = def(&["controller.maxConcurrentReconciles=1..5"], 3);
    let results = constructed(
        d,
        &[
            (45.0, 0.0, 50.0),
            (25.0, 0.0, 120.0),
            (20.0, 0.0, 80.0),
            (18.0, 0.0, 79.0),
            (10.0, 3.0, 60.0),
        ],
    );
    let rec = recommend::recommend(&results, Options::default());
    assert_eq!(rec.feasible, 3);
    let c = rec.chosen.as_ref().unwrap();
    assert_eq!(c.point, 2);
    assert_eq!(c.settings.controller.env.max_concurrent_reconciles, 3);
    // Without the tolerance the fewest calls win outright.
    let strict = recommend::recommend(
        &results,
        Options {
            tolerance: 0.0,
            ..Options::default()
        },
    );
    assert_eq!(strict.chosen.unwrap().point, 3);
    // The plan's advice is a named preset, judged at the same seeds.
    let plan = rec.presets.iter().find(|p| p.name == "plan").unwrap();
    assert!(plan.description.contains("15"));
    assert!(!plan.margins.is_empty());
}

#[test]
fn the_overlay_parses_and_holds_only_chart_keys() {
    let d = def(
        &[
            "controller.maxConcurrentReconciles=2,3",
            "controller.maxConcurrentENICleanup=1,4",
        ],
        3,
    );
    let results = constructed(
        d,
        &[
            (20.0, 0.0, 70.0),
            (20.0, 0.0, 70.0),
            (15.0, 0.0, 90.0),
            (15.0, 0.0, 90.0),
        ],
    );
    let rec = recommend::recommend(&results, Options::default());
    assert_eq!(rec.chosen.as_ref().unwrap().point, 0);
    // The cleanup pool changed nothing: it keeps the chart default (3).
    assert_eq!(rec.inert, ["controller.maxConcurrentENICleanup"]);
    let text = render::values_overlay(&rec).unwrap();
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut keys = Vec::new();
    leaf_keys("", &doc, &mut keys);
    keys.sort();
    let mut chart: Vec<String> = knobs::CHART_KEYS.iter().map(|s| s.to_string()).collect();
    chart.sort();
    assert_eq!(keys, chart, "{text}");
    assert_eq!(
        doc["controller"]["maxConcurrentReconciles"].as_u64(),
        Some(2)
    );
    assert_eq!(
        doc["controller"]["maxConcurrentENICleanup"].as_u64(),
        Some(3)
    );
    assert!(doc["resources"]["controller"]["limits"]["cpu"]
        .as_str()
        .unwrap()
        .ends_with('m'));
    // Each chart value carries its predicted margins.
    assert!(text.contains("# predicted ENI creation p95"), "{text}");
    assert!(text.contains("margin"), "{text}");
    // The overlay is a values file enisim itself (and so helm) reads.
    let mut s = base();
    s.apply_values_text(std::path::Path::new("values.yaml"), &text)
        .unwrap();
    assert_eq!(s.controller.env.max_concurrent_reconciles, 2);
    // Nothing needs an env var: no Deployment patch.
    assert!(render::deployment_patch(&rec).is_none());
}

#[test]
fn env_only_knobs_go_to_a_deployment_patch() {
    let d = def(
        &[
            "controller.maxConcurrentReconciles=2,3",
            "enisim.env.DETACHMENT_TIMEOUT=10s,30s",
        ],
        3,
    );
    let results = constructed(
        d,
        &[
            (40.0, 0.0, 70.0),
            (20.0, 0.0, 70.0),
            (20.0, 0.0, 90.0),
            (20.0, 0.0, 90.0),
        ],
    );
    let rec = recommend::recommend(&results, Options::default());
    assert_eq!(rec.chosen.as_ref().unwrap().point, 1);
    let overlay: Value = serde_yaml_ng::from_str(&render::values_overlay(&rec).unwrap()).unwrap();
    let mut keys = Vec::new();
    leaf_keys("", &overlay, &mut keys);
    assert!(
        keys.iter().all(|k| knobs::CHART_KEYS.contains(&k.as_str())),
        "{keys:?}"
    );
    let patch = render::deployment_patch(&rec).unwrap();
    assert!(patch.contains("NOT a Helm values file"));
    let doc: Value = serde_yaml_ng::from_str(&patch).unwrap();
    assert_eq!(doc["kind"].as_str(), Some("Deployment"));
    assert_eq!(doc["metadata"]["name"].as_str(), Some("eni-controller"));
    let c = &doc["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["name"].as_str(), Some("manager"));
    assert_eq!(c["env"][0]["name"].as_str(), Some("DETACHMENT_TIMEOUT"));
    assert_eq!(c["env"][0]["value"].as_str(), Some("30s"));
}

#[test]
fn when_nothing_qualifies_it_says_what_fails_first_and_what_would_help() {
    // Fifteen or more workers drain the DescribeNetworkInterfaces bucket: the SDK's and the
    // wrappers' retries absorb it (the plan's operation error rate stays 0), but a team that
    // opts into a throttling budget (ec2_throttled_percent < 1 %) gets no qualifying point.
    let mut d = def(&["controller.maxConcurrentReconciles=15,20"], 3);
    d.thresholds
        .metrics
        .get_mut("ec2_throttled_percent")
        .unwrap()
        .enabled = true;
    let dir = tempfile::tempdir().unwrap();
    sweep::execute(&d, dir.path(), &RunOptions::default(), &|_| {}).unwrap();
    let results = sweep::load_results(dir.path()).unwrap();
    let rec = recommend::recommend(&results, Options::default());
    assert!(rec.chosen.is_none());
    assert!(render::values_overlay(&rec).is_none());
    let diag = rec.diagnosis.as_ref().unwrap();
    assert_eq!(diag.breaches[0].metric, "ec2_throttled_percent");
    assert!(diag.breaches[0].high > 1.0);
    let report = render::report(&rec);
    assert!(
        report.contains("Fails first: **EC2 attempts throttled (AWS API)**"),
        "{report}"
    );
    assert!(report.contains("request a rate increase for"), "{report}");
    assert!(report.contains("plan"), "{report}");
}

#[test]
fn an_instance_type_without_room_is_diagnosed() {
    let b = {
        let mut s = base();
        s.apply_set("enisim.scenario.instanceType=m5.4xlarge")
            .unwrap();
        s
    };
    let g = Grid::parse(&["controller.maxConcurrentReconciles=5".into()], &b).unwrap();
    let d = SweepDef::new(
        "burst",
        b,
        Model::embedded(),
        Thresholds::embedded(),
        g,
        2,
        1,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    sweep::execute(&d, dir.path(), &RunOptions::default(), &|_| {}).unwrap();
    let rec = recommend::recommend(
        &sweep::load_results(dir.path()).unwrap(),
        Options::default(),
    );
    let report = render::report(&rec);
    assert!(rec.chosen.is_none());
    assert!(
        report.contains("interfaces on its default card (e.g. m5.16xlarge"),
        "{report}"
    );
}

#[test]
fn the_cli_writes_an_overlay_and_judges_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec");
    // Three nodes: five workers meet every threshold, three are too slow, ten throttle.
    enisim_cmd()
        .args(["recommend", "--quiet", "--replications", "3"])
        .args(["--set", "enisim.scenario.nodes=3"])
        .args(["--grid", "controller.maxConcurrentReconciles=3,5,10"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Recommended: controller.maxConcurrentReconciles=5",
        ))
        .stdout(predicate::str::contains("**plan**"));
    let values = std::fs::read_to_string(out.join("values.yaml")).unwrap();
    let _: Value = serde_yaml_ng::from_str(&values).unwrap();
    assert!(out.join("recommendation.md").exists());
    assert!(out.join("sweep").join("summary.parquet").exists());
    // From the sweep's directory, the same recommendation without running it again.
    let again = dir.path().join("again");
    enisim_cmd()
        .args(["recommend", "--quiet", "--from"])
        .arg(out.join("sweep"))
        .arg("--out")
        .arg(&again)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(again.join("values.yaml")).unwrap(),
        values
    );
    // A shard is not a sweep to recommend from.
    let shard = dir.path().join("shard");
    enisim_cmd()
        .args(["sweep", "--quiet", "--replications", "2", "--shard", "0/2"])
        .args(["--grid", "controller.maxConcurrentReconciles=6,9", "--out"])
        .arg(&shard)
        .assert()
        .success();
    enisim_cmd()
        .args(["recommend", "--from"])
        .arg(&shard)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("merge"));
}

fn enisim_cmd() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

#[test]
fn resources_are_sized_from_the_predicted_cpu_and_memory_and_cpu_breaks_ties() {
    // The model's CPU and memory metrics, as `RunMetrics` will name them.
    let mut d = def(&["controller.maxConcurrentReconciles=2,3"], 3);
    for m in [
        "cpu_p95_millicores",
        "cpu_peak_millicores",
        "memory_p95_mib",
        "memory_peak_mib",
    ] {
        d.metrics.push(m.to_string());
    }
    let idx = |name: &str| d.metrics.iter().position(|m| m == name).unwrap();
    let mut rows = Vec::new();
    for p in 0..2u32 {
        for r in 0..3u32 {
            let noise = [-1.0, 0.0, 1.0][r as usize];
            let mut v = vec![0.0; d.metrics.len()];
            v[idx("eni_creation_p95_s")] = 20.0 + noise;
            v[idx("eni_attachment_p95_s")] = 5.0;
            v[idx("full_reconcile_s")] = 40.0;
            v[idx(CALLS_PER_MIN)] = 70.0;
            // Point 1 (3 workers) uses less CPU than point 0: CPU decides before concurrency.
            v[idx("cpu_p95_millicores")] = if p == 0 { 120.0 } else { 80.0 } + noise;
            v[idx("cpu_peak_millicores")] = 150.0 + noise;
            v[idx("memory_p95_mib")] = 100.0 + noise;
            v[idx("memory_peak_mib")] = 120.0 + noise;
            rows.push(RunRow {
                point: p,
                replication: r,
                seed: replication_seed(d.seed, r),
                outcome: Ok(v),
            });
        }
    }
    let results = SweepResults {
        dir: "constructed".into(),
        manifest: Manifest::new(&d, None),
        def: d,
        rows,
    };
    let rec = recommend::recommend(&results, Options::default());
    let c = rec.chosen.as_ref().unwrap();
    assert_eq!(c.point, 1);
    assert!(c.resources.predicted);
    // p95 80 ± 2.48 (t₂ · s/√3) → upper 82.5 × 1.3 = 107.2 → 110m.
    assert_eq!(c.resources.sizes.requests_cpu_m, 110);
    let text = render::values_overlay(&rec).unwrap();
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(
        doc["resources"]["controller"]["requests"]["cpu"].as_str(),
        Some("110m")
    );
    assert!(text.contains("predicted p95 CPU 80m"), "{text}");
    assert!(text.contains("predicted peak memory 120Mi"), "{text}");
    // The costs are assumptions: each value says so, and none goes below the chart's
    // default (memory p95 101 × 1.3 → 144Mi is above 128Mi; the peak 121 × 1.3 → 192Mi
    // is below 512Mi and kept there; the peak CPU 151 × 1.3 → 200m is kept at 500m).
    assert!(!c.resources.calibrated);
    for what in ["cpu", "memory"] {
        for block in ["requests", "limits"] {
            let line = text
                .lines()
                .skip_while(|l| l.trim() != format!("{block}:"))
                .take_while(|l| !l.trim().starts_with(&format!("{what}:")))
                .last()
                .unwrap();
            assert!(
                line.contains("assumed per-operation costs"),
                "{block}.{what}: {text}"
            );
        }
    }
    assert_eq!(
        doc["resources"]["controller"]["limits"]["cpu"].as_str(),
        Some("500m")
    );
    assert_eq!(
        doc["resources"]["controller"]["limits"]["memory"].as_str(),
        Some("512Mi")
    );
    assert!(text.contains("kept at the chart default 500m"), "{text}");
    let report = render::report(&rec);
    assert!(
        report.contains("**assumed** per-operation costs"),
        "{report}"
    );
    // Calibrated costs may size below the defaults.
    let mut calibrated = results.clone();
    calibrated.def.base.controller.costs.calibrated = true;
    let rec = recommend::recommend(&calibrated, Options::default());
    let r = &rec.chosen.as_ref().unwrap().resources;
    assert!(r.calibrated);
    assert_eq!(r.sizes.limits_cpu_m, 200);
    assert_eq!(r.sizes.limits_memory_mi, 192);
    assert!(render::values_overlay(&rec)
        .unwrap()
        .contains("from calibrated per-operation costs"));
}

/// A small real sweep (3 nodes, so five workers qualify) written by `enisim sweep`.
fn small_sweep(dir: &std::path::Path, replications: &str) {
    enisim_cmd()
        .args(["sweep", "--quiet", "--replications", replications])
        .args(["--set", "enisim.scenario.nodes=3"])
        .args(["--grid", "controller.maxConcurrentReconciles=3,5"])
        .arg("--out")
        .arg(dir)
        .assert()
        .success();
}

#[test]
fn a_sweep_without_points_is_refused_not_a_panic() {
    use enisim::sweep::journal::Journal;
    use enisim::sweep::Axis;
    let dir = tempfile::tempdir().unwrap();
    let d = def(&["controller.maxConcurrentReconciles=2,3"], 2);
    // An axis with no values: 0 points (what a wrapped point count made before).
    let empty = SweepDef {
        grid: Grid {
            axes: vec![Axis {
                key: "controller.maxConcurrentReconciles".into(),
                values: vec![],
            }],
        },
        ..d
    };
    std::fs::write(
        dir.path().join("sweep.json"),
        Manifest::new(&empty, None).to_json(),
    )
    .unwrap();
    drop(Journal::create(&dir.path().join("journal.csv"), &empty.metrics).unwrap());
    let out = dir.path().join("rec");
    enisim_cmd()
        .args(["recommend", "--from"])
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has no values"))
        .stderr(predicate::str::contains("panicked").not());
    assert!(!out.exists());
    // The library does not panic on it either.
    let results = SweepResults {
        dir: "constructed".into(),
        manifest: Manifest::new(&empty, None),
        def: empty,
        rows: vec![],
    };
    let rec = recommend::recommend(&results, Options::default());
    assert!(rec.chosen.is_none() && rec.diagnosis.is_none());
}

#[test]
fn recommend_refuses_fewer_than_two_replications() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec");
    enisim_cmd()
        .args(["recommend", "--quiet", "--replications", "1"])
        .args(["--set", "enisim.scenario.nodes=3"])
        .args(["--grid", "controller.maxConcurrentReconciles=5", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("at least 2"))
        .stderr(predicate::str::contains("no confidence interval"));
    assert!(!out.exists(), "nothing written");
    // An --out that cannot be written is found before any work (exit 2, not 1 after it).
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    enisim_cmd()
        .args(["recommend", "--quiet", "--replications", "2"])
        .args(["--set", "enisim.scenario.nodes=3"])
        .args(["--grid", "controller.maxConcurrentReconciles=5", "--out"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot write there"));
    let one = dir.path().join("one");
    small_sweep(&one, "1");
    enisim_cmd()
        .args(["recommend", "--from"])
        .arg(&one)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("1 replication per point"));
    assert!(!out.exists(), "nothing written");
}

#[test]
fn outputs_are_replaced_as_a_set() {
    let dir = tempfile::tempdir().unwrap();
    let sweep_dir = dir.path().join("sweep");
    small_sweep(&sweep_dir, "2");
    let out = dir.path().join("rec");
    enisim_cmd()
        .args(["recommend", "--quiet", "--from"])
        .arg(&sweep_dir)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert!(out.join("values.yaml").exists());
    // A patch left by some earlier recommendation.
    std::fs::write(out.join("deployment-patch.yaml"), "stale").unwrap();
    // The same runs judged against a creation threshold no point meets.
    let strict = dir.path().join("strict.yaml");
    std::fs::write(
        &strict,
        "metrics:\n  eni_creation_p95_s:\n    label: ENI creation p95\n    unit: s\n    acceptable: 0.001\n",
    )
    .unwrap();
    enisim_cmd()
        .args(["recommend", "--quiet", "--from"])
        .arg(&sweep_dir)
        .arg("--thresholds")
        .arg(&strict)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("No point meets every threshold"))
        .stdout(predicate::str::contains(
            "removed values.yaml, deployment-patch.yaml",
        ));
    assert!(!out.join("values.yaml").exists(), "an old overlay was left");
    assert!(!out.join("deployment-patch.yaml").exists());
    let report = std::fs::read_to_string(out.join("recommendation.md")).unwrap();
    assert!(report.contains("No point meets"), "{report}");
    // No temporary file is left beside them.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        ["recommendation.json", "recommendation.md"],
        "{names:?}"
    );
}

#[test]
fn another_definition_in_the_default_output_suggests_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec");
    let recommend = |grid: &str| {
        let mut c = enisim_cmd();
        c.args(["recommend", "--quiet", "--replications", "2"])
            .args(["--set", "enisim.scenario.nodes=3", "--grid", grid, "--out"])
            .arg(&out);
        c
    };
    recommend("controller.maxConcurrentReconciles=5")
        .assert()
        .success();
    recommend("controller.maxConcurrentReconciles=3,5")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("add --overwrite"))
        .stderr(predicate::str::contains("another --out"));
    // The first recommendation is untouched.
    assert!(std::fs::read_to_string(out.join("recommendation.md"))
        .unwrap()
        .contains("1 grid points"));
    recommend("controller.maxConcurrentReconciles=3,5")
        .arg("--overwrite")
        .assert()
        .success();
    assert!(std::fs::read_to_string(out.join("recommendation.md"))
        .unwrap()
        .contains("2 grid points"));
}

#[test]
fn from_refuses_flags_that_would_change_the_answer_and_warns_about_redundant_ones() {
    let dir = tempfile::tempdir().unwrap();
    let sweep_dir = dir.path().join("sweep");
    small_sweep(&sweep_dir, "2");
    let out = dir.path().join("rec");
    let ec2 = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/aws/ec2-default.yaml"),
    )
    .unwrap();
    let same_ec2 = dir.path().join("same-ec2.yaml");
    std::fs::write(&same_ec2, &ec2).unwrap();
    let other_ec2 = dir.path().join("other-ec2.yaml");
    let changed = ec2.replacen(
        "CreateNetworkInterface: { max: 100, refill_per_s: 5 }",
        "CreateNetworkInterface: { max: 100, refill_per_s: 50 }",
        1,
    );
    assert_ne!(changed, ec2);
    std::fs::write(&other_ec2, changed).unwrap();
    let values = dir.path().join("values.yaml");
    std::fs::write(&values, "controller:\n  maxConcurrentENICleanup: 8\n").unwrap();
    let same_profile = dir.path().join("controller.yaml");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/controller/v1.3.8.yaml"),
        &same_profile,
    )
    .unwrap();
    let refused: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--values".into(), values.display().to_string()],
            "controller.maxConcurrentENICleanup would be 8, the sweep has 3",
        ),
        (
            vec!["--seed".into(), "2".into()],
            "--seed 2: the sweep ran with seed 1",
        ),
        (
            vec!["--replications".into(), "3".into()],
            "--replications 3: the sweep has 2",
        ),
        (vec!["drain".into()], "the scenario drain"),
        (
            vec!["--set".into(), "enisim.scenario.nodes=4".into()],
            "enisim.scenario.nodes would be 4, the sweep has 3",
        ),
        (
            vec![
                "--set".into(),
                "controller.maxConcurrentENICleanup=8".into(),
            ],
            "controller.maxConcurrentENICleanup would be 8, the sweep has 3",
        ),
        (
            vec![
                "--grid".into(),
                "controller.maxConcurrentReconciles=5".into(),
            ],
            "the sweep's grid is controller.maxConcurrentReconciles=3,5",
        ),
        (
            vec!["--ec2-profile".into(), other_ec2.display().to_string()],
            "differs from the EC2 profile the sweep ran with",
        ),
    ];
    for (args, needle) in refused {
        enisim_cmd()
            .args(["recommend", "--quiet"])
            .args(&args)
            .arg("--from")
            .arg(&sweep_dir)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle))
            .stderr(predicate::str::contains("would change it"));
        assert!(!out.exists(), "{args:?} wrote output");
    }
    // Repeating the sweep's own definition only warns.
    enisim_cmd()
        .args([
            "recommend",
            "--quiet",
            "burst",
            "--seed",
            "1",
            "--replications",
            "2",
        ])
        .args(["--set", "enisim.scenario.nodes=3", "--ec2-profile"])
        .arg(&same_ec2)
        .arg("--controller-profile")
        .arg(&same_profile)
        .args(["--grid", "controller.maxConcurrentReconciles=3,5", "--from"])
        .arg(&sweep_dir)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "--seed repeats the sweep's own definition",
        ))
        .stderr(predicate::str::contains("--ec2-profile repeats"))
        .stderr(predicate::str::contains("--controller-profile"))
        .stderr(predicate::str::contains("--grid repeats"))
        .stderr(predicate::str::contains(
            "--set enisim.scenario.nodes=3 repeats",
        ));
}

#[test]
fn the_report_the_overlay_and_the_patch_agree() {
    // The cleanup pool and DETACHMENT_TIMEOUT change nothing (identical rows); workers do.
    let d = def(
        &[
            "controller.maxConcurrentReconciles=2,3",
            "controller.maxConcurrentENICleanup=1,4",
            "enisim.env.DETACHMENT_TIMEOUT=10s,30s",
        ],
        3,
    );
    let per_point: Vec<(f64, f64, f64)> = (0..8)
        .map(|p| {
            if p < 4 {
                (20.0, 0.0, 70.0)
            } else {
                (15.0, 0.0, 90.0)
            }
        })
        .collect();
    let rec = recommend::recommend(&constructed(d, &per_point), Options::default());
    let c = rec.chosen.as_ref().unwrap();
    assert_eq!(c.point, 0);
    assert_eq!(
        rec.inert,
        [
            "controller.maxConcurrentENICleanup",
            "enisim.env.DETACHMENT_TIMEOUT"
        ]
    );
    let report = render::report(&rec);
    let headline = report
        .lines()
        .find(|l| l.starts_with("**Recommended:"))
        .unwrap();
    // One source of truth: the headline says what values.yaml sets (the base value 3 of
    // the inert cleanup pool, not the grid's first value 1).
    assert!(
        headline.contains("controller.maxConcurrentENICleanup=3 (no effect; the base value)"),
        "{headline}"
    );
    assert!(
        !headline.contains("maxConcurrentENICleanup=1"),
        "{headline}"
    );
    let base_timeout = knobs::value_of(&base(), "enisim.env.DETACHMENT_TIMEOUT").unwrap();
    assert!(
        headline.contains(&format!("enisim.env.DETACHMENT_TIMEOUT={base_timeout}")),
        "{headline}"
    );
    let values = render::values_overlay(&rec).unwrap();
    let doc: Value = serde_yaml_ng::from_str(&values).unwrap();
    assert_eq!(
        doc["controller"]["maxConcurrentENICleanup"].as_u64(),
        Some(3)
    );
    assert!(!values.contains("maxConcurrentENICleanup=1"), "{values}");
    // A threshold that is off (ec2_throttled_percent by default) is not a margin at all,
    // let alone a "critical" one beside a point that meets every threshold.
    assert!(c
        .margins
        .iter()
        .all(|m| m.metric != "ec2_throttled_percent"));
    let choice = report.split("Presets at the same seeds").next().unwrap();
    assert!(
        !values.contains("critical") && !choice.contains("critical"),
        "{report}"
    );
    // An ineffective knob keeps its base value everywhere: no patch sets it.
    assert!(
        render::deployment_patch(&rec).is_none(),
        "{:?}",
        render::deployment_patch(&rec)
    );
    assert!(
        report.contains(&format!(
            "enisim.env.DETACHMENT_TIMEOUT made no difference in this scenario (identical runs for every value): kept at the base value {base_timeout}"
        )),
        "{report}"
    );
}

#[test]
fn the_header_describes_the_scenario_actually_swept() {
    // Nodes swept: the header lists them, the overlay names the chosen point's.
    let d = def(
        &[
            "enisim.scenario.nodes=3,10",
            "controller.maxConcurrentReconciles=4,5",
        ],
        3,
    );
    let rec = recommend::recommend(
        &constructed(
            d,
            &[
                (20.0, 0.0, 60.0),
                (20.0, 0.0, 61.0),
                (40.0, 0.0, 50.0),
                (35.0, 0.0, 50.0),
            ],
        ),
        Options::default(),
    );
    assert_eq!(rec.chosen.as_ref().unwrap().point, 0);
    let report = render::report(&rec);
    let title = report.lines().next().unwrap();
    assert!(title.contains("burst: {3|10} nodes × 10 ENIs"), "{title}");
    assert!(title.contains("(swept: enisim.scenario.nodes)"), "{title}");
    let values = render::values_overlay(&rec).unwrap();
    assert!(
        values.contains("# Scenario burst: 3 nodes × 10 ENIs"),
        "{values}"
    );
    // Set on the command line: named in the header.
    let mut b = base();
    b.apply_set("enisim.scenario.nodes=3").unwrap();
    let g = Grid::parse(&["controller.maxConcurrentReconciles=4,5".into()], &b).unwrap();
    let d = SweepDef::new(
        "burst",
        b,
        Model::embedded(),
        Thresholds::embedded(),
        g,
        3,
        1,
    )
    .unwrap();
    let rec = recommend::recommend(
        &constructed(d, &[(20.0, 0.0, 60.0), (20.0, 0.0, 61.0)]),
        Options::default(),
    );
    let report = render::report(&rec);
    assert!(
        report
            .lines()
            .next()
            .unwrap()
            .contains("burst with enisim.scenario.nodes=3: 3 nodes × 10 ENIs"),
        "{report}"
    );
    assert!(!report.contains("10 nodes"), "{report}");
}
