//! A recorded trail as the workload and the replay read it: the table `trace ingest`
//! writes (or CloudTrail files ingested on the fly), narrowed to one account and region.

use super::error::WorkloadError;
use crate::trace::{self, str_col, IngestOptions, StrCol, NULL_CODE};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A trail: the normalised table and, when it was ingested here, the files its `file`
/// column indexes (a table read from Parquet has no file list: records are then named by
/// file index).
#[derive(Clone)]
pub struct Trail {
    pub df: DataFrame,
    pub files: Vec<PathBuf>,
    /// What the user named (for messages).
    pub name: String,
    /// The ingest report, when the trail was ingested here.
    pub report: Option<trace::IngestReport>,
}

impl Trail {
    /// One `.parquet` table written by `enisim trace ingest`, or CloudTrail files and
    /// directories (every shape `trace ingest` reads), ingested with default options.
    pub fn load(paths: &[PathBuf]) -> Result<Trail, WorkloadError> {
        Self::load_with(paths, &IngestOptions::default())
    }

    /// As [`Trail::load`], with the ingest options (caller rules, strictness) given.
    pub fn load_with(paths: &[PathBuf], opts: &IngestOptions) -> Result<Trail, WorkloadError> {
        let name = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        if let [p] = paths {
            if is_parquet(p) {
                return Ok(Trail {
                    df: trace::read_parquet(p)?,
                    files: Vec::new(),
                    name,
                    report: None,
                });
            }
        }
        let ing = trace::ingest(paths, opts)?;
        if let Some(why) = ing.report.why_empty() {
            return Err(WorkloadError::Untied {
                at: name,
                key: "Records",
                detail: format!("no usable record: {why}"),
            });
        }
        Ok(Trail {
            df: ing.df,
            files: ing.report.files.clone(),
            name,
            report: Some(ing.report),
        })
    }

    pub fn from_table(df: DataFrame, name: &str) -> Trail {
        Trail {
            df,
            files: Vec::new(),
            name: name.to_string(),
            report: None,
        }
    }

    /// The trail narrowed to `scope`'s account and region (every row when the trail has
    /// only one of each), its file list kept, so that every view of it — the workload,
    /// calibration's calls, statistics — reads the same rows.
    pub fn scoped(&self, scope: &Scope) -> Result<Trail, WorkloadError> {
        let rows = Columns::read(self, scope)?.rows;
        if rows.len() == self.df.height() {
            return Ok(self.clone());
        }
        let idx = IdxCa::from_vec("rows".into(), rows.iter().map(|&i| i as IdxSize).collect());
        let df = self
            .df
            .take(&idx)
            .map_err(|e| WorkloadError::Trace(e.into()))?;
        Ok(Trail {
            df,
            files: self.files.clone(),
            name: self.name.clone(),
            report: self.report.clone(),
        })
    }

    /// "FILE, record N" for a row's `file` and `record` values.
    pub fn place(&self, file: u32, record: u32) -> String {
        match self.files.get(file as usize) {
            Some(p) => format!("{}, record {record}", p.display()),
            None => format!("{} (file #{file}), record {record}", self.name),
        }
    }
}

