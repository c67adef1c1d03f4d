//! Rendering reports: the default run's (`enisim run --out`, 20 replications; target ≤ 2 s)
//! and the default sweep's (180 points × 20 replications; target ≤ 5 s), from the tables
//! to report.html and every figure as SVG and PNG.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;
use std::process::Command;

fn make(args: &[&str], dir: &Path) {
    let ok = Command::new(env!("CARGO_BIN_EXE_enisim"))
        .args(args)
        .arg("--out")
        .arg(dir)
        .output()
        .expect("run enisim")
        .status
        .success();
    assert!(ok, "enisim {args:?} failed");
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let sweep = tmp.path().join("sweep");
    make(&["run"], &run);
    make(&["sweep", "-q"], &sweep);
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function("default run", |b| {
        b.iter(|| enisim::report::render::render_dir(&run).unwrap())
    });
    g.bench_function("default sweep", |b| {
        b.iter(|| enisim::report::render::render_dir(&sweep).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
