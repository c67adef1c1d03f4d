//! `enisim run`: a scenario's replications, summarised against the thresholds.

use super::model_args::ModelArgs;
use super::output::write_run_outputs;
use super::progress::Progress;
use super::BadInput;
use crate::metrics::summary::{summarise, Summary};
use crate::metrics::thresholds::Thresholds;
use crate::metrics::thresholds::Verdict;
use crate::metrics::RunRecord;
use crate::metrics::StepMetrics;
use crate::scenario::kinds::{degradation_points, step_value};
use crate::scenario::limits;
use crate::scenario::{replicate, Kind, Model, ScenarioSpec, Settings};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Anything outside "acceptable".
    Degraded,
    Warning,
    Critical,
}

impl FailOn {
    pub fn level(self) -> Verdict {
        match self {
            FailOn::Degraded => Verdict::Degraded,
            FailOn::Warning => Verdict::Warning,
            FailOn::Critical => Verdict::Critical,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A built-in scenario name or a scenario file.
    #[arg(default_value = "burst")]
    pub scenario: String,
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replications (default: the scenario's).
    #[arg(long)]
    pub replications: Option<u32>,
    /// Worker threads for the replications (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write summary.json, enis.csv, calls.csv, reconciles.csv, status_writes.csv and
    /// series.csv here.
    #[arg(short = 'o', long, value_name = "DIR", alias = "output")]
    pub out: Option<PathBuf>,
    /// Also render --out to report.html with its figures (`enisim report`).
    #[arg(long, requires = "out")]
    pub report: bool,
    /// With --calibration: also the narrowest interval the calibration's trail allows each
    /// predicted metric (its calls timed exactly, Cramér–Rao), from each median's
    /// elasticity: two more sets of replications per median.
    #[arg(long, requires = "calibration")]
    pub floor: bool,
    /// Exit with status 1 when a verdict reaches this level.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Write one replication as OpenMetrics text with timestamps (a 15 s scrape), for
    /// `promtool tsdb create-blocks-from openmetrics` (docs/metrics.md).
    #[arg(long, value_name = "FILE")]
    pub metrics_out: Option<PathBuf>,
    /// The replication --metrics-out writes (0-based, as in enis.csv).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub replication: u32,
    /// The wall-clock instant (RFC 3339) virtual time 0 maps onto in --metrics-out.
    #[arg(long, default_value = "2025-01-01T00:00:00Z", value_name = "RFC3339")]
    pub start_time: String,
}

/// `--start-time` as Unix milliseconds (exit 2 when it is not RFC 3339 or before 1970).
pub fn parse_start_time(s: &str) -> anyhow::Result<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| {
        BadInput(format!(
            "--start-time {s:?}: not an RFC 3339 time (like 2025-01-01T00:00:00Z): {e}"
        ))
    })?;
    let ms = t.timestamp_millis();
    if ms < 0 {
        return Err(BadInput(format!("--start-time {s:?}: before 1970-01-01")).into());
    }
    Ok(ms)
}

/// Checks --metrics-out can be written (its directory exists or can be made, and is one).
fn check_metrics_out(file: &std::path::Path) -> anyhow::Result<()> {
    if file.is_dir() {
        return Err(BadInput(format!(
            "--metrics-out {}: is a directory, not a file",
            file.display()
        ))
        .into());
    }
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    match unwritable_reason(dir) {
        Some(why) => Err(BadInput(format!(
            "--metrics-out {}: cannot write there: {why}",
            file.display()
        ))
        .into()),
        None => Ok(()),
    }
}

pub fn in_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    match threads {
        Some(0) => Err(BadInput("--threads must be ≥ 1".into()).into()),
        Some(n) if n as u64 > limits::MAX_THREADS => Err(BadInput(format!(
            "--threads {n}: at most {} (this machine has {} cores)",
            limits::MAX_THREADS,
            std::thread::available_parallelism()
                .map(|c| c.get())
                .unwrap_or(1)
        ))
        .into()),
        Some(n) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()?
            .install(f)),
        None => Ok(f()),
    }
}

