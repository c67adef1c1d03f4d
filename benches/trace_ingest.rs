//! Ingest throughput (records/s) on a synthetic trail, plus the single-record parser and
//! the writer. `cargo bench --bench trace_ingest`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use enisim::trace::{
    example_workload, ingest, parse_record, stats, synth, IngestOptions, SynthOptions,
};

const RECORDS: usize = 20_000;

fn bench(c: &mut Criterion) {
    let calls = example_workload(RECORDS, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SynthOptions {
        seed: 1,
        ..SynthOptions::default()
    };
    let rep = synth(&calls, &opts, dir.path()).expect("synth");
    let first = std::fs::read(&rep.files[0]).expect("read");
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&first[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    // One record's JSON: the first element of Records.
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let one = serde_json::to_vec(&v["Records"][0]).expect("record");
    // The same trail as one JSON-lines file (`jq -c '.Records[]'`), under `SLURP_LIMIT`: the
    // in-memory path whose value-by-value reading was once quadratic.
    let lines_dir = tempfile::tempdir().expect("tempdir");
    let lines = lines_dir.path().join("trail.jsonl");
    {
        let mut out = Vec::new();
        for f in &rep.files {
            let mut t = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(f).expect("open"))
                .read_to_string(&mut t)
                .expect("gunzip");
            let v: serde_json::Value = serde_json::from_str(&t).expect("json");
            for r in v["Records"].as_array().expect("records") {
                serde_json::to_writer(&mut out, r).expect("write");
                out.push(b'\n');
            }
        }
        std::fs::write(&lines, out).expect("write");
    }

    let mut g = c.benchmark_group("trace");
    g.sample_size(10);
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("ingest_s3_gz", |b| {
        b.iter(|| {
            let got =
                ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).expect("ingest");
            black_box(got.df.height())
        })
    });
    g.bench_function("ingest_json_lines", |b| {
        b.iter(|| {
            let got =
                ingest(std::slice::from_ref(&lines), &IngestOptions::default()).expect("ingest");
            black_box(got.df.height())
        })
    });
    let got = ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).expect("ingest");
    g.bench_function("stats", |b| {
        b.iter(|| black_box(stats(&got.df).expect("stats")))
    });
    g.bench_function("synth", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("tempdir"),
            |out| black_box(synth(&calls, &opts, out.path()).expect("synth")),
            BatchSize::PerIteration,
        )
    });
    g.throughput(Throughput::Elements(1));
    g.sample_size(50);
    g.bench_function("parse_record", |b| {
        b.iter(|| black_box(parse_record(black_box(&one)).expect("record")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
