//! Bad input: an error naming the file, the record and what is wrong; strict mode stops,
//! the default skips and counts; never a panic.

mod common;

use std::io::Write;

use common::*;
use enisim::trace::{ingest, IngestOptions, RecordError, TraceError};

fn strict() -> IngestOptions {
    IngestOptions {
        strict: true,
        ..IngestOptions::default()
    }
}

#[test]
fn invalid_json_in_the_middle_of_a_file() {
    let p = fixture("bad/invalid-middle.json");
    let err = ingest(std::slice::from_ref(&p), &strict()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("invalid-middle.json"), "{msg}");
    assert!(msg.contains("record 2"), "{msg}");
    assert!(msg.contains("invalid JSON"), "{msg}");
    assert_eq!(err.location().unwrap().record, Some(2));

    let got = ingest(&[p], &IngestOptions::default()).unwrap();
    let r = &got.report;
    assert_eq!(r.kept, 2, "records before the break are kept: {r}");
    assert_eq!(r.files_failed, 1);
    assert_eq!(r.issues.len(), 1);
    assert_eq!(r.issues[0].record, Some(2));
}

#[test]
fn truncated_gzip() {
    let p = fixture("bad/truncated.json.gz");
    let err = ingest(std::slice::from_ref(&p), &strict()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("truncated.json.gz"), "{msg}");
    assert!(msg.contains("gzip stream is truncated or corrupt"), "{msg}");
    assert!(matches!(err, TraceError::Malformed { .. }));
    let at = err.location().unwrap().record.unwrap();
    assert!((1..12).contains(&at), "{msg}");

    let got = ingest(&[p], &IngestOptions::default()).unwrap();
    assert_eq!(got.report.files_failed, 1);
    assert_eq!(got.report.kept, at, "{}", got.report);
}

#[test]
fn records_missing_fields_or_with_wrong_types() {
    let p = fixture("bad/missing-and-wrong.json");
    let err = ingest(std::slice::from_ref(&p), &strict()).unwrap_err();
    match &err {
        TraceError::BadRecord { at, error } => {
            assert!(at.path.ends_with("missing-and-wrong.json"));
            assert_eq!(at.record, Some(1));
            assert_eq!(error, &RecordError::MissingField("eventTime"));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("record 1"), "{err}");
    assert!(
        err.to_string().contains("missing field `eventTime`"),
        "{err}"
    );

    let got = ingest(&[p], &IngestOptions::default()).unwrap();
    let r = &got.report;
    assert_eq!(r.records_read, 5);
    assert_eq!(r.bad_records, 3, "{r}");
    assert_eq!(r.kept, 2);
    assert_eq!(r.files_failed, 0);
    let recs: Vec<_> = r.issues.iter().map(|i| i.record).collect();
    assert_eq!(recs, vec![Some(1), Some(3), Some(4)]);
    assert!(
        r.issues[1]
            .message
            .contains("`eventName` has the wrong type"),
        "{r}"
    );
    assert!(
        r.issues[2]
            .message
            .contains("expected object, found string"),
        "{r}"
    );
}

#[test]
fn empty_files() {
    for rel in ["bad/empty.json", "bad/empty.json.gz"] {
        let p = fixture(rel);
        let err = ingest(std::slice::from_ref(&p), &strict()).unwrap_err();
        assert!(
            err.to_string().contains(rel.trim_start_matches("bad/")),
            "{err}"
        );
        assert!(err.to_string().contains("empty file"), "{err}");
        let got = ingest(&[p], &IngestOptions::default()).unwrap();
        assert_eq!(got.report.files_failed, 1);
        assert_eq!(got.df.height(), 0);
    }
    let dir = tempfile::tempdir().unwrap();
    let err = ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).unwrap_err();
    assert!(matches!(err, TraceError::NoInput(_)), "{err}");
    let err = ingest(
        &[dir.path().join("missing.json")],
        &IngestOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, TraceError::Io { .. }), "{err}");
}

