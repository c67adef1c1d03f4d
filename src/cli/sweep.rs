//! `enisim sweep` and `enisim sweep merge`: thin glue over `crate::sweep`.

use super::model_args::ModelArgs;
use super::run::in_pool;
use super::BadInput;
use crate::scenario::{limits, ScenarioSpec};
use crate::sweep::{self, Grid, Progress, RunOptions, Shard, SweepDef, SweepError, SweepOutcome};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    #[command(flatten)]
    pub run: SweepRunArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum SweepCommand {
    /// Join the output directories of shards 0..N of one sweep into the directory one
    /// machine would have written (same tables, byte for byte).
    Merge(MergeArgs),
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The shards' output directories (all N of them, any order).
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
    /// Where the merged sweep goes.
    #[arg(long, short = 'o', value_name = "DIR", alias = "output")]
    pub out: PathBuf,
    /// Replace a sweep already in --out.
    #[arg(long)]
    pub overwrite: bool,
}

pub const DEFAULT_SCENARIO: &str = "burst";
pub const DEFAULT_SEED: u64 = 1;

/// What defines a sweep: the scenario, the model, the grid, replications and seed.
#[derive(clap::Args, Debug)]
pub struct SweepSpecArgs {
    /// A built-in scenario name or a scenario file [default: burst].
    pub scenario: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// A grid axis, repeatable: KEY=a,b,c or KEY=lo..hi[:step] over any key `--set` takes
    /// (Helm keys, enisim.env.*, enisim.whatIf.*, enisim.scenario.*). Default:
    /// controller.maxConcurrentReconciles=1..30 × controller.maxConcurrentENICleanup=1,2,3,4,8,16.
    #[arg(long = "grid", value_name = "KEY=VALUES")]
    pub grid: Vec<String>,
    /// Replications per point (default: the scenario's; at most 100000, and a sweep has
    /// at most 2000000 runs). Every point uses the same seeds.
    #[arg(long)]
    pub replications: Option<u32>,
    /// The sweep's seed [default: 1]: replication r of every point gets the seed
    /// `enisim run --seed S` gives its replication r.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores; at most 1024). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress output.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Sweep over a recorded trail (a `trace ingest` table or CloudTrail files): its
    /// NodeENI workload is the scenario, its other tenants replayed at every point (the
    /// positional scenario, when given, is the base whose instance type and run settings
    /// it runs with).
    #[arg(long = "replay", value_name = "TRAIL", num_args = 1..)]
    pub replay: Vec<PathBuf>,
    #[command(flatten)]
    pub replay_args: super::replay::TrailArgs,
}

#[derive(clap::Args, Debug)]
pub struct SweepRunArgs {
    #[command(flatten)]
    pub spec: SweepSpecArgs,
    /// Output directory (sweep.json, journal.csv, runs.{parquet,csv}, summary.{parquet,csv}).
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        alias = "output",
        default_value = "reports/sweep"
    )]
    pub out: PathBuf,
    /// Run only shard K of N (points p with p mod N = K; K from 0), for several machines;
    /// join the shards with `enisim sweep merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Continue the sweep in --out where it stopped (same definition needed).
    #[arg(long)]
    pub resume: bool,
    /// Discard a sweep already in --out and start again.
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Also render --out to report.html with its figures (`enisim report`), once the
    /// sweep is complete (not for a shard: report the merged directory).
    #[arg(long, conflicts_with = "shard")]
    pub report: bool,
    /// Stop after this many new runs, as an interruption would (for tests).
    #[arg(long, hide = true)]
    pub stop_after: Option<usize>,
}

/// A sweep error as the CLI reports it: the user's input → exit status 2.
pub fn cli_error(e: SweepError) -> anyhow::Error {
    if e.is_input() {
        BadInput(e.to_string()).into()
    } else {
        anyhow::anyhow!(e)
    }
}

/// `--threads` within 1..=`limits::MAX_THREADS`, checked before anything runs (the bound
/// `run` has too).
pub fn check_threads(threads: Option<usize>) -> anyhow::Result<()> {
    match threads {
        Some(0) => Err(BadInput("--threads must be ≥ 1".into()).into()),
        Some(n) if n as u64 > limits::MAX_THREADS => Err(BadInput(format!(
            "--threads {n}: at most {}; results do not depend on the thread count",
            limits::MAX_THREADS
        ))
        .into()),
        _ => Ok(()),
    }
}

