//! The replications of a scenario: one library concept that `run`, sweeps, recommendations
//! and synthetic trails share, so the same settings and seed give the same runs by
//! construction, whoever asks.

use super::kinds::simulate;
use super::values::Settings;
use super::world::{BuildError, Model};
use crate::engine::rng;
use crate::metrics::RunRecord;
use rayon::prelude::*;

/// The seed of replication `r` of a run with seed `seed`. Every grid point of a sweep uses
/// the same seeds (common random numbers).
pub fn replication_seed(seed: u64, r: u32) -> u64 {
    rng::stream_seed(seed, &format!("replication-{r}"))
}

/// Replication `r`, its ENI rows numbered `r`.
pub fn simulate_replication(
    settings: &Settings,
    model: &Model,
    seed: u64,
    r: u32,
) -> Result<RunRecord, BuildError> {
    let mut rec = simulate(settings, model, replication_seed(seed, r))?;
    for row in &mut rec.enis {
        row.replication = r;
    }
    Ok(rec)
}

/// Replications `0..replications` in parallel (on the current rayon pool), in order; the
/// result does not depend on the thread count. `done` is called after each one (progress).
pub fn replicate(
    settings: &Settings,
    model: &Model,
    seed: u64,
    replications: u32,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<RunRecord>, BuildError> {
    (0..replications)
        .into_par_iter()
        .map(|r| {
            let rec = simulate_replication(settings, model, seed, r);
            done();
            rec
        })
        .collect()
}

/// How each replication's (model, settings) differ from the base: called with the
/// replication index on copies of both (e.g. a calibrated θ drawn per replication).
pub type Vary<'a> = &'a (dyn Fn(u32, &mut Model, &mut Settings) -> Result<(), String> + Sync);

/// [`replicate`] with each replication's model and settings varied by `vary` (its seed and
/// every stream unchanged: only what `vary` sets differs).
pub fn replicate_varied(
    settings: &Settings,
    model: &Model,
    seed: u64,
    replications: u32,
    vary: Vary<'_>,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<RunRecord>, BuildError> {
    (0..replications)
        .into_par_iter()
        .map(|r| {
            let mut m = model.clone();
            let mut s = settings.clone();
            vary(r, &mut m, &mut s).map_err(BuildError::Varied)?;
            let rec = simulate_replication(&s, &m, seed, r);
            done();
            rec
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_derived_by_name() {
        assert_eq!(replication_seed(1, 3), rng::stream_seed(1, "replication-3"));
        assert_ne!(replication_seed(1, 3), replication_seed(1, 4));
    }
}
