//! `enisim trace …` from the command line: exit status 2 and nothing written when no row
//! can be kept, synth refusing to mix two trails, one spelling of the output flag.

mod common;

use assert_cmd::Command;
use common::*;
use predicates::prelude::*;
use std::fs;

fn enisim() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

#[test]
fn ingest_exits_2_and_writes_nothing_when_every_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.parquet");
    // A wrong --format: every file fails.
    enisim()
        .args(["trace", "ingest", "--format", "csv", "--out"])
        .arg(&out)
        .arg(fixture("s3"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no EC2 API call kept"))
        .stderr(predicate::str::contains("could be read"))
        .stderr(predicate::str::contains("format csv was forced"));
    assert!(!out.exists());
    // Every record bad.
    let bad = dir.path().join("bad.json");
    fs::write(
        &bad,
        r#"{"Records":[{"eventName":"X"},{"eventName":"Y"},{"eventTime":"2024-05-01T10:00:00Z"}]}"#,
    )
    .unwrap();
    enisim()
        .args(["trace", "ingest", "-o"])
        .arg(&out)
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("3 of 3 records are bad"))
        .stderr(predicate::str::contains("2 missing eventTime"));
    assert!(!out.exists());
    // Only digest files (named on their own, or in a tree).
    let digest = fixture("s3/AWSLogs/111122223333/CloudTrail-Digest");
    enisim()
        .args(["trace", "ingest", "-o"])
        .arg(&out)
        .arg(&digest)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no CloudTrail log file"))
        .stderr(predicate::str::contains("1 digest"));
    assert!(!out.exists());
    // A good trail still works, with --output as an alias of --out; stderr is not a
    // terminal here, so no progress bar is drawn.
    enisim()
        .args(["trace", "ingest", "--output"])
        .arg(&out)
        .arg(fixture("s3"))
        .assert()
        .success()
        .stderr(predicate::str::contains("ETA").not())
        .stderr(predicate::str::contains("records: 15 read"));
    assert!(out.exists());
}

#[test]
fn synth_refuses_to_mix_two_trails_without_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    let files = |p: &std::path::Path| {
        let mut v = Vec::new();
        let mut stack = vec![p.join("AWSLogs")];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    v.push(p);
                }
            }
        }
        v.sort();
        v
    };
    enisim()
        .args(["trace", "synth", "--seed", "2", "--out"])
        .arg(&trail)
        .assert()
        .success();
    let first = files(&trail);
    assert!(!first.is_empty());
    fs::write(trail.join("README.md"), "kept").unwrap();
    enisim()
        .args(["trace", "synth", "--seed", "3", "-o"])
        .arg(&trail)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already holds a CloudTrail trail"))
        .stderr(predicate::str::contains("--overwrite"));
    assert_eq!(files(&trail), first, "untouched");
    enisim()
        .args(["trace", "synth", "--seed", "3", "--overwrite", "--output"])
        .arg(&trail)
        .assert()
        .success();
    let second = files(&trail);
    assert!(!second.is_empty());
    assert!(
        second.iter().all(|f| !first.contains(f)),
        "the old trail is replaced whole"
    );
    assert_eq!(fs::read_to_string(trail.join("README.md")).unwrap(), "kept");
    // No staging directory is left behind.
    let hidden: Vec<_> = fs::read_dir(&trail)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    // The trail ingests alone: one seed's records only.
    let table = dir.path().join("t.parquet");
    enisim()
        .args(["trace", "ingest", "-o"])
        .arg(&table)
        .arg(&trail)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "controller: arn:aws:iam::111122223333:role/aws-multi-eni-controller recognised",
        ));
    // stats --out writes the rendering.
    let csv = dir.path().join("stats.csv");
    enisim()
        .args(["trace", "stats", "--format", "csv", "--out"])
        .arg(&csv)
        .arg(&table)
        .assert()
        .success();
    let text = fs::read_to_string(&csv).unwrap();
    assert!(text.contains("CreateNetworkInterface,controller"), "{text}");
}
