//! The hidden truth the calibration tests recover (issue #11, "Proof"): θ* drawn away from
//! the defaults — service-time medians ×0.5–3, bucket refills ×0.5–2, a VPC-CNI-like tenant
//! on Describe, Attach and Detach, 1 % server errors on DescribeNetworkInterfaces — and the
//! recorded cluster's workload, a burst of `nodes` × `enis` followed by a scale-down.
#![allow(dead_code)]

use enisim::aws::profile::Tenant;
use enisim::calibrate::{calibrate, simulate::simulated_trail, Calibration, Options};
use enisim::controller::profile::GoDuration;
use enisim::controller::ControllerProfile;
use enisim::engine::rng;
use enisim::plausible::NamedValue;
use enisim::scenario::{Model, ScenarioSpec, Settings};
use rand::RngExt;

pub const SECOND_NS: u64 = 1_000_000_000;

/// A `nodes` × `enis` burst, scaled down `steady_s` after it converged.
pub fn settings_of(nodes: u32, enis: u32, steady_s: u64) -> Settings {
    let mut s = ScenarioSpec::embedded("scale-down").unwrap();
    s.cluster.nodes = nodes;
    s.cluster.enis_per_node = enis;
    s.scale_down.as_mut().unwrap().after_converged = GoDuration(steady_s * SECOND_NS);
    Settings::new(ControllerProfile::embedded(), s)
}

/// The round trip's recording: 2 nodes × 3 ENIs, scaled down 30 s after converging.
pub fn settings() -> Settings {
    settings_of(2, 3, 30)
}

/// θ* of `seed` (the same draws whatever the workload) and the values it set, by name.
pub fn truth(seed: u64) -> (Model, Vec<(String, f64)>) {
    let mut m = Model::embedded();
    let mut s = settings();
    let mut g = rng::stream(seed, "hidden-truth");
    let mut set = Vec::new();
    // Each named value of `actions` scaled from its default by a factor uniform on
    // [low, low + width), drawn in this order.
    let mut scale = |actions: &[&str], key: &str, low: f64, width: f64| {
        for a in actions {
            let name = format!("ec2.{key}", key = key.replace("{a}", a));
            let base = enisim::calibrate::params::get(&m, &s, &name)
                .unwrap()
                .as_f64()
                .unwrap();
            set.push((name, base * (low + width * g.random::<f64>())));
        }
    };
    scale(
        &[
            "CreateNetworkInterface",
            "AttachNetworkInterface",
            "ModifyNetworkInterfaceAttribute",
            "DeleteNetworkInterface",
            "DetachNetworkInterface",
            "DescribeNetworkInterfaces",
            "DescribeInstances",
            "DescribeSubnets",
        ],
        "latency.{a}.median_ms",
        0.5,
        2.5,
    );
    scale(
        &[
            "AttachNetworkInterface",
            "DetachNetworkInterface",
            "DescribeNetworkInterfaces",
        ],
        "bucket.{a}.refill_per_s",
        0.5,
        1.5,
    );
    set.push((
        "ec2.error_probability.DescribeNetworkInterfaces".into(),
        0.01,
    ));
    for (n, v) in &set {
        enisim::calibrate::params::set(&mut m, &mut s, n, &NamedValue::Number(*v)).unwrap();
    }
    for (action, rate) in [
        ("DescribeNetworkInterfaces", 4.0),
        ("AttachNetworkInterface", 1.5),
        ("DetachNetworkInterface", 1.5),
    ] {
        m.ec2.background.push(Tenant {
            name: "vpc-cni".into(),
            action: action.into(),
            rate_per_s: rate,
            filtered: true,
        });
        set.push((format!("ec2.tenant.{action}.rate_per_s"), rate));
    }
    (m, set)
}

/// Sizes for a debug build on two cores: R = 8 replications per point, 100 for the weight
/// and the J test's simulated null, 3 Levenberg–Marquardt steps then at most 12
/// Nelder–Mead iterations.
pub fn opts(seed: u64) -> Options {
    Options {
        seed: 1000 + seed,
        replications: 8,
        weight_replications: 100,
        max_iters: 12,
        ..Options::default()
    }
}

/// The true value of `name` in θ*.
pub fn true_value(set: &[(String, f64)], name: &str) -> f64 {
    set.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} is not in θ*"))
        .1
}

/// θ* of `seed`, and the calibration from the defaults of the trail it makes under
/// `settings` (replication 0).
pub fn recovered(settings: &Settings, seed: u64) -> (Vec<(String, f64)>, Calibration) {
    let (true_model, set) = truth(seed);
    let trail = simulated_trail(settings, &true_model, seed, 0).unwrap();
    let cal = calibrate(
        &trail,
        &format!("hidden-truth-{seed}"),
        &Model::embedded(),
        settings,
        &opts(seed),
        &|_, _, _| {},
    )
    .unwrap();
    (set, cal)
}
