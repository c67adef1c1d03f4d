//! `enisim replay` as a user runs it: a trail written by `trace synth` (with a background
//! tenant) replays with the tenant's calls in calls.csv at their recorded times, writes the
//! recorded scenario that `run` accepts and validation.{json,csv}; counterfactuals print the
//! verdict table; bad input exits 2 naming file, record or line, and key.

use assert_cmd::Command;
use predicates::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

fn enisim() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

const SMALL: [&str; 4] = [
    "--set",
    "enisim.scenario.nodes=3",
    "--set",
    "enisim.scenario.enisPerNode=2",
];

/// An EC2 profile with the VPC CNI describing at 2/s beside the controller.
fn profile_with_tenant(dir: &Path) -> std::path::PathBuf {
    let text = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/aws/ec2-default.yaml"
    ))
    .unwrap()
    .replace(
        "background: []",
        "background:\n  - { name: vpc-cni, action: DescribeNetworkInterfaces, rate_per_s: 2.0 }",
    );
    let p = dir.join("ec2-with-cni.yaml");
    fs::write(&p, text).unwrap();
    p
}

fn synth_trail(dir: &Path) -> std::path::PathBuf {
    let trail = dir.join("trail");
    enisim()
        .args(["trace", "synth", "burst"])
        .args(SMALL)
        .arg("--ec2-profile")
        .arg(profile_with_tenant(dir))
        .arg("--out")
        .arg(&trail)
        .assert()
        .success();
    trail
}

#[test]
fn replay_writes_the_scenario_the_validation_and_the_tenants_calls() {
    let dir = tempfile::tempdir().unwrap();
    let trail = synth_trail(dir.path());
    let out = dir.path().join("replay");
    let a = enisim()
        .arg("replay")
        .arg(&trail)
        .args(["--replications", "3", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("workload: 2 NodeENIs"))
        .stdout(predicate::str::contains(
            "validation at the recorded settings",
        ))
        .stdout(predicate::str::contains(
            "calls CreateNetworkInterface (controller)",
        ))
        .stdout(predicate::str::contains(
            "other tenants (vpc-cni): recorded",
        ));
    let stdout = String::from_utf8(a.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("replay reproduces the trail within")
            || stdout.contains("the largest difference is"),
        "{stdout}"
    );
    for f in [
        "summary.json",
        "enis.csv",
        "calls.csv",
        "reconciles.csv",
        "status_writes.csv",
        "validation.json",
        "validation.csv",
        "scenario.yaml",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("validation.json")).unwrap()).unwrap();
    assert_eq!(v["replications"], 3);
    assert!(v["rows"].as_array().unwrap().len() > 8);
    assert!(fs::read_to_string(out.join("validation.csv"))
        .unwrap()
        .starts_with("metric,unit,recorded,replayed,low,high,difference,relative_percent,band_low,band_high,inside"));
    // The tenant's calls in calls.csv: every replication, at the recorded seconds.
    let recorded = recorded_tenant_seconds(&trail);
    let calls = fs::read_to_string(out.join("calls.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(calls.as_bytes());
    let mut per_rep: BTreeMap<u32, BTreeMap<i64, usize>> = BTreeMap::new();
    for rec in rdr.deserialize::<BTreeMap<String, String>>() {
        let rec = rec.unwrap();
        if rec["caller"] == "vpc-cni" {
            assert_eq!(rec["action"], "DescribeNetworkInterfaces");
            let s: f64 = rec["start_s"].parse().unwrap();
            *per_rep
                .entry(rec["replication"].parse().unwrap())
                .or_default()
                .entry(s.floor() as i64)
                .or_default() += 1;
        }
    }
    assert_eq!(per_rep.len(), 3);
    for (_, secs) in per_rep {
        assert_eq!(secs, recorded);
    }
    // The recorded scenario runs as it is.
    enisim()
        .arg("run")
        .arg(out.join("scenario.yaml"))
        .args(["--replications", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("recorded: 3 nodes × 2 ENIs"));
}

/// Seconds (from the trail's start, 2025-01-01T00:00:00Z) of the trail's tenant calls.
fn recorded_tenant_seconds(trail: &Path) -> BTreeMap<i64, usize> {
    let got = enisim::trace::ingest(&[trail.to_path_buf()], &Default::default()).unwrap();
    let df = &got.df;
    let t: Vec<i64> = df
        .column("time")
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let c = df
        .column("caller_class")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    let mut m = BTreeMap::new();
    for (t, c) in t.iter().zip(c.str().unwrap().iter()) {
        if c == Some("vpc-cni") {
            *m.entry((t - 1_735_689_600_000_000_000) / 1_000_000_000)
                .or_default() += 1;
        }
    }
    assert!(m.values().sum::<usize>() > 20);
    m
}

#[test]
fn a_counterfactual_prints_the_verdict_table_and_the_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let trail = synth_trail(dir.path());
    enisim()
        .arg("replay")
        .arg(&trail)
        .args([
            "--replications",
            "2",
            "--set",
            "controller.maxConcurrentReconciles=4",
            "--tenants-scale",
            "2",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "counterfactual (controller.maxConcurrentReconciles=4, other tenants ×2)",
        ))
        .stdout(predicate::str::contains("ENI creation p95"))
        .stdout(predicate::str::contains("replayed at 2×"));
}

#[test]
fn bad_input_exits_2_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let trail = synth_trail(dir.path());
    for scale in ["0", "-1", "nan"] {
        enisim()
            .arg("replay")
            .arg(&trail)
            .arg(format!("--tenants-scale={scale}"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--tenants-scale"));
    }
    // An audit log with a bad line.
    let log = dir.path().join("audit.jsonl");
    fs::write(&log, "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"verb\":\"create\",\"objectRef\":{\"resource\":\"nodeenis\",\"name\":\"x\"},\"stageTimestamp\":17}\n").unwrap();
    enisim()
        .arg("replay")
        .arg(&trail)
        .arg("--audit-log")
        .arg(&log)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "audit.jsonl:1: key stageTimestamp",
        ));
    // Two accounts, none chosen.
    let other = dir.path().join("other");
    enisim()
        .args(["trace", "synth", "burst"])
        .args(SMALL)
        .args(["--account", "444455556666", "--out"])
        .arg(&other)
        .assert()
        .success();
    enisim()
        .arg("replay")
        .arg(&trail)
        .arg(&other)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("key recipientAccountId"))
        .stderr(predicate::str::contains("choose one with --account"));
    enisim()
        .arg("replay")
        .arg(&trail)
        .arg(&other)
        .args(["--account", "444455556666", "--replications", "1"])
        .assert()
        .success();
    // Nothing to read.
    enisim()
        .arg("replay")
        .arg(dir.path().join("nothing-here"))
        .assert()
        .code(2);
}