impl SweepSpecArgs {
    /// The sweep's definition from the command line.
    pub fn definition(&self) -> anyhow::Result<SweepDef> {
        check_threads(self.threads)?;
        let mut replay = None;
        let scenario = if self.replay.is_empty() {
            ScenarioSpec::resolve(self.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO))?
        } else {
            let mut args = self.replay_args.clone();
            if let Some(base) = &self.scenario {
                args.base = base.clone();
            }
            let (source, prepared) = args.prepare_source(&self.replay)?;
            let s = prepared.scenario.clone();
            replay = Some((source, prepared.tenants));
            s
        };
        let name = scenario.name.clone();
        let model = self.model.model()?;
        let thresholds = self.model.thresholds()?;
        let base = self.model.settings(scenario)?;
        let specs = if self.grid.is_empty() {
            Grid::default_specs()
        } else {
            self.grid.clone()
        };
        let grid = Grid::parse(&specs, &base).map_err(|e| cli_error(e.into()))?;
        let replications = match self.replications {
            Some(0) => return Err(BadInput("--replications must be ≥ 1".into()).into()),
            Some(r) => r,
            None => base.scenario.run.replications,
        };
        let def = SweepDef::new(
            &name,
            base,
            model,
            thresholds,
            grid,
            replications,
            self.seed.unwrap_or(DEFAULT_SEED),
        )
        .map_err(cli_error)?;
        let mut def = match replay {
            Some((source, tenants)) => def.with_replay(source, tenants),
            None => def,
        };
        def.theta = self.model.calibration()?.map(|c| c.fitted);
        // The largest point, as many at once as there are threads, must fit in memory.
        let runs = def.points().saturating_mul(def.replications as usize);
        super::run::check_work(
            &largest_point(&def),
            self.threads,
            u32::try_from(runs).unwrap_or(u32::MAX),
        )?;
        Ok(def)
    }
}

/// The base with every size axis (workers, cleanup pool, nodes, ENIs per node) at its
/// largest value: the point that needs the most memory.
fn largest_point(def: &SweepDef) -> crate::scenario::Settings {
    let mut s = def.base.clone();
    for a in &def.grid.axes {
        if matches!(
            a.key.as_str(),
            "controller.maxConcurrentReconciles"
                | "controller.maxConcurrentENICleanup"
                | "enisim.scenario.nodes"
                | "enisim.scenario.enisPerNode"
        ) {
            if let Some(max) = a.values.iter().filter_map(|v| v.parse::<u64>().ok()).max() {
                let _ = s.apply(&a.key, &serde_yaml_ng::Value::Number(max.into()));
            }
        }
    }
    s
}

impl SweepRunArgs {
    pub fn options(&self) -> anyhow::Result<RunOptions> {
        let shard = self
            .shard
            .as_deref()
            .map(Shard::parse)
            .transpose()
            .map_err(cli_error)?;
        Ok(RunOptions {
            shard,
            resume: self.resume,
            overwrite: self.overwrite,
            stop_after: self.stop_after,
        })
    }
}

/// Progress on stderr: an indicatif bar with rate and ETA on a terminal, plain lines
/// (every 10 %) otherwise.
pub struct Reporter {
    bar: Option<indicatif::ProgressBar>,
    plain: Mutex<(usize, Instant)>,
    quiet: bool,
    start: Instant,
}

