//! What a finished output directory tells a reader. For now: run-to-run (and
//! sweep-to-sweep) comparison with Welch intervals, for regression checks in a team's CI
//! (`enisim compare A B`).

pub mod compare;
pub mod openmetrics;
