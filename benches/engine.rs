//! Engine benchmarks: the hold model at 10, 1 000 and 100 000 pending events, and one
//! M/M/5 replication through the executor and the work queue.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use enisim::engine::hold::hold;
use enisim::textbook::model::replicate;
use enisim::textbook::{CheckCase, Service};
use std::hint::black_box;

fn hold_benchmark(c: &mut Criterion) {
    let mut g = c.benchmark_group("hold");
    const EVENTS: u64 = 1_000_000;
    g.throughput(Throughput::Elements(EVENTS));
    for pending in [10usize, 1_000, 100_000] {
        g.bench_with_input(BenchmarkId::from_parameter(pending), &pending, |b, &p| {
            b.iter(|| black_box(hold(p, EVENTS, 1)))
        });
    }
    g.finish();
}

fn mm5_benchmark(c: &mut Criterion) {
    let case = CheckCase {
        servers: 5,
        rho: 0.8,
        service: Service::Exponential,
    };
    let events = replicate(&case, 10_000, 1_000, 1).events;
    let mut g = c.benchmark_group("mm5");
    g.throughput(Throughput::Elements(events));
    g.sample_size(20);
    g.bench_function("10k customers", |b| {
        b.iter(|| black_box(replicate(&case, 10_000, 1_000, 1)))
    });
    g.finish();
}

criterion_group!(benches, hold_benchmark, mm5_benchmark);
criterion_main!(benches);
