//! `enisim calibrate`: fit the model to a recorded trail (glue over `crate::calibrate`).

use super::model_args::ModelArgs;
use super::progress::Progress;
use super::BadInput;
use crate::calibrate::{calibrate, output, prometheus, CalibrateError, Options, Trail};
use crate::scenario::ScenarioSpec;
use crate::trace::{ingest, read_parquet, IngestOptions, TraceError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// The recorded trail: a table written by `enisim trace ingest` (.parquet), or
    /// CloudTrail files/directories (ingested on the fly).
    #[arg(required = true, value_name = "TRAIL")]
    pub trail: Vec<PathBuf>,
    /// The recorded cluster's workload: a built-in scenario name or a scenario file (its
    /// size and layout; `--set enisim.scenario.*` adjusts it).
    #[arg(long, default_value = "burst")]
    pub scenario: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output directory (ec2.yaml, calibration.json, calibration.md).
    #[arg(short = 'o', long = "out", alias = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// The controller's Prometheus metrics over the same window: `query_range` JSON answers
    /// or text scrapes with timestamps; fits its CPU and memory costs (controller.yaml).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub prometheus: Vec<PathBuf>,
    /// Caller rule for ingesting CloudTrail files (as `trace ingest --caller-rule`).
    #[arg(long = "caller-rule", value_name = "RULE")]
    pub caller_rules: Vec<String>,
    /// Replications per simulated point (common random numbers across points).
    #[arg(long, default_value_t = 10)]
    pub replications: u32,
    /// Nelder–Mead iterations at most (after the Levenberg–Marquardt steps).
    #[arg(long, default_value_t = 40)]
    pub max_iters: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub threads: Option<usize>,
}

fn bad_trace(e: TraceError) -> anyhow::Error {
    BadInput(e.to_string()).into()
}

fn read_trail(paths: &[PathBuf], rules: &[String]) -> anyhow::Result<(Trail, String)> {
    let name = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let is_table = paths.len() == 1
        && paths[0].is_file()
        && paths[0].extension().is_some_and(|e| e == "parquet");
    let df = if is_table {
        read_parquet(&paths[0]).map_err(bad_trace)?
    } else {
        let opts = IngestOptions {
            caller_rules: super::trace::caller_rules(rules)?,
            ..IngestOptions::default()
        };
        let ingested = ingest(paths, &opts).map_err(bad_trace)?;
        if let Some(why) = ingested.report.why_empty() {
            return Err(BadInput(format!("{name}: {why}")).into());
        }
        ingested.df
    };
    let trail = Trail::from_frame(&df).map_err(bad_trace)?;
    Ok((trail, name))
}

fn check_out(dir: &Path) -> anyhow::Result<()> {
    super::run::check_writable(dir)
}

pub fn run(a: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let scenario = ScenarioSpec::resolve(&a.scenario)?;
    let model = a.model.model()?;
    let settings = a.model.settings(scenario)?;
    check_out(&a.output)?;
    let (trail, source) = read_trail(&a.trail, &a.caller_rules)?;
    let c = &settings.scenario.cluster;
    eprintln!(
        "workload: scenario {} ({} nodes × {} ENIs, {}), {} calls in the trail",
        settings.scenario.name,
        c.nodes,
        c.enis_per_node,
        c.layout.as_str(),
        trail.calls.len()
    );
    let opts = Options {
        seed: a.seed,
        replications: super::run::check_replications(a.replications)?,
        max_iters: a.max_iters,
        ..Options::default()
    };
    let bar = Progress::spinner();
    let cal = super::run::in_pool(a.threads, || {
        calibrate(
            &trail,
            &source,
            &model,
            &settings,
            &opts,
            &|phase, done, total| bar.message(format!("{phase} {done}/{total}")),
        )
    })?;
    bar.finish();
    let cal = cal.map_err(|e| match e {
        CalibrateError::Simulate(_) | CalibrateError::Optimise(_) => anyhow::Error::new(e),
        other => BadInput(other.to_string()).into(),
    })?;
    for w in &cal.warnings {
        eprintln!("warning: {w}");
    }
    let controller_yaml = if a.prometheus.is_empty() {
        None
    } else {
        let mut series = prometheus::Series::new();
        for f in &a.prometheus {
            prometheus::read(f, &mut series).map_err(|e| BadInput(e.to_string()))?;
        }
        let fit = prometheus::fit_with_trail(&mut series, &trail, &a.prometheus[0])
            .map_err(|e| BadInput(e.to_string()))?;
        let names: Vec<String> = a
            .prometheus
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        Some(
            prometheus::controller_yaml(&settings.controller, &fit, &names.join(", "))
                .map_err(anyhow::Error::msg)?,
        )
    };
    let files = output::render(&cal, controller_yaml).map_err(anyhow::Error::msg)?;
    let written = output::write(&a.output, &files)?;
    println!("{}", cal.verdict);
    println!();
    println!(
        "{:<52} {:>10} {:>10} {:>22}  n",
        "fitted parameter", "prior", "fitted", "95 % interval"
    );
    for p in cal.parameters.iter().filter(|p| p.identified) {
        println!(
            "{:<52} {:>10} {:>10} {:>22}  {}",
            p.name,
            fmt(p.prior),
            fmt(p.value),
            format!("[{}, {}]", fmt(p.low), fmt(p.high)),
            p.n
        );
    }
    let kept: Vec<&str> = cal
        .parameters
        .iter()
        .filter(|p| !p.identified)
        .map(|p| p.name.as_str())
        .collect();
    if !kept.is_empty() {
        println!(
            "{} kept as assumptions (not identifiable from this trail; why: calibration.md), e.g. {}",
            kept.len(),
            kept.iter().rev().take(2).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    println!();
    for w in written {
        println!("wrote {}", w.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn fmt(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}
