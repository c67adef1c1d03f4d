//! Sweeps: a grid point equals `enisim run` with the same settings and seed; common random
//! numbers lower the variance of paired differences; shards merge into the single-machine
//! table byte for byte; an interrupted sweep resumes to the same table; bad input exits 2.

use assert_cmd::Command;
use enisim::engine::rng;
use enisim::metrics::summary::metric_values;
use enisim::scenario::values::parse_set_value;
use enisim::scenario::{simulate, Model, Settings};
use enisim::sweep::definition::{replication_seed, run_metric_values};
use enisim::sweep::runner::run_one;
use enisim::sweep::{self, RunOptions, Shard, CALLS_PER_MIN};
use predicates::prelude::*;
use std::path::Path;

mod sweep_common;
use sweep_common::{base, def};

fn enisim() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

fn quiet(_: sweep::Progress) {}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

const FILES: [&str; 6] = [
    "sweep.json",
    "journal.csv",
    "runs.csv",
    "runs.parquet",
    "summary.csv",
    "summary.parquet",
];

fn assert_same_files(a: &Path, b: &Path) {
    for f in FILES {
        let x = std::fs::read(a.join(f)).unwrap_or_else(|e| panic!("{}: {e}", a.join(f).display()));
        let y = std::fs::read(b.join(f)).unwrap_or_else(|e| panic!("{}: {e}", b.join(f).display()));
        assert!(
            x == y,
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

const TINY: [&str; 2] = [
    "controller.maxConcurrentReconciles=3,8",
    "enisim.scenario.layout=subnet-per-nodeeni,nodeeni-per-node",
];

#[test]
fn a_grid_point_equals_simulating_its_settings_with_the_run_seeds() {
    let d = def(&TINY, 3, 11);
    let dir = tempfile::tempdir().unwrap();
    let out = sweep::execute(&d, dir.path(), &RunOptions::default(), &quiet).unwrap();
    assert!(out.complete && out.failures.is_empty());
    let results = sweep::load_results(dir.path()).unwrap();
    assert_eq!(results.rows.len(), 4 * 3);
    for row in &results.rows {
        let mut s = base();
        for (k, v) in d.grid.assignment(row.point as usize) {
            s.apply(k, &parse_set_value(v)).unwrap();
        }
        // The seed `enisim run` gives replication r (cli::run::replicate).
        let seed = rng::stream_seed(11, &format!("replication-{}", row.replication));
        assert_eq!(row.seed, seed);
        let rec = simulate(&s, &Model::embedded(), seed).unwrap();
        let expected = run_metric_values(&rec.metrics, &d.metrics);
        let got = row.outcome.as_ref().unwrap();
        for ((name, x), y) in d.metrics.iter().zip(got).zip(&expected) {
            assert!(
                x.to_bits() == y.to_bits(),
                "point {} replication {} {name}: {x} vs {y}",
                row.point,
                row.replication
            );
        }
    }
}

#[test]
fn a_grid_point_equals_enisim_run_point_for_point() {
    let dir = tempfile::tempdir().unwrap();
    let sweep_dir = dir.path().join("sweep");
    enisim()
        .args(["sweep", "--quiet", "--replications", "3", "--seed", "5"])
        .args(["--grid", "controller.maxConcurrentReconciles=2,9", "--out"])
        .arg(&sweep_dir)
        .assert()
        .success();
    let runs = std::fs::read_to_string(sweep_dir.join("runs.csv")).unwrap();
    let mut lines = runs.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for (point, workers) in [(0, "2"), (1, "9")] {
        let run_dir = dir.path().join(format!("run-{workers}"));
        enisim()
            .args([
                "run",
                "--replications",
                "3",
                "--seed",
                "5",
                "--format",
                "json",
            ])
            .args([
                "--set",
                &format!("controller.maxConcurrentReconciles={workers}"),
            ])
            .arg("--out")
            .arg(&run_dir)
            .assert()
            .success();
        // Read as YAML (a superset of JSON) for its correctly rounded float parsing:
        // serde_json's default parser may be one ULP off.
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(run_dir.join("summary.json")).unwrap(),
        )
        .unwrap();
        let reps = doc["replications"].as_sequence().unwrap();
        assert_eq!(reps.len(), 3);
        for (r, rep) in reps.iter().enumerate() {
            let row = &rows[point * 3 + r];
            assert_eq!(row[col("point")], point.to_string());
            assert_eq!(row[col("replication")], r.to_string());
            assert_eq!(row[col("seed")], rep["seed"].as_u64().unwrap().to_string());
            let metrics = rep["metrics"].as_mapping().unwrap();
            assert!(metrics.len() > 20);
            for (name, v) in metrics {
                let name = name.as_str().unwrap();
                let want = match v {
                    serde_yaml_ng::Value::Bool(b) => *b as u8 as f64,
                    v => v.as_f64().unwrap(),
                };
                let got: f64 = row[col(name)].parse().unwrap();
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "point {point} rep {r} {name}"
                );
            }
        }
    }
}

#[test]
fn common_random_numbers_lower_the_variance_of_paired_differences() {
    // 4 against 5 reconcile workers, 30 replications. With the same seeds both points see
    // the same EC2 (latencies, attach delays, node orders), so the paired differences keep
    // mostly what the setting changes; with independent seeds they add both points' noise.
    let d = def(&[], 30, 3);
    let names = &d.metrics;
    let settings = |workers: i64| {
        let mut s = base();
        s.apply(
            "controller.maxConcurrentReconciles",
            &serde_yaml_ng::Value::Number(workers.into()),
        )
        .unwrap();
        s
    };
    let (a, b) = (settings(4), settings(5));
    let model = Model::embedded();
    let runs = |s: &Settings, seed: u64| -> Vec<Vec<f64>> {
        (0..30)
            .map(|r| run_one(s, &model, replication_seed(seed, r), names).unwrap())
            .collect()
    };
    let (ra, rb, rb_independent) = (runs(&a, 3), runs(&b, 3), runs(&b, 1003));
    let var = |xs: &[f64]| {
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64
    };
    for metric in ["full_reconcile_s", "eni_creation_p95_s", CALLS_PER_MIN] {
        let m = names.iter().position(|n| n == metric).unwrap();
        let crn: Vec<f64> = (0..30).map(|r| rb[r][m] - ra[r][m]).collect();
        let independent: Vec<f64> = (0..30).map(|r| rb_independent[r][m] - ra[r][m]).collect();
        let ratio = var(&crn) / var(&independent);
        eprintln!(
            "{metric}: variance of paired differences, CRN {:.4}, independent seeds {:.4}, ratio {ratio:.3}",
            var(&crn),
            var(&independent)
        );
        assert!(ratio < 1.0, "{metric}: ratio {ratio}");
    }
    let m = names
        .iter()
        .position(|n| n == "eni_creation_p95_s")
        .unwrap();
    let value = |s: &Settings, seed: u64| run_one(s, &model, seed, names).unwrap()[m];
    // A knob the burst never exercises (no deletions): with CRN the difference is exactly 0.
    let mut c = a.clone();
    c.apply(
        "controller.maxConcurrentENICleanup",
        &serde_yaml_ng::Value::Number(8.into()),
    )
    .unwrap();
    for r in 0..3 {
        let seed = replication_seed(3, r);
        assert_eq!(value(&a, seed), value(&c, seed));
    }
}

#[test]
fn outputs_do_not_depend_on_the_thread_count() {
    let d = def(&TINY, 2, 4);
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    pool(1)
        .install(|| sweep::execute(&d, one.path(), &RunOptions::default(), &quiet))
        .unwrap();
    pool(2)
        .install(|| sweep::execute(&d, two.path(), &RunOptions::default(), &quiet))
        .unwrap();
    assert_same_files(one.path(), two.path());
}

#[test]
fn shards_merge_into_the_single_machine_table_byte_for_byte() {
    let d = def(
        &[
            "controller.maxConcurrentReconciles=2..6",
            "controller.maxConcurrentENICleanup=1,3",
        ],
        2,
        9,
    );
    let root = tempfile::tempdir().unwrap();
    let single = root.path().join("single");
    sweep::execute(&d, &single, &RunOptions::default(), &quiet).unwrap();
    let mut shard_dirs = Vec::new();
    for k in [2, 0, 1] {
        let dir = root.path().join(format!("shard-{k}"));
        let opts = RunOptions {
            shard: Some(Shard { index: k, count: 3 }),
            ..Default::default()
        };
        let out = sweep::execute(&d, &dir, &opts, &quiet).unwrap();
        assert!(out.complete);
        assert_eq!(
            out.total_runs,
            (0..10).filter(|p| p % 3 == k as usize).count() * 2
        );
        shard_dirs.push(dir);
    }
    let merged = root.path().join("merged");
    let inputs: Vec<&Path> = shard_dirs.iter().map(|p| p.as_path()).collect();
    sweep::merge(&inputs, &merged, false).unwrap();
    assert_same_files(&single, &merged);

    // A missing shard, a shard given twice, and a shard of another sweep are refused.
    let e = sweep::merge(&inputs[..2], &root.path().join("m2"), false).unwrap_err();
    assert!(e.is_input() && e.to_string().contains("missing"), "{e}");
    let e = sweep::merge(
        &[inputs[0], inputs[0], inputs[1]],
        &root.path().join("m3"),
        false,
    )
    .unwrap_err();
    assert!(e.to_string().contains("given twice"), "{e}");
    let other = def(&["controller.maxConcurrentReconciles=2..6"], 2, 9);
    let odir = root.path().join("other-0");
    sweep::execute(
        &other,
        &odir,
        &RunOptions {
            shard: Some(Shard { index: 0, count: 3 }),
            ..Default::default()
        },
        &quiet,
    )
    .unwrap();
    let e = sweep::merge(
        &[&odir, inputs[1], inputs[2]],
        &root.path().join("m4"),
        false,
    )
    .unwrap_err();
    assert!(
        e.is_input() && e.to_string().contains("different sweeps"),
        "{e}"
    );
}

#[test]
fn an_interrupted_sweep_resumes_to_the_same_table() {
    let d = def(&TINY, 3, 21);
    let root = tempfile::tempdir().unwrap();
    let whole = root.path().join("whole");
    sweep::execute(&d, &whole, &RunOptions::default(), &quiet).unwrap();

    let cut = root.path().join("cut");
    let first = sweep::execute(
        &d,
        &cut,
        &RunOptions {
            stop_after: Some(5),
            ..Default::default()
        },
        &quiet,
    )
    .unwrap();
    assert!(!first.complete);
    assert!(!cut.join("summary.csv").exists());
    // The interruption also cut a line short.
    let journal = cut.join("journal.csv");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(text.lines().count(), 1 + 5);
    text.push_str("3,1,123,ok,,1.5,2");
    std::fs::write(&journal, text).unwrap();

    // Without --resume the directory is not touched.
    let e = sweep::execute(&d, &cut, &RunOptions::default(), &quiet).unwrap_err();
    assert!(e.is_input() && e.to_string().contains("--resume"), "{e}");
    // Another definition cannot resume it.
    let other = def(&TINY, 4, 21);
    let e = sweep::execute(
        &other,
        &cut,
        &RunOptions {
            resume: true,
            ..Default::default()
        },
        &quiet,
    )
    .unwrap_err();
    assert!(e.to_string().contains("definition differs"), "{e}");

    let resumed = sweep::execute(
        &d,
        &cut,
        &RunOptions {
            resume: true,
            ..Default::default()
        },
        &quiet,
    )
    .unwrap();
    assert!(resumed.complete);
    assert_eq!(resumed.resumed_runs, 5);
    assert_eq!(resumed.new_runs, 12 - 5);
    assert_same_files(&whole, &cut);
}

#[test]
fn a_killed_sweep_process_resumes_to_the_same_table() {
    let root = tempfile::tempdir().unwrap();
    let args = [
        "sweep",
        "--quiet",
        "--threads",
        "1",
        "--replications",
        "6",
        "--grid",
        "controller.maxConcurrentReconciles=1..4",
        "--out",
    ];
    let whole = root.path().join("whole");
    enisim().args(args).arg(&whole).assert().success();

    let cut = root.path().join("cut");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("enisim"))
        .args(args)
        .arg(&cut)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journal = cut.join("journal.csv");
    let start = std::time::Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 4 || start.elapsed().as_secs() > 60 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let done = std::fs::read_to_string(&journal).unwrap().lines().count() - 1;
    eprintln!("killed after {done} of 24 runs ({status})");
    enisim()
        .args(args)
        .arg(&cut)
        .arg("--resume")
        .assert()
        .success();
    assert_same_files(&whole, &cut);
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--grid", "controller.maxConcurrentReconciles"],
            "expected KEY=VALUES",
        ),
        (
            &["--grid", "controller.maxConcurentReconciles=1..3"],
            "did you mean \"controller.maxConcurrentReconciles\"",
        ),
        (
            &["--grid", "controller.maxConcurrentReconciles=9..3"],
            "is empty",
        ),
        (
            &["--grid", "controller.maxConcurrentReconciles=0,1"],
            "must be ≥ 1",
        ),
        (&["--shard", "4/4"], "K must be below N"),
        (
            &["--grid", "enisim.scenario.instanceType=m5.16xlarge,m5.huge"],
            "unknown instance type",
        ),
    ];
    for (args, needle) in cases {
        enisim()
            .arg("sweep")
            .args(args)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
        assert!(!out.exists(), "{args:?} wrote output");
    }
}

