//! Helpers shared by the sweep and recommend tests.
#![allow(dead_code)]

use enisim::controller::ControllerProfile;
use enisim::metrics::thresholds::Thresholds;
use enisim::scenario::{Model, ScenarioSpec, Settings};
use enisim::sweep::{Grid, SweepDef};

/// The embedded burst with the embedded controller profile.
pub fn base() -> Settings {
    Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    )
}

/// A sweep of the burst over `grid` (`KEY=VALUES` axes).
pub fn def(grid: &[&str], replications: u32, seed: u64) -> SweepDef {
    let b = base();
    let specs: Vec<String> = grid.iter().map(|s| s.to_string()).collect();
    let g = Grid::parse(&specs, &b).unwrap();
    SweepDef::new(
        "burst",
        b,
        Model::embedded(),
        Thresholds::embedded(),
        g,
        replications,
        seed,
    )
    .unwrap()
}
