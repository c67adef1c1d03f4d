//! Running a sweep (or one shard of it) into an output directory, resumably.

use super::definition::{replication_seed, run_metric_values, Manifest, Shard, SweepDef};
use super::journal::{self, Journal, RunRow};
use super::table::{summarise_points, PointSummary};
use super::{write_atomically, write_tables, SweepError, JOURNAL, MANIFEST};
use crate::scenario::{simulate, Model, Settings};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub shard: Option<Shard>,
    /// Continue the sweep already in the directory (same definition and shard).
    pub resume: bool,
    /// Start again, discarding the sweep already in the directory.
    pub overwrite: bool,
    /// Stop after this many new runs, as an interruption would (for tests).
    pub stop_after: Option<usize>,
}

/// Where a sweep stands, reported after every finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Runs finished, those found in the journal on resume included.
    pub done: usize,
    pub total: usize,
    /// Runs found already finished when this invocation started.
    pub resumed: usize,
}

#[derive(Debug, Clone)]
pub struct SweepOutcome {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub total_runs: usize,
    pub resumed_runs: usize,
    pub new_runs: usize,
    /// Every run of this directory's points is in the journal, and the tables are written.
    pub complete: bool,
    /// Per point (of this directory), when complete.
    pub summaries: Vec<PointSummary>,
    /// Failed runs: (point, replication, error).
    pub failures: Vec<(u32, u32, String)>,
}

/// One replication of one point: its metric values, or why it failed (a panic inside the
/// model included: a failed run is recorded, never lost).
pub fn run_one(
    settings: &Settings,
    model: &Model,
    seed: u64,
    metrics: &[String],
) -> Result<Vec<f64>, String> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        simulate(settings, model, seed)
    }));
    match result {
        Ok(Ok(rec)) => Ok(run_metric_values(&rec.metrics, metrics)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("the model panicked: {msg}"))
        }
    }
}

