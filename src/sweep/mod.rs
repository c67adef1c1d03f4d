//! Sweeps: a grid over any knob the model takes, replications with common random numbers
//! (every grid point sees the same seeds, exactly those of `enisim run`), run in parallel
//! with rayon, written as they finish to an append-only journal so an interrupted sweep
//! resumes where it stopped, sliced into deterministic shards for several machines and
//! merged back into exactly the table one machine would have produced.
//!
//! An output directory holds:
//!
//! | file | what |
//! |---|---|
//! | `sweep.json` | the definition (settings, model, thresholds, grid, replications, seed), its fingerprint, the shard |
//! | `journal.csv` | one line per finished run, appended as runs finish; sorted at the end |
//! | `runs.parquet`, `runs.csv` | one row per (point, replication) |
//! | `summary.parquet`, `summary.csv` | one row per point: mean, 95 % CI and verdict per metric |
//!
//! Same definition ⇒ byte-identical files, whatever the thread count, the shards or the
//! interruptions.

pub mod definition;
pub mod grid;
pub mod journal;
pub mod merge;
pub mod runner;
pub mod table;

pub use definition::{replication_seed, Manifest, Shard, SweepDef, CALLS_PER_MIN};
pub use grid::{Axis, Grid, GridError, DEFAULT_GRID};
pub use journal::RunRow;
pub use merge::merge;
pub use runner::{execute, load_results, Progress, RunOptions, SweepOutcome, SweepResults};
pub use table::{PointSummary, Table};

use std::path::Path;

pub const MANIFEST: &str = "sweep.json";
pub const JOURNAL: &str = "journal.csv";
pub const RUNS_CSV: &str = "runs.csv";
pub const RUNS_PARQUET: &str = "runs.parquet";
pub const SUMMARY_CSV: &str = "summary.csv";
pub const SUMMARY_PARQUET: &str = "summary.parquet";

/// Why a sweep could not run or be merged.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The user's input: a malformed grid, an unknown key, a bad shard, mismatched shards.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Grid(#[from] GridError),
    /// Anything else (I/O, Parquet).
    #[error("{0}")]
    Io(String),
}

impl SweepError {
    /// True for errors that are the user's input (exit status 2).
    pub fn is_input(&self) -> bool {
        matches!(self, SweepError::Input(_) | SweepError::Grid(_))
    }
}

/// Writes `bytes` to `path` atomically (`crate::atomic`), as a sweep error.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    crate::atomic::write_atomically(path, bytes)
        .map_err(|e| SweepError::Io(format!("{}: {e}", path.display())))
}

/// The table files of a directory whose journal holds every run: runs and summary, as
/// Parquet and CSV, and the journal rewritten in (point, replication) order.
pub fn write_tables(
    dir: &Path,
    def: &SweepDef,
    rows: &[RunRow],
) -> Result<Vec<PointSummary>, SweepError> {
    let summaries = table::summarise_points(def, rows);
    let runs = table::runs_table(def, rows);
    let summary = table::summary_table(def, &summaries);
    write_atomically(&dir.join(RUNS_PARQUET), &runs.to_parquet()?)?;
    write_atomically(&dir.join(RUNS_CSV), &runs.to_csv())?;
    write_atomically(&dir.join(SUMMARY_PARQUET), &summary.to_parquet()?)?;
    write_atomically(&dir.join(SUMMARY_CSV), &summary.to_csv())?;
    write_atomically(
        &dir.join(JOURNAL),
        &journal::sorted_bytes(rows, &def.metrics),
    )?;
    Ok(summaries)
}
