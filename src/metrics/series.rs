//! A run's levels over time, as `series.csv` holds them (one row per replication, series,
//! key and instant), so a report draws what the run recorded rather than recomputing it:
//!
//! - `queue_depth`: keys in the work queue, at each change;
//! - `cpu_millicores`: the controller's CPU over the profile's sliding window (10 s), at
//!   each window's end — the figures `cpu_p95_millicores` and `cpu_peak_millicores` judge;
//! - `memory_mib`: the controller's working set, each second;
//! - `tokens` (key: the bucket): tokens left in each EC2 bucket, each second.

use super::RunRecord;
use crate::engine::{time, SECOND};
use serde::{Deserialize, Serialize};

pub const QUEUE_DEPTH: &str = "queue_depth";
pub const CPU_MILLICORES: &str = "cpu_millicores";
pub const MEMORY_MIB: &str = "memory_mib";
pub const TOKENS: &str = "tokens";

/// One sample of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesRow {
    pub replication: u32,
    pub series: String,
    /// The bucket for `tokens`; empty otherwise.
    pub key: String,
    pub time_s: f64,
    pub value: f64,
}

/// The series of one replication; `cpu_window_s` is the profile's CPU window.
pub fn series_rows(replication: u32, rec: &RunRecord, cpu_window_s: u64) -> Vec<SeriesRow> {
    let row = |series: &str, key: &str, time_s: f64, value: f64| SeriesRow {
        replication,
        series: series.to_string(),
        key: key.to_string(),
        time_s,
        value,
    };
    let mut out = Vec::new();
    for (t, depth) in &rec.queue_depth {
        out.push(row(QUEUE_DEPTH, "", time::to_secs(*t), *depth as f64));
    }
    let res = &rec.resources;
    let seconds = res.cpu_ms.len().saturating_sub(1);
    let window = (cpu_window_s as usize).max(1);
    let cpu = crate::controller::resources::cpu_windows(
        res.cpu_base_millicores,
        &res.cpu_ms,
        window,
        seconds,
    );
    for (i, c) in cpu.iter().enumerate() {
        let end = if seconds >= window {
            i + window
        } else {
            seconds
        };
        out.push(row(CPU_MILLICORES, "", end as f64, *c));
    }
    for (k, m) in res.memory_mib.iter().enumerate() {
        out.push(row(MEMORY_MIB, "", k as f64, *m));
    }
    for (bucket, levels) in &rec.bucket_levels {
        for (k, v) in levels.iter().enumerate() {
            out.push(row(
                TOKENS,
                bucket,
                (k as u64 * SECOND) as f64 / SECOND as f64,
                *v,
            ));
        }
    }
    out
}
