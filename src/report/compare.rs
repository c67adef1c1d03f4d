//! Regression checks: two output directories — two `enisim run --out` directories, or two
//! sweep directories — compared metric by metric.
//!
//! For each metric: A's mean, B's mean, the difference B − A with its 95 % Welch interval
//! (Student-t with Welch–Satterthwaite degrees of freedom, so the two sides may have
//! different replication counts and variances), and a verdict:
//!
//! - **regression** when the whole interval lies on the bad side beyond the tolerance
//!   (`tolerance × |mean of A|`); for every metric larger is worse (times, CPU, memory,
//!   error rate, calls) except the few in [`Direction::of`];
//! - **improvement** symmetrically;
//! - **no significant change** otherwise.
//!
//! A metric some replication did not finish (its `<stem>_censored` flag is set: an ENI never
//! created, a cluster never converged) has only a lower bound and cannot be differenced: B
//! unfinished where A finished is a regression, the reverse an improvement, both unfinished
//! not comparable. A side with fewer than two replications has no interval: the verdict says
//! so and is never a regression.
//!
//! Sweeps are compared point by point on the grid points both hold (the same keys with the
//! same values). Loading ([`load`]) is the only I/O; [`compare`] and the renderers are pure.

use crate::metrics::summary::{censor_key, verdict_rank};
use serde::Serialize;
use serde_json::Value;
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file of an `enisim run --out` directory compare reads.
pub const RUN_SUMMARY: &str = "summary.json";

/// Why two directories cannot be compared. Every variant is the user's input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    #[error("{}: no such directory", path.display())]
    NoDirectory { path: PathBuf },
    #[error(
        "{}: not an enisim output directory: it holds neither summary.json (`enisim run --out`) nor sweep.json and runs.csv (`enisim sweep`)",
        path.display()
    )]
    UnknownOutput { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// The file is there but does not hold what it should: `key` names where (a JSON path
    /// such as `replications[3].metrics`, or a CSV row and column).
    #[error("{}: {}{message}", path.display(), if key.is_empty() { String::new() } else { format!("{key}: ") })]
    Malformed {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error(
        "A ({}) is {a_kind} output but B ({}) is {b_kind} output: compare two runs or two sweeps",
        a.display(),
        b.display()
    )]
    KindMismatch {
        a: PathBuf,
        a_kind: &'static str,
        b: PathBuf,
        b_kind: &'static str,
    },
    #[error(
        "the sweeps share no grid point: A ({}) covers {a_grid}, B ({}) covers {b_grid}; compare sweeps over the same keys with at least one point in common",
        a.display(),
        b.display()
    )]
    NoSharedPoints {
        a: PathBuf,
        a_grid: String,
        b: PathBuf,
        b_grid: String,
    },
    #[error("{}: no metric {metric:?} in {where_}; did you mean {nearest:?}?", path.display())]
    UnknownMetric {
        path: PathBuf,
        where_: String,
        metric: String,
        nearest: String,
    },
    #[error("tolerance {0}: must be a finite number ≥ 0 (a fraction of A's mean: 0.05 = 5 %)")]
    BadTolerance(f64),
}

/// A metric as a reader sees it: its column name, its label and its unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricInfo {
    pub metric: String,
    pub label: String,
    pub unit: String,
}

impl MetricInfo {
    /// A metric no threshold describes: a label and a unit from its name.
    pub fn from_name(metric: &str) -> MetricInfo {
        let label = match metric {
            "ec2_calls" => "EC2 calls (per run)".to_string(),
            "ec2_attempts" => "EC2 attempts (per run)".to_string(),
            "error_rate_percent" => "error rate".to_string(),
            m => m.to_string(),
        };
        let unit = if metric.ends_with("_s") {
            "s"
        } else if metric.ends_with("_percent") {
            "%"
        } else if metric.ends_with("_millicores") {
            "m"
        } else if metric.ends_with("_mib") {
            "Mi"
        } else {
            ""
        };
        MetricInfo {
            metric: metric.to_string(),
            label,
            unit: unit.to_string(),
        }
    }
}

/// Which way is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    LargerIsWorse,
    SmallerIsWorse,
}

impl Direction {
    /// Larger is worse for every metric (times, CPU, memory, error rates, calls, retries)
    /// except the counts of what got done.
    pub fn of(metric: &str) -> Direction {
        match metric {
            "attached_at_end" | "converged" | "enis_created" => Direction::SmallerIsWorse,
            _ => Direction::LargerIsWorse,
        }
    }
}

/// The replications of one run (or of one sweep point): every metric's value in each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replications {
    /// Replications in the output (successful ones, for a sweep point).
    pub count: usize,
    /// A sweep point's replications that failed (no metrics; not compared).
    pub failed: usize,
    /// Per metric, one value per replication (NaN where a replication has none).
    pub metrics: BTreeMap<String, Vec<f64>>,
}

impl Replications {
    /// The metric's finite values and how many replications flag it censored.
    pub fn samples(&self, metric: &str) -> Samples {
        let values = self
            .metrics
            .get(metric)
            .map(|v| v.iter().copied().filter(|x| x.is_finite()).collect())
            .unwrap_or_default();
        let unfinished = self
            .metrics
            .get(&censor_key(metric))
            .map(|v| v.iter().filter(|c| **c != 0.0 && !c.is_nan()).count())
            .unwrap_or(0);
        Samples { values, unfinished }
    }
}

/// One side of one metric.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Samples {
    pub values: Vec<f64>,
    /// Replications whose value is censored (only a lower bound).
    pub unfinished: usize,
}