#[test]
fn csv_missing_columns() {
    let p = fixture("bad/missing-columns.csv");
    let err = ingest(std::slice::from_ref(&p), &strict()).unwrap_err();
    match &err {
        TraceError::MissingColumns { path, missing, .. } => {
            assert!(path.ends_with("missing-columns.csv"));
            assert_eq!(missing, &["eventsource", "awsregion", "eventid"]);
        }
        other => panic!("{other}"),
    }
    let got = ingest(&[p], &IngestOptions::default()).unwrap();
    assert_eq!(got.report.files_failed, 1);
    assert!(got.report.issues[0].message.contains("eventid"));
}

#[test]
fn csv_bad_rows_are_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.csv");
    let mut f = std::fs::File::create(&p).unwrap();
    writeln!(
        f,
        "eventtime,eventsource,eventname,awsregion,eventid,requestparameters"
    )
    .unwrap();
    writeln!(
        f,
        "2024-05-01T10:00:01Z,ec2.amazonaws.com,DeleteNetworkInterface,us-east-1,e1,"
    )
    .unwrap();
    writeln!(
        f,
        "not-a-time,ec2.amazonaws.com,DeleteNetworkInterface,us-east-1,e2,"
    )
    .unwrap();
    writeln!(
        f,
        "2024-05-01T10:00:03Z,ec2.amazonaws.com,DeleteNetworkInterface,us-east-1,e3"
    )
    .unwrap();
    writeln!(
        f,
        "2024-05-01T10:00:04Z,ec2.amazonaws.com,DeleteNetworkInterface,us-east-1,e4,{{oops"
    )
    .unwrap();
    writeln!(f, "2024-05-01T10:00:05Z,ec2.amazonaws.com,DeleteNetworkInterface,us-east-1,e5,\"{{\"\"networkInterfaceId\"\":\"\"eni-1\"\"}}\"").unwrap();
    drop(f);
    let err = ingest(std::slice::from_ref(&p), &strict()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("x.csv, record 1 (line 3)"), "{msg}");
    assert!(msg.contains("eventTime"), "{msg}");
    let got = ingest(&[p], &IngestOptions::default()).unwrap();
    assert_eq!(got.report.bad_records, 3, "{}", got.report);
    assert_eq!(got.report.kept, 2);
    assert_eq!(col_strings(&got.df, "eni_id")[1].as_deref(), Some("eni-1"));
}

#[test]
fn a_bad_file_does_not_stop_the_others_by_default() {
    let paths = vec![
        fixture("bad/invalid-middle.json"),
        fixture("bad/empty.json"),
        fixture("s3"),
        fixture("bad/missing-columns.csv"),
    ];
    let got = ingest(&paths, &IngestOptions::default()).unwrap();
    let r = &got.report;
    assert_eq!(r.files_failed, 3, "{r}");
    // invalid-middle holds records 1 and 2 of the trail, which are duplicates here.
    assert_eq!(r.kept, 14);
    assert_eq!(r.duplicates, 2);
    let text = r.to_string();
    assert!(text.contains("invalid-middle.json, record 2"), "{text}");
    assert!(text.contains("empty.json"), "{text}");
}

#[test]
fn duplicates_across_overlapping_files_and_unsorted_input() {
    // Two overlapping copies of the trail (as when two trails log the same account).
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("s3");
    let mut stack = vec![src.clone()];
    let mut n = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().contains("Digest") {
                for copy in ["a", "b"] {
                    let to = dir.path().join(copy).join(p.file_name().unwrap());
                    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                    std::fs::copy(&p, &to).unwrap();
                }
                n += 1;
            }
        }
    }
    assert_eq!(n, 3);
    let got = ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).unwrap();
    let r = &got.report;
    assert_eq!(r.records_read, 30);
    assert_eq!(r.duplicates, 14);
    assert_eq!(r.non_ec2_skipped, 2);
    assert_eq!(r.kept, 14);
    let t = col_i64(&got.df, "time");
    assert!(t.windows(2).all(|w| w[0] <= w[1]));
    // The kept copy is the first in file order: directory a.
    let files = col_strings(&got.df, "file");
    assert!(files.iter().all(|f| {
        let i: usize = f.as_deref().unwrap().parse().unwrap();
        r.files[i].starts_with(dir.path().join("a"))
    }));
    // Same result as the single copy.
    let single = ingest_one(&fixture("s3"));
    let cols = content_columns();
    assert_eq!(
        canonical_rows(&got.df, &cols),
        canonical_rows(&single.df, &cols)
    );
}

