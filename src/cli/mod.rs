//! The command line: thin glue over the library. Exit status 0 on success, 1 when a run
//! breaches `--fail-on`, 2 for bad input (design.md, "Errors").

mod bench;
mod calibrate;
mod check;
mod compare;
mod model_args;
mod output;
mod progress;
mod recommend;
mod replay;
mod report;
mod run;
mod scenarios;
mod sensitivity;
mod sweep;
mod trace;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "enisim",
    version,
    about = "Discrete-event capacity model and replay tool for the AWS Multi-ENI Controller",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario (default: the 100-ENI burst) and judge it against the thresholds.
    Run(Box<run::RunArgs>),
    /// List the built-in scenarios.
    Scenarios,
    /// CloudTrail: ingest real trails, summarise them, write synthetic ones.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
    /// Run the engine and the work queue on textbook queues (M/M/1, M/M/c, M/D/1) and
    /// print the simulated mean wait beside the closed form.
    Check(check::CheckArgs),
    /// Measure the engine's events/s and the model's runs/s on this machine.
    Bench(bench::BenchArgs),
    /// Sweep a grid of knobs (Helm keys, env-only knobs, scenario parameters) with common
    /// random numbers, in parallel, resumably, optionally sharded; `sweep merge` joins shards.
    Sweep(Box<sweep::SweepArgs>),
    /// From a sweep's results (or a default sweep), the configuration that meets every
    /// threshold: a Helm values overlay with predicted margins, and a Deployment patch for
    /// knobs the chart does not expose.
    Recommend(Box<recommend::RecommendArgs>),
    /// Compare two `run --out` (or two sweep) directories metric by metric: B − A with its
    /// 95 % Welch interval, and whether it is a regression beyond --tolerance.
    Compare(compare::CompareArgs),
    /// Render an output directory (`run --out`, `sweep`, `recommend`) to DIR/report.html — one
    /// self-contained file — with every figure as SVG and PNG under DIR/figures.
    Report(report::ReportArgs),
    /// Move every assumption of the model over its plausible range (models/), one at a
    /// time with common random numbers, and rank them by their effect on each metric and
    /// verdict: what a small real run must measure first.
    Sensitivity(Box<sensitivity::SensitivityArgs>),
    /// Replay a recorded trail: its NodeENI workload and other tenants' calls as recorded,
    /// the controller simulated anew; validated against the recording at its settings, a
    /// counterfactual with --set/--values/--tenants-scale.
    Replay(Box<replay::ReplayArgs>),
    /// Fit the model to a recorded trail: direct estimates (tenant rates, server errors,
    /// bucket sets) and simulated moments (service times, detach delay), with intervals,
    /// identifiability and a goodness-of-fit test; writes a calibrated EC2 profile.
    Calibrate(Box<calibrate::CalibrateArgs>),
}

/// An error that is the user's input, not the tool: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Run(args) => run::run(*args),
        Command::Scenarios => scenarios::run(),
        Command::Trace(cmd) => trace::run(cmd),
        Command::Sweep(args) => sweep::run(*args),
        Command::Recommend(args) => recommend::run(*args),
        Command::Compare(args) => compare::run(args),
        Command::Report(args) => report::run(args),
        Command::Sensitivity(args) => sensitivity::run(*args),
        Command::Replay(args) => replay::run(*args),
        Command::Calibrate(args) => calibrate::run(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if is_bad_input(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<crate::input::InputError>().is_some()
            || c.downcast_ref::<BadInput>().is_some()
    })
}
