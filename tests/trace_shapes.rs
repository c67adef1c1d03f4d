//! The same trail in the three shapes users hold gives the same table.

mod common;

use common::*;
use enisim::trace::{ingest, IngestOptions, TraceFormat};

const ROLE: &str = "arn:aws:iam::111122223333:role/aws-multi-eni-controller";
const E1: &str = "eni-0a1b2c3d4e5f60001";
const E2: &str = "eni-0a1b2c3d4e5f60002";
const A1: &str = "eni-attach-0f1e2d3c4b5a60001";

fn eid(n: u32) -> String {
    format!("5f1e2d3c-4b5a-4968-b7a6-{n:012x}")
}

#[test]
fn s3_tree_is_walked_sorted_and_normalised() {
    let got = ingest_one(&fixture("s3"));
    let r = &got.report;
    assert_eq!(r.files_read, 3, "{r}");
    assert_eq!(r.files_ignored, 1, "digest file is ignored: {r}");
    assert_eq!(r.files_failed, 0);
    assert_eq!(r.records_read, 15);
    assert_eq!(r.kept, 14);
    assert_eq!(r.non_ec2_skipped, 1);
    assert_eq!(r.duplicates, 0);
    assert_eq!(r.bad_records, 0);
    assert_eq!(r.files_by_format.get("s3-records"), Some(&3));

    let df = &got.df;
    assert_eq!(df.height(), 14);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, enisim::trace::COLUMNS.to_vec());

    let time = col_i64(df, "time");
    assert!(time.windows(2).all(|w| w[0] <= w[1]), "sorted by time");
    let ids = col_strings(df, "event_id");
    let row = |n: u32| {
        ids.iter()
            .position(|e| e.as_deref() == Some(eid(n).as_str()))
            .unwrap_or_else(|| panic!("event {n} missing"))
    };
    let get = |col: &str, n: u32| col_strings(df, col)[row(n)].clone();
    let s = |x: &str| Some(x.to_string());

    // Ids, from requests and responses.
    assert_eq!(get("eni_id", 2), s(E1), "Create: ENI from the response");
    assert_eq!(get("subnet_id", 1), s("subnet-0aa11bb22cc33dd44"));
    assert_eq!(get("attachment_id", 3), s(A1));
    assert_eq!(get("device_index", 3), s("1"));
    assert_eq!(get("instance_id", 3), s("i-0123456789abcdef0"));
    assert_eq!(
        get("instance_id", 5),
        s("i-0123456789abcdef0"),
        "filter by instance"
    );
    assert_eq!(get("eni_id", 5), None);
    // Attachment → ENI: from an earlier Attach, and from RunInstances' networkInterfaceSet.
    assert_eq!(get("eni_id", 6), s(E1), "DryRun detach resolved");
    assert_eq!(
        get("eni_id", 7),
        s(E1),
        "detach resolved via Attach response"
    );
    assert_eq!(get("eni_id", 10), None, "unknown attachment stays null");
    assert_eq!(get("eni_id", 12), s(E2), "detach resolved via RunInstances");
    // A Describe naming two ENIs.
    assert_eq!(get("eni_id", 13), s(E1));
    assert_eq!(get("eni_ids", 13), Some(format!("{E1},{E2}")));
    // Errors and throttles.
    assert_eq!(get("error_code", 1), s("Client.RequestLimitExceeded"));
    assert_eq!(get("throttled", 1), s("true"));
    assert_eq!(get("throttled", 8), s("false"));
    assert_eq!(
        get("error_code", 10),
        s("Client.InvalidAttachmentID.NotFound")
    );
    // Callers.
    assert_eq!(get("caller_class", 2), s("controller"));
    assert_eq!(get("caller_class", 13), s("vpc-cni"));
    assert_eq!(get("caller_class", 15), s("other"));
    assert_eq!(get("principal", 2), s(ROLE));
    assert_eq!(get("principal", 15), s("rds.amazonaws.com"));
    assert_eq!(get("account", 2), s("111122223333"));
    assert_eq!(get("region", 2), s("us-east-1"));
    assert_eq!(
        get("request_id", 2),
        s("0e7c1a2b-3c4d-4e5f-8a6b-000000000002")
    );
    // Retry chains: throttled Create → same clientToken; Delete "in use" → same parameters.
    assert_eq!(get("retry_chain", 2), get("retry_chain", 1));
    assert_eq!(get("attempt", 2), s("2"));
    assert_eq!(get("retry_chain", 9), get("retry_chain", 8));
    assert_eq!(get("attempt", 9), s("2"));
    assert_ne!(
        get("retry_chain", 7),
        get("retry_chain", 6),
        "DryRun is not a failure"
    );
    assert_eq!(get("attempt", 7), s("1"));
    assert_ne!(
        get("retry_chain", 15),
        get("retry_chain", 2),
        "other principal"
    );
}

