//! `enisim compare A B`: two `run --out` (or two sweep) directories, metric by metric, with
//! the difference's 95 % Welch interval and a regression verdict; `--fail-on-regression`
//! exits 1 for a team's CI.

use super::run::Format;
use super::BadInput;
use crate::report::compare::{self, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The baseline: an `enisim run --out` directory or a sweep's output directory.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The candidate, of the same kind as A.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// A change counts only when the difference's whole 95 % interval lies beyond this
    /// fraction of A's mean (relative: 0.05 = 5 %; 0 flags any significant change).
    #[arg(long, default_value_t = 0.05, value_name = "FRACTION")]
    pub tolerance: f64,
    /// Exit with status 1 when any metric (at any shared sweep point) is a regression.
    #[arg(long)]
    pub fail_on_regression: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Metrics to compare, comma-separated (any numeric metric of a run, e.g.
    /// eni_creation_p95_s,reconciles). Default: the judged threshold metrics, then
    /// ec2_calls and error_rate_percent.
    #[arg(long, value_delimiter = ',', value_name = "M1,M2")]
    pub metrics: Option<Vec<String>>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let bad = |e: compare::CompareError| BadInput(e.to_string());
    let a = compare::load(&args.a).map_err(bad)?;
    let b = compare::load(&args.b).map_err(bad)?;
    let metrics = args.metrics.map(|m| {
        m.into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    if metrics.as_ref().is_some_and(Vec::is_empty) {
        return Err(BadInput("--metrics: no metric named".into()).into());
    }
    let opts = Options {
        tolerance: args.tolerance,
        metrics,
    };
    let c = compare::compare(&a, &b, &opts).map_err(bad)?;
    match args.format {
        Format::Table => print!("{}", compare::render_table(&c)),
        Format::Json => println!("{}", compare::render_json(&c)),
    }
    Ok(if args.fail_on_regression && c.has_regression() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
