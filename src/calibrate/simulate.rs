//! One replication of the model as the trail CloudTrail would hold of it: the controller's
//! attempts and the other tenants' calls as the buckets saw them (`trace::synth_run`, the
//! one path `trace synth` and replay take too), written and read back by the trace code
//! (`trace::synth_table`), rounded to eventTime's one second on the way.

use polars::prelude::DataFrame;

use super::observed::Trail;
use crate::scenario::{simulate_replication, Model, Settings};
use crate::trace::{synth_run, synth_table, CallerRules, SynthOptions};

/// Why a simulated trail could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("the scenario cannot be built: {0}")]
    Build(#[from] crate::scenario::BuildError),
    #[error("the simulated trail cannot be read: {0}")]
    Trace(#[from] crate::trace::TraceError),
    #[error("a parameter cannot be set: {0}")]
    Param(String),
}

/// Replication `r` of (settings, model, seed) as a trail.
pub fn simulated_trail(
    settings: &Settings,
    model: &Model,
    seed: u64,
    r: u32,
) -> Result<Trail, SimulateError> {
    Ok(Trail::from_frame(&simulated_table(
        settings, model, seed, r,
    )?)?)
}

/// Replication `r` of (settings, model, seed) as the table `trace ingest` would make of
/// its trail (virtual time 0 at `SynthOptions::default`'s start time): what a recorded
/// trail is read into, so the workload can be reconstructed from it too.
pub fn simulated_table(
    settings: &Settings,
    model: &Model,
    seed: u64,
    r: u32,
) -> Result<DataFrame, SimulateError> {
    let run = simulate_replication(settings, model, seed, r)?;
    let calls = synth_run(&run);
    let opts = SynthOptions {
        seed,
        ..SynthOptions::default()
    };
    Ok(synth_table(&calls, &opts, &CallerRules::default())?)
}