impl Reporter {
    pub fn new(quiet: bool) -> Reporter {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} runs  {rate}  ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .with_key(
                    "rate",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} runs/s", s.per_sec());
                    },
                )
                .progress_chars("=> "),
            );
            bar
        });
        Reporter {
            bar,
            plain: Mutex::new((0, Instant::now())),
            quiet,
            start: Instant::now(),
        }
    }

    pub fn update(&self, p: Progress) {
        if self.quiet {
            return;
        }
        if let Some(bar) = &self.bar {
            if bar.length() != Some(p.total as u64) {
                bar.set_length(p.total as u64);
                bar.set_position(p.resumed as u64);
                bar.reset_eta();
            }
            bar.set_position(p.done as u64);
            return;
        }
        let mut last = self.plain.lock().unwrap_or_else(|e| e.into_inner());
        let tenth = |n: usize| (n * 10).checked_div(p.total).unwrap_or(10);
        let first = last.0 == 0 && p.done == p.resumed;
        if first {
            if p.resumed > 0 {
                eprintln!(
                    "sweep: resuming, {} of {} runs already done",
                    p.resumed, p.total
                );
            }
            last.0 = p.resumed.max(1);
            last.1 = Instant::now();
            return;
        }
        if tenth(p.done) > tenth(last.0) || p.done == p.total {
            let secs = self.start.elapsed().as_secs_f64().max(1e-9);
            let rate = (p.done - p.resumed) as f64 / secs;
            let eta = if rate > 0.0 {
                (p.total - p.done) as f64 / rate
            } else {
                0.0
            };
            eprintln!(
                "sweep: {}/{} runs ({:.0} %), {:.0} runs/s, ETA {:.0} s",
                p.done,
                p.total,
                100.0 * p.done as f64 / p.total.max(1) as f64,
                rate,
                eta
            );
            *last = (p.done, Instant::now());
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Runs a sweep definition into `dir` on `threads` threads with progress on stderr.
pub fn execute(
    def: &SweepDef,
    dir: &Path,
    opts: &RunOptions,
    threads: Option<usize>,
    quiet: bool,
) -> anyhow::Result<(SweepOutcome, Duration)> {
    let reporter = Reporter::new(quiet);
    let outcome = in_pool(threads, || {
        sweep::execute(def, dir, opts, &|p| reporter.update(p))
    })?
    .map_err(cli_error)?;
    reporter.finish();
    Ok((outcome, reporter.elapsed()))
}

/// Prints failed runs on stderr (all of them, grouped by point, up to 20 points).
pub fn report_failures(def: &SweepDef, o: &SweepOutcome) {
    if o.failures.is_empty() {
        return;
    }
    let mut by_point: std::collections::BTreeMap<u32, Vec<&(u32, u32, String)>> =
        Default::default();
    for f in &o.failures {
        by_point.entry(f.0).or_default().push(f);
    }
    eprintln!(
        "error: {} runs failed at {} points (recorded in journal.csv and the tables' error column):",
        o.failures.len(),
        by_point.len()
    );
    for (p, fs) in by_point.iter().take(20) {
        eprintln!(
            "  point {p} ({}): {} of {} replications failed: {}",
            def.grid.describe(*p as usize),
            fs.len(),
            def.replications,
            fs[0].2
        );
    }
    if by_point.len() > 20 {
        eprintln!("  … and {} more points", by_point.len() - 20);
    }
}

pub fn run(args: SweepArgs) -> anyhow::Result<ExitCode> {
    if let Some(SweepCommand::Merge(m)) = args.command {
        return merge(m);
    }
    let a = args.run;
    let def = a.spec.definition()?;
    let opts = a.options()?;
    super::run::check_writable(&a.out)?;
    if def.replications == 1 {
        eprintln!(
            "warning: 1 replication per point has no confidence interval: each point is judged on its single run's value (`enisim recommend` needs at least 2)"
        );
    }
    let points = def.points();
    let mine = opts
        .shard
        .map(|s| (0..points).filter(|p| s.holds(*p)).count())
        .unwrap_or(points);
    if !a.spec.quiet {
        eprintln!(
            "sweep {}: {} points × {} replications = {} runs{}, seed {}, into {}",
            def.scenario,
            points,
            def.replications,
            points * def.replications as usize,
            opts.shard
                .map(|s| format!(" (shard {s}: {} runs)", mine * def.replications as usize))
                .unwrap_or_default(),
            def.seed,
            a.out.display()
        );
    }
    let (outcome, elapsed) = execute(&def, &a.out, &opts, a.spec.threads, a.spec.quiet)?;
    if !outcome.complete {
        println!(
            "stopped after {} new runs ({} of {} done); `--resume` continues",
            outcome.new_runs,
            outcome.resumed_runs + outcome.new_runs,
            outcome.total_runs
        );
        return Ok(ExitCode::SUCCESS);
    }
    let meets = outcome.summaries.iter().filter(|s| s.meets).count();
    println!(
        "{} runs ({} new, {} resumed) in {:.2} s: {:.0} runs/s",
        outcome.total_runs,
        outcome.new_runs,
        outcome.resumed_runs,
        elapsed.as_secs_f64(),
        outcome.new_runs as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "{meets} of {} points meet every threshold at the upper 95 % bound",
        outcome.summaries.len()
    );
    println!(
        "wrote {}/{{summary,runs}}.{{parquet,csv}}{}",
        a.out.display(),
        match opts.shard {
            Some(s) => format!(
                "; shard {s}: join all {} with `enisim sweep merge`",
                s.count
            ),
            None => format!(
                "; `enisim recommend --from {}` picks a configuration",
                a.out.display()
            ),
        }
    );
    report_failures(&def, &outcome);
    if a.report {
        super::report::render(&a.out)?;
    }
    Ok(if outcome.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn merge(m: MergeArgs) -> anyhow::Result<ExitCode> {
    super::run::check_writable(&m.out)?;
    let inputs: Vec<&Path> = m.shards.iter().map(|p| p.as_path()).collect();
    let (def, summaries) = sweep::merge(&inputs, &m.out, m.overwrite).map_err(cli_error)?;
    let meets = summaries.iter().filter(|s| s.meets).count();
    println!(
        "merged {} shard directories: {} points × {} replications into {}; {meets} points meet every threshold",
        inputs.len(),
        def.points(),
        def.replications,
        m.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
