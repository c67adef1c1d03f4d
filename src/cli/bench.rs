//! `enisim bench`: the engine's events/s and the model's runs/s on this machine, without
//! criterion (which `cargo bench` runs for the statistically careful figures).

use crate::engine::hold::hold;
use crate::scenario::{simulate, Model, ScenarioSpec, Settings};
use crate::textbook::{replicate, CheckCase, Service};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Hold operations per measurement.
    #[arg(long, default_value_t = 5_000_000)]
    pub events: u64,
    /// Burst replications to time.
    #[arg(long, default_value_t = 200)]
    pub runs: u64,
    /// Records of the synthetic CloudTrail trail whose ingest is timed (0: skip).
    #[arg(long, default_value_t = 200_000)]
    pub ingest_records: usize,
    /// Write that trail here and keep it (for `/usr/bin/time trace ingest DIR`); by default
    /// it lives in a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub keep_trail: Option<std::path::PathBuf>,
    /// Only the replay benchmark: a 24 h trail of a 10 × 10 rollout with this many other
    /// tenants' calls, replayed on one thread (the trail is built in memory, not ingested).
    #[arg(long, value_name = "TENANT_CALLS", num_args = 0..=1, default_missing_value = "1000000")]
    pub replay: Option<u64>,
}

/// `enisim bench --replay N`: prepare (workload and tenants from the table), one
/// replication on one thread, and the validation of it, each timed.
fn replay_bench(tenant_calls: u64) -> anyhow::Result<std::process::ExitCode> {
    use crate::replay::{bench::burst_with_tenants, prepare, ReplayOptions};
    let span_s = 24 * 3600;
    let t = Instant::now();
    let trail = burst_with_tenants(tenant_calls, span_s, 1);
    let built = t.elapsed().as_secs_f64();
    let base = ScenarioSpec::embedded("burst").expect("embedded burst");
    let t = Instant::now();
    let p = prepare(&trail, &ReplayOptions::default(), &base)?;
    let prepared = t.elapsed().as_secs_f64();
    let settings = Settings::new(
        crate::controller::ControllerProfile::embedded(),
        p.scenario.clone(),
    );
    let model = p.model(&Model::embedded());
    let t = Instant::now();
    let run = crate::scenario::simulate_replication(&settings, &model, 1, 0)?;
    let simulated = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let v = p.validate(std::slice::from_ref(&run))?;
    let validated = t.elapsed().as_secs_f64();
    let total = prepared + simulated + validated;
    println!(
        "replay bench: {} rows ({} tenant calls over {} h, {} attachments), one thread",
        trail.df.height(),
        p.tenants.calls.len(),
        span_s / 3600,
        p.workload.desired_attachments()
    );
    println!("  trail built in memory (not timed): {built:.2} s");
    println!("  prepare (workload, tenants, recorded stats): {prepared:.2} s");
    println!(
        "  one replication: {simulated:.2} s ({} tenant calls replayed, {} controller attempts, converged {})",
        run.tenant_calls.len(),
        run.calls.len(),
        run.metrics.converged
    );
    println!("  validation (replayed table, stats, workload): {validated:.2} s");
    let tenants = crate::replay::tenant_lines(&p.tenant_rows(std::slice::from_ref(&run)), 1.0);
    for line in tenants.lines() {
        println!("  {line}");
    }
    println!(
        "  total {total:.2} s: {:.0} × real time; {}",
        span_s as f64 / total,
        v.summary
    );
    Ok(std::process::ExitCode::SUCCESS)
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

pub fn run(args: BenchArgs) -> anyhow::Result<std::process::ExitCode> {
    if args.events == 0 || args.runs == 0 {
        return Err(super::BadInput("--events and --runs must be ≥ 1".into()).into());
    }
    if let Some(n) = args.replay {
        if n == 0 {
            return Err(super::BadInput("--replay: at least one tenant call".into()).into());
        }
        // One core, as the target says.
        return super::run::in_pool(Some(1), || replay_bench(n))?;
    }
    let progress = super::progress::Progress::spinner();
    println!("one thread, best of 3");
    for pending in [10usize, 1_000, 100_000] {
        progress.message(format!("engine hold, {pending} pending events"));
        let secs = best_of(3, || hold(pending, args.events, 1));
        println!(
            "engine hold, {pending:>7} pending events: {:>6.1} M events/s",
            args.events as f64 / secs / 1e6
        );
    }
    let case = CheckCase {
        servers: 5,
        rho: 0.8,
        service: Service::Exponential,
    };
    let events = replicate(&case, 20_000, 2_000, 1).events;
    let secs = best_of(3, || replicate(&case, 20_000, 2_000, 1));
    println!(
        "M/M/5 through executor + work queue: {:>6.1} M events/s",
        events as f64 / secs / 1e6
    );
    let model = Model::embedded();
    for name in ScenarioSpec::embedded_names() {
        progress.message(format!("scenario {name}"));
        let settings = Settings::new(
            crate::controller::ControllerProfile::embedded(),
            ScenarioSpec::embedded(name).expect("embedded scenario"),
        );
        // The burst is the hot path; the longer scenarios get fewer runs.
        let runs = if name == "burst" {
            args.runs
        } else {
            (args.runs / 20).max(3)
        };
        let secs = best_of(3, || {
            for seed in 0..runs {
                let _ = simulate(&settings, &model, seed);
            }
        });
        println!(
            "scenario {name:<11} one replication: {:>7.2} ms ({:.0} runs/s)",
            secs / runs as f64 * 1e3,
            runs as f64 / secs
        );
    }
    if args.ingest_records > 0 {
        progress.message(format!("synthetic trail, {} records", args.ingest_records));
        bench_ingest(args.ingest_records, args.keep_trail.as_deref())?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `trace ingest` of a synthetic trail (the example workload as S3 delivery files), on one
/// thread and on all of them, best of 3; the two tables must be equal.
fn bench_ingest(records: usize, keep: Option<&std::path::Path>) -> anyhow::Result<()> {
    use crate::trace::{example_workload, ingest, synth, IngestOptions, SynthOptions};
    let temp;
    let dir = match keep {
        Some(d) => d.to_path_buf(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().join("trail")
        }
    };
    let opts = SynthOptions {
        seed: 1,
        ..SynthOptions::default()
    };
    let rep = synth(&example_workload(records, 1), &opts, &dir)
        .map_err(|e| anyhow::anyhow!("writing the synthetic trail to {}: {e}", dir.display()))?;
    let paths = [dir.clone()];
    let ingest_opts = IngestOptions::default();
    let mut tables = Vec::new();
    let all = rayon::current_num_threads();
    for threads in [1, all] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        let mut last = None;
        let secs = best_of(3, || {
            last = Some(pool.install(|| ingest(&paths, &ingest_opts)));
        });
        let table = last
            .expect("best_of runs at least once")
            .map_err(|e| anyhow::anyhow!("ingesting {}: {e}", dir.display()))?
            .df;
        let height = table.height();
        tables.push(table);
        println!(
            "trace ingest, {records} records in {} files, {threads} thread{}: {:>7.0} k records/s",
            rep.files.len(),
            if threads == 1 { "" } else { "s" },
            height as f64 / secs / 1e3
        );
    }
    let same = tables.windows(2).all(|w| w[0].equals_missing(&w[1]));
    anyhow::ensure!(
        same,
        "ingest on several threads made another table than on one"
    );
    Ok(())
}
