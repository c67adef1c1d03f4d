//! `enisim calibrate` end to end: a calibrated profile loads in `run` and moves its numbers
//! the way the fitted values say; `--calibration` draws θ per replication; bad input exits
//! 2 naming the file, record or key, with nothing written in the output directory.

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
        ));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cal.join("calibration.json")).unwrap())
            .unwrap();
    let p = doc["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ec2.latency.DescribeNetworkInterfaces.median_ms")
        .unwrap();
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
