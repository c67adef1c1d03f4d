//! An `enisim run --out` directory read back: summary.json (verdicts, thresholds, the
//! controller's settings) and the tables the figures draw (enis.csv, calls.csv,
//! reconciles.csv, series.csv). Every problem is the user's input, named by file, line
//! and column.

use super::render::ReportError;
use crate::metrics::series::SeriesRow;
use crate::metrics::summary::VerdictRow;
use crate::metrics::thresholds::Thresholds;
use crate::metrics::EniRow;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const SUMMARY: &str = "summary.json";
pub const ENIS: &str = "enis.csv";
pub const CALLS: &str = "calls.csv";
pub const RECONCILES: &str = "reconciles.csv";
pub const SERIES: &str = "series.csv";

/// One EC2 attempt, as far as the figures need it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CallRow {
    pub replication: u32,
    pub start_s: f64,
    pub action: String,
    pub error: Option<String>,
}

impl CallRow {
    /// A throttle answer (`RequestLimitExceeded`, `Throttling`…).
    pub fn throttled(&self) -> bool {
        self.error.as_deref() == Some(crate::aws::ErrorCode::RequestLimitExceeded.as_str())
    }
}

/// One reconcile, as far as the figures need it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReconcileRow {
    pub replication: u32,
    pub worker: u32,
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Debug, Deserialize)]
struct SummaryDoc {
    scenario: ScenarioDoc,
    controller: ControllerDoc,
    seed: u64,
    /// Absent in directories written before thresholds were recorded: the embedded ones.
    thresholds: Option<Thresholds>,
    summary: SummaryPart,
    replications: Vec<ReplicationDoc>,
}

#[derive(Debug, Deserialize)]
struct ScenarioDoc {
    name: String,
    cluster: ClusterDoc,
}

#[derive(Debug, Deserialize)]
struct ClusterDoc {
    nodes: u32,
    enis_per_node: u32,
    instance_type: String,
}

#[derive(Debug, Deserialize)]
struct ControllerDoc {
    env: EnvDoc,
}

#[derive(Debug, Deserialize)]
struct EnvDoc {
    max_concurrent_reconciles: u32,
}

#[derive(Debug, Deserialize)]
struct SummaryPart {
    replications: usize,
    verdicts: Vec<VerdictRow>,
    bottleneck: String,
    warnings: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ReplicationDoc {
    metrics: ReplicationMetrics,
}

#[derive(Debug, Deserialize)]
struct ReplicationMetrics {
    enis_created: u64,
    end_s: f64,
}

/// A run's output, read back.
#[derive(Debug, Clone)]
pub struct RunTables {
    pub dir: PathBuf,
    /// "burst: 10 nodes × 10 ENIs on m5.16xlarge, seed 1, 20 replications".
    pub headline: String,
    pub replications: usize,
    pub verdicts: Vec<VerdictRow>,
    pub bottleneck: String,
    pub warnings: Vec<String>,
    pub thresholds: Thresholds,
    pub max_concurrent_reconciles: u32,
    /// Each replication's end, in seconds.
    pub end_s: Vec<f64>,
    pub enis: Vec<EniRow>,
    pub calls: Vec<CallRow>,
    pub reconciles: Vec<ReconcileRow>,
    pub series: Vec<SeriesRow>,
}

impl RunTables {
    /// Whether `dir` looks like a run's output.
    pub fn detect(dir: &Path) -> bool {
        dir.join(SUMMARY).is_file() && dir.join(ENIS).is_file()
    }

