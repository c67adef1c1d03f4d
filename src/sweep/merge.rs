//! `enisim sweep merge`: shard directories joined into the directory one machine would
//! have written (same manifest, journal and tables, byte for byte).

use super::definition::{Manifest, SweepDef};
use super::journal;
use super::runner::{load_results, sort_rows};
use super::table::PointSummary;
use super::{write_atomically, write_tables, SweepError, JOURNAL, MANIFEST};
use std::path::Path;

/// Merges the sweeps in `inputs` (the shards 0..N of one sweep, each complete) into `out`.
pub fn merge(
    inputs: &[&Path],
    out: &Path,
    overwrite: bool,
) -> Result<(SweepDef, Vec<PointSummary>), SweepError> {
    if inputs.is_empty() {
        return Err(SweepError::Input(
            "merge: no shard directories given".into(),
        ));
    }
    // The merged directory replaces what --out holds: never one of the shards.
    if let Ok(o) = std::fs::canonicalize(out) {
        for dir in inputs {
            if std::fs::canonicalize(dir).is_ok_and(|d| d == o) {
                return Err(SweepError::Input(format!(
                    "merge: --out {} is the shard directory {}: merging into it would destroy that shard; choose another --out",
                    out.display(),
                    dir.display()
                )));
            }
        }
    }
    if out.join(MANIFEST).exists() && !overwrite {
        return Err(SweepError::Input(format!(
            "{} already holds a sweep: choose another --out, or --overwrite",
            out.display()
        )));
    }
    let mut parts = Vec::new();
    for dir in inputs {
        let m = Manifest::load(dir)?;
        parts.push((dir, m));
    }
    let (first_dir, first) = &parts[0];
    for (dir, m) in &parts[1..] {
        if m.fingerprint != first.fingerprint {
            return Err(SweepError::Input(format!(
                "merge: {} and {} hold different sweeps (fingerprints {} and {}): their scenario, values, grid, replications, seed or model differ",
                first_dir.display(),
                dir.display(),
                &first.fingerprint[..12],
                &m.fingerprint[..12]
            )));
        }
    }
    // Which shards: all N of one split, or a single unsharded directory.
    let count = match first.shard {
        Some(s) => s.count,
        None => 1,
    };
    let mut seen = vec![None; count as usize];
    for (dir, m) in &parts {
        let (k, n) = m.shard.map(|s| (s.index, s.count)).unwrap_or((0, 1));
        if n != count {
            return Err(SweepError::Input(format!(
                "merge: {} is split into {n} shards, {} into {count}",
                dir.display(),
                first_dir.display()
            )));
        }
        if let Some(other) = seen[k as usize].replace(dir) {
            return Err(SweepError::Input(format!(
                "merge: shard {k}/{n} given twice ({} and {})",
                other.display(),
                dir.display()
            )));
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_none())
        .map(|(k, _)| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(SweepError::Input(format!(
            "merge: shard{} {} missing",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        )));
    }
    let mut rows = Vec::new();
    let mut def = None;
    for (dir, _) in &parts {
        let r = load_results(dir)?;
        rows.extend(r.rows);
        def.get_or_insert(r.def);
    }
    let def = def.ok_or_else(|| SweepError::Input("merge: nothing to merge".into()))?;
    let rows = sort_rows(rows);
    let mut merged = first.clone();
    merged.shard = None;
    merged.runs_in_this_directory = merged.points * merged.replications as usize;
    std::fs::create_dir_all(out)
        .map_err(|e| SweepError::Io(format!("{}: cannot create: {e}", out.display())))?;
    write_atomically(&out.join(MANIFEST), merged.to_json().as_bytes())?;
    write_atomically(
        &out.join(JOURNAL),
        &journal::sorted_bytes(&rows, &def.metrics),
    )?;
    let summaries = write_tables(out, &def, &rows)?;
    Ok((def, summaries))
}
