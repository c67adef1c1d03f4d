//! A simulated run's calls as the table `ingest` would make of the trail `synth` writes,
//! without the files: the same records (`synth`'s writer), parsed by the same parser and
//! built by the same table code. Calibration compares a recorded trail with thousands of
//! simulated ones this way, each through exactly the path the recorded one took.

use polars::prelude::DataFrame;

use super::caller::CallerRules;
use super::error::TraceError;
use super::record::parse_record;
use super::synth::{record_json, shared, SynthCall, SynthOptions};
use super::table::{FinishOptions, Store};

const NS: i64 = 1_000_000_000;

/// The table of `calls` (as `ingest(synth(calls))` would give it, with the default retry
/// window of 30 s).
pub fn synth_table(
    calls: &[SynthCall],
    opts: &SynthOptions,
    rules: &CallerRules,
) -> Result<DataFrame, TraceError> {
    let sh = shared(calls, opts)?;
    // `synth` writes records in eventTime-second order, ties in input order.
    let mut order: Vec<(i64, usize)> = Vec::with_capacity(calls.len());
    for (i, c) in calls.iter().enumerate() {
        let end = i64::try_from(c.end_ns).map_err(|_| TraceError::BadCall {
            index: i,
            detail: format!("end_ns {} is out of range", c.end_ns),
        })?;
        order.push(((sh.start_ns + end).div_euclid(NS), i));
    }
    order.sort_unstable();
    let mut store = Store::default();
    let mut buf = Vec::with_capacity(2048);
    for (k, &(_, i)) in order.iter().enumerate() {
        buf.clear();
        record_json(&calls[i], i, opts, &sh, &mut buf)?;
        let rec = parse_record(&buf).map_err(|error| TraceError::BadCall {
            index: i,
            detail: error.to_string(),
        })?;
        store.push(0, k as u64, &rec);
    }
    let out = store.finish(&FinishOptions {
        rules,
        retry_window_ns: 30 * NS,
    })?;
    out.table.into_dataframe()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{example_workload, ingest, stats, synth, IngestOptions};

    #[test]
    fn same_table_as_ingesting_the_written_trail() {
        let calls = example_workload(400, 3);
        let opts = SynthOptions {
            seed: 3,
            ..SynthOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        synth(&calls, &opts, dir.path()).unwrap();
        let from_files = ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).unwrap();
        let in_memory = synth_table(&calls, &opts, &CallerRules::default()).unwrap();
        assert_eq!(in_memory.height(), from_files.df.height());
        assert_eq!(stats(&in_memory).unwrap(), stats(&from_files.df).unwrap());
        let drop_origin = |df: &DataFrame| df.drop_many(["file", "record"]);
        assert!(drop_origin(&in_memory).equals_missing(&drop_origin(&from_files.df)));
    }
}
