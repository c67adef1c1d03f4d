//! `enisim run`: a scenario's replications, summarised against the thresholds.

use super::model_args::ModelArgs;
use super::output::write_run_outputs;
use super::BadInput;
use crate::engine::rng;
use crate::metrics::summary::{summarise, Summary};
use crate::metrics::thresholds::Thresholds;
use crate::metrics::thresholds::Verdict;
use crate::metrics::RunRecord;
use crate::metrics::StepMetrics;
use crate::scenario::kinds::{degradation_points, step_value};
use crate::scenario::{simulate, BuildError, Kind, Model, ScenarioSpec, Settings};
use rayon::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Warning,
    Critical,
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
    /// Write summary.json, enis.csv and calls.csv here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Exit with status 1 when a verdict reaches this level.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
}

/// Runs `replications` replications in parallel; replication r uses the seed derived from
/// (seed, r), so the result is the same whatever the thread count.
pub fn replicate(
    settings: &Settings,
    model: &Model,
    seed: u64,
    replications: u32,
) -> Result<Vec<RunRecord>, BuildError> {
    (0..replications)
        .into_par_iter()
        .map(|r| {
            let seed_r = rng::stream_seed(seed, &format!("replication-{r}"));
            let mut rec = simulate(settings, model, seed_r)?;
            for row in &mut rec.enis {
                row.replication = r;
            }
            Ok(rec)
        })
        .collect()
}

pub fn in_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    match threads {
        Some(0) => Err(BadInput("--threads must be ≥ 1".into()).into()),
        Some(n) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()?
            .install(f)),
        None => Ok(f()),
    }
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
    if args.replications == Some(0) {
        return Err(BadInput("--replications must be ≥ 1".into()).into());
    }
    let replications = args
        .replications
        .unwrap_or(settings.scenario.run.replications);
    warn_about_limits(&settings, &model)?;
    let start = std::time::Instant::now();
    let runs = in_pool(args.threads, || {
        replicate(&settings, &model, args.seed, replications)
    })?
    .map_err(|e| BadInput(e.to_string()))?;
    let elapsed = start.elapsed();
    let summary = summarise(
        &runs,
        &thresholds,
        settings.controller.env.max_concurrent_reconciles,
    );
    if let Some(dir) = &args.out {
        write_run_outputs(dir, &settings, args.seed, &summary, &runs)?;
    }
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "scenario": settings.scenario,
                "seed": args.seed,
                "summary": summary,
                "steps": step_means(&runs),
                "degradation": degradation_points(&runs, &thresholds),
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Table => {
            print_table(&settings, &model, args.seed, &summary, elapsed);
            print_kind_report(&settings, &summary, &runs, &thresholds);
        }
    }
    let fail = match args.fail_on {
        Some(FailOn::Warning) => summary.worst >= Verdict::Warning,
        Some(FailOn::Critical) => summary.worst >= Verdict::Critical,
        None => false,
    };
    Ok(if fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
        "{} replications, seed {seed}, {:.2} s wall clock",
        s.replications,
        elapsed.as_secs_f64()
    );
    println!();
    println!(
        "{:<48} {:>26}  {:<28} verdict",
        "metric", "predicted (95 % CI)", "threshold"
    );
    for v in &s.verdicts {
        let pred = format!("{:.2} [{:.2}, {:.2}]", v.mean, v.ci_low, v.ci_high);
        println!(
            "{:<48} {:>26}  {:<28} {}",
            v.label,
            format!("{pred} {}", v.unit),
            v.threshold,
            v.verdict.as_str()
        );
    }
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
    println!("bottleneck: {}", s.bottleneck);
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
        Kind::Burst => {}
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
                println!(
                    "{:<5} {:>11} {:>11.1} s {:>13.1} s {:>13.1} s{} {:>7.0} m {:>8.1} Mi {:>6.2} %",
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
            println!("(* not converged within the step in every replication)");
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
