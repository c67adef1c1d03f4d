//! `ingest`: CloudTrail files in, one normalised table out.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use polars::prelude::DataFrame;
use rayon::prelude::*;
use serde::Serialize;

use super::caller::CallerRules;
use super::error::{Location, RecordError, TraceError};
use super::finished::FinishedTable;
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
    /// The kind of problem (`missing eventTime`, `bad JSON`, …), as counted in
    /// [`IngestReport::issue_counts`].
    pub reason: String,
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

/// A principal recognised as the multi-ENI controller: it made `CreateNetworkInterface`
/// calls carrying the controller's description or managed-by tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecognisedPrincipal {
    pub principal: String,
    /// How many such Creates it made (after deduplication).
    pub creates: u64,
    /// The class its calls got (`controller` unless an explicit rule says otherwise).
    pub class: String,
}

/// What `ingest` read and kept. `records_read = kept + duplicates + non_ec2_skipped +
/// insight_skipped + bad_records`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Every file read, in the order used for tie-breaks (the table's `file` column indexes
    /// this list).
    pub files: Vec<PathBuf>,
    pub files_read: u64,
    /// Files that stopped early (broken JSON, truncated gzip, CSV without required columns…).
    pub files_failed: u64,
    /// Files that are not CloudTrail API logs (digests, Insights files, other types), skipped.
    pub files_ignored: u64,
    /// Of `files_ignored`: digest files.
    pub digest_files: u64,
    /// Of `files_ignored`: CloudTrail Insights files (`CloudTrail-Insight/…`).
    pub insight_files: u64,
    pub files_by_format: BTreeMap<String, u64>,
    pub records_read: u64,
    pub kept: u64,
    pub duplicates: u64,
    pub non_ec2_skipped: u64,
    /// CloudTrail Insights events met among the records (`eventCategory: Insight`), skipped.
    pub insight_skipped: u64,
    pub bad_records: u64,
    /// The first `max_issues` problems.
    pub issues: Vec<IngestIssue>,
    /// Every problem (listed or not), counted by kind.
    pub issue_counts: BTreeMap<String, u64>,
    /// Principals recognised as the controller by their Creates, most Creates first.
    pub controller_principals: Vec<RecognisedPrincipal>,
    pub warnings: Vec<String>,
}

impl IngestReport {
    /// How many problems were met in all (listed or not).
    pub fn issues_total(&self) -> u64 {
        self.issue_counts.values().sum()
    }