/// A public-trail-like window (the shape of invictus-ir/aws_dataset, written here, not
/// copied): Terraform and an AWS service create, describe and delete ENIs; no controller.
#[test]
fn a_trail_without_the_controller_replays_its_tenants_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut calls = Vec::new();
    let tf = "aws-sdk-go/1.44.157 (go1.19.3; linux; amd64) APN/1.0 HashiCorp/1.0 Terraform/1.3.6";
    for k in 0..60u64 {
        let t = k * 20_000_000_000;
        for (action, caller, principal) in [
            ("DescribeNetworkInterfaces", tf, "stratus-red-team"),
            ("DescribeSubnets", tf, "stratus-red-team"),
            (
                "DescribeSecurityGroups",
                "rds.amazonaws.com",
                "rds.amazonaws.com",
            ),
        ] {
            calls.push(enisim::trace::SynthCall {
                start_ns: t,
                end_ns: t + 100_000_000,
                action: action.into(),
                caller: caller.into(),
                principal: principal.into(),
                ..Default::default()
            });
        }
    }
    for (k, action) in ["CreateNetworkInterface", "DeleteNetworkInterface"]
        .iter()
        .enumerate()
    {
        calls.push(enisim::trace::SynthCall {
            start_ns: 600_000_000_000 + k as u64 * 1_000_000_000,
            end_ns: 600_100_000_000 + k as u64 * 1_000_000_000,
            action: action.to_string(),
            eni_id: Some("eni-0123456789abcdef0".into()),
            subnet_id: Some("subnet-0123456789abcdef0".into()),
            caller: tf.into(),
            principal: "stratus-red-team".into(),
            ..Default::default()
        });
    }
    calls.push(enisim::trace::SynthCall {
        start_ns: 700_000_000_000,
        end_ns: 700_100_000_000,
        action: "GetCallerIdentity".into(),
        caller: tf.into(),
        principal: "stratus-red-team".into(),
        ..Default::default()
    });
    let trail = dir.path().join("public-like");
    enisim::trace::synth(&calls, &Default::default(), &trail).unwrap();
    enisim()
        .arg("replay")
        .arg(&trail)
        .args(["--replications", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("no controller workload to replay (the trail has no call by the controller)"))
        .stdout(predicate::str::contains("other tenants (other): recorded 183 calls, 0 throttled; replayed 182 calls"))
        .stdout(predicate::str::contains("left out: other tenants' calls of actions the model has no bucket for (GetCallerIdentity 1)"));
}

