//! `enisim recommend`: from a sweep's results (`--from DIR`), or a sweep it runs itself
//! (the default grid unless `--grid` is given), the configuration to deploy.

use super::sweep::{cli_error, execute, report_failures, SweepSpecArgs};
use super::BadInput;
use crate::recommend::{self, render, Options};
use crate::sweep::write_atomically;
use crate::sweep::{self, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct RecommendArgs {
    /// A finished (or merged) sweep's output directory. Without it, recommend runs the
    /// sweep itself into OUT/sweep (resumable; reused when its definition is unchanged).
    #[arg(long, value_name = "SWEEP_DIR")]
    pub from: Option<PathBuf>,
    #[command(flatten)]
    pub sweep: SweepSpecArgs,
    /// Where values.yaml, deployment-patch.yaml (when needed), recommendation.md and the
    /// sweep (OUT/sweep, when recommend runs it) go.
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        alias = "output",
        default_value = "reports/recommend"
    )]
    pub out: PathBuf,
    /// Discard a sweep already in OUT/sweep with another definition and run it again.
    #[arg(long)]
    pub overwrite: bool,
    /// Points within this fraction of the fewest EC2 calls per minute (then of the least
    /// CPU) count as equal, and lower concurrency decides.
    #[arg(long, default_value_t = 0.02)]
    pub tolerance: f64,
    /// Headroom over the predicted CPU and memory for resources (0.3 = 30 %).
    #[arg(long, default_value_t = 0.3)]
    pub headroom: f64,
}

pub fn run(a: RecommendArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&a.tolerance) {
        return Err(BadInput("--tolerance must be between 0 and 1".into()).into());
    }
    if !(0.0..=10.0).contains(&a.headroom) {
        return Err(BadInput("--headroom must be between 0 and 10".into()).into());
    }
    let mut results = match &a.from {
        Some(dir) => {
            let s = &a.sweep;
            if !s.grid.is_empty()
                || !s.model.set.is_empty()
                || !s.model.values.is_empty()
                || s.replications.is_some()
            {
                eprintln!(
                    "warning: --from {}: the sweep's own definition is used; --grid, --set, --values and --replications are ignored",
                    dir.display()
                );
            }
            let r = sweep::load_results(dir).map_err(cli_error)?;
            if let Some(s) = r.manifest.shard {
                return Err(BadInput(format!(
                    "{} holds shard {s} only: join the shards with `enisim sweep merge` first",
                    dir.display()
                ))
                .into());
            }
            r
        }
        None => {
            let def = a.sweep.definition()?;
            let dir = a.out.join("sweep");
            let opts = RunOptions {
                shard: None,
                resume: !a.overwrite,
                overwrite: a.overwrite,
                stop_after: None,
            };
            if !a.sweep.quiet {
                eprintln!(
                    "recommend: sweeping {} points × {} replications into {}",
                    def.points(),
                    def.replications,
                    dir.display()
                );
            }
            let (outcome, _) = execute(&def, &dir, &opts, a.sweep.threads, a.sweep.quiet)?;
            report_failures(&def, &outcome);
            sweep::load_results(&dir).map_err(cli_error)?
        }
    };
    if a.from.is_some() && a.sweep.model.thresholds.is_some() {
        // Judge the same runs against other thresholds.
        results.def.thresholds = a.sweep.model.thresholds()?;
    }
    let opts = Options {
        tolerance: a.tolerance,
        headroom: a.headroom,
    };
    let rec = super::run::in_pool(a.sweep.threads, || recommend::recommend(&results, opts))?;
    let report = render::report(&rec);
    let mut written = Vec::new();
    if let Some(values) = render::values_overlay(&rec) {
        write_atomically(&a.out.join("values.yaml"), values.as_bytes()).map_err(cli_error)?;
        written.push("values.yaml");
    }
    let patch = a.out.join("deployment-patch.yaml");
    match render::deployment_patch(&rec) {
        Some(p) => {
            write_atomically(&patch, p.as_bytes()).map_err(cli_error)?;
            written.push("deployment-patch.yaml");
        }
        None => {
            // A patch from an earlier recommendation would no longer apply.
            let _ = std::fs::remove_file(&patch);
        }
    }
    write_atomically(&a.out.join("recommendation.md"), report.as_bytes()).map_err(cli_error)?;
    written.push("recommendation.md");
    print!("{report}");
    println!("\nwrote {}: {}", a.out.display(), written.join(", "));
    Ok(if rec.chosen.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
