//! `enisim run`: a scenario's replications, summarised against the thresholds.

use super::model_args::ModelArgs;
use super::output::write_run_outputs;
use super::BadInput;
use crate::engine::rng;
use crate::metrics::summary::{summarise, Summary};
use crate::metrics::thresholds::Verdict;
use crate::metrics::RunRecord;
use crate::scenario::{simulate, BuildError, Model, ScenarioSpec, Settings};
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
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Table => print_table(&settings, &model, args.seed, &summary, elapsed),
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
