//! `trace ingest` parses files on all of rayon's threads: the table (its Parquet bytes) and
//! the report must be the ones a single thread makes, for every thread count, on a trail of
//! many files mixing shapes, duplicates across files, bad records and a broken file — also
//! when the table goes to Parquet a row group at a time (`trace ingest -o`).

use std::path::{Path, PathBuf};

use enisim::trace::{
    example_workload, ingest, ingest_table_with_progress, synth, write_parquet, IngestOptions,
    Ingested, SynthOptions,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail")
}

fn ingest_on(threads: usize, paths: &[PathBuf], opts: &IngestOptions) -> Ingested {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(|| ingest(paths, opts))
        .expect("ingest")
}

fn parquet_bytes(got: &Ingested, dir: &Path, name: &str) -> Vec<u8> {
    let p = dir.join(name);
    write_parquet(&got.df, &p).expect("parquet");
    std::fs::read(p).expect("read back")
}

#[test]
fn the_table_and_report_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = dir.path().join("trail");
    let opts = SynthOptions {
        seed: 3,
        ..SynthOptions::default()
    };
    let rep = synth(&example_workload(30_000, 3), &opts, &trail).expect("synth");
    assert!(
        rep.files.len() >= 8,
        "{} files: too few to spread",
        rep.files.len()
    );
    // A copy of one delivery file (every record a duplicate), the fixtures' other shapes and
    // their bad records and broken files.
    std::fs::copy(&rep.files[1], trail.join("copy-of-second.json.gz")).expect("copy");
    let paths = vec![trail, fixtures()];
    let opts = IngestOptions {
        max_issues: 3,
        ..IngestOptions::default()
    };

    let one = ingest_on(1, &paths, &opts);
    assert!(
        one.report.duplicates > 0,
        "the copied file's records are duplicates"
    );
    assert!(
        one.report.issues_total() > 3,
        "bad input beyond the listed issues"
    );
    let reference = parquet_bytes(&one, dir.path(), "1.parquet");
    let report = format!("{:?}", one.report);
    for threads in [2, 3, 7] {
        let got = ingest_on(threads, &paths, &opts);
        assert_eq!(
            format!("{:?}", got.report),
            report,
            "report with {threads} threads"
        );
        assert!(
            parquet_bytes(&got, dir.path(), &format!("{threads}.parquet")) == reference,
            "table with {threads} threads differs from one thread's"
        );
    }
    // `trace ingest -o` writes the table a row group at a time, never as a DataFrame: the
    // same bytes, on every thread count.
    for threads in [1, 2] {
        let p = dir.path().join(format!("streamed-{threads}.parquet"));
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| {
                let t = ingest_table_with_progress(&paths, &opts, &mut |_| {}).expect("ingest");
                assert_eq!(format!("{:?}", t.report), report);
                t.write_parquet(&p)
            })
            .expect("parquet");
        assert!(
            std::fs::read(&p).expect("read back") == reference,
            "streamed with {threads} threads differs from the DataFrame's bytes"
        );
    }
}

#[test]
fn strict_mode_stops_at_the_first_bad_file_in_file_order() {
    let paths = vec![fixtures()];
    let opts = IngestOptions {
        strict: true,
        ..IngestOptions::default()
    };
    let err = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| ingest(&paths, &opts))
            .err()
            .map(|e| e.to_string())
            .expect("the fixtures hold bad records: strict ingest fails")
    };
    let first = err(1);
    for threads in [2, 5] {
        assert_eq!(err(threads), first);
    }
}