#[test]
fn odd_but_valid_json_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let rec = |id: &str, t: &str| {
        format!(
            r#"{{"eventVersion":"1.09","eventTime":"2024-05-01T10:00:{t}Z","eventSource":"ec2.amazonaws.com","eventName":"DeleteNetworkInterface","awsRegion":"us-east-1","eventID":"{id}","requestParameters":{{"networkInterfaceId":"eni-1"}},"responseElements":null}}"#
        )
    };
    // JSON lines, a bare array, Records: null, unknown extra keys, BOM.
    std::fs::write(
        dir.path().join("a.jsonl"),
        format!("{}\n{}\n", rec("a", "05"), rec("b", "01")),
    )
    .unwrap();
    std::fs::write(dir.path().join("b.json"), format!("[{}]", rec("c", "03"))).unwrap();
    std::fs::write(dir.path().join("c.json"), r#"{"Records":null}"#).unwrap();
    std::fs::write(
        dir.path().join("d.json"),
        format!(
            "\u{feff}{{\"x\":[1,2],\"Records\":[{}],\"y\":{{}}}}",
            rec("d", "02")
        ),
    )
    .unwrap();
    let got = ingest(&[dir.path().to_path_buf()], &strict()).unwrap();
    assert_eq!(got.report.kept, 4, "{}", got.report);
    assert_eq!(
        col_strings(&got.df, "event_id"),
        vec![
            Some("b".into()),
            Some("d".into()),
            Some("c".into()),
            Some("a".into())
        ]
    );
    // An object that is neither a document nor a record.
    std::fs::write(dir.path().join("e.json"), r#"{"hello":"world"}"#).unwrap();
    let err = ingest(&[dir.path().join("e.json")], &strict()).unwrap_err();
    assert!(err.to_string().contains("neither"), "{err}");
}

#[test]
fn lookup_events_with_bad_embedded_records() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("events.json");
    let good = r#"{\"eventTime\":\"2024-05-01T10:00:01Z\",\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"DeleteNetworkInterface\",\"awsRegion\":\"us-east-1\",\"requestParameters\":{\"networkInterfaceId\":\"eni-1\"}}"#;
    let text = format!(
        r#"{{"Events":[{{"EventId":"a","CloudTrailEvent":"{good}"}},{{"EventId":"b","CloudTrailEvent":"{{not json"}},{{"EventId":"c"}},{{"EventId":"d","CloudTrailEvent":5}},7],"NextToken":"x"}}"#
    );
    std::fs::write(&p, text).unwrap();
    let got = ingest(std::slice::from_ref(&p), &IngestOptions::default()).unwrap();
    let r = &got.report;
    assert_eq!(r.files_by_format.get("lookup-events"), Some(&1));
    assert_eq!(r.kept, 1, "{r}");
    // The outer EventId stands in for a missing eventID.
    assert_eq!(
        col_strings(&got.df, "event_id"),
        vec![Some("a".to_string())]
    );
    assert_eq!(r.bad_records, 4, "{r}");
    let msgs: Vec<&str> = r.issues.iter().map(|i| i.message.as_str()).collect();
    assert!(
        msgs[0].contains("invalid JSON: CloudTrailEvent"),
        "{msgs:?}"
    );
    assert!(
        msgs[1].contains("missing field `CloudTrailEvent`"),
        "{msgs:?}"
    );
    assert!(
        msgs[2].contains("`CloudTrailEvent` has the wrong type"),
        "{msgs:?}"
    );
    assert!(
        msgs[3].contains("expected object, found number"),
        "{msgs:?}"
    );
    let err = ingest(&[p], &strict()).unwrap_err();
    assert!(err.to_string().contains("events.json, record 1"), "{err}");
}

