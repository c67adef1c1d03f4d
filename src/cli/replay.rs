//! `enisim replay`: a recorded trail's workload and other tenants, the controller simulated
//! anew — validated against the recording at its settings, a counterfactual under others.

use super::model_args::ModelArgs;
use super::output::{write_atomically, write_run_outputs};
use super::progress::Progress;
use super::run::{check_replications, check_work, check_writable, in_pool, verdict_table};
use super::BadInput;
use crate::metrics::summary::summarise;
use crate::replay::{prepare, tenant_lines, Prepared, ReplayError, ReplayOptions};
use crate::scenario::{replicate, ScenarioSpec, Settings};
use crate::trace::IngestOptions;
use crate::workload::{Trail, WorkloadError};
use std::path::PathBuf;
use std::process::ExitCode;

/// What every replaying command (replay, sweep --replay, recommend --replay) reads.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrailArgs {
    /// Use this Kubernetes audit log (JSON lines, audit.k8s.io/v1 Events) for the NodeENI
    /// workload instead of reconstructing it from the controller's calls.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Replay the other tenants at this multiple of their recorded calls (each call thinned
    /// or duplicated deterministically; > 0).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub tenants_scale: f64,
    /// The account to replay when the trail holds several.
    #[arg(long)]
    pub account: Option<String>,
    /// The region to replay when the trail holds several.
    #[arg(long)]
    pub region: Option<String>,
    /// The scenario whose instance type, security groups and run settings the recorded
    /// workload runs with (a built-in name or a file).
    #[arg(long, default_value = "burst", value_name = "SCENARIO")]
    pub base: String,
    /// Extra caller rule for ingesting CloudTrail files (as `trace ingest --caller-rule`).
    #[arg(long = "caller-rule", value_name = "RULE")]
    pub caller_rules: Vec<String>,
}

impl TrailArgs {
    pub fn options(&self) -> ReplayOptions {
        ReplayOptions::new(
            self.account.clone(),
            self.region.clone(),
            self.audit_log.clone(),
            self.tenants_scale,
        )
    }

    /// Loads the trail (a table or CloudTrail files) and prepares its replay; every
    /// problem with the input is exit status 2.
    pub fn prepare(&self, trail: &[PathBuf]) -> anyhow::Result<(Trail, Prepared)> {
        crate::replay::check_scale(self.tenants_scale).map_err(|e| BadInput(e.to_string()))?;
        let opts = IngestOptions {
            caller_rules: super::trace::caller_rules(&self.caller_rules)?,
            ..IngestOptions::default()
        };
        let trail = Trail::load_with(trail, &opts).map_err(bad)?;
        let base = ScenarioSpec::resolve(&self.base)?;
        let prepared = prepare(&trail, &self.options(), &base).map_err(|e| match e {
            ReplayError::Workload(w) => bad(w),
            ReplayError::BadScale(_) => BadInput(e.to_string()).into(),
            other => anyhow::Error::new(other),
        })?;
        Ok((trail, prepared))
    }
}

impl TrailArgs {
    /// As [`TrailArgs::prepare`], with the source a sweep definition keeps.
    pub fn prepare_source(
        &self,
        trail: &[PathBuf],
    ) -> anyhow::Result<(crate::replay::ReplaySource, Prepared)> {
        let (_, prepared) = self.prepare(trail)?;
        let source = crate::replay::ReplaySource::of(&prepared, trail, &self.options(), &self.base);
        Ok((source, prepared))
    }
}

/// Workload errors are the input's, but for a table the tool failed to build.
pub(super) fn bad(e: WorkloadError) -> anyhow::Error {
    match e {
        WorkloadError::Trace(
            t @ (crate::trace::TraceError::Polars(_) | crate::trace::TraceError::Table(_)),
        ) => anyhow::Error::new(t),
        other => BadInput(other.to_string()).into(),
    }
}

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// A table written by `enisim trace ingest` (.parquet), or CloudTrail files and
    /// directories (ingested on the fly).
    #[arg(required = true, value_name = "TRAIL")]
    pub trail: Vec<PathBuf>,
    #[command(flatten)]
    pub replay: TrailArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replications (default: the base scenario's).
    #[arg(long)]
    pub replications: Option<u32>,
    /// Worker threads for the replications (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write what `run --out` writes, validation.json, validation.csv and the recorded
    /// scenario (scenario.yaml) here.
    #[arg(short = 'o', long, value_name = "DIR", alias = "output")]
    pub out: Option<PathBuf>,
    /// Write the recorded scenario (a file `enisim run` accepts) here.
    #[arg(long, value_name = "FILE")]
    pub scenario_out: Option<PathBuf>,
}