#[test]
fn merging_shards_of_different_sweeps_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for (d, reps) in [(&a, "2"), (&b, "3")] {
        enisim()
            .args(["sweep", "--quiet", "--replications", reps, "--shard"])
            .arg(if d == &a { "0/2" } else { "1/2" })
            .args(["--grid", "controller.maxConcurrentReconciles=2,3", "--out"])
            .arg(d)
            .assert()
            .success();
    }
    enisim()
        .args(["sweep", "merge"])
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(dir.path().join("m"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("different sweeps"));
    assert!(!dir.path().join("m").exists());
}

#[test]
fn failed_runs_are_kept_with_their_error() {
    use enisim::sweep::journal::RunRow;
    use enisim::sweep::table::{summarise_points, summary_table, Col};
    let d = def(&["controller.maxConcurrentReconciles=2,3"], 2, 1);
    let n = d.metrics.len();
    let rows = vec![
        RunRow {
            point: 0,
            replication: 0,
            seed: 1,
            outcome: Ok(vec![1.0; n]),
        },
        RunRow {
            point: 0,
            replication: 1,
            seed: 2,
            outcome: Err("the model panicked: boom".into()),
        },
    ];
    let s = summarise_points(&d, &rows);
    assert_eq!((s[0].ok, s[0].failed), (1, 1));
    assert!(!s[0].meets);
    let t = summary_table(&d, &s);
    assert_eq!(
        t.column("error"),
        Some(&Col::Str(vec![Some("the model panicked: boom".into())]))
    );
    let csv = String::from_utf8(t.to_csv()).unwrap();
    assert!(csv.contains("the model panicked: boom"));
    let m = metric_values(&Default::default());
    assert!(m.contains_key("eni_creation_p95_s"));
}

