//! `enisim calibrate` end to end: a calibrated profile loads in `run` and moves its numbers
//! the way the fitted values say; `--calibration` draws θ per replication; bad input exits
//! 2 naming the file, record or key, with nothing written in the output directory. The
//! workload: reconstructed and printed when no scenario is given (the file it writes,
//! given back, is the same fit), a positional SCENARIO is `--scenario`, a scenario the
//! trail contradicts warns with both numbers or exits 2, the run's audit log gives the
//! reconstructed workload, and two workloads (or a bad audit line) exit 2.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

const SMALL: [&str; 5] = [
    "scale-down",
    "--set",
    "enisim.scenario.nodes=2",
    "--set",
    "enisim.scenario.enisPerNode=3",
];

fn enisim() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

/// A 2 × 3 trail made with DescribeNetworkInterfaces three times slower than the default.
fn slow_describe_trail(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string("models/aws/ec2-default.yaml").unwrap();
    let slow = text.replace(
        "DescribeNetworkInterfaces: { lognormal: { median_ms: 100, p99_ms: 1000 } }",
        "DescribeNetworkInterfaces: { lognormal: { median_ms: 300, p99_ms: 3000 } }",
    );
    assert_ne!(slow, text);
    let profile = dir.join("slow.yaml");
    std::fs::write(&profile, slow).unwrap();
    let trail = dir.join("trail");
    enisim()
        .args(["trace", "synth"])
        .args(SMALL)
        .arg("--ec2-profile")
        .arg(&profile)
        .args(["--seed", "4", "-o"])
        .arg(&trail)
        .assert()
        .success();
    trail
}

/// The fit of the DescribeNetworkInterfaces median in a calibration.json.
fn describe_median(doc: &serde_json::Value) -> &serde_json::Value {
    doc["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ec2.latency.DescribeNetworkInterfaces.median_ms")
        .unwrap()
}

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap()
}