fn is_parquet(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Which account and region of a trail to use (`None`: the only one there is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub account: Option<String>,
    pub region: Option<String>,
}

/// The columns the workload and the replay read, as codes; `rows` are the row numbers of
/// the chosen scope, in table order (time order).
pub(crate) struct Columns {
    pub time: Vec<i64>,
    pub action: StrCol,
    pub class: StrCol,
    pub error: StrCol,
    pub throttled: Vec<bool>,
    pub eni: StrCol,
    pub instance: StrCol,
    pub subnet: StrCol,
    pub device: Vec<Option<u32>>,
    pub nodeeni: StrCol,
    pub node: StrCol,
    pub nodeeni_subnet: StrCol,
    pub file: Vec<u32>,
    pub record: Vec<u32>,
    pub rows: Vec<usize>,
    /// The chosen account and region (when the trail names them).
    pub account: Option<String>,
    pub region: Option<String>,
}

fn u32_col(df: &DataFrame, name: &str) -> Result<Vec<Option<u32>>, WorkloadError> {
    let c = df
        .column(name)
        .map_err(|_| trace::TraceError::Table(format!("no column {name:?}")))?
        .cast(&DataType::UInt32)
        .map_err(trace::TraceError::from)?;
    Ok(c.u32().map_err(trace::TraceError::from)?.iter().collect())
}

impl Columns {
    pub fn read(trail: &Trail, scope: &Scope) -> Result<Columns, WorkloadError> {
        let df = &trail.df;
        let err = |e: PolarsError| WorkloadError::Trace(e.into());
        let time: Vec<i64> = df
            .column("time")
            .map_err(|_| trace::TraceError::Table("no column \"time\"".into()))?
            .cast(&DataType::Int64)
            .map_err(err)?
            .i64()
            .map_err(err)?
            .iter()
            .map(|t| t.unwrap_or(0))
            .collect();
        let throttled: Vec<bool> = df
            .column("throttled")
            .map_err(|_| trace::TraceError::Table("no column \"throttled\"".into()))?
            .bool()
            .map_err(err)?
            .iter()
            .map(|b| b.unwrap_or(false))
            .collect();
        let s = |n: &str| str_col(df, n).map_err(WorkloadError::from);
        let account = s("account")?;
        let region = s("region")?;
        let file: Vec<u32> = u32_col(df, "file")?
            .into_iter()
            .map(|v| v.unwrap_or(0))
            .collect();
        let record: Vec<u32> = u32_col(df, "record")?
            .into_iter()
            .map(|v| v.unwrap_or(0))
            .collect();
        let (rows, account_name, region_name) =
            select(trail, &account, &region, &file, &record, scope)?;
        Ok(Columns {
            time,
            action: s("action")?,
            class: s("caller_class")?,
            error: s("error_code")?,
            throttled,
            eni: s("eni_id")?,
            instance: s("instance_id")?,
            subnet: s("subnet_id")?,
            device: u32_col(df, "device_index")?,
            nodeeni: s("nodeeni")?,
            node: s("node")?,
            nodeeni_subnet: s("nodeeni_subnet")?,
            file,
            record,
            rows,
            account: account_name,
            region: region_name,
        })
    }

    pub fn str(col: &StrCol, i: usize) -> Option<&str> {
        col.get(i)
    }

    /// The call failed (any code; a DryRun answer counts as failed too, as it did nothing).
    pub fn failed(&self, i: usize) -> bool {
        self.error.codes[i] != NULL_CODE
    }

    pub fn place(&self, trail: &Trail, i: usize) -> String {
        trail.place(self.file[i], self.record[i])
    }
}

/// The chosen rows, account and region.
type Selected = (Vec<usize>, Option<String>, Option<String>);

/// The rows of the chosen account and region; an error when several are there and none
/// was chosen, or the chosen one is not there.
fn select(
    trail: &Trail,
    account: &StrCol,
    region: &StrCol,
    file: &[u32],
    record: &[u32],
    scope: &Scope,
) -> Result<Selected, WorkloadError> {
    let n = account.codes.len();
    let pick = |col: &StrCol,
                wanted: &Option<String>,
                what: &'static str,
                key: &'static str,
                rows: &[usize]|
     -> Result<(Option<u32>, Option<String>), WorkloadError> {
        // Distinct values in order of first appearance, with their first row.
        let mut first: BTreeMap<u32, usize> = BTreeMap::new();
        for &i in rows {
            first.entry(col.codes[i]).or_insert(i);
        }
        let name = |c: u32| {
            col.dict
                .get(c as usize)
                .cloned()
                .unwrap_or_else(|| "(none)".into())
        };
        let list = || {
            first
                .keys()
                .map(|&c| name(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match wanted {
            Some(w) => {
                let code = first
                    .keys()
                    .copied()
                    .find(|&c| col.dict.get(c as usize) == Some(w));
                match code {
                    Some(c) => Ok((Some(c), Some(w.clone()))),
                    None => Err(WorkloadError::NoSuchScope {
                        what,
                        value: w.clone(),
                        list: list(),
                    }),
                }
            }
            None if first.len() > 1 => {
                let mut by_row: Vec<usize> = first.values().copied().collect();
                by_row.sort_unstable();
                let second = by_row[1];
                Err(WorkloadError::SeveralScopes {
                    at: trail.place(file[second], record[second]),
                    key,
                    what,
                    n: first.len(),
                    list: list(),
                })
            }
            None => Ok((None, first.keys().next().map(|&c| name(c)))),
        }
    };
    let all: Vec<usize> = (0..n).collect();
    let (acc, acc_name) = pick(
        account,
        &scope.account,
        "account",
        "recipientAccountId",
        &all,
    )?;
    let rows: Vec<usize> = match acc {
        Some(c) => all.into_iter().filter(|&i| account.codes[i] == c).collect(),
        None => all,
    };
    let (reg, reg_name) = pick(region, &scope.region, "region", "awsRegion", &rows)?;
    let rows = match reg {
        Some(c) => rows.into_iter().filter(|&i| region.codes[i] == c).collect(),
        None => rows,
    };
    Ok((rows, acc_name, reg_name))
}
