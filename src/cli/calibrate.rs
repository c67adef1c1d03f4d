//! `enisim calibrate`: fit the model to a recorded trail (glue over `crate::calibrate`).

use super::model_args::ModelArgs;
use super::progress::Progress;
use super::BadInput;
use crate::calibrate::{
    calibrate, output, prometheus, CalibrateError, Choice, Options, Recording, Workload,
};
use crate::scenario::ScenarioSpec;
use crate::trace::IngestOptions;
use crate::workload::Scope;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// The recorded trail: a table written by `enisim trace ingest` (.parquet), or
    /// CloudTrail files/directories (ingested on the fly). Among them, optionally, the
    /// recorded cluster's workload as a SCENARIO: a built-in scenario name that is not an
    /// existing path, or a .yaml/.yml scenario file (`--set enisim.scenario.*` adjusts it).
    /// Without a scenario or --audit-log the workload is reconstructed from the
    /// controller's calls and printed.
    #[arg(required = true, value_name = "TRAIL|SCENARIO")]
    pub inputs: Vec<PathBuf>,
    /// The recorded cluster's workload as a scenario (the same as the positional SCENARIO).
    #[arg(long, value_name = "NAME|FILE")]
    pub scenario: Option<String>,
    /// The workload from this Kubernetes audit log (JSON lines, audit.k8s.io/v1 Events:
    /// NodeENI create/update/delete, status writes) instead of reconstructing it.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// The account to calibrate from when the trail holds several.
    #[arg(long)]
    pub account: Option<String>,
    /// The region to calibrate from when the trail holds several.
    #[arg(long)]
    pub region: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output directory (ec2.yaml, calibration.json, calibration.md; scenario.yaml for a
    /// recorded workload).
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

/// A positional that names the workload rather than a trail: a .yaml/.yml file (no trail
/// is YAML), or a built-in scenario name where no such path exists.
fn is_scenario(p: &Path) -> bool {
    let yaml = p
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if yaml {
        return !p.is_dir();
    }
    !p.exists()
        && p.to_str()
            .is_some_and(|s| ScenarioSpec::embedded(s).is_some())
}

/// The trails and the workload the arguments name; two workloads, or none but trails
/// missing, are exit status 2.
fn inputs(a: &CalibrateArgs) -> anyhow::Result<(Vec<PathBuf>, Choice)> {
    let (scenarios, trails): (Vec<&PathBuf>, Vec<&PathBuf>) =
        a.inputs.iter().partition(|p| is_scenario(p));
    let mut named: Vec<String> = a.scenario.iter().cloned().collect();
    named.extend(scenarios.iter().map(|p| p.display().to_string()));
    if named.len() > 1 {
        return Err(BadInput(format!(
            "{} scenarios given ({}): give the recorded workload once, as SCENARIO or --scenario",
            named.len(),
            named.join(", ")
        ))
        .into());
    }
    if trails.is_empty() {
        return Err(BadInput(format!(
            "{}: a scenario, and no trail: give the recorded trail (a table from `enisim trace ingest`, or CloudTrail files)",
            named.join(", ")
        ))
        .into());
    }
    let choice = match (&a.audit_log, named.first()) {
        (Some(log), Some(s)) => {
            return Err(BadInput(format!(
                "--audit-log {} and the scenario {s} both give the workload: give one (a recorded workload runs on the burst scenario's instance type and run settings; --set enisim.scenario.instanceType=… changes them)",
                log.display()
            ))
            .into())
        }
        (Some(log), None) => Choice::AuditLog(log.clone()),
        (None, Some(s)) => Choice::Scenario(Box::new(ScenarioSpec::resolve(s)?)),
        (None, None) => Choice::Reconstruct,
    };
    Ok((trails.into_iter().cloned().collect(), choice))
}

fn check_out(dir: &Path) -> anyhow::Result<()> {
    super::run::check_writable(dir)
}

pub fn run(a: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let (trails, choice) = inputs(&a)?;
    let model = a.model.model()?;
    check_out(&a.output)?;
    let ingest = IngestOptions {
        caller_rules: super::trace::caller_rules(&a.caller_rules)?,
        ..IngestOptions::default()
    };
    let scope = Scope {
        account: a.account.clone(),
        region: a.region.clone(),
    };
    let bad = super::replay::bad;
    let rec = Recording::load(&trails, &ingest, &scope).map_err(bad)?;
    let workload = Workload::of(&rec, choice).map_err(bad)?;
    let settings = a.model.settings(workload.scenario.clone())?;
    workload.check_keys(&settings.given).map_err(BadInput)?;
    let trail = &rec.calls;
    print!("{}", workload.summary(&settings.scenario));
    println!(
        "{} calls in the trail, {} by the controller",
        trail.calls.len(),
        trail.controller().count()
    );
    println!();
    let source = rec.name().to_string();
    let opts = Options {
        seed: a.seed,
        replications: super::run::check_replications(a.replications)?,
        max_iters: a.max_iters,
        ..Options::default()
    };
    let bar = Progress::spinner();
    let cal = super::run::in_pool(a.threads, || {
        calibrate(
            trail,
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
        let fit = prometheus::fit_with_trail(&mut series, trail, &a.prometheus[0])
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
    let files = output::render(
        &cal,
        controller_yaml,
        &workload.note(),
        workload.scenario_file(&settings.scenario),
    )
    .map_err(anyhow::Error::msg)?;
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
    print_floors(&cal);
    println!();
    for w in written {
        println!("wrote {}", w.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The medians this trail cannot pin to the target even timed exactly, widest first: what
/// a longer recording must add.
fn print_floors(cal: &crate::calibrate::Calibration) {
    use crate::calibrate::floor::TARGET;
    let mut short: Vec<_> = cal
        .floors
        .iter()
        .filter(|f| f.half_width() > TARGET)
        .collect();
    if short.is_empty() {
        return;
    }
    short.sort_by(|a, b| b.half_width().total_cmp(&a.half_width()));
    println!(
        "\n{} median{} this trail cannot pin to ±{:.0} % even timed exactly (Cramér–Rao); a longer recording, not a better fit, narrows {}:",
        short.len(),
        if short.len() == 1 { "" } else { "s" },
        100.0 * TARGET,
        if short.len() == 1 { "it" } else { "them" }
    );
    for f in short {
        println!(
            "  {:<53} at best ±{:.0} % from {} calls; ±{:.0} % needs {} (×{:.0} this recording)",
            f.name,
            100.0 * f.half_width(),
            f.calls,
            100.0 * TARGET,
            f.calls_for(TARGET),
            (f.calls_for(TARGET) as f64 / f.calls as f64).ceil()
        );
    }
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