/// `--replications`, within its bound.
pub fn check_replications(n: u32) -> anyhow::Result<u32> {
    if n == 0 {
        return Err(BadInput("--replications must be ≥ 1".into()).into());
    }
    if n as u64 > limits::MAX_REPLICATIONS {
        return Err(BadInput(format!(
            "--replications {n}: at most {}",
            limits::MAX_REPLICATIONS
        ))
        .into());
    }
    Ok(n)
}

/// Refuses work whose estimated memory exceeds the machine's.
pub fn check_work(
    settings: &Settings,
    threads: Option<usize>,
    replications: u32,
) -> anyhow::Result<()> {
    let parallel = threads
        .unwrap_or_else(rayon::current_num_threads)
        .min(replications as usize) as u64;
    if let Some(mem) = limits::machine_memory_bytes() {
        limits::check_memory(settings, parallel, mem).map_err(BadInput)?;
    }
    Ok(())
}

/// An output directory that cannot be written is found before the work, not after it: the
/// directory, or the nearest ancestor that exists when it does not yet, takes a file.
pub fn check_writable(dir: &std::path::Path) -> anyhow::Result<()> {
    match unwritable_reason(dir) {
        Some(why) => Err(BadInput(format!(
            "--out {}: cannot write there: {why}",
            dir.display()
        ))
        .into()),
        None => Ok(()),
    }
}

/// Why `dir` — or, while it does not exist yet, its nearest existing ancestor — cannot take
/// a new file, if it cannot.
fn unwritable_reason(dir: &std::path::Path) -> Option<String> {
    let existing = dir
        .ancestors()
        .find(|p| !p.as_os_str().is_empty() && p.exists())
        .unwrap_or(std::path::Path::new("."));
    if !existing.is_dir() {
        return Some(format!("{} is not a directory", existing.display()));
    }
    tempfile::Builder::new()
        .prefix(".enisim-probe")
        .tempfile_in(existing)
        .err()
        .map(|e| e.to_string())
}

