//! The sweep's result tables, built from the journal's rows sorted by (point, replication):
//!
//! - `runs`: one row per (grid point, replication): the point, its knob values, the seed,
//!   `status` (`ok` or `error`) and `error`, then every metric;
//! - `summary`: one row per grid point: its knob values, how many replications succeeded
//!   and failed, then for every metric `<m>_mean`, `<m>_ci_low`, `<m>_ci_high` (95 %
//!   Student-t), for every threshold metric `<m>_verdict` (judged on `<m>_ci_high`), the
//!   worst `verdict` and `meets_thresholds`.
//!
//! Each is a polars `DataFrame` written to Parquet, and the same columns written to CSV by
//! hand so that floats keep Rust's shortest round-trip form (the same bytes on every
//! machine, and values that read back exactly).

use super::definition::SweepDef;
use super::grid::AxisKind;
use super::journal::{fmt_f64, RunRow};
use super::SweepError;
use crate::metrics::stats::{mean_ci, mean_with_spread, MeanCi};
use crate::metrics::thresholds::Verdict;
use polars::prelude::*;
use std::collections::BTreeMap;

/// A column of a result table.
#[derive(Debug, Clone, PartialEq)]
pub enum Col {
    U64(Vec<Option<u64>>),
    I64(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
    Str(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
}

impl Col {
    fn len(&self) -> usize {
        match self {
            Col::U64(v) => v.len(),
            Col::I64(v) => v.len(),
            Col::F64(v) => v.len(),
            Col::Str(v) => v.len(),
            Col::Bool(v) => v.len(),
        }
    }

    fn cell(&self, i: usize) -> String {
        fn opt<T>(v: &Option<T>, f: impl Fn(&T) -> String) -> String {
            v.as_ref().map(f).unwrap_or_default()
        }
        match self {
            Col::U64(v) => opt(&v[i], |x| x.to_string()),
            Col::I64(v) => opt(&v[i], |x| x.to_string()),
            Col::F64(v) => opt(&v[i], |x| fmt_f64(*x)),
            Col::Str(v) => opt(&v[i], |x| x.clone()),
            Col::Bool(v) => opt(&v[i], |x| x.to_string()),
        }
    }

    fn to_column(&self, name: &str) -> Column {
        let name: PlSmallStr = name.into();
        match self {
            Col::U64(v) => Column::new(name, v),
            Col::I64(v) => Column::new(name, v),
            Col::F64(v) => Column::new(name, v),
            Col::Str(v) => Column::new(name, v),
            Col::Bool(v) => Column::new(name, v),
        }
    }
}

/// Named columns of equal length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub names: Vec<String>,
    pub cols: Vec<Col>,
}

impl Table {
    pub fn push(&mut self, name: impl Into<String>, col: Col) {
        self.names.push(name.into());
        self.cols.push(col);
    }

    pub fn height(&self) -> usize {
        self.cols.first().map(|c| c.len()).unwrap_or(0)
    }

    pub fn column(&self, name: &str) -> Option<&Col> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.cols[i])
    }

    pub fn f64_column(&self, name: &str) -> Option<&[Option<f64>]> {
        match self.column(name)? {
            Col::F64(v) => Some(v),
            _ => None,
        }
    }

    pub fn to_dataframe(&self) -> Result<DataFrame, SweepError> {
        let columns = self
            .names
            .iter()
            .zip(&self.cols)
            .map(|(n, c)| c.to_column(n))
            .collect();
        DataFrame::new(self.height(), columns).map_err(|e| SweepError::Io(format!("polars: {e}")))
    }

    pub fn to_parquet(&self) -> Result<Vec<u8>, SweepError> {
        let mut df = self.to_dataframe()?;
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf)
            .set_parallel(false)
            .finish(&mut df)
            .map_err(|e| SweepError::Io(format!("writing Parquet: {e}")))?;
        Ok(buf)
    }

    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = w.write_record(&self.names);
        for i in 0..self.height() {
            let _ = w.write_record(self.cols.iter().map(|c| c.cell(i)));
        }
        w.into_inner().unwrap_or_default()
    }
}