#[test]
fn grids_past_their_bounds_exit_2_at_once_naming_the_flag_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let axis = |k: &str| format!("{k}=1..65536");
    // Four axes of 2¹⁶ values: 2⁶⁴ points, which overflows a 64-bit count.
    let huge: Vec<String> = [
        "controller.maxConcurrentReconciles",
        "controller.maxConcurrentENICleanup",
        "enisim.scenario.nodes",
        "enisim.scenario.enisPerNode",
    ]
    .iter()
    .flat_map(|k| ["--grid".to_string(), axis(k)])
    .collect();
    let cases: Vec<(Vec<String>, &str)> = vec![
        // Past u32 (0 workers once narrowed) and past the knob's bound.
        (
            vec![
                "--grid".into(),
                "controller.maxConcurrentReconciles=4294967296".into(),
            ],
            "controller.maxConcurrentReconciles=4294967296",
        ),
        (
            vec![
                "--grid".into(),
                "controller.maxConcurrentENICleanup=1,4294967296".into(),
            ],
            "controller.maxConcurrentENICleanup=4294967296: at most",
        ),
        // A range whose length overflows i64.
        (
            vec![
                "--grid".into(),
                "controller.maxConcurrentReconciles=-9223372036854775808..9223372036854775807"
                    .into(),
            ],
            "too many",
        ),
        (
            vec![
                "--grid".into(),
                "controller.maxConcurrentReconciles=1..999999999999999999999999999999999999999999"
                    .into(),
            ],
            "out of range",
        ),
        (huge, "a grid has at most 1000000 points"),
        (
            vec!["--grid".into(), "enisim.scenario.replications=2,3".into()],
            "use --replications",
        ),
        (
            vec!["--threads".into(), "100000".into()],
            "--threads 100000",
        ),
        (
            vec!["--replications".into(), "1000000".into()],
            "--replications 1000000",
        ),
        // 180 points × 100 000 replications: past the cap on runs.
        (
            vec!["--replications".into(), "100000".into()],
            "runs is too many",
        ),
    ];
    for (args, needle) in cases {
        enisim()
            .args(["sweep", "--quiet"])
            .args(&args)
            .arg("--out")
            .arg(&out)
            .timeout(std::time::Duration::from_secs(60))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
        assert!(!out.exists(), "{args:?} wrote output");
    }
}