/// A run's output (`summary.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    pub dir: PathBuf,
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    /// The judged threshold metrics in `summary.verdicts` order, then `ec2_calls` and
    /// `error_rate_percent` unless they are among them.
    pub default_metrics: Vec<MetricInfo>,
    pub replications: Replications,
}

/// One grid point of a sweep: its knob values in the sweep's axis order.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    pub knobs: Vec<(String, String)>,
    pub replications: Replications,
}

impl SweepPoint {
    /// `key=value` joined by ", ".
    pub fn describe(&self) -> String {
        describe_knobs(&self.knobs)
    }
}

fn describe_knobs(knobs: &[(String, String)]) -> String {
    knobs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A sweep's output (`sweep.json` for the grid and thresholds, `runs.csv` for the values).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutput {
    pub dir: PathBuf,
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub axes: Vec<String>,
    /// The judged (enabled) threshold metrics in verdict-table order, then `ec2_calls` and
    /// `error_rate_percent`.
    pub default_metrics: Vec<MetricInfo>,
    /// In point order; only successful replications.
    pub points: Vec<SweepPoint>,
}

impl SweepOutput {
    /// The grid it covers: `key=v1,v2 × key2=…`.
    pub fn grid(&self) -> String {
        self.axes
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let mut values: Vec<&str> = Vec::new();
                for p in &self.points {
                    if let Some((_, v)) = p.knobs.get(i) {
                        if !values.contains(&v.as_str()) {
                            values.push(v);
                        }
                    }
                }
                format!("{key}={}", values.join(","))
            })
            .collect::<Vec<_>>()
            .join(" × ")
    }
}

/// A loaded output directory.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Run(RunOutput),
    Sweep(SweepOutput),
}

impl Output {
    pub fn kind(&self) -> &'static str {
        match self {
            Output::Run(_) => "run",
            Output::Sweep(_) => "sweep",
        }
    }
    pub fn dir(&self) -> &Path {
        match self {
            Output::Run(r) => &r.dir,
            Output::Sweep(s) => &s.dir,
        }
    }
    fn default_metrics(&self) -> &[MetricInfo] {
        match self {
            Output::Run(r) => &r.default_metrics,
            Output::Sweep(s) => &s.default_metrics,
        }
    }
    /// Where its metric values live, for messages.
    fn values_file(&self) -> (PathBuf, &'static str) {
        match self {
            Output::Run(r) => (r.dir.join(RUN_SUMMARY), "replications[].metrics"),
            Output::Sweep(s) => (s.dir.join(crate::sweep::RUNS_CSV), "the header"),
        }
    }
    /// Every metric name it holds a value for.
    fn metric_names(&self) -> Vec<String> {
        let reps: Vec<&Replications> = match self {
            Output::Run(r) => vec![&r.replications],
            Output::Sweep(s) => s.points.iter().map(|p| &p.replications).collect(),
        };
        let mut names: Vec<String> = reps
            .iter()
            .flat_map(|r| r.metrics.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Loads an output directory: a run's when it holds `summary.json`, a sweep's when it
/// holds `sweep.json` or `runs.csv`.
pub fn load(dir: &Path) -> Result<Output, CompareError> {
    if !dir.is_dir() {
        return Err(CompareError::NoDirectory {
            path: dir.to_path_buf(),
        });
    }
    if dir.join(RUN_SUMMARY).exists() {
        return load_run(dir).map(Output::Run);
    }
    if dir.join(crate::sweep::MANIFEST).exists() || dir.join(crate::sweep::RUNS_CSV).exists() {
        return load_sweep(dir).map(Output::Sweep);
    }
    Err(CompareError::UnknownOutput {
        path: dir.to_path_buf(),
    })
}

fn read(path: &Path) -> Result<String, CompareError> {
    std::fs::read_to_string(path).map_err(|e| CompareError::Read {
        path: path.to_path_buf(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "no such file".to_string()
        } else {
            e.to_string()
        },
    })
}

fn parse_json(path: &Path, text: &str) -> Result<Value, CompareError> {
    serde_json::from_str(text).map_err(|e| CompareError::Malformed {
        path: path.to_path_buf(),
        key: String::new(),
        message: format!("not valid JSON: {e}"),
    })
}

fn malformed(path: &Path, key: impl Into<String>, message: impl Into<String>) -> CompareError {
    CompareError::Malformed {
        path: path.to_path_buf(),
        key: key.into(),
        message: message.into(),
    }
}

/// A metric value as `summary.json` writes it: a number, a flag, or null (NaN).
fn json_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Null => Some(f64::NAN),
        _ => None,
    }
}

/// `default_metrics` from threshold metrics: those, then the two always compared.
fn with_always_compared(mut metrics: Vec<MetricInfo>) -> Vec<MetricInfo> {
    for m in ["ec2_calls", "error_rate_percent"] {
        if !metrics.iter().any(|i| i.metric == m) {
            metrics.push(MetricInfo::from_name(m));
        }
    }
    metrics
}

