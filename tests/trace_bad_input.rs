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