fn remove_outputs(dir: &Path) {
    for f in [
        MANIFEST,
        JOURNAL,
        super::RUNS_CSV,
        super::RUNS_PARQUET,
        super::SUMMARY_CSV,
        super::SUMMARY_PARQUET,
    ] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

/// Sorts rows by (point, replication) and keeps the first of any duplicate.
pub fn sort_rows(mut rows: Vec<RunRow>) -> Vec<RunRow> {
    rows.sort_by_key(|r| (r.point, r.replication));
    rows.dedup_by_key(|r| (r.point, r.replication));
    rows
}

/// Checks that journal rows belong to the manifest's points and seeds.
fn check_rows(
    manifest: &Manifest,
    seed: u64,
    rows: &[RunRow],
    path: &Path,
) -> Result<(), SweepError> {
    for r in rows {
        let p = r.point as usize;
        let mine = p < manifest.points && manifest.shard.is_none_or(|s| s.holds(p));
        if !mine || r.replication >= manifest.replications {
            return Err(SweepError::Input(format!(
                "{}: run (point {}, replication {}) does not belong to this sweep{}",
                path.display(),
                r.point,
                r.replication,
                manifest
                    .shard
                    .map(|s| format!(" shard {s}"))
                    .unwrap_or_default()
            )));
        }
        if r.seed != replication_seed(seed, r.replication) {
            return Err(SweepError::Input(format!(
                "{}: run (point {}, replication {}) has seed {}, not this sweep's",
                path.display(),
                r.point,
                r.replication,
                r.seed
            )));
        }
    }
    Ok(())
}

/// Runs the sweep `def` (or its shard) into `dir`: every finished run is appended to the
/// journal at once; when all are in, the tables are written.
pub fn execute(
    def: &SweepDef,
    dir: &Path,
    opts: &RunOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<SweepOutcome, SweepError> {
    let manifest = Manifest::new(def, opts.shard);
    let manifest_path = dir.join(MANIFEST);
    let journal_path = dir.join(JOURNAL);
    if manifest_path.exists() && opts.overwrite {
        remove_outputs(dir);
    }
    let mut existing = Vec::new();
    let journal = if manifest_path.exists() {
        let old = Manifest::load(dir)?;
        let same = old.fingerprint == manifest.fingerprint && old.shard == manifest.shard;
        if !opts.resume {
            return Err(SweepError::Input(format!(
                "{} already holds a sweep{}: --resume continues it, --overwrite starts again, or choose another --out",
                dir.display(),
                if same { "" } else { " with another definition" }
            )));
        }
        if !same {
            let what = if old.fingerprint != manifest.fingerprint {
                format!(
                    "its definition differs (fingerprint {} there, {} here): same scenario, values, --set, --grid, --replications, --seed and model files are needed to resume",
                    &old.fingerprint[..12],
                    &manifest.fingerprint[..12]
                )
            } else {
                format!(
                    "it holds shard {}, not {}",
                    old.shard.map(|s| s.to_string()).unwrap_or("all".into()),
                    manifest
                        .shard
                        .map(|s| s.to_string())
                        .unwrap_or("all".into())
                )
            };
            return Err(SweepError::Input(format!(
                "cannot resume the sweep in {}: {what}",
                dir.display()
            )));
        }
        if journal_path.exists() {
            let contents = journal::read(&journal_path, &def.metrics)?;
            check_rows(&manifest, def.seed, &contents.rows, &journal_path)?;
            existing = contents.rows;
            Journal::append_after(&journal_path, contents.complete_len, &def.metrics)?
        } else {
            Journal::create(&journal_path, &def.metrics)?
        }
    } else {
        std::fs::create_dir_all(dir)
            .map_err(|e| SweepError::Io(format!("{}: cannot create: {e}", dir.display())))?;
        write_atomically(&manifest_path, manifest.to_json().as_bytes())?;
        Journal::create(&journal_path, &def.metrics)?
    };

    let points = manifest.my_points();
    let total = points.len() * def.replications as usize;
    let done: std::collections::BTreeSet<(u32, u32)> =
        existing.iter().map(|r| (r.point, r.replication)).collect();
    let resumed = done.len();
    let mut work: Vec<(u32, u32)> = points
        .iter()
        .flat_map(|p| (0..def.replications).map(move |r| (*p as u32, r)))
        .filter(|k| !done.contains(k))
        .collect();
    if let Some(n) = opts.stop_after {
        work.truncate(n);
    }
    let settings: BTreeMap<u32, Result<Settings, String>> = work
        .iter()
        .map(|(p, _)| *p)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|p| (p, def.grid.settings(&def.base, p as usize)))
        .collect();

    progress(Progress {
        done: resumed,
        total,
        resumed,
    });
    // The journal and the count of finished runs, under one lock: a run is counted when
    // its line is written.
    let sink = Mutex::new((journal, resumed));
    let failed_write = AtomicBool::new(false);
    let write_error: Mutex<Option<SweepError>> = Mutex::new(None);
    work.par_iter().for_each(|&(p, r)| {
        if failed_write.load(Ordering::Relaxed) {
            return;
        }
        let seed = replication_seed(def.seed, r);
        let outcome = match (&settings[&p], &def.theta) {
            (Ok(s), None) => run_one(s, &def.model, seed, &def.metrics),
            (Ok(s), Some(theta)) => {
                let (mut m, mut s) = (def.model.clone(), s.clone());
                match theta.apply(&mut m, &mut s, def.seed, r) {
                    Ok(()) => run_one(&s, &m, seed, &def.metrics),
                    Err(e) => Err(e.to_string()),
                }
            }
            (Err(e), _) => Err(e.clone()),
        };
        let row = RunRow {
            point: p,
            replication: r,
            seed,
            outcome,
        };
        let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
        match sink.0.append(&row) {
            Ok(()) => {
                sink.1 += 1;
                progress(Progress {
                    done: sink.1,
                    total,
                    resumed,
                });
            }
            Err(e) => {
                failed_write.store(true, Ordering::Relaxed);
                *write_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
            }
        }
    });
    if let Some(e) = write_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    drop(sink);
    let new_runs = work.len();

    let rows = sort_rows(journal::read(&journal_path, &def.metrics)?.rows);
    let complete = rows.len() == total;
    let failures = rows
        .iter()
        .filter_map(|r| {
            r.outcome
                .as_ref()
                .err()
                .map(|e| (r.point, r.replication, e.clone()))
        })
        .collect();
    let summaries = if complete {
        write_tables(dir, def, &rows)?
    } else {
        Vec::new()
    };
    Ok(SweepOutcome {
        dir: dir.to_path_buf(),
        manifest,
        total_runs: total,
        resumed_runs: resumed,
        new_runs,
        complete,
        summaries,
        failures,
    })
}

/// A finished sweep read back from its directory.
#[derive(Debug, Clone)]
pub struct SweepResults {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub def: SweepDef,
    /// Sorted by (point, replication).
    pub rows: Vec<RunRow>,
}

impl SweepResults {
    pub fn summaries(&self) -> Vec<PointSummary> {
        summarise_points(&self.def, &self.rows)
    }
}

/// Reads a sweep directory whose journal is complete.
pub fn load_results(dir: &Path) -> Result<SweepResults, SweepError> {
    let manifest = Manifest::load(dir)?;
    let def = SweepDef::from_doc(manifest.definition.clone()).map_err(|e| match e {
        SweepError::Input(m) => SweepError::Input(format!("{}: {m}", dir.join(MANIFEST).display())),
        e => e,
    })?;
    let path = dir.join(JOURNAL);
    let rows = sort_rows(journal::read(&path, &def.metrics)?.rows);
    check_rows(&manifest, def.seed, &rows, &path)?;
    if rows.len() != manifest.runs_in_this_directory {
        return Err(SweepError::Input(format!(
            "the sweep in {} is incomplete: {} of {} runs; finish it with `enisim sweep … --resume`",
            dir.display(),
            rows.len(),
            manifest.runs_in_this_directory
        )));
    }
    Ok(SweepResults {
        dir: dir.to_path_buf(),
        manifest,
        def,
        rows,
    })
}