#[test]
fn sweep_and_recommend_over_a_recorded_trail() {
    let dir = tempfile::tempdir().unwrap();
    let trail = synth_trail(dir.path());
    let out = dir.path().join("sweep");
    enisim()
        .args(["sweep", "--replay"])
        .arg(&trail)
        .args([
            "--grid",
            "controller.maxConcurrentReconciles=1,2",
            "--replications",
            "2",
            "-q",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    let d = &manifest["definition"];
    assert_eq!(d["scenario"]["kind"], "recorded");
    assert_eq!(
        d["scenario"]["recorded"]["nodeenis"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(d["replay"]["tenant_calls"].as_u64().unwrap() > 20);
    let summary = fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 2);
    // recommend --from reads the trail again for its check runs; --replay runs its own.
    enisim()
        .args(["recommend", "--from"])
        .arg(&out)
        .arg("--out")
        .arg(dir.path().join("rec-from"))
        .assert()
        .success();
    let rec = dir.path().join("rec");
    enisim()
        .args(["recommend", "--replay"])
        .arg(&trail)
        .args([
            "--grid",
            "controller.maxConcurrentReconciles=1,2",
            "--replications",
            "2",
            "--out",
        ])
        .arg(&rec)
        .assert()
        .success();
    assert!(rec.join("recommendation.md").exists());
    // A sweep over a trail that has since changed is refused when read again.
    fs::remove_dir_all(&trail).unwrap();
    enisim()
        .args(["recommend", "--from"])
        .arg(&out)
        .arg("--out")
        .arg(dir.path().join("rec-gone"))
        .assert()
        .code(2);
}

#[test]
fn replay_is_the_same_whatever_the_thread_count_and_reads_an_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let trail = synth_trail(dir.path());
    let out = |threads: &str| {
        let o = dir.path().join(format!("t{threads}"));
        enisim()
            .arg("replay")
            .arg(&trail)
            .args(["--replications", "3", "--threads", threads, "--out"])
            .arg(&o)
            .assert()
            .success();
        o
    };
    let (one, two) = (out("1"), out("2"));
    for f in [
        "validation.json",
        "validation.csv",
        "calls.csv",
        "enis.csv",
        "scenario.yaml",
    ] {
        assert_eq!(
            fs::read(one.join(f)).unwrap(),
            fs::read(two.join(f)).unwrap(),
            "{f}"
        );
    }
    // The same run's audit log (what `trace synth` wrote: seed 1, replication 0) as the
    // workload: the same NodeENIs.
    let mut s = enisim::scenario::Settings::new(
        enisim::controller::ControllerProfile::embedded(),
        enisim::scenario::ScenarioSpec::embedded("burst").unwrap(),
    );
    s.apply_set("enisim.scenario.nodes=3").unwrap();
    s.apply_set("enisim.scenario.enisPerNode=2").unwrap();
    let model = enisim::scenario::Model {
        ec2: enisim::aws::Ec2Profile::load(&profile_with_tenant(dir.path())).unwrap(),
        instance_types: enisim::aws::InstanceTypes::embedded(),
    };
    let run = enisim::scenario::simulate_replication(&s, &model, 1, 0).unwrap();
    let log = dir.path().join("audit.jsonl");
    fs::write(
        &log,
        enisim::workload::audit_log_of_run(&run, 1_735_689_600_000_000_000),
    )
    .unwrap();
    let o = dir.path().join("audit-out");
    enisim()
        .arg("replay")
        .arg(&trail)
        .arg("--audit-log")
        .arg(&log)
        .args(["--replications", "2", "--out"])
        .arg(&o)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "workload: 2 NodeENIs (0 deleted), 3 nodes",
        ));
    assert!(fs::read_to_string(o.join("scenario.yaml"))
        .unwrap()
        .contains("recorded workload from the audit log"));
}