pub fn load_run(dir: &Path) -> Result<RunOutput, CompareError> {
    let path = dir.join(RUN_SUMMARY);
    let doc = parse_json(&path, &read(&path)?)?;
    let reps = doc
        .get("replications")
        .ok_or_else(|| malformed(&path, "replications", "missing"))?
        .as_array()
        .ok_or_else(|| malformed(&path, "replications", "not an array"))?;
    if reps.is_empty() {
        return Err(malformed(&path, "replications", "empty: no replication"));
    }
    let mut metrics: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (i, r) in reps.iter().enumerate() {
        let key = format!("replications[{i}].metrics");
        let m = r
            .get("metrics")
            .ok_or_else(|| malformed(&path, &key, "missing"))?
            .as_object()
            .ok_or_else(|| malformed(&path, &key, "not an object"))?;
        for (name, v) in m {
            let Some(x) = json_value(v) else {
                return Err(malformed(
                    &path,
                    format!("{key}.{name}"),
                    format!("not a number: {v}"),
                ));
            };
            metrics
                .entry(name.clone())
                .or_insert_with(|| vec![f64::NAN; i])
                .push(x);
        }
        // A metric earlier replications had and this one lacks.
        for v in metrics.values_mut() {
            v.resize(i + 1, f64::NAN);
        }
    }
    let verdicts = doc
        .get("summary")
        .and_then(|s| s.get("verdicts"))
        .ok_or_else(|| malformed(&path, "summary.verdicts", "missing"))?
        .as_array()
        .ok_or_else(|| malformed(&path, "summary.verdicts", "not an array"))?;
    let mut default_metrics = Vec::new();
    for (i, v) in verdicts.iter().enumerate() {
        let key = format!("summary.verdicts[{i}]");
        let metric = v
            .get("metric")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(&path, format!("{key}.metric"), "missing or not a string"))?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let guess = MetricInfo::from_name(metric);
        default_metrics.push(MetricInfo {
            metric: metric.to_string(),
            label: text("label").unwrap_or(guess.label),
            unit: text("unit").unwrap_or(guess.unit),
        });
    }
    Ok(RunOutput {
        dir: dir.to_path_buf(),
        scenario: doc
            .pointer("/scenario/name")
            .and_then(Value::as_str)
            .map(str::to_string),
        seed: doc.get("seed").and_then(Value::as_u64),
        default_metrics: with_always_compared(default_metrics),
        replications: Replications {
            count: reps.len(),
            failed: 0,
            metrics,
        },
    })
}

/// The columns of runs.csv that are not metrics (besides the grid's keys).
const RUNS_ID_COLUMNS: [&str; 5] = ["point", "replication", "seed", "status", "error"];

pub fn load_sweep(dir: &Path) -> Result<SweepOutput, CompareError> {
    let manifest = dir.join(crate::sweep::MANIFEST);
    let doc = parse_json(&manifest, &read(&manifest)?)?;
    let def = doc
        .get("definition")
        .ok_or_else(|| malformed(&manifest, "definition", "missing"))?;
    let axes_v = def
        .pointer("/grid/axes")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(&manifest, "definition.grid.axes", "missing or not an array"))?;
    let mut axes = Vec::new();
    for (i, a) in axes_v.iter().enumerate() {
        let key = a.get("key").and_then(Value::as_str).ok_or_else(|| {
            malformed(
                &manifest,
                format!("definition.grid.axes[{i}].key"),
                "missing or not a string",
            )
        })?;
        axes.push(key.to_string());
    }
    let ths = def
        .pointer("/thresholds/metrics")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            malformed(
                &manifest,
                "definition.thresholds.metrics",
                "missing or not an object",
            )
        })?;
    let mut default_metrics: Vec<MetricInfo> = ths
        .iter()
        .filter(|(_, t)| t.get("enabled").and_then(Value::as_bool) != Some(false))
        .map(|(name, t)| {
            let guess = MetricInfo::from_name(name);
            let text = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
            MetricInfo {
                metric: name.clone(),
                label: text("label").unwrap_or(guess.label),
                unit: text("unit").unwrap_or(guess.unit),
            }
        })
        .collect();
    default_metrics.sort_by_key(|m| verdict_rank(&m.metric));

    let runs = dir.join(crate::sweep::RUNS_CSV);
    let text = read(&runs).map_err(|e| match e {
        CompareError::Read { path, message } if message == "no such file" => CompareError::Read {
            path,
            message: "no such file: the sweep has not finished (`enisim sweep --resume`), or its shards are not merged (`enisim sweep merge`)".into(),
        },
        e => e,
    })?;
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| malformed(&runs, "header", e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |name: &str| -> Result<usize, CompareError> {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| malformed(&runs, "header", format!("no column {name:?}")))
    };
    let status = col("status")?;
    let axis_cols: Vec<usize> = axes.iter().map(|a| col(a)).collect::<Result<_, _>>()?;
    col("point")?;
    let metric_cols: Vec<(usize, &String)> = header
        .iter()
        .enumerate()
        .filter(|(i, h)| !RUNS_ID_COLUMNS.contains(&h.as_str()) && !axis_cols.contains(i))
        .collect();
    let mut points: Vec<SweepPoint> = Vec::new();
    for (row, rec) in reader.records().enumerate() {
        let line = row + 2;
        let rec = rec.map_err(|e| malformed(&runs, format!("line {line}"), e.to_string()))?;
        if rec.len() != header.len() {
            return Err(malformed(
                &runs,
                format!("line {line}"),
                format!("{} fields, the header has {}", rec.len(), header.len()),
            ));
        }
        let knobs: Vec<(String, String)> = axes
            .iter()
            .zip(&axis_cols)
            .map(|(a, c)| (a.clone(), rec[*c].to_string()))
            .collect();
        let idx = match points.iter().position(|p| p.knobs == knobs) {
            Some(i) => i,
            None => {
                points.push(SweepPoint {
                    knobs,
                    replications: Replications::default(),
                });
                points.len() - 1
            }
        };
        let reps = &mut points[idx].replications;
        if &rec[status] != "ok" {
            reps.failed += 1;
            continue;
        }
        for (c, name) in &metric_cols {
            let cell = rec[*c].trim();
            let x = if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse::<f64>().map_err(|_| {
                    malformed(
                        &runs,
                        format!("line {line}, column {name}"),
                        format!("not a number: {cell:?}"),
                    )
                })?
            };
            reps.metrics
                .entry((*name).clone())
                .or_insert_with(|| vec![f64::NAN; reps.count])
                .push(x);
        }
        reps.count += 1;
    }
    Ok(SweepOutput {
        dir: dir.to_path_buf(),
        scenario: def
            .get("scenario_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        seed: def.get("seed").and_then(Value::as_u64),
        axes,
        default_metrics: with_always_compared(default_metrics),
        points,
    })
}

