//! `enisim report DIR`: what kind of output a directory holds, the report that kind
//! builds (a headline, a table, notes and figures), and the one place that writes it —
//! `report.html` plus every figure as SVG and PNG under `figures/` — through one exporter
//! per format (hyperfine's `export`), each file atomically.
//!
//! A new kind of output (calibrate, replay) is one more [`OutputKind`] in [`KINDS`]: how
//! to recognise its directory and which report it builds.

use super::figures::{self, Figure};
use super::run_dir::RunTables;
use std::path::{Path, PathBuf};

/// The report's file in the output directory.
pub const REPORT_HTML: &str = "report.html";
/// Where the figures go, beside it.
pub const FIGURES_DIR: &str = "figures";

/// Why a directory cannot be reported on. Every variant but `Draw` is the user's input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    #[error("{}: no such directory", path.display())]
    NoDirectory { path: PathBuf },
    #[error("{}: not an enisim output directory: it holds {kinds}", path.display())]
    UnknownOutput { path: PathBuf, kinds: String },
    #[error("{}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: {}{message}", path.display(), if place.is_empty() { String::new() } else { format!("{place}: ") })]
    Malformed {
        path: PathBuf,
        place: String,
        message: String,
    },
    #[error("{}: cannot write the report there: {message}", path.display())]
    Unwritable { path: PathBuf, message: String },
    /// Drawing failed: a bug, not the input.
    #[error("drawing a figure: {0}")]
    Draw(String),
}

impl ReportError {
    pub fn is_input(&self) -> bool {
        !matches!(self, ReportError::Draw(_))
    }
}

/// A table at the top of the report; `verdict_column` is coloured by verdict.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub verdict_column: Option<usize>,
}

/// What an output directory shows a reader.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The kind of output (`run`, `sweep`, `recommend`).
    pub kind: &'static str,
    pub title: String,
    pub headline: String,
    pub table: Table,
    /// Lines below the table (bottleneck, warnings, the answer).
    pub notes: Vec<String>,
    pub figures: Vec<Figure>,
}

/// A kind of output directory and the report it builds.
pub trait OutputKind: Sync {
    fn name(&self) -> &'static str;
    /// The files that make a directory this kind, for the error on an unknown one.
    fn files(&self) -> &'static str;
    fn detect(&self, dir: &Path) -> bool;
    fn build(&self, dir: &Path) -> Result<Report, ReportError>;
}

/// Every kind `report` knows, most specific first.
pub static KINDS: &[&dyn OutputKind] = &[
    &ReplayKind,
    &RunKind,
    &RecommendKind,
    &SweepKind,
    &SensitivityKind,
    &CalibrateKind,
];

/// The kind of output `dir` holds.
pub fn kind_of(dir: &Path) -> Result<&'static dyn OutputKind, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::NoDirectory {
            path: dir.to_path_buf(),
        });
    }
    KINDS
        .iter()
        .copied()
        .find(|k| k.detect(dir))
        .ok_or_else(|| ReportError::UnknownOutput {
            path: dir.to_path_buf(),
            kinds: format!(
                "none of {}",
                KINDS
                    .iter()
                    .map(|k| format!("{} (`enisim {}`)", k.files(), k.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// The report of the output in `dir`.
pub fn build(dir: &Path) -> Result<Report, ReportError> {
    kind_of(dir)?.build(dir)
}

// ---- the kinds -------------------------------------------------------------------------

struct RunKind;

impl OutputKind for RunKind {
    fn name(&self) -> &'static str {
        "run"
    }
    fn files(&self) -> &'static str {
        "summary.json and enis.csv"
    }
    fn detect(&self, dir: &Path) -> bool {
        RunTables::detect(dir)
    }
    fn build(&self, dir: &Path) -> Result<Report, ReportError> {
        let t = RunTables::load(dir)?;
        Ok(run_report(
            &t,
            figures::run::figures(&t).map_err(ReportError::Draw)?,
        ))
    }
}

/// The run's report: the verdict table exactly as `run` prints it (the same cells), its
/// bottleneck and warnings, and the figures.
pub fn run_report(t: &RunTables, figures: Vec<Figure>) -> Report {
    let cells = crate::metrics::summary::verdict_cells(&t.verdicts, t.replications);
    let mut notes = vec![format!("bottleneck: {}", t.bottleneck)];
    notes.extend(t.warnings.iter().map(|w| format!("warning: {w}")));
    Report {
        kind: "run",
        title: "enisim run: report".to_string(),
        headline: t.headline.clone(),
        table: Table {
            head: crate::metrics::summary::VERDICT_HEAD
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rows: cells.into_iter().map(|r| r.to_vec()).collect(),
            verdict_column: Some(3),
        },
        notes,
        figures,
    }
}

struct SweepKind;

impl OutputKind for SweepKind {
    fn name(&self) -> &'static str {
        "sweep"
    }
    fn files(&self) -> &'static str {
        "sweep.json, journal.csv and summary.parquet"
    }
    fn detect(&self, dir: &Path) -> bool {
        dir.join(crate::sweep::MANIFEST).is_file()
    }
    fn build(&self, dir: &Path) -> Result<Report, ReportError> {
        figures::sweep::report(dir)
    }
}

struct RecommendKind;

impl OutputKind for RecommendKind {
    fn name(&self) -> &'static str {
        "recommend"
    }
    fn files(&self) -> &'static str {
        "recommendation.json"
    }
    fn detect(&self, dir: &Path) -> bool {
        dir.join(figures::recommend::RECOMMENDATION_JSON).is_file()
    }
    fn build(&self, dir: &Path) -> Result<Report, ReportError> {
        figures::recommend::report(dir)
    }
}

