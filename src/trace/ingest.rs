//! `ingest`: CloudTrail files in, one normalised table out.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use polars::prelude::DataFrame;
use serde::Serialize;

use super::caller::CallerRules;
use super::error::{Location, RecordError, TraceError};
use super::record::TraceRecord;
use super::source::{expand_paths, read_file, Scratch, TraceFormat};
use super::table::{FinishOptions, Store};

/// How to read.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Force one shape for every file; `None` detects it per file.
    pub format: Option<TraceFormat>,
    /// Stop at the first bad record or unreadable file (`Err`); by default they are skipped
    /// and counted in the report.
    pub strict: bool,
    /// Rules that set `caller_class`.
    pub caller_rules: CallerRules,
    /// Longest gap between a failed attempt and its retry, in ns (default 30 s: the SDK's
    /// standard retryer backs off at most 20 s).
    pub retry_window_ns: u64,
    /// How many problems the report lists in full (all are counted).
    pub max_issues: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: None,
            strict: false,
            caller_rules: CallerRules::default(),
            retry_window_ns: 30_000_000_000,
            max_issues: 20,
        }
    }
}

/// One problem met while reading (a bad record, or a file that could not be read to its end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestIssue {
    pub path: PathBuf,
    /// 0-based record index in the file (`Records`/`Events` position or CSV data row).
    pub record: Option<u64>,
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for IngestIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = Location {
            path: self.path.clone(),
            record: self.record,
            line: self.line,
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// What `ingest` read and kept. `records_read = kept + duplicates + non_ec2_skipped +
/// bad_records`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Every file read, in the order used for tie-breaks (the table's `file` column indexes
    /// this list).
    pub files: Vec<PathBuf>,
    pub files_read: u64,
    /// Files that stopped early (broken JSON, truncated gzip, CSV without required columns…).
    pub files_failed: u64,
    /// Files under the given directories that are not CloudTrail logs (digests, other types).
    pub files_ignored: u64,
    pub files_by_format: BTreeMap<String, u64>,
    pub records_read: u64,
    pub kept: u64,
    pub duplicates: u64,
    pub non_ec2_skipped: u64,
    pub bad_records: u64,
    /// The first `max_issues` problems.
    pub issues: Vec<IngestIssue>,
    pub warnings: Vec<String>,
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "files: {} read, {} failed, {} ignored",
            self.files_read, self.files_failed, self.files_ignored
        )?;
        for (k, v) in &self.files_by_format {
            writeln!(f, "  {k}: {v}")?;
        }
        writeln!(
            f,
            "records: {} read, {} kept, {} duplicates dropped, {} non-EC2 skipped, {} bad skipped",
            self.records_read, self.kept, self.duplicates, self.non_ec2_skipped, self.bad_records
        )?;
        for i in &self.issues {
            writeln!(f, "  problem: {i}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// The table and how it was made.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub df: DataFrame,
    pub report: IngestReport,
}

/// Reads CloudTrail files (S3 delivery files, `lookup-events` JSON, Lake/Athena CSV; plain or
/// gzip; directories walked recursively) into one table sorted by `eventTime` (ties: file
/// order, then record order), duplicates (same `eventID`) dropped, non-EC2 records skipped.
/// See [`COLUMNS`](super::COLUMNS) for the table.
pub fn ingest(paths: &[PathBuf], opts: &IngestOptions) -> Result<Ingested, TraceError> {
    let window = i64::try_from(opts.retry_window_ns).map_err(|_| TraceError::BadOption {
        name: "retry_window_ns",
        detail: "too large".into(),
    })?;
    let (files, ignored) = expand_paths(paths)?;
    let mut report = IngestReport {
        files_ignored: ignored,
        ..IngestReport::default()
    };
    let mut store = Store::default();
    let mut scratch = Scratch::default();
    for (fi, path) in files.iter().enumerate() {
        let file_idx = u32::try_from(fi).map_err(|_| TraceError::BadOption {
            name: "paths",
            detail: "more than 2^32 files".into(),
        })?;
        let mut sink = |idx: u64,
                        line: Option<u64>,
                        r: Result<TraceRecord, RecordError>|
         -> Result<(), TraceError> {
            report.records_read += 1;
            match r {
                Ok(rec) => {
                    if rec.is_ec2() {
                        store.push(file_idx, idx, &rec);
                    } else {
                        report.non_ec2_skipped += 1;
                    }
                    Ok(())
                }
                Err(error) => {
                    report.bad_records += 1;
                    let at = Location {
                        path: path.clone(),
                        record: Some(idx),
                        line,
                    };
                    if opts.strict {
                        return Err(TraceError::BadRecord { at, error });
                    }
                    if report.issues.len() < opts.max_issues {
                        report.issues.push(IngestIssue {
                            path: at.path,
                            record: at.record,
                            line: at.line,
                            message: format!("bad record skipped: {error}"),
                        });
                    }
                    Ok(())
                }
            }
        };
        match read_file(path, opts.format, &mut sink, &mut scratch) {
            Ok(out) => {
                report.files_read += 1;
                if let Some(f) = out.format {
                    *report.files_by_format.entry(f.to_string()).or_default() += 1;
                }
                report.warnings.extend(out.warnings);
            }
            Err(e) => {
                if opts.strict || matches!(e, TraceError::BadRecord { .. }) {
                    return Err(e);
                }
                report.files_read += 1;
                report.files_failed += 1;
                if report.issues.len() < opts.max_issues {
                    let (record, line) = e.location().map_or((None, None), |l| (l.record, l.line));
                    let message = e.detail();
                    report.issues.push(IngestIssue {
                        path: path.clone(),
                        record,
                        line,
                        message,
                    });
                }
            }
        }
    }
    // The read buffer (up to one file's content) is not needed to build the table.
    drop(scratch);
    report.files = files;
    let out = store.finish(&FinishOptions {
        rules: &opts.caller_rules,
        retry_window_ns: window,
    })?;
    report.duplicates = out.duplicates;
    report.kept = out.df.height() as u64;
    Ok(Ingested { df: out.df, report })
}