/// The knob columns of the given points (one per axis, typed by the axis's values).
fn knob_columns(def: &SweepDef, points: &[usize], t: &mut Table) {
    for (a, axis) in def.grid.axes.iter().enumerate() {
        let raw: Vec<&str> = points
            .iter()
            .map(|p| axis.values[def.grid.coordinates(*p)[a]].as_str())
            .collect();
        let col = match axis.kind() {
            AxisKind::Int => Col::I64(raw.iter().map(|v| v.parse().ok()).collect()),
            AxisKind::Float => Col::F64(raw.iter().map(|v| v.parse().ok()).collect()),
            AxisKind::Text => Col::Str(raw.iter().map(|v| Some(v.to_string())).collect()),
        };
        t.push(axis.key.clone(), col);
    }
}

/// One row per run. `rows` sorted by (point, replication).
pub fn runs_table(def: &SweepDef, rows: &[RunRow]) -> Table {
    let mut t = Table::default();
    t.push(
        "point",
        Col::U64(rows.iter().map(|r| Some(r.point as u64)).collect()),
    );
    t.push(
        "replication",
        Col::U64(rows.iter().map(|r| Some(r.replication as u64)).collect()),
    );
    let points: Vec<usize> = rows.iter().map(|r| r.point as usize).collect();
    knob_columns(def, &points, &mut t);
    t.push(
        "seed",
        Col::U64(rows.iter().map(|r| Some(r.seed)).collect()),
    );
    t.push(
        "status",
        Col::Str(
            rows.iter()
                .map(|r| Some(if r.outcome.is_ok() { "ok" } else { "error" }.to_string()))
                .collect(),
        ),
    );
    t.push(
        "error",
        Col::Str(rows.iter().map(|r| r.outcome.clone().err()).collect()),
    );
    for (m, name) in def.metrics.iter().enumerate() {
        t.push(
            name.clone(),
            Col::F64(
                rows.iter()
                    .map(|r| r.outcome.as_ref().ok().map(|v| v[m]))
                    .collect(),
            ),
        );
    }
    t
}

/// The summary of one grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct PointSummary {
    pub point: usize,
    pub ok: usize,
    pub failed: usize,
    /// The first failure's message (by replication), if any.
    pub error: Option<String>,
    /// Per metric (sweep order): mean and 95 % CI over the successful replications.
    pub metrics: Vec<MeanCi>,
    /// Per threshold metric present in the sweep: its verdict on the CI's upper end.
    pub verdicts: BTreeMap<String, Verdict>,
    pub worst: Verdict,
    /// Every threshold met at the upper 95 % bound, and no failed replication.
    pub meets: bool,
}

impl PointSummary {
    pub fn get(&self, def: &SweepDef, metric: &str) -> Option<MeanCi> {
        metric_index(def, metric).map(|i| self.metrics[i])
    }
}

/// The column of metric `name`: its own name, or the same with or without the
/// `controller_` prefix (a thresholds file may say `controller_cpu_p95_millicores` for the
/// run's `cpu_p95_millicores`).
pub fn metric_index(def: &SweepDef, name: &str) -> Option<usize> {
    let alias = match name.strip_prefix("controller_") {
        Some(bare) => bare.to_string(),
        None => format!("controller_{name}"),
    };
    let find = |n: &str| def.metrics.iter().position(|m| m == n);
    find(name).or_else(|| find(&alias))
}

/// Summaries of the points present in `rows` (sorted by (point, replication)).
pub fn summarise_points(def: &SweepDef, rows: &[RunRow]) -> Vec<PointSummary> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let p = rows[i].point;
        let mut j = i;
        while j < rows.len() && rows[j].point == p {
            j += 1;
        }
        out.push(summarise_point(def, p as usize, &rows[i..j]));
        i = j;
    }
    out
}