/// The difference of two means with its Welch interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Welch {
    /// mean(b) − mean(a).
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    /// Welch–Satterthwaite degrees of freedom; None when both sides have zero variance
    /// (then the interval is the point).
    pub df: Option<f64>,
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// The `level` (e.g. 0.95) interval of mean(b) − mean(a) for independent samples of
/// unequal variances: `d ± t_{ν, 1−α/2} · √(s²_a/n_a + s²_b/n_b)` with
/// `ν = (s²_a/n_a + s²_b/n_b)² / ((s²_a/n_a)²/(n_a−1) + (s²_b/n_b)²/(n_b−1))`.
/// None unless both sides have at least two samples.
pub fn welch_interval(a: &[f64], b: &[f64], level: f64) -> Option<Welch> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let (qa, qb) = (va / a.len() as f64, vb / b.len() as f64);
    let difference = mb - ma;
    let se2 = qa + qb;
    if !se2.is_finite() || !difference.is_finite() {
        return None;
    }
    if se2 <= 0.0 {
        return Some(Welch {
            difference,
            low: difference,
            high: difference,
            df: None,
        });
    }
    let df = se2 * se2 / (qa * qa / (a.len() - 1) as f64 + qb * qb / (b.len() - 1) as f64);
    let t = StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(1.0 - (1.0 - level) / 2.0))
        .ok()?;
    let half = t * se2.sqrt();
    Some(Welch {
        difference,
        low: difference - half,
        high: difference + half,
        df: Some(df),
    })
}

/// A metric's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Regression,
    Improvement,
    NoSignificantChange,
    /// Fewer than two replications on a side: no interval, never a regression.
    NoInterval,
    /// Unfinished in both: neither value is known.
    NotComparable,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Regression => "regression",
            Change::Improvement => "improvement",
            Change::NoSignificantChange => "no significant change",
            Change::NoInterval => "no interval",
            Change::NotComparable => "not comparable",
        }
    }
}

/// One side of one metric, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// Replications with a value.
    pub n: usize,
    /// Their mean (a lower bound when `unfinished > 0`); NaN (null) with none.
    pub mean: f64,
    /// Replications whose value is censored.
    pub unfinished: usize,
}

impl Side {
    fn of(s: &Samples) -> Side {
        let n = s.values.len();
        Side {
            n,
            mean: if n == 0 {
                f64::NAN
            } else {
                s.values.iter().sum::<f64>() / n as f64
            },
            unfinished: s.unfinished,
        }
    }
}

/// One metric compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    #[serde(flatten)]
    pub info: MetricInfo,
    pub direction: Direction,
    pub a: Side,
    pub b: Side,
    /// B − A, when both are known (finished everywhere, a value on each side).
    pub difference: Option<f64>,
    /// Its 95 % Welch interval, when there is one.
    pub interval: Option<Welch>,
    /// The tolerance in the metric's unit: `tolerance × |mean of A|`.
    pub tolerance: f64,
    pub change: Change,
    /// Why, when the verdict is not read off the interval alone.
    pub note: Option<String>,
}

/// Compares one metric's samples.
pub fn compare_metric(
    info: &MetricInfo,
    a: &Samples,
    b: &Samples,
    tolerance: f64,
) -> MetricComparison {
    let direction = Direction::of(&info.metric);
    let (sa, sb) = (Side::of(a), Side::of(b));
    let tol = tolerance * sa.mean.abs();
    let tol = if tol.is_finite() { tol } else { 0.0 };
    let censored = sa.unfinished > 0 || sb.unfinished > 0;
    let difference = (!censored && sa.n > 0 && sb.n > 0).then_some(sb.mean - sa.mean);
    let interval = if censored {
        None
    } else {
        welch_interval(&a.values, &b.values, 0.95)
    };
    let unfinished =
        |side: &str, s: &Side| format!("unfinished in {side} ({} of {})", s.unfinished, s.n);
    let (change, note) = if sa.n < 2 || sb.n < 2 {
        let mut note = match (sa.n < 2, sb.n < 2) {
            (true, true) => format!("{} and {} replications: no interval", sa.n, sb.n),
            (true, false) => format!("{} replication in A: no interval", sa.n),
            _ => format!("{} replication in B: no interval", sb.n),
        };
        if sa.unfinished > 0 {
            note.push_str(&format!("; {}", unfinished("A", &sa)));
        }
        if sb.unfinished > 0 {
            note.push_str(&format!("; {}", unfinished("B", &sb)));
        }
        (Change::NoInterval, Some(note))
    } else if censored {
        match (sa.unfinished > 0, sb.unfinished > 0) {
            (false, _) => (
                Change::Regression,
                Some(format!("{}, finished in A", unfinished("B", &sb))),
            ),
            (true, false) => (
                Change::Improvement,
                Some(format!("{}, finished in B", unfinished("A", &sa))),
            ),
            (true, true) => (
                Change::NotComparable,
                Some(format!(
                    "{} and {}",
                    unfinished("A", &sa),
                    unfinished("B", &sb).trim_start_matches("unfinished in ")
                )),
            ),
        }
    } else {
        match interval {
            // Two samples a side always give one, unless the values overflow the variance.
            None => (
                Change::NoInterval,
                Some("no interval: the variance is not finite".to_string()),
            ),
            Some(w) => {
                // Worse is positive in `bad` units.
                let (worse_low, better_high) = match direction {
                    Direction::LargerIsWorse => (w.low, w.high),
                    Direction::SmallerIsWorse => (-w.high, -w.low),
                };
                let change = if worse_low > tol {
                    Change::Regression
                } else if better_high < -tol {
                    Change::Improvement
                } else {
                    Change::NoSignificantChange
                };
                (change, None)
            }
        }
    };
    MetricComparison {
        info: info.clone(),
        direction,
        a: sa,
        b: sb,
        difference,
        interval,
        tolerance: tol,
        change,
        note,
    }
}