    pub fn load(dir: &Path) -> Result<RunTables, ReportError> {
        let path = dir.join(SUMMARY);
        let text = read(&path)?;
        let doc: SummaryDoc = serde_json::from_str(&text).map_err(|e| ReportError::Malformed {
            path: path.clone(),
            place: format!("line {}, column {}", e.line(), e.column()),
            message: format!("not the summary.json of `enisim run --out`: {e}"),
        })?;
        if doc.replications.len() != doc.summary.replications {
            return Err(ReportError::Malformed {
                path,
                place: "replications".into(),
                message: format!(
                    "{} replications listed, but the summary counts {}",
                    doc.replications.len(),
                    doc.summary.replications
                ),
            });
        }
        let enis: Vec<EniRow> = read_csv(&dir.join(ENIS))?;
        let calls: Vec<CallRow> = read_csv(&dir.join(CALLS))?;
        let reconciles: Vec<ReconcileRow> = read_csv(&dir.join(RECONCILES))?;
        let series: Vec<SeriesRow> = read_csv(&dir.join(SERIES))?;
        // A table cut short at a line boundary still parses: its rows must add up to what
        // the summary says each replication created.
        for (r, rep) in doc.replications.iter().enumerate() {
            let n = enis.iter().filter(|e| e.replication as usize == r).count() as u64;
            if n != rep.metrics.enis_created {
                return Err(ReportError::Malformed {
                    path: dir.join(ENIS),
                    place: format!("replication {r}"),
                    message: format!(
                        "{n} ENI rows, but summary.json says the replication created {}: the table is truncated or from another run",
                        rep.metrics.enis_created
                    ),
                });
            }
        }
        let reps = doc.summary.replications as u32;
        let out_of_range = |file: &str, r: Option<u32>| match r {
            Some(r) if r >= reps => Err(ReportError::Malformed {
                path: dir.join(file),
                place: "column replication".into(),
                message: format!("replication {r}, but the run has {reps}"),
            }),
            _ => Ok(()),
        };
        out_of_range(CALLS, calls.iter().map(|c| c.replication).max())?;
        out_of_range(RECONCILES, reconciles.iter().map(|c| c.replication).max())?;
        out_of_range(SERIES, series.iter().map(|c| c.replication).max())?;
        let c = &doc.scenario.cluster;
        Ok(RunTables {
            dir: dir.to_path_buf(),
            headline: format!(
                "{}: {} nodes × {} ENIs on {}, maxConcurrentReconciles {}; {} replication{}, seed {}",
                doc.scenario.name,
                c.nodes,
                c.enis_per_node,
                c.instance_type,
                doc.controller.env.max_concurrent_reconciles,
                doc.summary.replications,
                if doc.summary.replications == 1 { "" } else { "s" },
                doc.seed
            ),
            replications: doc.summary.replications,
            verdicts: doc.summary.verdicts,
            bottleneck: doc.summary.bottleneck,
            warnings: doc.summary.warnings,
            thresholds: doc.thresholds.unwrap_or_else(Thresholds::embedded),
            max_concurrent_reconciles: doc.controller.env.max_concurrent_reconciles,
            end_s: doc.replications.iter().map(|r| r.metrics.end_s).collect(),
            enis,
            calls,
            reconciles,
            series,
        })
    }
}

pub fn read(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|e| ReportError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// A JSON file of `what` (e.g. "the recommendation.json of `enisim recommend`"): a parse
/// error names the file, line and column.
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T, ReportError> {
    let text = read(path)?;
    serde_json::from_str(&text).map_err(|e| ReportError::Malformed {
        path: path.to_path_buf(),
        place: format!("line {}, column {}", e.line(), e.column()),
        message: format!("not {what}: {e}"),
    })
}

/// Every row of a CSV file, by header names (extra columns are ignored, missing ones
/// and unparsable cells are errors naming the line).
pub fn read_csv<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, ReportError> {
    let file = std::fs::File::open(path).map_err(|e| ReportError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut rdr = csv::Reader::from_reader(std::io::BufReader::new(file));
    let mut out = Vec::new();
    for row in rdr.deserialize() {
        out.push(row.map_err(|e| csv_error(path, e))?);
    }
    Ok(out)
}

fn csv_error(path: &Path, e: csv::Error) -> ReportError {
    let place = e
        .position()
        .map(|p| format!("line {}", p.line()))
        .unwrap_or_default();
    let message = match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(f) => format!("column {}: {}", f + 1, err.kind()),
            None => err.kind().to_string(),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "{len} fields where the header has {expected_len}: the file is truncated or not this table"
        ),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text: not a CSV table".to_string(),
        _ => e.to_string(),
    };
    ReportError::Malformed {
        path: path.to_path_buf(),
        place,
        message,
    }
}
