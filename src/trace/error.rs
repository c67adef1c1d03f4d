//! Typed errors of the CloudTrail layer.

use std::fmt;
use std::path::PathBuf;

/// What is wrong with one CloudTrail record (independent of where it was found).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A required field is absent (or JSON `null`).
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field has a JSON type other than the one CloudTrail writes.
    #[error("field `{field}` has the wrong type: expected {expected}, found {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    /// A field is present with the right type but an unusable value.
    #[error("field `{field}` has a bad value {value:?}: {reason}")]
    BadValue {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// The record (or a nested JSON string such as `CloudTrailEvent`) is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
}

impl RecordError {
    /// A short name for the kind of problem, for counting them (`missing eventTime`,
    /// `bad JSON`, …).
    pub fn reason(&self) -> String {
        match self {
            RecordError::MissingField(f) => format!("missing {f}"),
            RecordError::WrongType { field, .. } => format!("wrong type of {field}"),
            RecordError::BadValue { field, .. } => format!("bad {field}"),
            RecordError::Json(_) => "bad JSON".into(),
        }
    }
}

/// Where a problem was found: a file and, when known, the 0-based index of the record in it
/// (the position in `Records` / `Events`, or the data row of a CSV export).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub record: Option<u64>,
    /// 1-based line in the (decompressed) file, when the reader knows it.
    pub line: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(r) = self.record {
            write!(f, ", record {r}")?;
        }
        if let Some(l) = self.line {
            write!(f, " (line {l})")?;
        }
        Ok(())
    }
}

/// Every error the CloudTrail layer returns.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One record is unusable (returned in strict mode; counted and skipped otherwise).
    #[error("{at}: bad record: {error}")]
    BadRecord { at: Location, error: RecordError },
    /// The file cannot be read further: invalid JSON syntax, a truncated gzip stream, a CSV
    /// that cannot be tokenised. Records before `at.record` were read.
    #[error("{at}: {detail}")]
    Malformed { at: Location, detail: String },
    /// A CSV export lacks columns the normalised table needs.
    #[error("{path}: CSV export lacks required column(s) {missing:?} (found {found:?})")]
    MissingColumns {
        path: PathBuf,
        missing: Vec<String>,
        found: Vec<String>,
    },
    /// The file's shape could not be recognised, or is not the shape `IngestOptions::format`
    /// forces.
    #[error("{path}: {detail}")]
    Shape { path: PathBuf, detail: String },
    /// No input files (an empty path list, or directories without CloudTrail files).
    #[error("no CloudTrail files found in {0:?}")]
    NoInput(Vec<PathBuf>),
    /// The output is already there and may not be replaced (`synth` without `overwrite`).
    #[error("{path}: {detail}")]
    OutputExists { path: PathBuf, detail: String },
    /// A synthetic call cannot be written as a CloudTrail record.
    #[error("synth call {index}: {detail}")]
    BadCall { index: usize, detail: String },
    /// An option value is unusable.
    #[error("bad option {name}: {detail}")]
    BadOption { name: &'static str, detail: String },
    /// The normalised table does not have the expected columns / types.
    #[error("table: {0}")]
    Table(String),
    /// An error from polars (building the DataFrame or writing Parquet).
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

impl TraceError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TraceError::Io {
            path: path.into(),
            source,
        }
    }

    /// The message without the file name and record index (see [`TraceError::location`]).
    pub fn detail(&self) -> String {
        match self {
            TraceError::Io { source, .. } => source.to_string(),
            TraceError::BadRecord { error, .. } => format!("bad record: {error}"),
            TraceError::Malformed { detail, .. } | TraceError::Shape { detail, .. } => {
                detail.clone()
            }
            TraceError::MissingColumns { missing, found, .. } => {
                format!("CSV export lacks required column(s) {missing:?} (found {found:?})")
            }
            other => other.to_string(),
        }
    }

    /// A short name for the kind of problem, for counting them (see
    /// [`RecordError::reason`]).
    pub fn reason(&self) -> String {
        match self {
            TraceError::Io { .. } => "unreadable file".into(),
            TraceError::BadRecord { error, .. } => error.reason(),
            TraceError::Malformed { detail, .. } => {
                if detail.starts_with("empty file") {
                    "empty file".into()
                } else if detail.starts_with("gzip") {
                    "truncated or corrupt gzip".into()
                } else if detail.starts_with("unexpected end of file") {
                    "truncated file".into()
                } else if detail.starts_with("unreadable CSV") {
                    "unreadable CSV".into()
                } else if detail.starts_with("invalid JSON") {
                    "broken JSON file".into()
                } else {
                    "unreadable file".into()
                }
            }
            TraceError::MissingColumns { .. } => "CSV without required columns".into(),
            TraceError::Shape { .. } => "not a CloudTrail shape".into(),
            other => other.to_string(),
        }
    }

    /// The location this error names, if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            TraceError::BadRecord { at, .. } | TraceError::Malformed { at, .. } => Some(at),
            _ => None,
        }
    }
}