/// What to compare and how strictly.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Relative to A's mean: a difference must exceed `tolerance × |mean of A|` (its whole
    /// interval must) to count.
    pub tolerance: f64,
    /// Metric names; None for the defaults (A's judged threshold metrics, `ec2_calls`,
    /// `error_rate_percent`).
    pub metrics: Option<Vec<String>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tolerance: 0.05,
            metrics: None,
        }
    }
}

/// A side's identity, for the header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideInfo {
    pub dir: PathBuf,
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    /// Replications (a run) or grid points (a sweep).
    pub replications: Option<usize>,
    pub points: Option<usize>,
}

impl SideInfo {
    fn of(o: &Output) -> SideInfo {
        match o {
            Output::Run(r) => SideInfo {
                dir: r.dir.clone(),
                scenario: r.scenario.clone(),
                seed: r.seed,
                replications: Some(r.replications.count),
                points: None,
            },
            Output::Sweep(s) => SideInfo {
                dir: s.dir.clone(),
                scenario: s.scenario.clone(),
                seed: s.seed,
                replications: None,
                points: Some(s.points.len()),
            },
        }
    }
}

/// A knob of a sweep point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Knob {
    pub key: String,
    pub value: String,
}

/// The metrics of one run pair, or of one shared sweep point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointComparison {
    /// The grid point (sweeps only).
    pub point: Option<Vec<Knob>>,
    pub a_replications: usize,
    pub b_replications: usize,
    /// Replications that failed at this sweep point (not compared).
    pub a_failed: usize,
    pub b_failed: usize,
    pub metrics: Vec<MetricComparison>,
}

