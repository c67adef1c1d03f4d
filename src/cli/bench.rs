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
