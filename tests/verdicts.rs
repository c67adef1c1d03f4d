//! Verdicts that cannot pass a broken rollout (issue #10, section 1) and the knob bounds
//! that keep a typo from becoming hours of work (section 3). Each case failed before.

use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;

fn enisim() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

fn json_run(args: &[&str]) -> serde_json::Value {
    let out = enisim()
        .args(["run", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn verdict<'a>(doc: &'a serde_json::Value, metric: &str) -> &'a serde_json::Value {
    doc["summary"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["metric"] == metric)
        .unwrap_or_else(|| panic!("no verdict for {metric}"))
}

#[test]
fn a_rollout_that_never_attaches_is_critical_not_acceptable() {
    // A client-side limit of one call per 10 000 s: nothing is created within the horizon.
    let doc = json_run(&[
        "--replications",
        "3",
        "--set",
        "enisim.whatIf.ec2RateLimit.rate=0.0001",
    ]);
    for metric in [
        "eni_creation_p95_s",
        "eni_attachment_p95_s",
        "full_reconcile_s",
    ] {
        let v = verdict(&doc, metric);
        assert_eq!(v["verdict"], "critical", "{metric}: {v}");
        assert_eq!(v["censored"], 3, "{metric}: {v}");
        // The lower bound is the horizon (30 min), not the 0.6 s the clock stopped at.
        assert!(v["mean"].as_f64().unwrap() >= 1799.0, "{metric}: {v}");
    }
    assert_eq!(doc["summary"]["worst"], "critical");
    enisim()
        .args([
            "run",
            "--replications",
            "3",
            "--set",
            "enisim.whatIf.ec2RateLimit.rate=0.0001",
            "--fail-on",
            "warning",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "> 1800.00 s (unfinished in 3 of 3)",
        ))
        .stderr(predicate::str::contains("did not converge by the horizon"));
}

#[test]
fn a_horizon_too_short_to_finish_is_a_breach() {
    enisim()
        .args([
            "run",
            "--replications",
            "2",
            "--set",
            "enisim.scenario.horizon=1ns",
            "--fail-on",
            "critical",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("unfinished in 2 of 2"));
}

#[test]
fn fail_on_degraded_catches_anything_outside_acceptable() {
    // The default burst's creation p95 is degraded (above 30 s, below the warning level).
    enisim()
        .args(["run", "--fail-on", "warning"])
        .assert()
        .success();
    enisim()
        .args(["run", "--fail-on", "degraded"])
        .assert()
        .code(1);
}

#[test]
fn intervals_of_times_never_go_below_zero() {
    let doc = json_run(&["--replications", "3", "--set", "enisim.scenario.nodes=1"]);
    for v in doc["summary"]["verdicts"].as_array().unwrap() {
        assert!(v["ci_low"].as_f64().unwrap() >= 0.0, "{v}");
    }
}

#[test]
fn one_replication_has_no_interval_and_says_so() {
    enisim()
        .args(["run", "--replications", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(no interval)"))
        .stderr(predicate::str::contains(
            "1 replication: no confidence interval",
        ));
}

#[test]
fn the_plan_error_rate_counts_failed_operations_not_throttled_attempts() {
    // Fifteen workers: the verify loop's DescribeNetworkInterfaces are throttled (an AWS API
    // figure), but the retries absorb them and no ENI operation fails.
    let doc = json_run(&[
        "--replications",
        "3",
        "--set",
        "controller.maxConcurrentReconciles=15",
    ]);
    let m = &doc["summary"]["metrics"];
    assert!(m["ec2_throttled_percent"]["mean"].as_f64().unwrap() > 2.0);
    assert!(m["eni_operations"]["mean"].as_f64().unwrap() >= 200.0);
    assert_eq!(verdict(&doc, "error_rate_percent")["verdict"], "acceptable");
    // The attempt-level figure is kept, unjudged by default.
    assert!(doc["summary"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["metric"] != "ec2_throttled_percent"));
    let actions = &doc["summary"]["actions"]["DescribeNetworkInterfaces"];
    assert!(
        actions["throttled_percent"].as_f64().unwrap() > 2.0,
        "{actions}"
    );
}

#[test]
fn thresholds_with_unknown_or_no_metrics_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.yaml");
    fs::write(
        &typo,
        "metrics:\n  eni_creaton_p95_s:\n    label: creation\n    unit: s\n    acceptable: 30\n",
    )
    .unwrap();
    enisim()
        .args(["run", "--replications", "2", "--thresholds"])
        .arg(&typo)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("typo.yaml"))
        .stderr(predicate::str::contains(
            "did you mean \"eni_creation_p95_s\"",
        ));
    let empty = dir.path().join("empty.yaml");
    fs::write(&empty, "metrics: {}\n").unwrap();
    enisim()
        .args(["run", "--thresholds"])
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no metrics to judge"));
}

#[test]
fn knobs_are_range_checked_before_narrowing() {
    for set in [
        "controller.maxConcurrentReconciles=4294967296",
        "controller.maxConcurrentENICleanup=4294967296",
        "controller.maxConcurrentReconciles=1000000",
        "controller.maxConcurrentReconciles=1e7",
        "enisim.scenario.nodes=100000",
        "enisim.env.AWS_MAX_ATTEMPTS=4294967297",
    ] {
        let key = set.split('=').next().unwrap();
        enisim()
            .args(["run", "--replications", "2", "--set", set])
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(key));
    }
}

#[test]
fn work_that_cannot_end_is_refused() {
    enisim()
        .args(["run", "--threads", "100000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--threads"));
    enisim()
        .args(["run", "--replications", "1000000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--replications"));
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("tight.yaml");
    let burst = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/scenarios/burst.yaml"
    ))
    .unwrap();
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&burst).unwrap();
    doc["run"]["monitor_interval"] = serde_yaml_ng::Value::String("1ns".into());
    fs::write(&scenario, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();
    enisim()
        .arg("run")
        .arg(&scenario)
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("monitor_interval"));
}

