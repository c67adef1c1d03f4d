//! What a run records and how it is summarised: statistics with confidence intervals,
//! per-run records and summaries, threshold verdicts.

pub mod stats;

pub use stats::{mean_ci, quantile, MeanCi};