#[test]
fn merge_refuses_an_out_that_is_one_of_its_shards() {
    let dir = tempfile::tempdir().unwrap();
    let shard = |k: usize| dir.path().join(format!("shard-{k}"));
    for k in 0..2 {
        enisim()
            .args(["sweep", "--quiet", "--replications", "2", "--shard"])
            .arg(format!("{k}/2"))
            .args(["--grid", "controller.maxConcurrentReconciles=2,3", "--out"])
            .arg(shard(k))
            .assert()
            .success();
    }
    let before = std::fs::read(shard(0).join("sweep.json")).unwrap();
    // The same directory spelt another way: compared as canonical paths.
    let alias = dir
        .path()
        .join(".")
        .join("shard-1")
        .join("..")
        .join("shard-0");
    for out in [shard(0), alias] {
        enisim()
            .args(["sweep", "merge"])
            .arg(shard(0))
            .arg(shard(1))
            .arg("--out")
            .arg(&out)
            .arg("--overwrite")
            .assert()
            .code(2)
            .stderr(predicate::str::contains("would destroy that shard"));
    }
    assert_eq!(std::fs::read(shard(0).join("sweep.json")).unwrap(), before);
    // The shards are intact: a merge elsewhere still works.
    enisim()
        .args(["sweep", "merge"])
        .arg(shard(0))
        .arg(shard(1))
        .arg("-o")
        .arg(dir.path().join("merged"))
        .assert()
        .success();
    // Nothing but the sweep's files: no temporary file left beside them.
    for d in [shard(0), dir.path().join("merged")] {
        let mut names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut want: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
        want.sort();
        assert_eq!(names, want, "{}", d.display());
    }
}

#[test]
fn progress_goes_to_stderr_as_plain_lines_when_it_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = enisim()
        .args(["sweep", "--replications", "2"])
        .args(["--grid", "controller.maxConcurrentReconciles=3,5"])
        .arg("--output")
        .arg(dir.path().join("o"))
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("sweep: 4/4 runs (100 %)"), "{err}");
    // No bar: no carriage returns or escape sequences.
    assert!(!err.contains('\r') && !err.contains('\u{1b}'), "{err:?}");
    assert!(!String::from_utf8(out.stdout).unwrap().contains('\u{1b}'));
}

#[test]
fn one_replication_per_point_is_judged_with_a_visible_warning() {
    let dir = tempfile::tempdir().unwrap();
    enisim()
        .args(["sweep", "--quiet", "--replications", "1"])
        .args(["--grid", "controller.maxConcurrentReconciles=5", "-o"])
        .arg(dir.path().join("o"))
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: 1 replication per point has no confidence interval",
        ));
}
