//! One replication of the model as the trail CloudTrail would hold of it: the controller's
//! attempts (`trace::synth_calls_with_enis`) and the other tenants' calls
//! (`trace::tenant_calls`), written and read back by the trace code (`trace::synth_table`),
//! rounded to eventTime's one second on the way.

use super::observed::Trail;
use crate::engine::time::SECOND;
use crate::scenario::{replication_seed, simulate_replication, Model, Settings};
use crate::trace::{synth_calls_with_enis, synth_table, tenant_calls, CallerRules, SynthOptions};

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
    let run = simulate_replication(settings, model, seed, r)?;
    let mut calls = synth_calls_with_enis(&run.calls, &run.enis);
    let until = calls.iter().map(|c| c.end_ns).max().unwrap_or(0) + SECOND;
    calls.extend(tenant_calls(&model.ec2, replication_seed(seed, r), until));
    let opts = SynthOptions {
        seed,
        ..SynthOptions::default()
    };
    let df = synth_table(&calls, &opts, &CallerRules::default())?;
    Ok(Trail::from_frame(&df)?)
}
