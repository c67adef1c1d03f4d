//! One replication of each built-in scenario (the default burst first).

use criterion::{criterion_group, criterion_main, Criterion};
use enisim::controller::ControllerProfile;
use enisim::scenario::{simulate, Model, ScenarioSpec, Settings};
use std::hint::black_box;

fn scenarios(c: &mut Criterion) {
    let model = Model::embedded();
    let mut g = c.benchmark_group("scenario");
    g.sample_size(10);
    for name in ScenarioSpec::embedded_names() {
        let settings = Settings::new(
            ControllerProfile::embedded(),
            ScenarioSpec::embedded(name).unwrap(),
        );
        g.bench_function(name, |b| {
            let mut seed = 0;
            b.iter(|| {
                seed += 1;
                black_box(simulate(&settings, &model, seed).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, scenarios);
criterion_main!(benches);
