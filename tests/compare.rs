//! `enisim compare A B`: a run compared with itself is no regression; a deliberately slower
//! profile is one (and the faster compared the other way an improvement); sweeps compare on
//! their shared points; the Welch interval matches a hand computation; bad input exits 2.

use assert_cmd::Command;
use enisim::report::compare::welch_interval;
use predicates::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn enisim() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

/// `enisim run` into `dir/name` with the given extra arguments.
fn run_out(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    enisim()
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    out
}

/// `enisim compare --format json` with the given extra arguments: the document and the
/// exit code.
fn compare_json(a: &Path, b: &Path, args: &[&str]) -> (Value, i32) {
    let out = enisim()
        .arg("compare")
        .arg(a)
        .arg(b)
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "compare printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (doc, out.status.code().unwrap())
}

/// The verdict (`change`) of `metric` in the first compared point.
fn change<'a>(doc: &'a Value, metric: &str) -> &'a str {
    doc["points"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} in {doc}"))["change"]
        .as_str()
        .unwrap()
}

/// A copy of the embedded EC2 profile with CreateNetworkInterface's service time
/// tripled (median 150 → 450 ms, p99 2 → 6 s).
fn slow_ec2_profile(dir: &Path) -> PathBuf {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/aws/ec2-default.yaml"),
    )
    .unwrap();
    let from = "CreateNetworkInterface: { lognormal: { median_ms: 150, p99_ms: 2000 } }";
    assert!(
        base.contains(from),
        "the default profile changed: update this test"
    );
    let slow = base.replace(
        from,
        "CreateNetworkInterface: { lognormal: { median_ms: 450, p99_ms: 6000 } }",
    );
    let path = dir.join("ec2-slow-create.yaml");
    std::fs::write(&path, slow).unwrap();
    path
}

#[test]
fn a_run_compared_with_itself_is_no_regression() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_out(dir.path(), "a", &["--replications", "3"]);
    enisim()
        .arg("compare")
        .arg(&a)
        .arg(&a)
        .arg("--fail-on-regression")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ENI creation p95"))
        .stdout(predicate::str::contains("EC2 calls"))
        .stdout(predicate::str::contains("0 regressions, 0 improvements"));
    let (doc, code) = compare_json(&a, &a, &["--fail-on-regression"]);
    assert_eq!(code, 0);
    let metrics = doc["points"][0]["metrics"].as_array().unwrap();
    // The judged threshold metrics in their table order, then EC2 calls.
    let names: Vec<&str> = metrics
        .iter()
        .map(|m| m["metric"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "eni_creation_p95_s");
    assert!(names.contains(&"error_rate_percent"));
    assert_eq!(*names.last().unwrap(), "ec2_calls");
    for m in metrics {
        assert_eq!(m["change"], "no_significant_change", "{m}");
        assert_eq!(m["difference"], 0.0);
    }
}