#[test]
fn every_chart_key_is_accepted() {
    // Every key of the chart's values.yaml, from its first release to v1.3.8.
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("chart-values.yaml");
    fs::write(
        &values,
        r#"
image: {repository: ghcr.io/example/aws-multi-eni-controller, tag: v1.3.8, pullPolicy: Always}
namespace: eni-controller-system
awsRegion: us-east-1
imds: {autoConfigureHopLimit: true, hopLimit: 2, aggressiveConfiguration: true}
cloudNativeAuth: {enabled: true, preferIRSA: true}
controller:
  maxConcurrentENICleanup: 3
  maxConcurrentReconciles: 5
  enableLeaderElection: true
  metricsAddr: ":8080"
  terminationGracePeriodSeconds: 10
eniManager:
  defaultMTU: 0
  checkInterval: 30s
  debug: true
  eniPattern: "^(eth|ens|eni|en|enX)[0-9]+"
  ignoreInterfaces: "tunl0,gre0"
  useNetlink: true
  dpdk: {enabled: true, driver: vfio-pci, bindingScript: /opt/dpdk/dpdk-devbind.py, sriovDPConfigPath: /etc/pcidp/config.json, resourceNames: ""}
resources:
  controller: {limits: {cpu: 500m, memory: 512Mi}, requests: {cpu: 100m, memory: 128Mi}}
  manager: {limits: {cpu: 500m, memory: 512Mi}, requests: {cpu: 100m, memory: 128Mi}}
nodeSelector: {ng: multi-eni}
securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000}
serviceAccount: {create: true, name: eni-controller, annotations: {}}
rbac: {create: true}
podAnnotations: {}
podLabels: {}
tolerations: []
affinity: {}
metrics: {enabled: false, port: 8080, service: {type: ClusterIP, port: 8080}}
logLevel: info
"#,
    )
    .unwrap();
    enisim()
        .args(["run", "--replications", "2", "--values"])
        .arg(&values)
        .assert()
        .success();
}