/// The reconstructed scenario, one line per NodeENI (the first 20).
fn print_scenario(p: &Prepared) {
    print!("{}{}", p.workload.describe(), p.workload.nodeeni_lines(20));
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let (_trail, prepared) = args.replay.prepare(&args.trail)?;
    let model = args.model.model()?;
    let thresholds = args.model.thresholds()?;
    let settings: Settings = args.model.settings(prepared.scenario.clone())?;
    let replications = check_replications(
        args.replications
            .unwrap_or(settings.scenario.run.replications),
    )?;
    check_work(&settings, args.threads, replications)?;
    if let Some(dir) = &args.out {
        check_writable(dir)?;
    }
    let counterfactual = !settings.given.is_empty() || args.replay.tenants_scale != 1.0;
    print_scenario(&prepared);
    let yaml = prepared.workload.scenario_yaml(&settings.scenario);
    for path in args
        .scenario_out
        .iter()
        .cloned()
        .chain(args.out.iter().map(|d| d.join("scenario.yaml")))
    {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| BadInput(format!("cannot create {}: {e}", dir.display())))?;
        }
        write_atomically(&path, yaml.as_bytes())?;
        println!(
            "wrote the recorded scenario to {} (enisim run accepts it)",
            path.display()
        );
    }
    for w in settings.warnings() {
        eprintln!("warning: {w}");
    }
    let replay_model = prepared.model(&model);
    let progress = Progress::new(replications as u64, "replications");
    let runs = in_pool(args.threads, || {
        replicate(&settings, &replay_model, args.seed, replications, &|| {
            progress.inc()
        })
    })?
    .map_err(|e| BadInput(e.to_string()))?;
    progress.finish();
    let summary = summarise(
        &runs,
        &thresholds,
        settings.controller.env.max_concurrent_reconciles,
    );
    let validation = prepared.validate(&runs)?;
    println!();
    if counterfactual {
        let mut changes: Vec<String> = args
            .model
            .values
            .iter()
            .map(|f| format!("--values {}", f.display()))
            .chain(args.model.set.iter().cloned())
            .collect();
        if args.replay.tenants_scale != 1.0 {
            changes.push(format!("other tenants ×{}", args.replay.tenants_scale));
        }
        println!(
            "counterfactual ({}): {} replication{}, seed {}",
            changes.join(", "),
            replications,
            if replications == 1 { "" } else { "s" },
            args.seed
        );
        println!();
        print!("{}", verdict_table(&summary));
        let rec = |name: &str| {
            prepared
                .recorded
                .values
                .iter()
                .find(|v| v.0 == name)
                .and_then(|v| v.2)
        };
        let (calls, throttled): (u64, u64) = prepared
            .recorded_stats
            .actions
            .iter()
            .filter(|a| a.caller_class == crate::trace::CLASS_CONTROLLER)
            .fold((0, 0), |(c, t), a| (c + a.calls, t + a.throttles));
        println!(
            "recorded: {}; the controller made {calls} calls ({throttled} throttled)",
            match rec("every recorded attachment exists") {
                Some(t) => format!("every attachment attached after {t:.0} s"),
                None => "not every attachment was attached".into(),
            }
        );
        println!();
    } else {
        println!(
            "validation at the recorded settings: {} replication{}, seed {}",
            replications,
            if replications == 1 { "" } else { "s" },
            args.seed
        );
        println!();
        print!("{}", validation.to_text());
        println!();
    }
    print!(
        "{}",
        tenant_lines(&prepared.tenant_rows(&runs), args.replay.tenants_scale)
    );
    if !prepared.tenant_summary.left_out.is_empty() {
        let list: Vec<String> = prepared
            .tenant_summary
            .left_out
            .iter()
            .map(|(a, n)| format!("{a} {n}"))
            .collect();
        println!(
            "left out: other tenants' calls of actions the model has no bucket for ({})",
            list.join(", ")
        );
    }
    if let Some(dir) = &args.out {
        write_run_outputs(dir, &settings, &thresholds, args.seed, &summary, &runs)?;
        write_atomically(
            &dir.join("validation.json"),
            validation.to_json().as_bytes(),
        )?;
        write_atomically(&dir.join("validation.csv"), validation.to_csv().as_bytes())?;
        println!("wrote {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
