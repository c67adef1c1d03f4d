//! `enisim trace`: CloudTrail in (ingest, stats) and out (synth).

use super::model_args::ModelArgs;
use super::progress::Progress;
use super::BadInput;
use crate::scenario::{simulate_replication, ScenarioSpec};
use crate::trace::{
    ingest_table_with_progress, read_parquet, stats, synth, synth_run, CallerField, CallerRules,
    IngestOptions, IngestProgress, Pattern, SynthOptions, TraceError, TraceFormat,
};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum TraceCommand {
    /// Read CloudTrail (S3 delivery files or trees, lookup-events JSON, CloudWatch Logs
    /// exports, Lake/Athena CSV; plain or gzip) into one normalised Parquet table.
    Ingest(IngestArgs),
    /// Per action and caller: calls, errors, throttles, peak and sustained rates, and the
    /// gaps between paired calls.
    Stats(StatsArgs),
    /// Write a simulated run's EC2 calls as CloudTrail S3 delivery files.
    Synth(Box<SynthArgs>),
}

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Files or directories (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where to write the Parquet table.
    #[arg(short = 'o', long = "out", alias = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Force one shape: s3-records, lookup-events, cloudwatch-logs or csv (default: detected
    /// per file).
    #[arg(long)]
    pub format: Option<String>,
    /// Stop at the first bad record (default: skip and count it).
    #[arg(long)]
    pub strict: bool,
    /// Extra caller rule, ahead of the default ones (first match wins):
    /// `user-agent:PATTERN=CLASS` or `principal:PATTERN=CLASS`; PATTERN is `contains:`,
    /// `prefix:`, `suffix:`, `equals:` + text. By default the principal whose
    /// CreateNetworkInterface calls carry the controller's description or managed-by tag is
    /// the controller.
    #[arg(long = "caller-rule", value_name = "RULE")]
    pub caller_rules: Vec<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum StatsFormat {
    Table,
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// A table written by `enisim trace ingest`.
    pub trace: PathBuf,
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    pub format: StatsFormat,
    /// Write the rendering to this file instead of standard output.
    #[arg(short = 'o', long = "out", alias = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// A built-in scenario name or a scenario file.
    #[arg(default_value = "burst")]
    pub scenario: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output directory (the AWSLogs/… tree goes inside).
    #[arg(short = 'o', long = "out", alias = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// Replace a trail already in the output directory (without it, synth refuses to mix
    /// two trails).
    #[arg(long)]
    pub overwrite: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Which replication of `enisim run --seed SEED` to write.
    #[arg(long, default_value_t = 0)]
    pub replication: u32,
    /// Wall-clock time of virtual time 0 (RFC 3339).
    #[arg(long, default_value = "2025-01-01T00:00:00Z")]
    pub start_time: String,
    #[arg(long, default_value = "111122223333")]
    pub account: String,
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

/// Trace errors that are the input's fault exit with status 2.
fn classify(e: TraceError) -> anyhow::Error {
    match e {
        TraceError::Polars(_) | TraceError::Table(_) => anyhow::Error::new(e),
        other => anyhow::Error::new(BadInput(other.to_string())),
    }
}

pub(super) fn caller_rules(specs: &[String]) -> anyhow::Result<CallerRules> {
    let mut rules = CallerRules::default();
    // Later rules on the command line are added first, so the first given wins.
    for spec in specs.iter().rev() {
        let bad = || {
            BadInput(format!("--caller-rule {spec:?}: expected user-agent:PATTERN=CLASS or principal:PATTERN=CLASS"))
        };
        let (field, rest) = spec.split_once(':').ok_or_else(bad)?;
        let field = match field {
            "user-agent" | "ua" => CallerField::UserAgent,
            "principal" => CallerField::Principal,
            _ => return Err(bad().into()),
        };
        let (pattern, class) = rest.rsplit_once('=').ok_or_else(bad)?;
        if class.is_empty() || pattern.is_empty() {
            return Err(bad().into());
        }
        let pattern: Pattern = pattern.parse().map_err(|e: String| BadInput(e))?;
        rules = rules.prepend(field, pattern, class);
    }
    Ok(rules)
}

pub fn run(cmd: TraceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TraceCommand::Ingest(a) => {
            let format = match &a.format {
                Some(f) => Some(
                    f.parse::<TraceFormat>()
                        .map_err(|e| BadInput(format!("--format: {e}")))?,
                ),
                None => None,
            };
            let opts = IngestOptions {
                format,
                strict: a.strict,
                caller_rules: caller_rules(&a.caller_rules)?,
                ..IngestOptions::default()
            };
            let bar = Progress::bytes();
            // Straight to Parquet, a row group at a time: the table is never a DataFrame.
            let ingested =
                ingest_table_with_progress(&a.paths, &opts, &mut |p: &IngestProgress| {
                    bar.set(
                        p.bytes_done,
                        p.bytes_total,
                        format!(
                            "{}/{} files, {} records",
                            p.files_done, p.files_total, p.records
                        ),
                    )
                })
                .map_err(classify)?;
            bar.finish();
            eprintln!("{}", ingested.report);
            if let Some(why) = ingested.report.why_empty() {
                return Err(
                    BadInput(format!("{why}; nothing written to {}", a.output.display())).into(),
                );
            }
            ingested.write_parquet(&a.output).map_err(classify)?;
            println!("wrote {} rows to {}", ingested.height(), a.output.display());
        }
        TraceCommand::Stats(a) => {
            let df = read_parquet(&a.trace).map_err(classify)?;
            let table = stats(&df).map_err(classify)?;
            let text = match a.format {
                StatsFormat::Table => table.to_text(),
                StatsFormat::Json => format!("{}\n", table.to_json()),
                StatsFormat::Csv => table.to_csv(),
            };
            match &a.output {
                Some(path) => {
                    super::output::write_atomically(path, text.as_bytes())?;
                    println!("wrote {}", path.display());
                }
                None => print!("{text}"),
            }
        }
        TraceCommand::Synth(a) => {
            let scenario = ScenarioSpec::resolve(&a.scenario)?;
            let model = a.model.model()?;
            let settings = a.model.settings(scenario)?;
            let run = simulate_replication(&settings, &model, a.seed, a.replication)
                .map_err(|e| BadInput(e.to_string()))?;
            // The controller's attempts and the other tenants' calls (an EC2 profile's
            // background load), as one account's trail.
            let calls = synth_run(&run);
            let opts = SynthOptions {
                start_time: a.start_time.clone(),
                account_id: a.account.clone(),
                region: a.region.clone(),
                seed: a.seed,
                overwrite: a.overwrite,
                ..SynthOptions::default()
            };
            let report = synth(&calls, &opts, &a.output).map_err(classify)?;
            println!(
                "{} records ({} errors) in {} files under {}, {} … {}",
                report.records,
                report.errors,
                report.files.len(),
                a.output.display(),
                report.first_event_time.unwrap_or_default(),
                report.last_event_time.unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
