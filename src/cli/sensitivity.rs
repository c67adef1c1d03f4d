//! `enisim sensitivity`: every assumption moved over its plausible range, one at a time,
//! ranked by its effect on each judged metric and verdict.

use super::model_args::ModelArgs;
use super::progress::Progress;
use super::run::{check_replications, check_work, check_writable, in_pool, Format};
use super::BadInput;
use crate::scenario::ScenarioSpec;
use crate::sensitivity::{analyse, render, Options, SensitivityError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct SensitivityArgs {
    /// A built-in scenario name or a scenario file.
    #[arg(default_value = "burst")]
    pub scenario: String,
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replications per point (the base, each end of each range, each alternative).
    #[arg(long, default_value_t = 10)]
    pub replications: u32,
    /// Only the parameters whose name starts with this (repeatable), e.g. ec2.bucket.
    #[arg(long, value_name = "PREFIX")]
    pub only: Vec<String>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write sensitivity.json and sensitivity.txt here.
    #[arg(short = 'o', long, value_name = "DIR", alias = "output")]
    pub out: Option<PathBuf>,
    /// Also render --out to report.html: the ranking and a tornado per metric (`enisim report`).
    #[arg(long, requires = "out")]
    pub report: bool,
}

pub fn run(args: SensitivityArgs) -> anyhow::Result<ExitCode> {
    let scenario = ScenarioSpec::resolve(&args.scenario)?;
    let model = args.model.model()?;
    let thresholds = args.model.thresholds()?;
    let settings = args.model.settings(scenario)?;
    let replications = check_replications(args.replications)?;
    check_work(&settings, args.threads, replications)?;
    if let Some(dir) = &args.out {
        check_writable(dir)?;
    }
    let opts = Options {
        replications,
        seed: args.seed,
        only: args.only.clone(),
    };
    let progress = Progress::new(0, "points");
    let result = in_pool(args.threads, || {
        analyse(&settings, &model, &thresholds, &opts, &|done, total| {
            progress.set(done, total, "")
        })
    })?;
    progress.finish();
    // Every failure here is the input's: a profile value the registry refuses, a scenario
    // the model cannot build, an --only that selects nothing, one replication.
    let s = result.map_err(|e: SensitivityError| BadInput(e.to_string()))?;
    let text = render::to_text(&s);
    let json = render::to_json(&s);
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| BadInput(format!("--out {}: {e}", dir.display())))?;
        crate::atomic::write_atomically(&dir.join("sensitivity.json"), json.as_bytes())?;
        crate::atomic::write_atomically(&dir.join("sensitivity.txt"), text.as_bytes())?;
    }
    match args.format {
        Format::Table => print!("{text}"),
        Format::Json => println!("{json}"),
    }
    if let (true, Some(dir)) = (args.report, &args.out) {
        super::report::render(dir)?;
    }
    Ok(ExitCode::SUCCESS)
}
