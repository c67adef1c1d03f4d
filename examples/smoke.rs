use enisim::controller::ControllerProfile;
use enisim::scenario::{simulate, Model, ScenarioSpec, Settings};
fn main() {
    let mut s = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    );
    for a in std::env::args().skip(1) {
        s.apply_set(&a).unwrap();
    }
    let m = Model::embedded();
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let t = std::time::Instant::now();
    for i in 1..n {
        simulate(&s, &m, i + 100).unwrap();
    }
    let r = simulate(&s, &m, 1).unwrap();
    println!("{:#?}", r.metrics);
    for (a, st) in &r.actions {
        println!("{a}: {st:?}");
    }
    println!(
        "buckets {:?}",
        r.buckets
            .iter()
            .filter(|b| b.2 > 0 || b.1 > 0.0)
            .collect::<Vec<_>>()
    );
    println!("attach failures {:?}", r.attach_failures);
    println!("wall {:?}", t.elapsed());
}