#[test]
fn the_three_shapes_give_the_same_table() {
    let cols = content_columns();
    let s3 = ingest_one(&fixture("s3"));
    let base = canonical_rows(&s3.df, &cols);
    assert_eq!(base.len(), 14);
    for (rel, format) in [
        ("lookup-events.json", "lookup-events"),
        ("lake.csv.gz", "csv"),
        ("athena.csv", "csv"),
    ] {
        let got = ingest_one(&fixture(rel));
        assert_eq!(got.report.files_by_format.get(format), Some(&1), "{rel}");
        assert_eq!(got.report.non_ec2_skipped, 1, "{rel}");
        assert_eq!(got.report.bad_records, 0, "{rel}: {}", got.report);
        let rows = canonical_rows(&got.df, &cols);
        assert_eq!(rows.len(), base.len(), "{rel}");
        for (i, (a, b)) in base.iter().zip(&rows).enumerate() {
            for (c, (x, y)) in cols.iter().zip(a.iter().zip(b)) {
                assert_eq!(x, y, "{rel}: row {i} column {c}");
            }
        }
    }
}

#[test]
fn forced_format_is_checked() {
    let opts = IngestOptions {
        format: Some(TraceFormat::LookupEvents),
        strict: true,
        ..IngestOptions::default()
    };
    let err = ingest(&[fixture("athena.csv")], &opts).unwrap_err();
    assert!(err.to_string().contains("athena.csv"), "{err}");
    assert!(err.to_string().contains("not JSON"), "{err}");
    let err = ingest(&[fixture("s3")], &opts).unwrap_err();
    assert!(err.to_string().contains("s3-records"), "{err}");
    // Forcing the right shape works.
    let opts = IngestOptions {
        format: Some(TraceFormat::Csv),
        ..IngestOptions::default()
    };
    let got = ingest(&[fixture("athena.csv"), fixture("lake.csv.gz")], &opts).unwrap();
    assert_eq!(got.report.kept, 14);
    assert_eq!(got.report.duplicates, 14);
}

#[test]
fn parquet_round_trip_is_atomic_and_lossless() {
    let got = ingest_one(&fixture("s3"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.parquet");
    enisim::trace::write_parquet(&got.df, &path).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
    let back = enisim::trace::read_parquet(&path).unwrap();
    let cols: Vec<&str> = enisim::trace::COLUMNS.to_vec();
    assert_eq!(canonical_rows(&back, &cols), canonical_rows(&got.df, &cols));
    // Writing into a missing directory fails cleanly.
    let err = enisim::trace::write_parquet(&got.df, &dir.path().join("no/such/x.parquet"));
    assert!(err.is_err());
}

/// Files over `SLURP_LIMIT` are streamed (records copy their text) instead of parsed from
/// memory (records borrow it): both paths must give the same records, for every fixture,
/// good or bad, whatever the point where streaming starts.
#[test]
fn streamed_and_in_memory_parsing_agree() {
    use enisim::trace::{parse_document, parse_document_with_limit};
    let mut files = Vec::new();
    let mut dirs = vec![fixtures()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if !p.to_string_lossy().ends_with(".py") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 12, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let mut variants = vec![(String::new(), bytes.clone())];
        if !bytes.starts_with(&[0x1f, 0x8b]) {
            // Leading blanks longer than the streamed head (found by the fuzz target: the
            // head held only blanks and the file read as empty), with and without a BOM.
            for prefix in [&b"\t\t\t\t\t\t\t\t\t\t"[..], b"\xEF\xBB\xBF \n \n \n \n"] {
                let mut v = prefix.to_vec();
                v.extend_from_slice(&bytes);
                variants.push((format!(" after {prefix:?}"), v));
            }
        }
        for (what, bytes) in variants {
            let (whole, whole_err) = parse_document(&bytes, None);
            for limit in [1, 3, 4, 9, 17, 256, 4096] {
                let (streamed, streamed_err) = parse_document_with_limit(&bytes, None, limit);
                let at = format!("{}{what} at limit {limit}", f.display());
                assert_eq!(whole, streamed, "{at}");
                assert_eq!(
                    whole_err.is_some(),
                    streamed_err.is_some(),
                    "{at}: {whole_err:?} vs {streamed_err:?}"
                );
            }
        }
    }
}

/// `ingest_with_progress` reports once before the first file and after each, up to every
/// file and byte.
#[test]
fn ingest_reports_progress_after_each_file() {
    use enisim::trace::{ingest_with_progress, IngestOptions, IngestProgress};
    let mut seen: Vec<IngestProgress> = Vec::new();
    let got = ingest_with_progress(&[fixture("s3")], &IngestOptions::default(), &mut |p| {
        seen.push(*p)
    })
    .unwrap();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0].files_done, 0);
    let last = seen.last().unwrap();
    assert_eq!(last.files_done, 3);
    assert_eq!(last.files_total, 3);
    assert_eq!(last.bytes_done, last.bytes_total);
    assert!(last.bytes_total > 0);
    assert_eq!(last.records, got.report.records_read);
    assert!(seen.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done));
}