/// CloudTrail Insights files (`CloudTrail-Insight/…`) and Insights events among the records
/// are skipped and counted like digests: not bad records, and no stop in strict mode.
#[test]
fn insights_files_and_events_are_skipped_not_bad() {
    let dir = tempfile::tempdir().unwrap();
    let insight = r#"{"Records":[{"eventVersion":"1.08","eventTime":"2024-05-01T10:00:00Z","awsRegion":"us-east-1","eventID":"i1","eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333","sharedEventID":"s1","insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"CreateNetworkInterface","insightType":"ApiCallRateInsight"},"eventCategory":"Insight"}]}"#;
    let sub = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/05/01");
    std::fs::create_dir_all(&sub).unwrap();
    let f = sub.join("111122223333_CloudTrail-Insight_us-east-1_20240501T1005Z_abcd.json");
    std::fs::write(&f, insight).unwrap();
    // The tree of good files plus the Insights tree.
    let paths = vec![fixture("s3"), dir.path().to_path_buf()];
    let got = ingest(&paths, &strict()).unwrap();
    let r = &got.report;
    assert_eq!(r.kept, 14, "{r}");
    assert_eq!(r.insight_files, 1, "{r}");
    assert_eq!(r.digest_files, 1, "{r}");
    assert_eq!(r.files_ignored, 2, "{r}");
    assert_eq!(r.bad_records, 0, "{r}");
    // Named on its own, it is skipped too.
    let got = ingest(std::slice::from_ref(&f), &strict()).unwrap();
    assert_eq!(got.report.insight_files, 1);
    assert_eq!(got.df.height(), 0);
    assert!(got.report.why_empty().unwrap().contains("1 Insights"));
    // Insights events inside an ordinary file (by content), in every shape.
    let plain = dir.path().join("mixed.json");
    std::fs::write(&plain, insight).unwrap();
    let got = ingest(std::slice::from_ref(&plain), &strict()).unwrap();
    assert_eq!(got.report.insight_skipped, 1, "{}", got.report);
    assert_eq!(got.report.bad_records, 0);
    let got = ingest_one(&fixture("controller/v1.3.8.json"));
    assert_eq!(got.report.insight_skipped, 1);
    let r = &got.report;
    assert_eq!(
        r.records_read,
        r.kept + r.duplicates + r.non_ec2_skipped + r.insight_skipped + r.bad_records
    );
}

