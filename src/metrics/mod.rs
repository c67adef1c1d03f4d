//! What a run records and how it is summarised: statistics with confidence intervals,
//! per-run records and summaries, threshold verdicts.

pub mod record;
pub mod series;
pub mod stats;
pub mod summary;
pub mod thresholds;

pub use record::{
    ActionStats, EniRow, OperationRow, ReconcileRow, RunMetrics, RunRecord, StatusWriteRow,
    StepMetrics,
};
pub use stats::{mean_ci, quantile, MeanCi};
