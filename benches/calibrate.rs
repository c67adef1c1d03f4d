//! Calibrating the round-trip trail (2 nodes × 3 ENIs, burst then scale-down, a hidden truth
//! away from the defaults) with the command's default effort: the figure BENCHMARKS.md
//! records against the ≤ 60 s target. `cargo bench --bench calibrate`.

use enisim::calibrate::{calibrate, simulate::simulated_trail, Options};
use enisim::controller::ControllerProfile;
use enisim::plausible::NamedValue;
use enisim::scenario::{Model, ScenarioSpec, Settings};

fn main() {
    let mut spec = ScenarioSpec::embedded("scale-down").expect("scale-down");
    spec.cluster.nodes = 2;
    spec.cluster.enis_per_node = 3;
    let settings = Settings::new(ControllerProfile::embedded(), spec);
    let mut truth = Model::embedded();
    let mut s = settings.clone();
    for (n, v) in [
        ("ec2.latency.DescribeNetworkInterfaces.median_ms", 200.0),
        ("ec2.latency.AttachNetworkInterface.median_ms", 900.0),
        ("ec2.tenant.DescribeNetworkInterfaces.rate_per_s", 4.0),
    ] {
        enisim::calibrate::params::set(&mut truth, &mut s, n, &NamedValue::Number(v))
            .expect("a parameter");
    }
    let trail = simulated_trail(&settings, &truth, 7, 0).expect("a trail");
    let start = std::time::Instant::now();
    let cal = calibrate(
        &trail,
        "bench",
        &Model::embedded(),
        &settings,
        &Options::default(),
        &|_, _, _| {},
    )
    .expect("a calibration");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "calibrate 2x3 round trip: {:.1} s wall ({} calls in the trail, {} evaluations, {} threads): {}",
        secs,
        trail.calls.len(),
        cal.evaluations,
        rayon::current_num_threads(),
        cal.verdict
    );
}
