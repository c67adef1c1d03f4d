//! The binary: exit codes, bad input naming file / line / key, outputs.

use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;

fn enisim() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

#[test]
fn run_prints_the_verdict_table() {
    enisim()
        .args(["run", "--replications", "3"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ENI creation p95"))
        .stdout(predicate::str::contains("full-cluster reconciliation"))
        .stdout(predicate::str::contains("bottleneck:"));
}

#[test]
fn run_json_and_out_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let assert = enisim()
        .args(["run", "--replications", "2", "--format", "json", "--out"])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["summary"]["replications"], 2);
    for f in ["summary.json", "enis.csv", "calls.csv"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let enis = fs::read_to_string(out.join("enis.csv")).unwrap();
    assert!(enis.starts_with("replication,eni,nodeeni,node,subnet"));
    assert_eq!(enis.lines().count(), 1 + 200);
    let calls = fs::read_to_string(out.join("calls.csv")).unwrap();
    assert!(calls
        .lines()
        .next()
        .unwrap()
        .ends_with(",caller,worker,call_id"));
    let reconciles = fs::read_to_string(out.join("reconciles.csv")).unwrap();
    assert!(reconciles.starts_with(
        "replication,nodeeni,worker,start_s,end_s,deleting,result,requeue_after_s,ec2_calls,status_writes\n"
    ));
    assert!(reconciles.lines().count() > 2);
    let writes = fs::read_to_string(out.join("status_writes.csv")).unwrap();
    assert!(writes.starts_with("replication,time_s,nodeeni,worker,kind,node,changed\n"));
    assert!(writes.contains(",new-attachment,"));
}

#[test]
fn fail_on_sets_the_exit_status() {
    // Ten ENIs per node on an m5.4xlarge never converge: full reconcile breaches.
    enisim()
        .args([
            "run",
            "--replications",
            "2",
            "--set",
            "enisim.scenario.instanceType=m5.4xlarge",
            "--fail-on",
            "warning",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("can never succeed"));
}

#[test]
fn bad_values_file_is_exit_2_with_file_line_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("controller:\n  maxConcurrentReconciles: [1\n", "not YAML"),
        (
            "controller:\n  maxConcurentReconciles: 3\n",
            "did you mean \"controller.maxConcurrentReconciles\"",
        ),
        ("controller:\n  maxConcurrentReconciles: 0\n", "must be ≥ 1"),
        (
            "enisim:\n  env:\n    DETACHMENT_TIMEOUT: -15s\n",
            "negative duration",
        ),
        (
            "enisim:\n  env:\n    RECONCILE_PERIOD: soon\n",
            "invalid duration",
        ),
    ];
    for (text, msg) in cases {
        let f = dir.path().join("values.yaml");
        fs::write(&f, text).unwrap();
        enisim()
            .args(["run", "--replications", "1", "--values"])
            .arg(&f)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("values.yaml"))
            .stderr(predicate::str::contains(msg));
    }
    let f = dir.path().join("values.yaml");
    fs::write(&f, "controller:\n  maxConcurrentReconciles: 0\n").unwrap();
    enisim()
        .args(["run", "--values"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "values.yaml:2: controller.maxConcurrentReconciles",
        ));
}

#[test]
fn bad_set_and_bad_model_files_are_exit_2() {
    enisim()
        .args(["run", "--set", "controller.maxConcurrentReconciles=abc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "controller.maxConcurrentReconciles",
        ));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ec2.yaml");
    fs::write(&p, "throttling: 3\n").unwrap();
    enisim()
        .args(["run", "--ec2-profile"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ec2.yaml:1"));
    let t = dir.path().join("types.csv");
    fs::write(&t, "instance_type,max_enis_default_card\nm5.large,3\n").unwrap();
    enisim()
        .args(["run", "--instance-types"])
        .arg(&t)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing column"));
    enisim()
        .args(["run", "no-such-scenario"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such scenario"));
    enisim()
        .args(["run", "--set", "enisim.scenario.instanceType=m9.huge"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown instance type"));
}

#[test]
fn check_prints_theory_beside_simulation() {
    enisim()
        .args(["check", "--replications", "5", "--customers", "2000"])
        .assert()
        .success()
        .stdout(predicate::str::contains("M/M/15"))
        .stdout(predicate::str::contains("M/D/1"));
}

#[test]
fn bad_scenario_files_are_exit_2_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = include_str!("../models/scenarios/gradual.yaml");
    let cases = [
        (
            base.replace("kind: gradual", "kind: gradual\nsurprise: 1"),
            "unknown field `surprise`",
        ),
        (
            base.replace(
                "- { nodes: 4, enis_per_node: 4 }",
                "- { nodes: 1, enis_per_node: 1 }",
            ),
            "gradual.path[2]: the path shrinks",
        ),
        (
            include_str!("../models/scenarios/mixed.yaml")
                .replace("relabel_node: 0.5", "relabel_node: -0.5"),
            "mixed.rates_per_min.relabel_node: a rate must be ≥ 0",
        ),
        (
            include_str!("../models/scenarios/failure.yaml")
                .replace("{ start_s: 10, end_s: 70 }", "{ start_s: 70, end_s: 10 }"),
            "faults.outages[0].end_s: the window ends (10) before it starts (70)",
        ),
    ];
    for (i, (text, msg)) in cases.iter().enumerate() {
        let f = dir.path().join(format!("scenario-{i}.yaml"));
        fs::write(&f, text).unwrap();
        enisim()
            .arg("run")
            .arg(&f)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("scenario-{i}.yaml:")))
            .stderr(predicate::str::contains(*msg));
    }
}

#[test]
fn scenarios_lists_the_five_kinds() {
    let out = enisim().arg("scenarios").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for name in [
        "burst",
        "gradual",
        "mixed",
        "failure",
        "scale-down",
        "drain",
    ] {
        assert!(text.contains(name), "{name}");
    }
}

#[test]
fn each_scenario_runs_from_the_cli() {
    for name in ["gradual", "mixed", "failure", "scale-down", "drain"] {
        enisim()
            .args(["run", name, "--replications", "2"])
            .assert()
            .success()
            .stdout(predicate::str::contains("controller CPU p95"));
    }
}

#[test]
fn trace_synth_ingest_stats_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    enisim()
        .args(["trace", "synth", "--seed", "2", "-o"])
        .arg(&trail)
        .assert()
        .success()
        .stdout(predicate::str::contains("records"));
    let table = dir.path().join("t.parquet");
    enisim()
        .args(["trace", "ingest"])
        .arg(&trail)
        .arg("-o")
        .arg(&table)
        .assert()
        .success();
    enisim()
        .args(["trace", "stats"])
        .arg(&table)
        .assert()
        .success()
        .stdout(predicate::str::contains("AttachNetworkInterface"));
}

#[test]
fn trace_bad_input_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("broken.json");
    fs::write(&f, "{\"Records\": [{\"eventVersion\": \"1.08\", ").unwrap();
    enisim()
        .args(["trace", "ingest", "--strict"])
        .arg(&f)
        .arg("-o")
        .arg(dir.path().join("o.parquet"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.json"));
    assert!(
        !dir.path().join("o.parquet").exists(),
        "nothing half-written"
    );
    enisim()
        .args(["trace", "ingest", "--caller-rule", "nonsense"])
        .arg(&f)
        .arg("-o")
        .arg(dir.path().join("o.parquet"))
        .assert()
        .code(2);
}