impl PointComparison {
    pub fn describe(&self) -> Option<String> {
        self.point.as_ref().map(|k| {
            k.iter()
                .map(|k| format!("{}={}", k.key, k.value))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

/// Everything `enisim compare` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub kind: &'static str,
    pub a: SideInfo,
    pub b: SideInfo,
    pub tolerance: f64,
    pub points: Vec<PointComparison>,
    /// Sweeps: the points only one side holds (`key=value, …`), not compared.
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    /// Default metrics not compared because one side holds no value for them (outputs of
    /// different enisim versions).
    pub skipped: Vec<String>,
    pub regressions: usize,
    pub improvements: usize,
}

impl Comparison {
    pub fn has_regression(&self) -> bool {
        self.regressions > 0
    }
    fn count(&self, c: Change) -> usize {
        self.points
            .iter()
            .flat_map(|p| &p.metrics)
            .filter(|m| m.change == c)
            .count()
    }
}

/// Two knob values are the same point when they are equal as text or as numbers ("5" and
/// "5.0").
fn same_value(a: &str, b: &str) -> bool {
    a == b || matches!((a.trim().parse::<f64>(), b.trim().parse::<f64>()), (Ok(x), Ok(y)) if x == y)
}

fn same_point(a: &[(String, String)], b: &[(String, String)]) -> bool {
    a.len() == b.len()
        && a.iter().all(|(k, v)| {
            b.iter()
                .find(|(kb, _)| kb == k)
                .is_some_and(|(_, vb)| same_value(v, vb))
        })
}

fn compare_replications(
    metrics: &[MetricInfo],
    a: &Replications,
    b: &Replications,
    tolerance: f64,
    point: Option<Vec<Knob>>,
) -> PointComparison {
    PointComparison {
        point,
        a_replications: a.count,
        b_replications: b.count,
        a_failed: a.failed,
        b_failed: b.failed,
        metrics: metrics
            .iter()
            .map(|m| compare_metric(m, &a.samples(&m.metric), &b.samples(&m.metric), tolerance))
            .collect(),
    }
}

/// The metrics to compare: the requested ones (each present on both sides, or an error),
/// or A's defaults that both sides hold, with the defaults one side lacks.
fn chosen_metrics(
    a: &Output,
    b: &Output,
    opts: &Options,
) -> Result<(Vec<MetricInfo>, Vec<String>), CompareError> {
    let (a_names, b_names) = (a.metric_names(), b.metric_names());
    let Some(requested) = &opts.metrics else {
        let (held, skipped): (Vec<&MetricInfo>, Vec<&MetricInfo>) = a
            .default_metrics()
            .iter()
            .partition(|m| a_names.contains(&m.metric) && b_names.contains(&m.metric));
        return Ok((
            held.into_iter().cloned().collect(),
            skipped.into_iter().map(|m| m.metric.clone()).collect(),
        ));
    };
    let mut out: Vec<MetricInfo> = Vec::new();
    for name in requested {
        for (side, names) in [(a, &a_names), (b, &b_names)] {
            if !names.contains(name) {
                let nearest = names
                    .iter()
                    .filter(|n| !n.ends_with("_censored"))
                    .max_by(|x, y| {
                        strsim::jaro_winkler(x, name).total_cmp(&strsim::jaro_winkler(y, name))
                    })
                    .cloned()
                    .unwrap_or_default();
                let (path, where_) = side.values_file();
                return Err(CompareError::UnknownMetric {
                    path,
                    where_: where_.to_string(),
                    metric: name.clone(),
                    nearest,
                });
            }
        }
        if out.iter().any(|m| &m.metric == name) {
            continue;
        }
        out.push(
            a.default_metrics()
                .iter()
                .find(|m| &m.metric == name)
                .cloned()
                .unwrap_or_else(|| MetricInfo::from_name(name)),
        );
    }
    Ok((out, Vec::new()))
}

/// Compares B against A.
pub fn compare(a: &Output, b: &Output, opts: &Options) -> Result<Comparison, CompareError> {
    if !(opts.tolerance.is_finite() && opts.tolerance >= 0.0) {
        return Err(CompareError::BadTolerance(opts.tolerance));
    }
    if a.kind() != b.kind() {
        return Err(CompareError::KindMismatch {
            a: a.dir().to_path_buf(),
            a_kind: a.kind(),
            b: b.dir().to_path_buf(),
            b_kind: b.kind(),
        });
    }
    let (metrics, skipped) = chosen_metrics(a, b, opts)?;
    let mut only_in_a = Vec::new();
    let mut only_in_b = Vec::new();
    let points = match (a, b) {
        (Output::Run(ra), Output::Run(rb)) => vec![compare_replications(
            &metrics,
            &ra.replications,
            &rb.replications,
            opts.tolerance,
            None,
        )],
        (Output::Sweep(sa), Output::Sweep(sb)) => {
            let mut out = Vec::new();
            for pa in &sa.points {
                match sb.points.iter().find(|pb| same_point(&pa.knobs, &pb.knobs)) {
                    Some(pb) => out.push(compare_replications(
                        &metrics,
                        &pa.replications,
                        &pb.replications,
                        opts.tolerance,
                        Some(
                            pa.knobs
                                .iter()
                                .map(|(k, v)| Knob {
                                    key: k.clone(),
                                    value: v.clone(),
                                })
                                .collect(),
                        ),
                    )),
                    None => only_in_a.push(pa.describe()),
                }
            }
            for pb in &sb.points {
                if !sa.points.iter().any(|pa| same_point(&pa.knobs, &pb.knobs)) {
                    only_in_b.push(pb.describe());
                }
            }
            if out.is_empty() {
                return Err(CompareError::NoSharedPoints {
                    a: sa.dir.clone(),
                    a_grid: sa.grid(),
                    b: sb.dir.clone(),
                    b_grid: sb.grid(),
                });
            }
            out
        }
        _ => unreachable!("kinds checked above"),
    };
    let mut c = Comparison {
        kind: a.kind(),
        a: SideInfo::of(a),
        b: SideInfo::of(b),
        tolerance: opts.tolerance,
        points,
        only_in_a,
        only_in_b,
        skipped,
        regressions: 0,
        improvements: 0,
    };
    c.regressions = c.count(Change::Regression);
    c.improvements = c.count(Change::Improvement);
    Ok(c)
}

fn with_unit(s: String, unit: &str) -> String {
    if unit.is_empty() {
        s
    } else {
        format!("{s} {unit}")
    }
}

fn side_cell(s: &Side, unit: &str) -> String {
    if s.n == 0 {
        return "no value".to_string();
    }
    let v = format!("{:.2}", s.mean);
    if s.unfinished > 0 {
        with_unit(format!("> {v}"), unit)
    } else {
        with_unit(v, unit)
    }
}

/// A signed figure to two decimals, with no "-0.00".
fn signed(x: f64) -> String {
    let s = format!("{x:+.2}");
    if s == "-0.00" {
        "+0.00".to_string()
    } else {
        s
    }
}

fn difference_cell(m: &MetricComparison) -> String {
    match (m.difference, m.interval) {
        (Some(_), Some(w)) => with_unit(
            format!(
                "{} [{}, {}]",
                signed(w.difference),
                signed(w.low),
                signed(w.high)
            ),
            &m.info.unit,
        ),
        (Some(d), None) => with_unit(signed(d), &m.info.unit),
        _ => "—".to_string(),
    }
}

fn verdict_cell(m: &MetricComparison) -> String {
    match &m.note {
        Some(n) => format!("{}: {n}", m.change.as_str()),
        None => m.change.as_str().to_string(),
    }
}

fn describe_side(s: &SideInfo) -> String {
    let mut parts = Vec::new();
    if let Some(n) = &s.scenario {
        parts.push(n.clone());
    }
    if let Some(r) = s.replications {
        parts.push(format!("{r} replication{}", if r == 1 { "" } else { "s" }));
    }
    if let Some(p) = s.points {
        parts.push(format!("{p} grid point{}", if p == 1 { "" } else { "s" }));
    }
    if let Some(seed) = s.seed {
        parts.push(format!("seed {seed}"));
    }
    format!("{} ({})", s.dir.display(), parts.join(", "))
}

/// The comparison as a text table (one per sweep point), columns as wide as their widest
/// cell across all of them.
pub fn render_table(c: &Comparison) -> String {
    let head = [
        "metric".to_string(),
        "A".to_string(),
        "B".to_string(),
        "B − A [95 % Welch]".to_string(),
        "verdict".to_string(),
    ];
    let rows: Vec<Vec<[String; 5]>> = c
        .points
        .iter()
        .map(|p| {
            p.metrics
                .iter()
                .map(|m| {
                    [
                        m.info.label.clone(),
                        side_cell(&m.a, &m.info.unit),
                        side_cell(&m.b, &m.info.unit),
                        difference_cell(m),
                        verdict_cell(m),
                    ]
                })
                .collect()
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .flatten()
            .chain(std::iter::once(&head))
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..4).map(width).collect();
    let line = |r: &[String; 5]| {
        format!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        )
    };
    let mut out = String::new();
    out.push_str(&format!("A: {}\n", describe_side(&c.a)));
    out.push_str(&format!("B: {}\n", describe_side(&c.b)));
    out.push_str(&format!(
        "B − A with its 95 % Welch interval; a change counts when the whole interval is beyond ±{} % of A's mean\n",
        fmt_percent(c.tolerance)
    ));
    for (p, rows) in c.points.iter().zip(&rows) {
        out.push('\n');
        if let Some(point) = p.describe() {
            let mut failed = String::new();
            for (side, n) in [("A", p.a_failed), ("B", p.b_failed)] {
                if n > 0 {
                    failed.push_str(&format!("; {n} failed in {side}, not compared"));
                }
            }
            out.push_str(&format!(
                "point {point} (A {} replications, B {}{failed})\n",
                p.a_replications, p.b_replications
            ));
        }
        out.push_str(&line(&head));
        for r in rows {
            out.push_str(&line(r));
        }
    }
    out.push('\n');
    if !c.only_in_a.is_empty() || !c.only_in_b.is_empty() {
        out.push_str(&format!(
            "compared {} shared grid point{}; not compared: {} only in A{}, {} only in B{}\n",
            c.points.len(),
            if c.points.len() == 1 { "" } else { "s" },
            c.only_in_a.len(),
            list_hint(&c.only_in_a),
            c.only_in_b.len(),
            list_hint(&c.only_in_b),
        ));
    }
    if !c.skipped.is_empty() {
        out.push_str(&format!(
            "not compared (no value on one side): {}\n",
            c.skipped.join(", ")
        ));
    }
    let total: usize = c.points.iter().map(|p| p.metrics.len()).sum();
    let same = c.count(Change::NoSignificantChange);
    let mut summary = format!(
        "{} regression{}, {} improvement{}, {same} without significant change",
        c.regressions,
        if c.regressions == 1 { "" } else { "s" },
        c.improvements,
        if c.improvements == 1 { "" } else { "s" },
    );
    let no_interval = c.count(Change::NoInterval);
    if no_interval > 0 {
        summary.push_str(&format!(", {no_interval} without an interval"));
    }
    let not_comparable = c.count(Change::NotComparable);
    if not_comparable > 0 {
        summary.push_str(&format!(", {not_comparable} not comparable"));
    }
    out.push_str(&format!("{summary} (of {total} compared)\n"));
    out
}

fn list_hint(points: &[String]) -> String {
    match points.len() {
        0 => String::new(),
        1..=3 => format!(" ({})", points.join("; ")),
        _ => format!(" ({}; …)", points[..3].join("; ")),
    }
}

fn fmt_percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}")
    } else {
        format!("{p}")
    }
}

