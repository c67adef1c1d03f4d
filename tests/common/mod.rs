#![allow(dead_code)]

use std::path::{Path, PathBuf};

use enisim::trace::{ingest, IngestOptions, Ingested};
use polars::prelude::*;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail")
}

pub fn fixture(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

pub fn ingest_one(p: &Path) -> Ingested {
    match ingest(&[p.to_path_buf()], &IngestOptions::default()) {
        Ok(i) => i,
        Err(e) => panic!("ingest {}: {e}", p.display()),
    }
}

/// Column values as strings (nulls as None), whatever the column's dtype.
pub fn col_strings(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
    c.str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

pub fn col_i64(df: &DataFrame, name: &str) -> Vec<i64> {
    let c = df.column(name).unwrap().cast(&DataType::Int64).unwrap();
    c.i64().unwrap().iter().map(|v| v.unwrap()).collect()
}

/// Rows as string vectors over `cols`, sorted by (time, event_id) so that same-second ties
/// listed in different orders by different shapes compare equal.
pub fn canonical_rows(df: &DataFrame, cols: &[&str]) -> Vec<Vec<Option<String>>> {
    let data: Vec<Vec<Option<String>>> = cols.iter().map(|c| col_strings(df, c)).collect();
    let time = col_i64(df, "time");
    let eid = col_strings(df, "event_id");
    let mut idx: Vec<usize> = (0..df.height()).collect();
    idx.sort_by(|&a, &b| (time[a], &eid[a]).cmp(&(time[b], &eid[b])));
    idx.iter()
        .map(|&i| data.iter().map(|c| c[i].clone()).collect())
        .collect()
}

/// Every column but the provenance ones (`file`, `record`), which differ between shapes.
pub fn content_columns() -> Vec<&'static str> {
    enisim::trace::COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "file" && *c != "record")
        .collect()
}