#[test]
fn an_unwritable_out_dir_is_found_before_simulating() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    enisim()
        .args(["run", "--replications", "2000", "--out"])
        .arg(file.join("sub"))
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot write there"));
    enisim()
        .args(["run", "--replications", "2", "-o"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a directory"));
}

#[test]
fn errors_name_the_file_once_and_instance_types_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("v.yaml");
    fs::write(&values, "controller:\n  maxConcurrentReconciles: x\n").unwrap();
    let out = enisim().args(["run", "-f"]).arg(&values).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.matches("v.yaml").count(), 1, "{err}");
    assert!(
        err.contains("v.yaml:2: controller.maxConcurrentReconciles"),
        "{err}"
    );
    enisim()
        .args(["run", "--set", "enisim.scenario.instanceType=zz9.large"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no type of family \"zz9\""))
        .stderr(predicate::str::contains("known in this family: \n").not());
    let list = dir.path().join("types.json");
    fs::write(&list, "[\"m5.large\"]\n").unwrap();
    enisim()
        .args(["run", "--instance-types"])
        .arg(&list)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "not the shape of `aws ec2 describe-instance-types`",
        ));
    // A controller profile's duration error points at its own line and key.
    let profile = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/controller/v1.3.8.yaml"
    ))
    .unwrap();
    let line = profile
        .lines()
        .position(|l| l.trim_start().starts_with("detachment_timeout:"))
        .unwrap()
        + 1;
    let bad = dir.path().join("profile.yaml");
    fs::write(
        &bad,
        profile.replacen("detachment_timeout: 15s", "detachment_timeout: abc", 1),
    )
    .unwrap();
    enisim()
        .args(["run", "--controller-profile"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "profile.yaml:{line}: env.detachment_timeout"
        )));
}

#[test]
fn run_out_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    enisim()
        .args(["run", "--replications", "2", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

#[test]
fn an_inert_knob_is_named_when_set() {
    enisim()
        .args([
            "run",
            "--replications",
            "2",
            "--set",
            "enisim.env.CIRCUIT_BREAKER_ENABLED=false",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "CIRCUIT_BREAKER_ENABLED has no effect in v1.3.8",
        ));
}

#[test]
fn kubelet_status_posts_end_the_wait_for_the_reconcile_period() {
    // With no Node status posts, a NodeENI whose pass changed nothing waits out the 5-minute
    // ReconcilePeriod after the outage; the kubelet's posts (every 5 min per node, random
    // phases over ten nodes) re-enqueue it within about half a minute.
    let recovery = |sets: &[&str]| {
        let mut args = vec!["failure", "--replications", "5"];
        for s in sets {
            args.extend(["--set", s]);
        }
        json_run(&args)["summary"]["metrics"]["recovery_s"]["mean"]
            .as_f64()
            .unwrap()
    };
    let without = recovery(&["enisim.kubelet.nodeStatusReportFrequency=off"]);
    let with = recovery(&[]);
    assert!(without > 290.0, "{without}");
    assert!(with < 120.0, "{with}");
}

/// Under a calibration, `run` judges a metric on the interval that holds the parameters'
/// uncertainty: a wider upper end than the replications' own can only make the verdict
/// worse, and a narrower one changes nothing.
#[test]
fn a_verdict_is_judged_again_on_a_wider_interval() {
    use enisim::controller::ControllerProfile;
    use enisim::metrics::summary::summarise;
    use enisim::metrics::thresholds::{Thresholds, Verdict};
    use enisim::scenario::{replicate, Model, ScenarioSpec, Settings};
    let settings = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    );
    let runs = replicate(&settings, &Model::embedded(), 1, 4, &|| {}).unwrap();
    let th = Thresholds::embedded();
    let base = summarise(&runs, &th, 5);
    let row = |s: &enisim::metrics::summary::Summary| {
        s.verdicts
            .iter()
            .find(|v| v.metric == "full_reconcile_s")
            .cloned()
            .unwrap()
    };
    let before = row(&base);
    assert_eq!(before.verdict, Verdict::Acceptable, "{before:?}");
    let mut narrow = base.clone();
    narrow.widen("full_reconcile_s", before.mean, before.mean, &th);
    let same = row(&narrow);
    assert_eq!(
        (same.ci_low, same.ci_high, same.verdict),
        (before.ci_low, before.ci_high, before.verdict)
    );
    let mut wide = base.clone();
    wide.widen("full_reconcile_s", 1.0, 1000.0, &th);
    let after = row(&wide);
    assert_eq!(
        (after.ci_low, after.ci_high),
        (before.ci_low.min(1.0), 1000.0)
    );
    // Above its only threshold (< 300 s): no longer acceptable, and the summary's worst
    // verdict follows.
    assert_eq!(after.verdict, th.metrics["full_reconcile_s"].judge(1000.0));
    assert!(after.verdict > Verdict::Acceptable, "{after:?}");
    assert!(wide.worst >= after.verdict && wide.worst >= base.worst);
}