pub fn summarise_point(def: &SweepDef, point: usize, rows: &[RunRow]) -> PointSummary {
    let ok: Vec<&Vec<f64>> = rows
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok())
        .collect();
    let failed = rows.len() - ok.len();
    let error = rows.iter().find_map(|r| r.outcome.clone().err());
    let metrics: Vec<MeanCi> = (0..def.metrics.len())
        .map(|m| {
            let xs: Vec<f64> = ok.iter().map(|v| v[m]).collect();
            // θ drawn per replication (`--calibration`): the interval of one draw, which
            // holds the parameters' uncertainty.
            if def.theta.is_some() {
                mean_with_spread(&xs)
            } else {
                mean_ci(&xs)
            }
        })
        .collect();
    let mut verdicts = BTreeMap::new();
    for (name, th) in def.thresholds.judged() {
        if let Some(m) = metric_index(def, name) {
            let high = metrics[m].high();
            // A replication that did not finish what the metric measures (censored) is
            // a critical breach, as in `run`; one replication judges its point.
            let censored = metric_index(def, &crate::metrics::summary::censor_key(name))
                .is_some_and(|c| ok.iter().any(|v| v[c] != 0.0));
            let v = if high.is_nan() || censored {
                Verdict::Critical
            } else if metrics[m].has_interval() {
                th.judge(high)
            } else {
                th.judge(metrics[m].mean)
            };
            verdicts.insert(name.clone(), v);
        }
    }
    let worst = verdicts
        .values()
        .copied()
        .max()
        .unwrap_or(Verdict::Acceptable)
        .max(if failed > 0 || ok.is_empty() {
            Verdict::Critical
        } else {
            Verdict::Acceptable
        });
    PointSummary {
        point,
        ok: ok.len(),
        failed,
        error,
        metrics,
        verdicts,
        worst,
        meets: worst == Verdict::Acceptable,
    }
}

/// One row per grid point.
pub fn summary_table(def: &SweepDef, points: &[PointSummary]) -> Table {
    let mut t = Table::default();
    t.push(
        "point",
        Col::U64(points.iter().map(|p| Some(p.point as u64)).collect()),
    );
    let idx: Vec<usize> = points.iter().map(|p| p.point).collect();
    knob_columns(def, &idx, &mut t);
    t.push(
        "replications",
        Col::U64(points.iter().map(|p| Some(p.ok as u64)).collect()),
    );
    t.push(
        "failed",
        Col::U64(points.iter().map(|p| Some(p.failed as u64)).collect()),
    );
    t.push(
        "error",
        Col::Str(points.iter().map(|p| p.error.clone()).collect()),
    );
    let nan_none = |x: f64| if x.is_nan() { None } else { Some(x) };
    for (m, name) in def.metrics.iter().enumerate() {
        t.push(
            format!("{name}_mean"),
            Col::F64(points.iter().map(|p| nan_none(p.metrics[m].mean)).collect()),
        );
        t.push(
            format!("{name}_ci_low"),
            Col::F64(
                points
                    .iter()
                    .map(|p| nan_none(p.metrics[m].low()))
                    .collect(),
            ),
        );
        t.push(
            format!("{name}_ci_high"),
            Col::F64(
                points
                    .iter()
                    .map(|p| nan_none(p.metrics[m].high()))
                    .collect(),
            ),
        );
    }
    let judged: Vec<&String> = def
        .thresholds
        .metrics
        .keys()
        .filter(|k| metric_index(def, k).is_some())
        .collect();
    for name in judged {
        t.push(
            format!("{name}_verdict"),
            Col::Str(
                points
                    .iter()
                    .map(|p| p.verdicts.get(name).map(|v| v.as_str().to_string()))
                    .collect(),
            ),
        );
    }
    t.push(
        "verdict",
        Col::Str(
            points
                .iter()
                .map(|p| Some(p.worst.as_str().to_string()))
                .collect(),
        ),
    );
    t.push(
        "meets_thresholds",
        Col::Bool(points.iter().map(|p| Some(p.meets)).collect()),
    );
    t
}