#[test]
fn a_slower_ec2_profile_is_a_regression_and_the_faster_an_improvement() {
    let dir = tempfile::tempdir().unwrap();
    let slow = slow_ec2_profile(dir.path());
    let base = run_out(dir.path(), "base", &["--replications", "10"]);
    let slower = run_out(
        dir.path(),
        "slow",
        &[
            "--replications",
            "10",
            "--ec2-profile",
            slow.to_str().unwrap(),
        ],
    );
    let (doc, code) = compare_json(&base, &slower, &["--fail-on-regression"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(change(&doc, "eni_creation_p95_s"), "regression");
    assert!(doc["regressions"].as_u64().unwrap() >= 1);
    enisim()
        .arg("compare")
        .arg(&base)
        .arg(&slower)
        .arg("--fail-on-regression")
        .assert()
        .code(1)
        .stdout(
            predicate::str::is_match(
                r"ENI creation p95.*\+\d+\.\d\d \[\+\d+\.\d\d, \+\d+\.\d\d\] s\s+regression",
            )
            .unwrap(),
        );
    // The other way round: the creation time improves; nothing regresses on the times.
    let (doc, code) = compare_json(
        &slower,
        &base,
        &[
            "--fail-on-regression",
            "--metrics",
            "eni_creation_p95_s,full_reconcile_s",
        ],
    );
    assert_eq!(code, 0, "{doc}");
    assert_eq!(change(&doc, "eni_creation_p95_s"), "improvement");
    assert_eq!(doc["points"][0]["metrics"].as_array().unwrap().len(), 2);
    // A tolerance wider than the change hides it.
    let (doc, code) = compare_json(
        &base,
        &slower,
        &["--fail-on-regression", "--tolerance", "2"],
    );
    assert_eq!(code, 0);
    assert_eq!(change(&doc, "eni_creation_p95_s"), "no_significant_change");
}

#[test]
fn fewer_workers_are_a_regression_on_creation() {
    let dir = tempfile::tempdir().unwrap();
    let five = run_out(dir.path(), "five", &["--replications", "3"]);
    let two = run_out(
        dir.path(),
        "two",
        &[
            "--replications",
            "3",
            "--set",
            "controller.maxConcurrentReconciles=2",
        ],
    );
    let (doc, code) = compare_json(&five, &two, &["--fail-on-regression"]);
    assert_eq!(code, 1);
    assert_eq!(change(&doc, "eni_creation_p95_s"), "regression");
    assert_eq!(change(&doc, "full_reconcile_s"), "regression");
    // Different replication counts are fine (Welch); one replication has no interval and
    // is never a regression, however large the difference.
    let one = run_out(
        dir.path(),
        "one",
        &[
            "--replications",
            "1",
            "--set",
            "controller.maxConcurrentReconciles=2",
        ],
    );
    let (doc, code) = compare_json(&five, &one, &["--fail-on-regression"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(change(&doc, "eni_creation_p95_s"), "no_interval");
    assert_eq!(doc["regressions"], 0);
}

#[test]
fn unfinished_in_b_where_a_finished_is_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_out(dir.path(), "a", &["--replications", "2"]);
    // Ten ENIs per node on an instance type that takes 8: never converges.
    let b = run_out(
        dir.path(),
        "b",
        &[
            "--replications",
            "2",
            "--set",
            "enisim.scenario.instanceType=m5.4xlarge",
        ],
    );
    let (doc, code) = compare_json(&a, &b, &["--fail-on-regression"]);
    assert_eq!(code, 1);
    let full = doc["points"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "full_reconcile_s")
        .unwrap();
    assert_eq!(full["change"], "regression");
    assert_eq!(full["difference"], Value::Null);
    assert!(full["note"]
        .as_str()
        .unwrap()
        .contains("unfinished in B (2 of 2)"));
    let (doc, _) = compare_json(&b, &a, &[]);
    assert_eq!(change(&doc, "full_reconcile_s"), "improvement");
    let (doc, _) = compare_json(&b, &b, &[]);
    assert_eq!(change(&doc, "full_reconcile_s"), "not_comparable");
}

fn sweep_out(dir: &Path, name: &str, grid: &str) -> PathBuf {
    let out = dir.join(name);
    enisim()
        .args(["sweep", "--quiet", "--replications", "2", "--grid", grid])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    out
}

#[test]
fn sweeps_compare_on_their_shared_points() {
    let dir = tempfile::tempdir().unwrap();
    let a = sweep_out(dir.path(), "a", "controller.maxConcurrentReconciles=2,5");
    let b = sweep_out(dir.path(), "b", "controller.maxConcurrentReconciles=5,8");
    let (doc, code) = compare_json(&a, &b, &["--fail-on-regression"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["kind"], "sweep");
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(
        points[0]["point"][0]["key"],
        "controller.maxConcurrentReconciles"
    );
    assert_eq!(points[0]["point"][0]["value"], "5");
    // The same seeds at the same point: the same values.
    for m in points[0]["metrics"].as_array().unwrap() {
        assert_eq!(m["difference"], 0.0, "{m}");
    }
    assert_eq!(doc["only_in_a"][0], "controller.maxConcurrentReconciles=2");
    assert_eq!(doc["only_in_b"][0], "controller.maxConcurrentReconciles=8");
    enisim()
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "point controller.maxConcurrentReconciles=5 (A 2 replications, B 2)",
        ))
        .stdout(predicate::str::contains("1 only in A"));
    // A failed replication is left out and said so.
    let runs = std::fs::read_to_string(b.join("runs.csv")).unwrap();
    let mut lines: Vec<String> = runs.lines().map(str::to_string).collect();
    assert!(lines[1].starts_with("0,0,5,"), "{}", lines[1]);
    lines[1] = lines[1].replacen(",ok,,", ",error,boom,", 1);
    std::fs::write(b.join("runs.csv"), lines.join("\n") + "\n").unwrap();
    let (doc, _) = compare_json(&a, &b, &[]);
    assert_eq!(doc["points"][0]["b_replications"], 1);
    assert_eq!(doc["points"][0]["b_failed"], 1);
    assert_eq!(change(&doc, "eni_creation_p95_s"), "no_interval");
    enisim()
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "(A 2 replications, B 1; 1 failed in B, not compared)",
        ));
    // A one-point sweep against a two-point one: the one point they share.
    let c = sweep_out(dir.path(), "c", "controller.maxConcurrentReconciles=2");
    let (doc, _) = compare_json(&c, &a, &[]);
    assert_eq!(doc["points"].as_array().unwrap().len(), 1);
    // No shared point: refused.
    let d = sweep_out(dir.path(), "d", "controller.maxConcurrentReconciles=7");
    enisim()
        .arg("compare")
        .arg(&a)
        .arg(&d)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("share no grid point"))
        .stderr(predicate::str::contains(
            "controller.maxConcurrentReconciles=2,5",
        ));
}

