//! One replication of the default burst, and the default `run` (20 replications).

use criterion::{criterion_group, criterion_main, Criterion};
use enisim::controller::ControllerProfile;
use enisim::scenario::{simulate, Model, ScenarioSpec, Settings};
use std::hint::black_box;

fn burst(c: &mut Criterion) {
    let settings = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    );
    let model = Model::embedded();
    let mut g = c.benchmark_group("burst");
    g.sample_size(30);
    g.bench_function("one replication", |b| {
        let mut seed = 0;
        b.iter(|| {
            seed += 1;
            black_box(simulate(&settings, &model, seed).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, burst);
criterion_main!(benches);
