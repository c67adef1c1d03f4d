//! `stats`: per action and caller class, rates, and gaps between paired calls.

mod common;

use common::*;
use enisim::trace::{ingest, stats, synth, GapKind, IngestOptions, SynthCall, SynthOptions};

#[test]
fn fixture_stats() {
    let got = ingest_one(&fixture("s3"));
    let st = stats(&got.df).unwrap();
    assert_eq!(st.rows, 14);
    assert_eq!(
        st.span_s, 60.0,
        "40 s of trace, rates over at least a minute"
    );

    let c = st.action("CreateNetworkInterface", "controller").unwrap();
    assert_eq!((c.calls, c.errors, c.throttles, c.dry_runs), (2, 1, 1, 0));
    let d = st.action("DetachNetworkInterface", "controller").unwrap();
    assert_eq!((d.calls, d.errors, d.dry_runs), (4, 1, 1));
    assert_eq!((d.peak_per_s, d.max_per_min), (1, 4));
    assert!((d.mean_per_min - 4.0).abs() < 1e-9);
    assert_eq!(
        st.action("DescribeNetworkInterfaces", "vpc-cni")
            .unwrap()
            .calls,
        1
    );
    assert_eq!(
        st.action("CreateNetworkInterface", "other").unwrap().calls,
        1
    );

    let gap = |k: GapKind| {
        st.gaps
            .iter()
            .find(|g| g.pair == k && g.caller_class == "controller")
            .unwrap()
    };
    let g = gap(GapKind::CreateToAttach);
    assert_eq!((g.n, g.p50_s, g.max_s), (1, 2.0, 2.0));
    // Attach and Describe share a second: lifecycle order within a second gives 0 s.
    let g = gap(GapKind::AttachToDescribe);
    assert_eq!((g.n, g.p50_s), (1, 0.0));
    let g = gap(GapKind::DetachToDelete);
    assert_eq!((g.n, g.p50_s), (1, 4.0));

    // Renderings.
    let text = st.to_text();
    assert!(text.contains("CreateNetworkInterface"), "{text}");
    assert!(text.contains("detach->delete"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&st.to_json()).unwrap();
    assert_eq!(json["actions"].as_array().unwrap().len(), st.actions.len());
    assert_eq!(json["gaps"][0]["pair"], "create-to-attach");
    let csv = st.to_csv();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "action,caller_class,calls,errors,dry_runs,throttles,peak_per_s,max_per_min,mean_per_min"
    );
    assert_eq!(lines.count(), st.actions.len());
    assert!(st.gaps_to_csv().starts_with("pair,caller_class,n,p50_s"));

    // The same numbers from the Parquet file.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.parquet");
    enisim::trace::write_parquet(&got.df, &p).unwrap();
    let back = enisim::trace::read_parquet(&p).unwrap();
    assert_eq!(stats(&back).unwrap(), st);
}

#[test]
fn peaks_and_windows() {
    // 30 Describe calls: 12 in one second, 18 spread one per 5 s. With no Create to
    // recognise the controller's principal by, they carry the user agent older enisim
    // versions wrote (still classed `controller` by that agent).
    let legacy = enisim::trace::LEGACY_USER_AGENT.to_string();
    let mut calls = Vec::new();
    for i in 0..12u64 {
        calls.push(SynthCall {
            action: "DescribeNetworkInterfaces".into(),
            eni_id: Some(format!("eni-{i:017x}")),
            start_ns: 10_000_000_000 + i,
            end_ns: 10_100_000_000 + i,
            caller: legacy.clone(),
            ..SynthCall::default()
        });
    }
    for i in 0..18u64 {
        let t = 20_000_000_000 + i * 5_000_000_000;
        calls.push(SynthCall {
            action: "DescribeNetworkInterfaces".into(),
            eni_id: Some(format!("eni-{:017x}", 100 + i)),
            start_ns: t,
            end_ns: t + 50_000_000,
            caller: legacy.clone(),
            ..SynthCall::default()
        });
    }
    let dir = tempfile::tempdir().unwrap();
    synth(&calls, &SynthOptions::default(), dir.path()).unwrap();
    let got = ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).unwrap();
    let st = stats(&got.df).unwrap();
    let a = st
        .action("DescribeNetworkInterfaces", "controller")
        .unwrap();
    assert_eq!(a.calls, 30);
    assert_eq!(a.peak_per_s, 12);
    // [10 s, 70 s): the burst of 12 + calls at 20, 25, …, 65 s (10 of them).
    assert_eq!(a.max_per_min, 22);
    // Span 10 s .. 105 s = 96 s.
    assert!((st.span_s - 96.0).abs() < 1e-9);
    assert!((a.mean_per_min - 30.0 / 1.6).abs() < 1e-9);
}

#[test]
fn stats_needs_the_columns() {
    let df = polars::prelude::DataFrame::empty();
    assert!(stats(&df).is_err());
    // An empty table is fine.
    let got = ingest_one(&fixture("s3"));
    let empty = got.df.head(Some(0));
    let st = stats(&empty).unwrap();
    assert_eq!(st.rows, 0);
    assert!(st.actions.is_empty());
    assert!(st.to_text().contains("empty"));
}