#[test]
fn welch_interval_matches_a_hand_computation() {
    // A = 2, 4, 6: mean 4, s² = 4, s²/n = 4/3. B = 7, 9, 11, 13, 15: mean 11, s² = 10,
    // s²/n = 2. Difference 7; se² = 4/3 + 2 = 10/3, se = 1.825742.
    // ν = (10/3)² / ((4/3)²/2 + 2²/4) = (100/9) / (8/9 + 1) = 100/17 = 5.882353.
    // t_{ν, 0.975}: between t₆ = 2.446912 and t₅ = 2.570582; interpolating in 1/ν
    // (1/5 = 0.2, 1/ν = 0.17, 1/6 = 0.166667: 90 % of the way to t₆) gives ≈ 2.4593.
    // Half-width ≈ 2.4593 · 1.825742 = 4.490: the interval ≈ [2.510, 11.490].
    let w = welch_interval(&[2.0, 4.0, 6.0], &[7.0, 9.0, 11.0, 13.0, 15.0], 0.95).unwrap();
    assert!((w.difference - 7.0).abs() < 1e-12);
    assert!((w.df.unwrap() - 100.0 / 17.0).abs() < 1e-12);
    let se = (10.0f64 / 3.0).sqrt();
    let half = w.high - w.difference;
    assert!(half > 2.446912 * se && half < 2.570582 * se, "{w:?}");
    assert!(
        (w.low - 2.510).abs() < 0.01 && (w.high - 11.490).abs() < 0.01,
        "{w:?}"
    );
    // Both sides constant: the interval is the point.
    let w = welch_interval(&[3.0, 3.0], &[5.0, 5.0, 5.0], 0.95).unwrap();
    assert_eq!((w.low, w.high), (2.0, 2.0));
    // Fewer than two samples a side: none.
    assert!(welch_interval(&[3.0], &[5.0, 6.0], 0.95).is_none());
}

#[test]
fn bad_input_exits_2_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_out(dir.path(), "a", &["--replications", "2"]);
    let bad = |b: &Path, what: &[&str]| {
        let mut assert = enisim().arg("compare").arg(&a).arg(b).assert().code(2);
        for w in what {
            assert = assert.stderr(predicate::str::contains(*w));
        }
        assert.stderr(predicate::str::contains("panicked").not());
    };
    bad(&dir.path().join("missing"), &["missing: no such directory"]);
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    bad(&empty, &["not an enisim output directory"]);
    let truncated = dir.path().join("truncated");
    std::fs::create_dir(&truncated).unwrap();
    let text = std::fs::read_to_string(a.join("summary.json")).unwrap();
    std::fs::write(truncated.join("summary.json"), &text[..text.len() / 2]).unwrap();
    bad(&truncated, &["truncated/summary.json", "not valid JSON"]);
    let no_verdicts = dir.path().join("no-verdicts");
    std::fs::create_dir(&no_verdicts).unwrap();
    std::fs::write(
        no_verdicts.join("summary.json"),
        r#"{"replications": [{"metrics": {"ec2_calls": 1}}], "summary": {}}"#,
    )
    .unwrap();
    bad(
        &no_verdicts,
        &["no-verdicts/summary.json", "summary.verdicts: missing"],
    );
    let not_number = dir.path().join("not-number");
    std::fs::create_dir(&not_number).unwrap();
    std::fs::write(
        not_number.join("summary.json"),
        r#"{"replications": [{"metrics": {"ec2_calls": "many"}}], "summary": {"verdicts": []}}"#,
    )
    .unwrap();
    bad(
        &not_number,
        &["replications[0].metrics.ec2_calls: not a number"],
    );
    let sweep = sweep_out(dir.path(), "sweep", "controller.maxConcurrentReconciles=5");
    bad(&sweep, &["is run output but B", "is sweep output"]);
    enisim()
        .arg("compare")
        .arg(&a)
        .arg(&a)
        .args(["--metrics", "eni_creaton_p95_s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "did you mean \"eni_creation_p95_s\"",
        ));
    enisim()
        .arg("compare")
        .arg(&a)
        .arg(&a)
        .arg("--tolerance=-0.1")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tolerance"));
    // A sweep whose runs.csv is torn: the file and line.
    std::fs::write(sweep.join("runs.csv"), "point,replication\n0\n").unwrap();
    enisim()
        .arg("compare")
        .arg(&sweep)
        .arg(&sweep)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("runs.csv"));
}