#[test]
fn calibrated_profile_loads_in_run_and_moves_its_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = slow_describe_trail(tmp.path());
    let cal = tmp.path().join("cal");
    enisim()
        .arg("calibrate")
        .arg(&trail)
        .args(["--scenario", SMALL[0]])
        .args(&SMALL[1..])
        .args(["--replications", "6", "-o"])
        .arg(&cal)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ec2.latency.DescribeNetworkInterfaces.median_ms",
        ))
        // Six Creates (σ = 1.11) cannot tell the median to ±15 %, however timed; 214 could.
        .stdout(predicate::str::contains(
            "cannot pin to ±15 % even timed exactly",
        ))
        .stdout(predicate::str::is_match(
            r"ec2\.latency\.CreateNetworkInterface\.median_ms +at best ±\d+ % from 6 calls; ±15 % needs 214 \(×36 this recording\)",
        )
        .unwrap());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cal.join("calibration.json")).unwrap())
            .unwrap();
    let md = std::fs::read_to_string(cal.join("calibration.md")).unwrap();
    assert!(md.contains("## What this trail can tell at best"), "{md}");
    // What the trail left open is drawn over its plausible range by --calibration.
    let assumed = doc["fitted"]["assumed"].as_array().unwrap();
    assert!(
        assumed.iter().any(|a| a == "ec2.attach_delay.median_ms"),
        "{assumed:?}"
    );
    let p = describe_median(&doc);
    let fitted = p["value"].as_f64().unwrap();
    assert!(p["identified"].as_bool().unwrap(), "{p}");
    assert!(fitted > 150.0, "the fit moved toward the slow truth: {p}");
    let yaml = std::fs::read_to_string(cal.join("ec2.yaml")).unwrap();
    assert!(yaml.contains("calibrated from"), "{yaml}");
    assert!(
        yaml.contains("not identifiable from CloudTrail alone"),
        "{yaml}"
    );
    // The profile loads in run, and its slower describes lengthen every reconcile.
    let run = |extra: &[&str]| {
        let out = enisim()
            .arg("run")
            .args(SMALL)
            .args(["--replications", "4", "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out.stdout)
    };
    let base = run(&[]);
    let profile = cal.join("ec2.yaml");
    let calibrated = run(&["--ec2-profile", profile.to_str().unwrap()]);
    let p50 = |d: &serde_json::Value| {
        d["summary"]["metrics"]["reconcile_p50_s"]["mean"]
            .as_f64()
            .unwrap()
    };
    assert!(
        p50(&calibrated) > 1.2 * p50(&base),
        "{} vs {}",
        p50(&calibrated),
        p50(&base)
    );
    // --calibration: θ drawn per replication, the interval split reported.
    let drawn = run(&["--calibration", cal.to_str().unwrap()]);
    let split = drawn["parameter_uncertainty"].as_array().unwrap();
    assert!(!split.is_empty(), "{drawn}");
    assert!(split
        .iter()
        .all(|s| (0.0..=1.0).contains(&s["parameter_share"].as_f64().unwrap())));
    // Each judged metric's verdict interval holds its split's interval.
    let verdicts = drawn["summary"]["verdicts"].as_array().unwrap();
    let mut judged = 0;
    for s in split {
        if let Some(v) = verdicts.iter().find(|v| v["metric"] == s["metric"]) {
            judged += 1;
            let f = |d: &serde_json::Value, k: &str| d[k].as_f64().unwrap();
            assert!(
                f(v, "ci_low") <= f(s, "low") + 1e-9 && f(v, "ci_high") >= f(s, "high") - 1e-9,
                "{v} does not hold {s}"
            );
        }
    }
    assert!(judged >= 3, "{drawn}");
    // --floor: the narrowest interval the trail allows each metric, from the medians'
    // elasticities; the six Creates and Attaches of a 2 × 3 trail leave the full reconcile
    // at no better than ±10 %, and the interval is no narrower than that.
    let floored = run(&["--calibration", cal.to_str().unwrap(), "--floor"]);
    let floor = floored["floor"].as_array().unwrap();
    let full = floor
        .iter()
        .find(|f| f["metric"] == "full_reconcile_s")
        .unwrap();
    let at_best = full["half_width"].as_f64().unwrap();
    let s = floored["parameter_uncertainty"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "full_reconcile_s")
        .unwrap();
    let f = |k: &str| s[k].as_f64().unwrap();
    let now = (f("high") - f("low")) / 2.0 / f("mean");
    assert!(
        at_best > 0.10 && now >= 0.8 * at_best,
        "floor {full}, interval {s}"
    );
    assert!(drawn.get("floor").unwrap().as_array().unwrap().is_empty());
    // A sweep with θ drawn per replication gives each point one draw's interval, wider
    // than the mean's.
    let sweep = |extra: &[&str]| -> f64 {
        let dir = tmp.path().join(format!("sweep-{}", extra.len()));
        enisim()
            .arg("sweep")
            .args(SMALL)
            .args([
                "--quiet",
                "--grid",
                "controller.maxConcurrentReconciles=5",
                "--replications",
                "6",
                "-o",
            ])
            .arg(&dir)
            .args(extra)
            .assert()
            .success();
        let mut r = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
        let h = r.headers().unwrap().clone();
        let row = r.records().next().unwrap().unwrap();
        let col = |k: &str| -> f64 { row[h.iter().position(|x| x == k).unwrap()].parse().unwrap() };
        col("full_reconcile_s_ci_high") - col("full_reconcile_s_mean")
    };
    let plain = sweep(&[]);
    let drawn = sweep(&["--calibration", cal.to_str().unwrap()]);
    assert!(drawn > 2.0 * plain, "{drawn} vs {plain}");
}

fn assert_nothing_written(dir: &Path) {
    let n = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "{} holds files", dir.display());
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = slow_describe_trail(tmp.path());
    let out = tmp.path().join("out");
    // No controller calls: the classes found and how to add a rule.
    enisim()
        .arg("calibrate")
        .arg(&trail)
        .args(["--scenario", SMALL[0]])
        .args(&SMALL[1..])
        .args([
            "--caller-rule",
            "principal:contains:aws-multi-eni-controller=other",
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no controller calls"))
        .stderr(predicate::str::contains("other ("))
        .stderr(predicate::str::contains("--caller-rule"));
    assert_nothing_written(&out);
    // Settings the trail contradicts beyond a warning: more ENI targets than the scenario.
    enisim()
        .arg("calibrate")
        .arg(&trail)
        .args([
            "--scenario",
            "scale-down",
            "--set",
            "enisim.scenario.nodes=1",
            "--set",
            "enisim.scenario.enisPerNode=1",
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "6 (NodeENI, node, subnet) targets",
        ));
    assert_nothing_written(&out);
    // A trail with no EC2 rows.
    let s3 = tmp.path().join("s3.json");
    std::fs::write(
        &s3,
        r#"{"Records":[{"eventVersion":"1.08","eventTime":"2025-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","eventID":"0b5e1f5c-1111-4111-8111-111111111111","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}}]}"#,
    )
    .unwrap();
    enisim()
        .arg("calibrate")
        .arg(&s3)
        .args(["-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("s3.json"));
    assert_nothing_written(&out);
    // A Prometheus file in the wrong shape names the file and the key.
    let prom = tmp.path().join("prom.json");
    std::fs::write(
        &prom,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
    )
    .unwrap();
    enisim()
        .arg("calibrate")
        .arg(&trail)
        .args(["--scenario", SMALL[0]])
        .args(&SMALL[1..])
        .arg("--prometheus")
        .arg(&prom)
        .args(["--replications", "2", "--max-iters", "1", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("prom.json:data.resultType"));
    assert_nothing_written(&out);
}

/// `enisim calibrate TRAIL ARGS… -o OUT`, run.
fn calibrate(trail: &Path, args: &[&str], out: &Path) -> assert_cmd::assert::Assert {
    enisim()
        .arg("calibrate")
        .arg(trail)
        .args(args)
        .arg("-o")
        .arg(out)
        .assert()
}

/// `enisim calibrate ARGS… -o OUT` exits 2 saying each of `says`, and writes nothing.
fn exits_2(args: &[&str], out: &Path, says: &[&str]) {
    let mut run = enisim()
        .arg("calibrate")
        .args(args)
        .arg("-o")
        .arg(out)
        .assert()
        .code(2);
    for s in says {
        run = run.stderr(predicate::str::contains(*s));
    }
    assert_nothing_written(out);
}

/// The run `slow_describe_trail` wrote (what `trace synth` simulates: seed 4, replication 0).
fn slow_describe_run(dir: &Path) -> enisim::metrics::RunRecord {
    let mut s = enisim::scenario::Settings::new(
        enisim::controller::ControllerProfile::embedded(),
        enisim::scenario::ScenarioSpec::embedded(SMALL[0]).unwrap(),
    );
    for kv in SMALL[1..].iter().skip(1).step_by(2) {
        s.apply_set(kv).unwrap();
    }
    let model = enisim::scenario::Model {
        ec2: enisim::aws::Ec2Profile::load(&dir.join("slow.yaml")).unwrap(),
        instance_types: enisim::aws::InstanceTypes::embedded(),
    };
    enisim::scenario::simulate_replication(&s, &model, 4, 0).unwrap()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn recorded_nodeenis(dir: &Path) -> Vec<enisim::scenario::recorded::RecordedNodeEni> {
    let s = enisim::scenario::ScenarioSpec::load(&dir.join("scenario.yaml")).unwrap();
    assert_eq!(s.kind, enisim::scenario::Kind::Recorded);
    s.recorded.unwrap().nodeenis
}

#[test]
fn without_a_scenario_the_workload_is_reconstructed_printed_and_calibrated() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = slow_describe_trail(tmp.path());
    let cal = tmp.path().join("cal");
    calibrate(&trail, &["--replications", "6"], &cal)
        .success()
        .stdout(predicate::str::contains(
            "the recorded workload, reconstructed from the controller's calls (no scenario or audit log given):\n\
             workload: 3 NodeENIs (3 deleted), 2 nodes (0 went away), 3 subnets, 6 attachments; first NodeENI at 0 s, last at 0 s\n",
        ))
        .stdout(predicate::str::contains(
            "  multi-eni-0: created at 0 s, deleted at",
        ))
        .stdout(predicate::str::contains(", 2 nodes × 1 subnet, device index 3\n"))
        .stdout(predicate::str::contains("scenario.yaml"));
    let doc = read_json(&cal.join("calibration.json"));
    assert_eq!(
        doc["workload"]["origin"], "reconstructed",
        "{}",
        doc["workload"]
    );
    assert_eq!(doc["workload"]["nodeenis"], 3);
    assert_eq!(doc["workload"]["attachments"], 6);
    // The hidden truth: DescribeNetworkInterfaces at 300 ms, three times the prior.
    let p = describe_median(&doc);
    assert!(p["identified"].as_bool().unwrap(), "{p}");
    let (lo, hi) = (p["low"].as_f64().unwrap(), p["high"].as_f64().unwrap());
    assert!(
        p["value"].as_f64().unwrap() > 150.0 && lo <= 300.0 && 300.0 <= hi,
        "{p}"
    );
    let nodeenis = recorded_nodeenis(&cal);
    assert_eq!(nodeenis.len(), 3);
    assert!(nodeenis.iter().all(|e| e.nodes == ["node-00", "node-01"]));
    // The scenario file written is exactly what was calibrated: given back as SCENARIO,
    // the same fit.
    let again = tmp.path().join("again");
    let file = cal.join("scenario.yaml");
    calibrate(
        &trail,
        &[file.to_str().unwrap(), "--replications", "6"],
        &again,
    )
    .success()
    .stdout(predicate::str::contains(
        "workload: scenario recorded (2 nodes × 3 ENIs",
    ));
    let doc2 = read_json(&again.join("calibration.json"));
    assert_eq!(doc2["parameters"], doc["parameters"]);
    assert_eq!(doc2["workload"]["origin"], "scenario");
    assert_eq!(
        std::fs::read(again.join("ec2.yaml")).unwrap(),
        std::fs::read(cal.join("ec2.yaml")).unwrap()
    );
    assert!(!again.join("scenario.yaml").exists());
}

/// A quick calibration (2 replications, 1 iteration): enough to compare outputs.
const QUICK: [&str; 4] = ["--replications", "2", "--max-iters", "1"];

#[test]
fn a_positional_scenario_is_the_scenario_option() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = slow_describe_trail(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    enisim()
        .arg("calibrate")
        .arg(SMALL[0])
        .arg(&trail)
        .args(&SMALL[1..])
        .args(QUICK)
        .arg("-o")
        .arg(&a)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "workload: scenario scale-down (2 nodes × 3 ENIs, subnet-per-nodeeni, kind scale-down), as given",
        ));
    let option = [["--scenario"].as_slice(), &SMALL, &QUICK].concat();
    calibrate(&trail, &option, &b).success();
    for f in ["calibration.json", "ec2.yaml", "calibration.md"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        read_json(&a.join("calibration.json"))["workload"]["origin"],
        "scenario"
    );
}

#[test]
fn a_contradicting_scenario_warns_with_the_numbers_and_an_impossible_one_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = slow_describe_trail(tmp.path());
    let out = tmp.path().join("out");
    let args = [
        "scale-down",
        "--set",
        "enisim.scenario.nodes=3",
        "--set",
        "enisim.scenario.enisPerNode=3",
        "--set",
        "controller.maxConcurrentReconciles=1",
    ];
    calibrate(&trail, &[args.as_slice(), &QUICK].concat(), &out)
        .success()
        .stderr(predicate::str::contains(
            "warning: the trail's controller created ENIs for 6 (NodeENI, node, subnet) targets (2 nodes, up to 3 ENIs on one node); the scenario scale-down asks for 9 (3 nodes × 3 ENIs)",
        ))
        .stderr(predicate::str::contains(
            "warning: the trail shows up to 3 NodeENIs in flight; you said maxConcurrentReconciles=1",
        ));
    let never = tmp.path().join("never");
    for (args, says) in [
        (
            vec!["burst"],
            "the trail's controller made 6 successful DetachNetworkInterface call(s) (a scale-down or a change); the scenario burst (kind burst) never detaches an ENI",
        ),
        (
            vec![
                "scale-down",
                "--set",
                "enisim.scenario.nodes=3",
                "--set",
                "enisim.scenario.enisPerNode=2",
            ],
            "created ENIs on 2 nodes, up to 3 ENIs on one node; the scenario scale-down has 3 nodes × 2 ENIs",
        ),
    ] {
        let args = [[trail.to_str().unwrap()].as_slice(), &args].concat();
        exits_2(&args, &never, &[says, "leave the scenario out"]);
    }
}

#[test]
fn two_workloads_or_a_reshaped_recorded_one_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = slow_describe_trail(tmp.path());
    let out = tmp.path().join("out");
    let log = tmp.path().join("audit.jsonl");
    std::fs::write(&log, "").unwrap();
    let t = trail.to_str().unwrap();
    let l = log.to_str().unwrap();
    for (args, says) in [
        (
            vec![t, "burst", "--scenario", "scale-down"],
            "2 scenarios given (scale-down, burst)",
        ),
        (
            vec![t, "scale-down", "--audit-log", l],
            "and the scenario scale-down both give the workload: give one",
        ),
        (
            vec![t, "--set", "enisim.scenario.nodes=2"],
            "enisim.scenario.nodes: the workload is reconstructed from the controller's calls",
        ),
        (vec!["scale-down"], "scale-down: a scenario, and no trail"),
    ] {
        exits_2(&args, &out, &[says]);
    }
}

#[test]
fn the_audit_log_gives_the_workload_reconstruction_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = slow_describe_trail(tmp.path());
    let log = tmp.path().join("audit.jsonl");
    let text = enisim::workload::audit_log_of_run(
        &slow_describe_run(tmp.path()),
        1_735_689_600_000_000_000,
    );
    std::fs::write(&log, &text).unwrap();
    let (audited, rebuilt) = (tmp.path().join("audited"), tmp.path().join("rebuilt"));
    let with_log = [["--audit-log", log.to_str().unwrap()].as_slice(), &QUICK].concat();
    calibrate(&trail, &with_log, &audited)
        .success()
        .stdout(predicate::str::contains(
            "the recorded workload, the audit log ",
        ))
        .stdout(predicate::str::contains(
            "workload: 3 NodeENIs (3 deleted), 2 nodes (0 went away), 3 subnets, 6 attachments",
        ));
    calibrate(&trail, &QUICK, &rebuilt).success();
    let (a, b) = (recorded_nodeenis(&audited), recorded_nodeenis(&rebuilt));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (&x.name, &x.nodes, &x.subnets, x.device_index, x.created_s),
            (&y.name, &y.nodes, &y.subnets, y.device_index, y.created_s)
        );
        let (dx, dy) = (x.deleted_s.unwrap(), y.deleted_s.unwrap());
        assert!(dx.floor() <= dy && dy <= dx + 6.0, "{dx} vs {dy}");
    }
    let doc = read_json(&audited.join("calibration.json"));
    assert_eq!(doc["workload"]["origin"], "audit-log");
    assert_eq!(doc["workload"]["audit_log"], log.to_str().unwrap());
    // A bad line: exit 2 naming the file, the line and the key; nothing written.
    let bad = tmp.path().join("bad.jsonl");
    let first = text.lines().next().unwrap();
    std::fs::write(
        &bad,
        format!("{first}\n{{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"objectRef\":{{}},\"stageTimestamp\":\"2025-01-01T00:00:00Z\"}}\n"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    calibrate(&trail, &["--audit-log", bad.to_str().unwrap()], &out)
        .code(2)
        .stderr(predicate::str::contains("bad.jsonl:2: key verb"));
    assert_nothing_written(&out);
}

/// A calibration directory whose calibration.json does not hold together exits 2 naming
/// the file and the key, before any replication runs.
#[test]
fn a_bad_fitted_distribution_exits_2_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy("models/aws/ec2-default.yaml", dir.join("ec2.yaml")).unwrap();
    let name = "ec2.latency.CreateNetworkInterface.median_ms";
    let write = |fitted: serde_json::Value| {
        std::fs::write(
            dir.join("calibration.json"),
            serde_json::json!({ "fitted": fitted }).to_string(),
        )
        .unwrap();
    };
    let run = || {
        enisim()
            .args(["run", "--replications", "2", "--calibration"])
            .arg(dir)
            .assert()
            .code(2)
    };
    write(serde_json::json!({
        "names": [name], "mean_log": [5.0], "covariance_log": [[0.01]],
        "bounds": [[50.0, 600.0]], "assumed": ["ec2.attach_delay.median_ms"]
    }));
    run()
        .stderr(predicate::str::contains("calibration.json"))
        .stderr(predicate::str::contains("fitted.assumed"));
    write(serde_json::json!({
        "names": [name], "mean_log": [5.0, 1.0], "covariance_log": [[0.01]],
        "bounds": [[50.0, 600.0]]
    }));
    run()
        .stderr(predicate::str::contains("calibration.json"))
        .stderr(predicate::str::contains("1 names need 1 means"));
    // Well formed (an older file without `assumed` too), it runs.
    write(serde_json::json!({
        "names": [name], "mean_log": [5.0], "covariance_log": [[0.01]],
        "bounds": [[50.0, 600.0]]
    }));
    enisim()
        .args(["run", "--replications", "2", "--calibration"])
        .arg(dir)
        .assert()
        .success();
}