struct ReplayKind;

impl OutputKind for ReplayKind {
    fn name(&self) -> &'static str {
        "replay"
    }
    fn files(&self) -> &'static str {
        "validation.json beside a run's tables"
    }
    fn detect(&self, dir: &Path) -> bool {
        RunTables::detect(dir) && dir.join(figures::fit::VALIDATION_JSON).is_file()
    }
    fn build(&self, dir: &Path) -> Result<Report, ReportError> {
        figures::fit::replay_report(dir, RunKind.build(dir)?)
    }
}

struct CalibrateKind;

impl OutputKind for CalibrateKind {
    fn name(&self) -> &'static str {
        "calibrate"
    }
    fn files(&self) -> &'static str {
        "calibration.json"
    }
    fn detect(&self, dir: &Path) -> bool {
        dir.join(figures::fit::CALIBRATION_JSON).is_file()
    }
    fn build(&self, dir: &Path) -> Result<Report, ReportError> {
        figures::fit::calibration_report(dir)
    }
}

struct SensitivityKind;

impl OutputKind for SensitivityKind {
    fn name(&self) -> &'static str {
        "sensitivity"
    }
    fn files(&self) -> &'static str {
        "sensitivity.json"
    }
    fn detect(&self, dir: &Path) -> bool {
        dir.join(figures::sensitivity::SENSITIVITY_JSON).is_file()
    }
    fn build(&self, dir: &Path) -> Result<Report, ReportError> {
        figures::sensitivity::report(dir)
    }
}

// ---- exporters and the one place that writes -------------------------------------------

/// One output format: the files (relative to the output directory) it makes of a report.
pub trait Exporter {
    fn files(&self, report: &Report) -> Vec<(PathBuf, Vec<u8>)>;
}

pub struct SvgExporter;
pub struct PngExporter;
pub struct HtmlExporter;

impl Exporter for SvgExporter {
    fn files(&self, report: &Report) -> Vec<(PathBuf, Vec<u8>)> {
        report
            .figures
            .iter()
            .map(|f| {
                (
                    Path::new(FIGURES_DIR).join(format!("{}.svg", f.name)),
                    f.svg.clone().into_bytes(),
                )
            })
            .collect()
    }
}

impl Exporter for PngExporter {
    fn files(&self, report: &Report) -> Vec<(PathBuf, Vec<u8>)> {
        report
            .figures
            .iter()
            .map(|f| {
                (
                    Path::new(FIGURES_DIR).join(format!("{}.png", f.name)),
                    f.png.clone(),
                )
            })
            .collect()
    }
}

impl Exporter for HtmlExporter {
    fn files(&self, report: &Report) -> Vec<(PathBuf, Vec<u8>)> {
        vec![(
            PathBuf::from(REPORT_HTML),
            super::html::render(report).into_bytes(),
        )]
    }
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub kind: &'static str,
    pub html: PathBuf,
    pub figures: usize,
}

/// Writes the report into `dir`: every figure (SVG, PNG), then `report.html` last, each
/// atomically; all bytes are made before the first file is written, so a failure to build
/// leaves the directory as it was.
pub fn write_report(dir: &Path, report: &Report) -> Result<Written, ReportError> {
    let files: Vec<(PathBuf, Vec<u8>)> =
        [&SvgExporter as &dyn Exporter, &PngExporter, &HtmlExporter]
            .iter()
            .flat_map(|e| e.files(report))
            .collect();
    if let Err(e) = tempfile::Builder::new()
        .prefix(".enisim-probe")
        .tempfile_in(dir)
    {
        return Err(ReportError::Unwritable {
            path: dir.to_path_buf(),
            message: e.to_string(),
        });
    }
    for (rel, bytes) in &files {
        let path = dir.join(rel);
        crate::atomic::write_atomically(&path, bytes).map_err(|e| ReportError::Unwritable {
            path,
            message: e.to_string(),
        })?;
    }
    Ok(Written {
        kind: report.kind,
        html: dir.join(REPORT_HTML),
        figures: report.figures.len(),
    })
}

/// `enisim report DIR`: builds the report of the output in `dir` and writes it there.
pub fn render_dir(dir: &Path) -> Result<Written, ReportError> {
    let report = build(dir)?;
    write_report(dir, &report)
}