/// Warns (on stderr) when the scenario asks for more ENIs than the instance type takes:
/// legal, as the controller accepts it; the prediction shows the churn that follows.
pub fn warn_about_limits(settings: &Settings, model: &Model) -> anyhow::Result<()> {
    let c = &settings.scenario.cluster;
    let t = model
        .instance_type(&c.instance_type)
        .map_err(|e| BadInput(e.to_string()))?;
    if c.enis_per_node > t.max_secondary_enis() {
        eprintln!(
            "warning: {} ENIs per node asked, but {} takes {} interfaces on its default card ({} secondary): \
             {} attachments per node can never succeed and are retried as create → attach fail → delete on every reconcile",
            c.enis_per_node,
            t.name,
            t.max_enis_default_card,
            t.max_secondary_enis(),
            c.enis_per_node - t.max_secondary_enis()
        );
    }
    Ok(())
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = ScenarioSpec::resolve(&args.scenario)?;
    let model = args.model.model()?;
    let thresholds = args.model.thresholds()?;
    let settings = args.model.settings(scenario)?;
    let replications = check_replications(
        args.replications
            .unwrap_or(settings.scenario.run.replications),
    )?;
    check_work(&settings, args.threads, replications)?;
    if let Some(dir) = &args.out {
        check_writable(dir)?;
    }
    let metrics_start = parse_start_time(&args.start_time)?;
    if let Some(file) = &args.metrics_out {
        if args.replication >= replications {
            return Err(BadInput(format!(
                "--replication {}: out of range, the run has {replications} replication{} (0..={})",
                args.replication,
                if replications == 1 { "" } else { "s" },
                replications - 1
            ))
            .into());
        }
        check_metrics_out(file)?;
    }
    warn_about_limits(&settings, &model)?;
    for w in settings.warnings() {
        eprintln!("warning: {w}");
    }
    let start = std::time::Instant::now();
    let calibration = args.model.calibration()?;
    // With fitted parameters, the replications run twice: θ drawn, and at θ̂.
    let sets = match &calibration {
        Some(c) if !c.fitted.names.is_empty() => 2,
        _ => 1,
    };
    let floors: &[crate::calibrate::floor::LatencyFloor] = match (&calibration, args.floor) {
        (Some(c), true) => &c.floors,
        _ => &[],
    };
    if args.floor && floors.is_empty() {
        eprintln!("warning: --floor: the calibration directory holds no floors (calibration.json has no `floors`: written before enisim computed them); calibrate again for them");
    }
    let progress = Progress::new(
        sets * replications as u64
            + crate::calibrate::floor::replications_needed(floors, replications),
        "replications",
    );
    let (runs, split) = in_pool(args.threads, || match &calibration {
        // θ drawn per replication from the fitted distribution, every stream unchanged,
        // beside the same replications at θ̂: what is Monte Carlo noise, what the
        // parameters add.
        Some(c) => crate::calibrate::predict::with_parameter_uncertainty(
            &settings,
            &model,
            &c.fitted,
            args.seed,
            replications,
            PREDICTED,
            &|| progress.inc(),
        )
        .map(|p| (p.drawn, p.splits)),
        None => replicate(&settings, &model, args.seed, replications, &|| {
            progress.inc()
        })
        .map(|runs| (runs, Vec::new())),
    })?
    .map_err(|e| BadInput(e.to_string()))?;
    // At θ̂ (the calibrated profile), each median moved under the same seeds.
    let floor = in_pool(args.threads, || {
        crate::calibrate::floor::prediction_floor(
            &settings,
            &model,
            floors,
            args.seed,
            replications,
            PREDICTED,
            &|| progress.inc(),
        )
    })?
    .map_err(|e| BadInput(e.to_string()))?;
    progress.finish();
    let elapsed = start.elapsed();
    let mut summary = summarise(
        &runs,
        &thresholds,
        settings.controller.env.max_concurrent_reconciles,
    );
    // Under a calibration the verdicts are judged on the intervals that hold the
    // parameters' uncertainty.
    for s in &split {
        summary.widen(&s.metric, s.low, s.high, &thresholds);
    }
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(dir) = &args.out {
        write_run_outputs(dir, &settings, &thresholds, args.seed, &summary, &runs)?;
    }
    if let Some(file) = &args.metrics_out {
        let text =
            crate::report::openmetrics::render(&runs[args.replication as usize], metrics_start);
        crate::atomic::write_atomically(file, text.as_bytes()).map_err(|e| {
            BadInput(format!(
                "--metrics-out {}: cannot write: {e}",
                file.display()
            ))
        })?;
    }
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "scenario": settings.scenario,
                "seed": args.seed,
                "summary": summary,
                "steps": step_means(&runs),
                "degradation": degradation_points(&runs, &thresholds),
                "parameter_uncertainty": split,
                "floor": floor,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Table => {
            print_table(&settings, &model, args.seed, &summary, elapsed);
            print_kind_report(&settings, &summary, &runs, &thresholds);
            print_split(&split, &floor, calibration.as_ref());
        }
    }
    if let (true, Some(dir)) = (args.report, &args.out) {
        super::report::render(dir)?;
    }
    let fail = args.fail_on.is_some_and(|f| summary.worst >= f.level());
    Ok(if fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The metrics whose interval `run --calibration` splits into parameter uncertainty and
/// Monte Carlo noise.
const PREDICTED: &[&str] = &[
    "eni_creation_p95_s",
    "eni_attachment_p95_s",
    "full_reconcile_s",
    "error_rate_percent",
];

fn print_split(
    split: &[crate::calibrate::predict::Split],
    floor: &[crate::calibrate::floor::PredictionFloor],
    calibration: Option<&crate::calibrate::CalibratedModel>,
) {
    let Some(c) = calibration else { return };
    if split.is_empty() {
        println!("\ncalibrated profile: no parameter to draw (every value was direct)");
        return;
    }
    let f = &c.fitted;
    println!(
        "\nwith parameter uncertainty ({} parameters drawn per replication: {} fitted, {} kept assumption{} over {} plausible range):",
        f.names.len(),
        f.fitted_count(),
        f.assumed.len(),
        if f.assumed.len() == 1 { "" } else { "s" },
        if f.assumed.len() == 1 { "its" } else { "their" }
    );
    println!(
        "  {:<22} {:>10} {:>24} {:>16}",
        "metric", "mean", "95 % interval", "from parameters"
    );
    for s in split {
        println!(
            "  {:<22} {:>10.3} {:>24} {:>15.0} %",
            s.metric,
            s.mean,
            format!("[{:.3}, {:.3}]", s.low, s.high),
            100.0 * s.parameter_share
        );
    }
    let buckets = if f.names.iter().any(|n| n.starts_with("ec2.bucket.")) {
        "token buckets (but a refill the moments refined)"
    } else {
        "token buckets"
    };
    println!("  not drawn: {buckets}, other tenants' rates and server errors (direct estimates), and what the trail never called; `enisim sensitivity --calibration DIR` ranks what they can move");
    if floor.is_empty() {
        return;
    }
    println!("\nthe narrowest interval the calibration's trail allows, its calls timed exactly (Cramér–Rao on the service-time medians; a longer recording narrows it, the kept assumptions come on top):");
    for s in split {
        let Some(f) = floor.iter().find(|f| f.metric == s.metric) else {
            continue;
        };
        let now = if s.mean > 0.0 {
            format!("{:.0} %", 100.0 * (s.high - s.low) / 2.0 / s.mean)
        } else {
            "—".into()
        };
        match f.largest().filter(|p| p.share > 0.0) {
            Some(p) => println!(
                "  {:<22} ±{:.0} % (now ±{now}); {:.0} % of it from {}",
                s.metric,
                100.0 * f.half_width,
                100.0 * p.share,
                p.name
            ),
            None => println!("  {:<22} no median moves it", s.metric),
        }
    }
}

fn print_table(
    settings: &Settings,
    model: &Model,
    seed: u64,
    s: &Summary,
    elapsed: std::time::Duration,
) {
    let c = &settings.scenario.cluster;
    let e = &settings.controller.env;
    let cap = model
        .instance_type(&c.instance_type)
        .map(|t| t.max_enis_default_card)
        .unwrap_or(0);
    println!(
        "{}: {} nodes × {} ENIs on {} ({} interfaces per card), layout {}, maxConcurrentReconciles {}, maxConcurrentENICleanup {}",
        settings.scenario.name,
        c.nodes,
        c.enis_per_node,
        c.instance_type,
        cap,
        c.layout.as_str(),
        e.max_concurrent_reconciles,
        e.max_concurrent_eni_cleanup
    );
    println!(
        "{} replication{}, seed {seed}, {:.2} s wall clock",
        s.replications,
        if s.replications == 1 { "" } else { "s" },
        elapsed.as_secs_f64()
    );
    println!();
    print!("{}", verdict_table(s));
    let m = |k: &str| s.metrics.get(k).map(|c| c.mean).unwrap_or(f64::NAN);
    println!();
    println!(
        "attached {:.1} of {:.0}; ENIs created {:.1} (churned {:.1}); EC2 calls {:.0} ({:.0} throttled, {:.0} SDK retries); reconciles {:.0} (p95 {:.2} s)",
        m("attached_at_end"),
        m("desired_attachments"),
        m("enis_created"),
        m("churned_enis"),
        m("ec2_calls"),
        m("ec2_throttled"),
        m("sdk_retries"),
        m("reconciles"),
        m("reconcile_p95_s"),
    );
    println!(
        "ENI operations {:.1} ({:.1} failed); reconciles returning an error {:.1}",
        m("eni_operations"),
        m("eni_operation_errors"),
        m("reconcile_errors"),
    );
    println!("{}", aws_api_line(s));
    println!("bottleneck: {}", s.bottleneck);
}

/// The AWS API figures beside the plan's metrics: the throttled share of the controller's
/// attempts, per action where any were, and what other tenants of the account suffered.
fn aws_api_line(s: &Summary) -> String {
    let m = |k: &str| s.metrics.get(k).map(|c| c.mean).unwrap_or(f64::NAN);
    let per_action: Vec<String> = s
        .actions
        .iter()
        .filter(|(_, a)| a.throttled > 0.0)
        .map(|(name, a)| format!("{name} {:.1} %", a.throttled_percent))
        .collect();
    let mut line = format!(
        "AWS API: {:.2} % of the controller's EC2 attempts throttled",
        m("ec2_throttled_percent")
    );
    if !per_action.is_empty() {
        line.push_str(&format!(" ({})", per_action.join(", ")));
    }
    if m("tenant_calls") > 0.0 {
        line.push_str(&format!(
            "; other tenants {:.0} calls, {:.0} throttled ({:.2} %)",
            m("tenant_calls"),
            m("tenant_throttled"),
            m("tenant_throttled_percent")
        ));
    } else {
        line.push_str("; no other tenants modelled");
    }
    line
}

/// The verdict table: metric, prediction with its interval, threshold, verdict; columns as
/// wide as their widest cell.
pub fn verdict_table(s: &Summary) -> String {
    let rows = crate::metrics::summary::verdict_cells(&s.verdicts, s.replications);
    let head = crate::metrics::summary::VERDICT_HEAD.map(String::from);
    let width = |i: usize| {
        rows.iter()
            .chain(std::iter::once(&head))
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut out = String::new();
    for r in std::iter::once(&head).chain(rows.iter()) {
        out.push_str(&format!(
            "{:<w0$}  {:>w1$}  {:<w2$}  {}\n",
            r[0], r[1], r[2], r[3]
        ));
    }
    out
}

/// Per-step means over the replications (gradual scale-up).
pub fn step_means(runs: &[RunRecord]) -> Vec<StepMetrics> {
    let n_steps = runs.iter().map(|r| r.steps.len()).min().unwrap_or(0);
    (0..n_steps)
        .map(|k| {
            let n = runs.len() as f64;
            let mean = |f: &dyn Fn(&StepMetrics) -> f64| {
                runs.iter().map(|r| f(&r.steps[k])).sum::<f64>() / n
            };
            let first = &runs[0].steps[k];
            StepMetrics {
                step: first.step,
                nodes: first.nodes,
                enis_per_node: first.enis_per_node,
                start_s: first.start_s,
                eni_creation_p95_s: mean(&|s| s.eni_creation_p95_s),
                eni_attachment_p95_s: mean(&|s| s.eni_attachment_p95_s),
                full_reconcile_s: mean(&|s| s.full_reconcile_s),
                converged: runs.iter().all(|r| r.steps[k].converged),
                censored: runs.iter().any(|r| r.steps[k].censored),
                cpu_p95_millicores: mean(&|s| s.cpu_p95_millicores),
                cpu_peak_millicores: mean(&|s| s.cpu_peak_millicores),
                memory_p95_mib: mean(&|s| s.memory_p95_mib),
                memory_peak_mib: mean(&|s| s.memory_peak_mib),
                error_rate_percent: mean(&|s| s.error_rate_percent),
            }
        })
        .collect()
}

fn print_kind_report(
    settings: &Settings,
    s: &Summary,
    runs: &[RunRecord],
    thresholds: &Thresholds,
) {
    let m = |k: &str| s.metrics.get(k).copied();
    let mean = |k: &str| m(k).map(|c| c.mean).unwrap_or(f64::NAN);
    let ci = |k: &str| {
        m(k).map(|c| format!("{:.1} [{:.1}, {:.1}]", c.mean, c.low(), c.high()))
            .unwrap_or_default()
    };
    match settings.scenario.kind {
        Kind::Burst | Kind::Recorded => {}
        Kind::Gradual => {
            println!();
            println!(
                "{:<5} {:>11} {:>13} {:>15} {:>15} {:>9} {:>11} {:>8}",
                "step",
                "nodes×ENIs",
                "creation p95",
                "attachment p95",
                "full reconcile",
                "CPU p95",
                "memory max",
                "errors"
            );
            for st in step_means(runs) {
                let bound = if st.censored { ">" } else { " " };
                println!(
                    "{:<5} {:>11} {bound}{:>10.1} s {bound}{:>12.1} s {:>13.1} s{} {:>7.0} m {:>8.1} Mi {:>6.2} %",
                    st.step,
                    format!("{}×{}", st.nodes, st.enis_per_node),
                    st.eni_creation_p95_s,
                    st.eni_attachment_p95_s,
                    st.full_reconcile_s,
                    if st.converged { " " } else { "*" },
                    st.cpu_p95_millicores,
                    st.memory_peak_mib,
                    st.error_rate_percent
                );
            }
            println!("(* not converged within the step in every replication; > an ENI not in place by the step's end: a lower bound)");
            println!(
                "degradation point (first step whose upper 95 % bound leaves \"acceptable\"):"
            );
            for (metric, step) in degradation_points(runs, thresholds) {
                let label = thresholds
                    .metrics
                    .get(&metric)
                    .map(|t| t.label.as_str())
                    .unwrap_or(&metric);
                match step {
                    Some(k) => {
                        let st = &runs[0].steps[k as usize];
                        let v: f64 = runs
                            .iter()
                            .filter_map(|r| step_value(&r.steps[k as usize], &metric))
                            .sum::<f64>()
                            / runs.len() as f64;
                        println!(
                            "  {label}: step {k} ({}×{}), mean {v:.1}",
                            st.nodes, st.enis_per_node
                        );
                    }
                    None => println!("  {label}: never along this path"),
                }
            }
        }
        Kind::Mixed => {
            println!();
            println!(
                "stability: {:.1} changes; converged after the window in {:.0} % of runs; stuck finalizers {:.2}; leaked ENIs {:.2}; orphaned attachments {:.2}",
                mean("changes"),
                100.0 * mean("converged"),
                mean("stuck_finalizers"),
                mean("leaked_enis"),
                mean("orphaned_attachments"),
            );
            println!(
                "ENIs created − deleted − required = {:.2} (0 when every ENI is accounted for); keys queued at the end {:.1}",
                mean("eni_balance_gap"),
                mean("queue_depth_end"),
            );
        }
        Kind::Failure => {
            println!();
            println!(
                "recovery (last fault end → every attachment holds again): {} s; SDK retries {:.0}, wrapper retries {:.0}, throttled {:.0}, quota exhausted {:.0}",
                ci("recovery_s"),
                mean("sdk_retries"),
                mean("wrapper_retries"),
                mean("ec2_throttled"),
                mean("sdk_quota_exhausted"),
            );
            let mut failures: std::collections::BTreeMap<&str, f64> = Default::default();
            for r in runs {
                for (k, v) in &r.attach_failures {
                    *failures.entry(k.as_str()).or_default() += *v as f64 / runs.len() as f64;
                }
            }
            println!(
                "attach failures reaching NodeENIs (swallowed, retried next pass): {failures:.1?}; leaked ENIs {:.2}; circuit-breaker transitions {:.1}",
                mean("leaked_enis"),
                mean("breaker_transitions"),
            );
            if let Some(r) = runs.first() {
                if !r.breaker.is_empty() {
                    let path: Vec<String> = r
                        .breaker
                        .iter()
                        .map(|(t, st)| format!("{st}@{:.0}s", crate::engine::time::to_secs(*t)))
                        .collect();
                    println!("breaker (replication 0): {}", path.join(" → "));
                }
            }
        }
        Kind::ScaleDown => {
            println!();
            println!(
                "cleanup: total {} s; per ENI p50 {:.1} s, p95 {:.1} s, max {:.1} s; detach polls {:.0}; forced finalizer removals {:.2}; leaked ENIs {:.2}",
                ci("cleanup_total_s"),
                mean("cleanup_eni_p50_s"),
                mean("cleanup_eni_p95_s"),
                mean("cleanup_eni_max_s"),
                mean("detach_polls"),
                mean("forced_finalizer_removals"),
                mean("leaked_enis"),
            );
        }
    }
}