    /// The problems not listed in `issues`, counted by kind, most first.
    pub fn unlisted_issues(&self) -> Vec<(String, u64)> {
        let mut left = self.issue_counts.clone();
        for i in &self.issues {
            if let Some(n) = left.get_mut(&i.reason) {
                *n = n.saturating_sub(1);
            }
        }
        let mut v: Vec<(String, u64)> = left.into_iter().filter(|(_, n)| *n > 0).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Why the table has no rows, when it has none: `None` when rows were kept.
    pub fn why_empty(&self) -> Option<String> {
        if self.kept > 0 {
            return None;
        }
        let mut why = Vec::new();
        if self.files.is_empty() {
            why.push(format!(
                "no CloudTrail log file among the {} file(s) found ({} digest, {} Insights, {} other)",
                self.files_ignored,
                self.digest_files,
                self.insight_files,
                self.files_ignored
                    .saturating_sub(self.digest_files)
                    .saturating_sub(self.insight_files)
            ));
        } else if self.files_failed == self.files_read && self.records_read == 0 {
            let first = self
                .issues
                .first()
                .map(|i| format!(" (first: {i})"))
                .unwrap_or_default();
            why.push(format!(
                "none of the {} file(s) could be read{first}",
                self.files_read
            ));
        } else if self.records_read == 0 {
            why.push(format!("the {} file(s) hold no records", self.files_read));
        } else {
            if self.bad_records > 0 {
                let kinds: Vec<String> = {
                    let mut v: Vec<(&String, &u64)> = self.issue_counts.iter().collect();
                    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
                    v.into_iter().map(|(k, n)| format!("{n} {k}")).collect()
                };
                why.push(format!(
                    "{} of {} records are bad ({})",
                    self.bad_records,
                    self.records_read,
                    kinds.join(", ")
                ));
            }
            if self.non_ec2_skipped > 0 {
                why.push(format!("{} are not EC2 calls", self.non_ec2_skipped));
            }
            if self.insight_skipped > 0 {
                why.push(format!("{} are Insights events", self.insight_skipped));
            }
            if self.files_failed > 0 {
                why.push(format!(
                    "{} of {} file(s) could not be read",
                    self.files_failed, self.files_read
                ));
            }
        }
        if self.format_forced_mismatch() {
            why.push("the forced --format does not match the files".into());
        }
        Some(format!("no EC2 API call kept: {}", why.join("; ")))
    }

    fn format_forced_mismatch(&self) -> bool {
        self.issues
            .iter()
            .any(|i| i.message.contains("was forced but the file is"))
    }
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "files: {} read, {} failed, {} ignored",
            self.files_read, self.files_failed, self.files_ignored
        )?;
        if self.digest_files + self.insight_files > 0 {
            write!(
                f,
                " ({} digest, {} Insights)",
                self.digest_files, self.insight_files
            )?;
        }
        writeln!(f)?;
        for (k, v) in &self.files_by_format {
            writeln!(f, "  {k}: {v}")?;
        }
        write!(
            f,
            "records: {} read, {} kept, {} duplicates dropped, {} non-EC2 skipped, {} bad skipped",
            self.records_read, self.kept, self.duplicates, self.non_ec2_skipped, self.bad_records
        )?;
        if self.insight_skipped > 0 {
            write!(f, ", {} Insights events skipped", self.insight_skipped)?;
        }
        writeln!(f)?;
        if self.controller_principals.is_empty() {
            writeln!(
                f,
                "controller: no principal recognised by its Creates (no CreateNetworkInterface carries the controller's description or managed-by tag; the user-agent and --caller-rule rules still apply)"
            )?;
        }
        for p in &self.controller_principals {
            writeln!(
                f,
                "controller: {} recognised from {} CreateNetworkInterface call(s) with the controller's description or tags (class {})",
                p.principal, p.creates, p.class
            )?;
        }
        for i in &self.issues {
            writeln!(f, "  problem: {i}")?;
        }
        let more = self.unlisted_issues();
        if !more.is_empty() {
            let n: u64 = more.iter().map(|m| m.1).sum();
            let kinds: Vec<String> = more.iter().map(|(k, c)| format!("{c} {k}")).collect();
            writeln!(f, "  … and {n} more: {}", kinds.join(", "))?;
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

/// An ingest whose table is not yet a DataFrame: its ids and tags are still compact, so it
/// can be written to Parquet a row group at a time ([`IngestedTable::write_parquet`], the
/// bytes [`write_parquet`](super::write_parquet) writes for [`IngestedTable::into_ingested`]'s
/// table) in much less memory than the DataFrame takes.
pub struct IngestedTable {
    pub report: IngestReport,
    pub(crate) table: FinishedTable,
}

impl IngestedTable {
    /// Rows in the table.
    pub fn height(&self) -> usize {
        self.table.height()
    }

    /// Writes the table as Parquet, atomically.
    pub fn write_parquet(&self, path: &Path) -> Result<(), TraceError> {
        self.table.write_parquet(path)
    }

    /// The table as a DataFrame.
    pub fn into_ingested(self) -> Result<Ingested, TraceError> {
        Ok(Ingested {
            df: self.table.into_dataframe()?,
            report: self.report,
        })
    }
}

/// How far an ingest has got (after each file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestProgress {
    pub files_done: u64,
    pub files_total: u64,
    /// Bytes of the files done, as stored (compressed or not).
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub records: u64,
}

/// Reads CloudTrail files (S3 delivery files, `lookup-events` JSON, CloudWatch Logs exports,
/// Lake/Athena CSV; plain or gzip; directories walked recursively) into one table sorted by
/// `eventTime` (ties: file order, then record order), duplicates (same `eventID`) dropped,
/// non-EC2 records skipped. See [`COLUMNS`](super::COLUMNS) for the table.
pub fn ingest(paths: &[PathBuf], opts: &IngestOptions) -> Result<Ingested, TraceError> {
    ingest_with_progress(paths, opts, &mut |_| {})
}

/// [`ingest`], calling `progress` after each file (and once before the first).
pub fn ingest_with_progress(
    paths: &[PathBuf],
    opts: &IngestOptions,
    progress: &mut dyn FnMut(&IngestProgress),
) -> Result<Ingested, TraceError> {
    ingest_table_with_progress(paths, opts, progress)?.into_ingested()
}

/// [`ingest_with_progress`], the table left compact (to be written to Parquet).
pub fn ingest_table_with_progress(
    paths: &[PathBuf],
    opts: &IngestOptions,
    progress: &mut dyn FnMut(&IngestProgress),
) -> Result<IngestedTable, TraceError> {
    let window = i64::try_from(opts.retry_window_ns).map_err(|_| TraceError::BadOption {
        name: "retry_window_ns",
        detail: "too large".into(),
    })?;
    let expanded = expand_paths(paths)?;
    let files = expanded.files;
    let mut report = IngestReport {
        files_ignored: expanded.ignored,
        digest_files: expanded.digests,
        insight_files: expanded.insights,
        ..IngestReport::default()
    };
    let sizes: Vec<u64> = files
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    let mut prog = IngestProgress {
        files_total: files.len() as u64,
        bytes_total: sizes.iter().sum(),
        ..IngestProgress::default()
    };
    progress(&prog);
    // Files are parsed on all of rayon's threads, a batch at a time, each into a store of its
    // own; the stores are appended in file order, so the table is the one a single thread
    // makes (the same codes, rows and report), whatever the thread count. A batch bounds the
    // memory held by parsed-but-unappended files.
    let mut store = Store::default();
    let batch = 4 * rayon::current_num_threads().max(1);
    let indexed: Vec<(u32, &PathBuf)> = files
        .iter()
        .enumerate()
        .map(|(fi, p)| {
            u32::try_from(fi)
                .map(|i| (i, p))
                .map_err(|_| TraceError::BadOption {
                    name: "paths",
                    detail: "more than 2^32 files".into(),
                })
        })
        .collect::<Result<_, _>>()?;
    // One read buffer per thread, reused from file to file (growing a fresh one costs).
    let scratches: Vec<Mutex<Scratch>> = (0..rayon::current_num_threads().max(1))
        .map(|_| Mutex::new(Scratch::default()))
        .collect();
    for chunk in indexed.chunks(batch) {
        let parts: Vec<Result<FilePart, TraceError>> = chunk
            .par_iter()
            .map(|&(fi, path)| {
                let slot = rayon::current_thread_index().unwrap_or(0) % scratches.len();
                let mut scratch = scratches[slot].lock().unwrap_or_else(|e| e.into_inner());
                read_part(path, fi, opts, &mut scratch)
            })
            .collect();
        for part in parts {
            let part = part?;
            store.append(part.store);
            report.absorb(part.report, opts.max_issues);
            prog.files_done += 1;
            prog.bytes_done += sizes[part.file as usize];
            prog.records = report.records_read;
            progress(&prog);
        }
    }
    // The read buffers (up to one file's content each) are not needed to build the table.
    drop(scratches);
    report.files = files;
    let out = store.finish(&FinishOptions {
        rules: &opts.caller_rules,
        retry_window_ns: window,
    })?;
    report.duplicates = out.duplicates;
    report.kept = out.table.height() as u64;
    report.controller_principals = out
        .marked
        .into_iter()
        .map(|(principal, creates)| {
            let class = opts
                .caller_rules
                .classify_with(None, Some(&principal), true)
                .to_string();
            RecognisedPrincipal {
                principal,
                creates,
                class,
            }
        })
        .collect();
    Ok(IngestedTable {
        report,
        table: out.table,
    })
}

/// One file read into a store of its own, with the part of the report it makes.
struct FilePart {
    file: u32,
    store: Store,
    report: IngestReport,
}

/// Reads one file as [`ingest`] does: bad records and (unless `strict`) an unreadable file
/// are noted in the part's report; `Err` is what stops the whole ingest.
fn read_part(
    path: &Path,
    file_idx: u32,
    opts: &IngestOptions,
    scratch: &mut Scratch,
) -> Result<FilePart, TraceError> {
    let mut store = Store::default();
    let mut report = IngestReport::default();
    let note = |report: &mut IngestReport, issue: IngestIssue| {
        *report.issue_counts.entry(issue.reason.clone()).or_default() += 1;
        if report.issues.len() < opts.max_issues {
            report.issues.push(issue);
        }
    };
    let mut sink = |idx: u64,
                    line: Option<u64>,
                    r: Result<TraceRecord, RecordError>|
     -> Result<(), TraceError> {
        report.records_read += 1;
        match r {
            Ok(rec) if rec.insight => {
                report.insight_skipped += 1;
                Ok(())
            }
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
                    path: path.to_path_buf(),
                    record: Some(idx),
                    line,
                };
                if opts.strict {
                    return Err(TraceError::BadRecord { at, error });
                }
                note(
                    &mut report,
                    IngestIssue {
                        path: at.path,
                        record: at.record,
                        line: at.line,
                        message: format!("bad record skipped: {error}"),
                        reason: error.reason(),
                    },
                );
                Ok(())
            }
        }
    };
    match read_file(path, opts.format, &mut sink, scratch) {
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
            let (record, line) = e.location().map_or((None, None), |l| (l.record, l.line));
            note(
                &mut report,
                IngestIssue {
                    path: path.to_path_buf(),
                    record,
                    line,
                    message: e.detail(),
                    reason: e.reason(),
                },
            );
        }
    }
    Ok(FilePart {
        file: file_idx,
        store,
        report,
    })
}

impl IngestReport {
    /// Adds one file's part of the report (read after every file before it).
    fn absorb(&mut self, part: IngestReport, max_issues: usize) {
        self.files_read += part.files_read;
        self.files_failed += part.files_failed;
        for (f, n) in part.files_by_format {
            *self.files_by_format.entry(f).or_default() += n;
        }
        self.records_read += part.records_read;
        self.non_ec2_skipped += part.non_ec2_skipped;
        self.insight_skipped += part.insight_skipped;
        self.bad_records += part.bad_records;
        let room = max_issues.saturating_sub(self.issues.len());
        self.issues.extend(part.issues.into_iter().take(room));
        for (reason, n) in part.issue_counts {
            *self.issue_counts.entry(reason).or_default() += n;
        }
        self.warnings.extend(part.warnings);
    }
}