/// The comparison as pretty JSON (every field of [`Comparison`]; NaN as null).
pub fn render_json(c: &Comparison) -> String {
    serde_json::to_string_pretty(c).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_of_equal_variances_and_sizes_has_2n_minus_2_degrees() {
        // A = 1, 2, 3 and B = 4, 5, 6: means 2 and 5, variances 1 and 1, so
        // s²/n = 1/3 each, se = √(2/3) = 0.816497, ν = (2/3)² / (2 · (1/3)² / 2) = 4,
        // t_{4, 0.975} = 2.776445 (tables): 3 ± 2.266951 = [0.733049, 5.266951].
        let w = welch_interval(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 0.95).unwrap();
        assert!((w.difference - 3.0).abs() < 1e-12);
        assert!((w.df.unwrap() - 4.0).abs() < 1e-12);
        assert!((w.low - 0.733049).abs() < 1e-5, "{w:?}");
        assert!((w.high - 5.266951).abs() < 1e-5, "{w:?}");
    }

    #[test]
    fn welch_with_one_constant_side_uses_the_other_sides_degrees() {
        // A = 5, 5, 5 (no variance), B = 1..5: mean 3, s² = 2.5, s²/n = 0.5, se = 0.707107,
        // ν = 0.5² / (0.5² / 4) = 4: −2 ± 2.776445 · 0.707107 = −2 ± 1.963243.
        let w = welch_interval(&[5.0; 3], &[1.0, 2.0, 3.0, 4.0, 5.0], 0.95).unwrap();
        assert!((w.df.unwrap() - 4.0).abs() < 1e-12);
        assert!((w.low + 3.963243).abs() < 1e-5, "{w:?}");
        assert!((w.high + 0.036757).abs() < 1e-5, "{w:?}");
    }

    #[test]
    fn welch_of_unequal_variances_and_sizes() {
        // A = 1, 2, 3 (s² = 1, s²/n = 1/3); B = 3, 5, 7, 9 (s² = 20/3, s²/n = 5/3):
        // d = 4, se² = 2, ν = 4 / ((1/3)²/2 + (5/3)²/3) = 4 / (1/18 + 25/27) = 4 / (53/54)
        // = 216/53 = 4.075472, between 4 and 5 degrees: t between t₅ = 2.570582 and
        // t₄ = 2.776445, so the half-width is between 3.635 and 3.927.
        let w = welch_interval(&[1.0, 2.0, 3.0], &[3.0, 5.0, 7.0, 9.0], 0.95).unwrap();
        assert!((w.df.unwrap() - 216.0 / 53.0).abs() < 1e-12);
        let half = w.high - w.difference;
        assert!(half > 2.570582 * 2f64.sqrt() && half < 2.776445 * 2f64.sqrt());
        assert!((w.difference - w.low - half).abs() < 1e-12);
    }

    #[test]
    fn overflowing_values_give_no_interval_not_a_panic() {
        let info = MetricInfo::from_name("ec2_calls");
        let c = compare_metric(&info, &s(&[1e300, -1e300]), &s(&[1.0, 2.0]), 0.05);
        assert_eq!(c.change, Change::NoInterval);
    }

    #[test]
    fn zero_variance_gives_the_point_and_few_samples_none() {
        let w = welch_interval(&[2.0, 2.0], &[3.0, 3.0, 3.0], 0.95).unwrap();
        assert_eq!((w.low, w.difference, w.high, w.df), (1.0, 1.0, 1.0, None));
        assert!(welch_interval(&[1.0], &[1.0, 2.0], 0.95).is_none());
    }

    fn s(values: &[f64]) -> Samples {
        Samples {
            values: values.to_vec(),
            unfinished: 0,
        }
    }

    #[test]
    fn verdicts_respect_the_tolerance_and_direction() {
        let info = MetricInfo::from_name("eni_creation_p95_s");
        let a = s(&[30.0, 31.0, 29.0]);
        // +10 s, tight: beyond 5 % of 30 (1.5 s).
        let c = compare_metric(&info, &a, &s(&[40.0, 41.0, 39.0]), 0.05);
        assert_eq!(c.change, Change::Regression);
        assert_eq!(c.tolerance, 1.5);
        // +1 s, tight but within 5 %.
        let c = compare_metric(&info, &a, &s(&[31.0, 32.0, 30.0]), 0.05);
        assert_eq!(c.change, Change::NoSignificantChange);
        // Faster: improvement; the same the other way round for a larger-is-better count.
        let c = compare_metric(&info, &a, &s(&[20.0, 21.0, 19.0]), 0.05);
        assert_eq!(c.change, Change::Improvement);
        let att = MetricInfo::from_name("attached_at_end");
        let c = compare_metric(&att, &s(&[100.0; 3]), &s(&[70.0; 3]), 0.05);
        assert_eq!(c.change, Change::Regression);
        // Identical constant samples: the interval is the point 0.
        let c = compare_metric(&info, &a, &a, 0.0);
        assert_eq!(c.change, Change::NoSignificantChange);
    }

    #[test]
    fn censored_and_short_sides() {
        let info = MetricInfo::from_name("full_reconcile_s");
        let done = s(&[40.0, 41.0]);
        let unfinished = Samples {
            values: vec![1800.0, 1800.0],
            unfinished: 2,
        };
        let c = compare_metric(&info, &done, &unfinished, 0.05);
        assert_eq!(c.change, Change::Regression);
        assert_eq!(c.difference, None);
        assert!(c.note.unwrap().contains("unfinished in B (2 of 2)"));
        let c = compare_metric(&info, &unfinished, &done, 0.05);
        assert_eq!(c.change, Change::Improvement);
        let c = compare_metric(&info, &unfinished, &unfinished, 0.05);
        assert_eq!(c.change, Change::NotComparable);
        // One replication: never a regression, however large the difference.
        let c = compare_metric(&info, &s(&[40.0]), &s(&[400.0, 401.0]), 0.05);
        assert_eq!(c.change, Change::NoInterval);
        assert_eq!(c.difference, Some(360.5));
    }

    fn run(metrics: &[(&str, &[f64])]) -> Output {
        Output::Run(RunOutput {
            dir: PathBuf::from("x"),
            scenario: None,
            seed: None,
            default_metrics: with_always_compared(vec![MetricInfo::from_name(
                "eni_creation_p95_s",
            )]),
            replications: Replications {
                count: metrics.first().map(|m| m.1.len()).unwrap_or(0),
                failed: 0,
                metrics: metrics
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_vec()))
                    .collect(),
            },
        })
    }

    #[test]
    fn defaults_one_side_lacks_are_skipped_and_requested_ones_refused() {
        let a = run(&[
            ("eni_creation_p95_s", &[30.0, 31.0]),
            ("ec2_calls", &[100.0, 101.0]),
            ("error_rate_percent", &[0.0, 0.0]),
        ]);
        let b = run(&[
            ("eni_creation_p95_s", &[30.0, 31.0]),
            ("error_rate_percent", &[0.0, 0.0]),
        ]);
        let c = compare(&a, &b, &Options::default()).unwrap();
        assert_eq!(c.skipped, vec!["ec2_calls".to_string()]);
        assert_eq!(c.points[0].metrics.len(), 2);
        assert!(render_table(&c).contains("not compared (no value on one side): ec2_calls"));
        let opts = Options {
            metrics: Some(vec!["ec2_calls".into()]),
            ..Options::default()
        };
        assert!(matches!(
            compare(&a, &b, &opts),
            Err(CompareError::UnknownMetric { .. })
        ));
        let opts = Options {
            tolerance: -0.1,
            ..Options::default()
        };
        assert_eq!(
            compare(&a, &b, &opts),
            Err(CompareError::BadTolerance(-0.1))
        );
    }

    #[test]
    fn knob_values_match_as_numbers() {
        let a = vec![("k".to_string(), "5".to_string())];
        let b = vec![("k".to_string(), "5.0".to_string())];
        assert!(same_point(&a, &b));
        let c = vec![("j".to_string(), "5".to_string())];
        assert!(!same_point(&a, &c));
    }
}
