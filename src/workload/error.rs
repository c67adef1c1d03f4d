//! Why a recording cannot be turned into a workload.

use std::path::PathBuf;

/// Errors of [`crate::workload`]: each names the file, the record or line, and the key.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The trail could not be read (ingest or Parquet).
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
    /// The trail holds records of several accounts or regions and none was chosen.
    #[error("{at}: key {key}: the trail spans {n} {what}s ({list}); choose one with --{what}")]
    SeveralScopes {
        /// Where the first record of the second account/region is.
        at: String,
        key: &'static str,
        what: &'static str,
        n: usize,
        list: String,
    },
    /// `--account`/`--region` names nothing in the trail.
    #[error("--{what} {value}: no record of the trail has it (it has {list})")]
    NoSuchScope {
        what: &'static str,
        value: String,
        list: String,
    },
    /// The controller's calls cannot be tied to any NodeENI, node or subnet.
    #[error("{at}: key {key}: {detail}")]
    Untied {
        at: String,
        key: &'static str,
        detail: String,
    },
    /// A line of the audit log is not a usable `audit.k8s.io/v1` Event.
    #[error("{}:{line}: key {key}: {detail}", path.display())]
    AuditLine {
        path: PathBuf,
        line: u64,
        key: String,
        detail: String,
    },
    /// The audit log cannot be read.
    #[error("{}: {detail}", path.display())]
    AuditFile { path: PathBuf, detail: String },
    /// The audit log and the trail describe different clusters.
    #[error("{}: {detail}", path.display())]
    AuditMismatch { path: PathBuf, detail: String },
}