/// When the list of problems is cut, the report says how many more there were, by kind.
#[test]
fn the_issue_list_counts_what_it_leaves_out_by_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("many.json");
    let mut recs = Vec::new();
    for i in 0..30 {
        recs.push(format!(r#"{{"eventName":"X","eventID":"m{i}"}}"#));
    }
    for i in 0..7 {
        recs.push(format!(
            r#"{{"eventTime":"2024-05-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":5,"awsRegion":"us-east-1","eventID":"w{i}"}}"#
        ));
    }
    recs.push("3".into());
    std::fs::write(&p, format!("{{\"Records\":[{}]}}", recs.join(","))).unwrap();
    let lookup = dir.path().join("lookup.json");
    std::fs::write(
        &lookup,
        r#"{"Events":[{"EventId":"a","CloudTrailEvent":"{oops"},{"EventId":"b","CloudTrailEvent":"[1"}]}"#,
    )
    .unwrap();
    let opts = IngestOptions {
        max_issues: 5,
        ..IngestOptions::default()
    };
    let got = ingest(&[p, lookup], &opts).unwrap();
    let r = &got.report;
    assert_eq!(r.bad_records, 40);
    assert_eq!(r.issues.len(), 5);
    assert_eq!(r.issues_total(), 40);
    assert_eq!(r.issue_counts["missing eventTime"], 30);
    assert_eq!(r.issue_counts["wrong type of eventName"], 7);
    assert_eq!(r.issue_counts["wrong type of record"], 1);
    assert_eq!(r.issue_counts["bad JSON"], 2);
    let text = r.to_string();
    assert!(
        text.contains(
            "… and 35 more: 25 missing eventTime, 7 wrong type of eventName, 2 bad JSON, 1 wrong type of record"
        ),
        "{text}"
    );
}

/// CloudWatch Logs exports of a trail's log group: `aws logs filter-log-events` JSON and the
/// export-to-S3 lines give the same table as the S3 file; Logs Insights query results are
/// named as unsupported.
#[test]
fn cloudwatch_logs_exports_are_read() {
    let s3 = ingest_one(&fixture("controller/v1.3.8.json"));
    let json = ingest_one(&fixture("cloudwatch/filter-log-events.json"));
    assert_eq!(
        json.report.files_by_format.get("cloudwatch-logs"),
        Some(&1),
        "{}",
        json.report
    );
    // The export tree: `000000.gz` under a task directory is found by the walk.
    let lines = ingest(&[fixture("cloudwatch/export")], &IngestOptions::default()).unwrap();
    assert_eq!(
        lines.report.files_by_format.get("cloudwatch-logs"),
        Some(&1)
    );
    let cols = content_columns();
    for got in [&json, &lines] {
        assert_eq!(got.report.kept, 9, "{}", got.report);
        assert_eq!(got.report.bad_records, 0, "{}", got.report);
        assert_eq!(
            canonical_rows(&got.df, &cols),
            canonical_rows(&s3.df, &cols)
        );
    }
    // Forced.
    let forced = IngestOptions {
        format: Some("cloudwatch-logs".parse().unwrap()),
        strict: true,
        ..IngestOptions::default()
    };
    assert_eq!(
        ingest(&[fixture("cloudwatch/export/000000.gz")], &forced)
            .unwrap()
            .report
            .kept,
        9
    );
    let err = ingest(&[fixture("athena.csv")], &forced).unwrap_err();
    assert!(
        err.to_string().contains("cloudwatch-logs was forced"),
        "{err}"
    );
    // A bad line is one bad record, named by line.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("000001.gz");
    let text = flate2::read::GzDecoder::new(
        std::fs::File::open(fixture("cloudwatch/export/000000.gz")).unwrap(),
    );
    let mut text = std::io::read_to_string(text).unwrap();
    text.insert_str(
        text.find('\n').unwrap() + 1,
        "2024-06-03T10:00:01.500Z {not json\n",
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    std::fs::write(&p, gz.finish().unwrap()).unwrap();
    let err = ingest(std::slice::from_ref(&p), &strict()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("000001.gz, record 1 (line 2)"), "{msg}");
    assert!(msg.contains("CloudWatch Logs message"), "{msg}");
    let got = ingest(&[p], &IngestOptions::default()).unwrap();
    assert_eq!(got.report.kept, 9);
    assert_eq!(got.report.bad_records, 1);
    // `aws logs tail` output: a log stream name between the timestamp and the message.
    let tail = dir.path().join("tail.txt");
    let shown: String = text
        .lines()
        .filter(|l| !l.contains("{not json"))
        .map(|l| {
            let (ts, rest) = l.split_once(' ').unwrap();
            format!("{ts} 111122223333_CloudTrail_us-east-1 {rest}\n")
        })
        .collect();
    std::fs::write(&tail, shown).unwrap();
    let got = ingest(&[tail], &forced).unwrap();
    assert_eq!(got.report.kept, 9, "{}", got.report);
    assert_eq!(
        canonical_rows(&got.df, &cols),
        canonical_rows(&s3.df, &cols)
    );
    // Logs Insights query results: named, not silently read as nothing.
    let err = ingest(&[fixture("cloudwatch/query-results.json")], &strict()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("CloudWatch Logs Insights query results"),
        "{msg}"
    );
    assert!(msg.contains("not supported"), "{msg}");
}
