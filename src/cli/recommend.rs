//! `enisim recommend`: from a sweep's results (`--from DIR`), or a sweep it runs itself
//! (the default grid unless `--grid` is given), the configuration to deploy.

use super::sweep::{check_threads, cli_error, execute, report_failures, SweepSpecArgs};
use super::BadInput;
use crate::aws::{Ec2Profile, InstanceTypes};
use crate::controller::ControllerProfile;
use crate::recommend::{self, knobs, render, Options};
use crate::scenario::{ScenarioSpec, Settings};
use crate::sweep::definition::instance_types_csv;
use crate::sweep::{self, Grid, Manifest, RunOptions, SweepDef, MANIFEST};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The files of one recommendation, replaced together: a run writes those it produces and
/// removes the others, so nothing of an earlier recommendation is left beside it.
pub const OUTPUTS: [&str; 4] = [
    "values.yaml",
    "deployment-patch.yaml",
    "recommendation.md",
    "recommendation.json",
];

#[derive(clap::Args, Debug)]
pub struct RecommendArgs {
    /// A finished (or merged) sweep's output directory. Without it, recommend runs the
    /// sweep itself into OUT/sweep (resumable; reused when its definition is unchanged).
    /// With it, the sweep's own definition is used: a scenario, --set, --values, --grid,
    /// --replications, --seed or model file that would change it is refused (one that
    /// repeats it is only warned about); --thresholds judges the same runs anew.
    #[arg(long, value_name = "SWEEP_DIR")]
    pub from: Option<PathBuf>,
    #[command(flatten)]
    pub sweep: SweepSpecArgs,
    /// Where values.yaml, deployment-patch.yaml (when needed), recommendation.md,
    /// recommendation.json (what `enisim report` draws) and the
    /// sweep (OUT/sweep, when recommend runs it) go. The four files are replaced as a
    /// set. One sweep per directory: another definition needs --overwrite or another --out.
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
    /// Also render --out to report.html with its figures (`enisim report`): the chosen
    /// point on the verdict map and each threshold's margin.
    #[arg(long)]
    pub report: bool,
}

/// The controller and scenario of settings, for comparing two of them.
fn settings_json(s: &Settings) -> String {
    serde_json::to_string(&(&s.controller, &s.scenario)).unwrap_or_default()
}

/// With `--from`, the sweep's definition is the answer's: each flag that would define
/// another sweep is refused (exit 2), each that only repeats the sweep's own is warned
/// about. Returns the warnings.
pub fn check_from_flags(
    s: &SweepSpecArgs,
    def: &SweepDef,
    dir: &Path,
) -> anyhow::Result<Vec<String>> {
    let mut refused: Vec<String> = Vec::new();
    let mut redundant: Vec<&str> = Vec::new();
    if let Some(seed) = s.seed {
        if seed == def.seed {
            redundant.push("--seed");
        } else {
            refused.push(format!(
                "--seed {seed}: the sweep ran with seed {}",
                def.seed
            ));
        }
    }
    if let Some(r) = s.replications {
        if r == def.replications {
            redundant.push("--replications");
        } else {
            refused.push(format!(
                "--replications {r}: the sweep has {} per point",
                def.replications
            ));
        }
    }
    if !s.grid.is_empty() {
        let theirs = def
            .grid
            .axes
            .iter()
            .map(|a| a.spec())
            .collect::<Vec<_>>()
            .join(" ");
        match Grid::parse(&s.grid, &def.base) {
            Ok(g) if g == def.grid => redundant.push("--grid"),
            _ => refused.push(format!(
                "--grid {}: the sweep's grid is {}",
                s.grid.join(" "),
                if theirs.is_empty() { "empty" } else { &theirs }
            )),
        }
    }
    if let Some(p) = &s.model.ec2_profile {
        if Ec2Profile::load(p)? == def.model.ec2 {
            redundant.push("--ec2-profile");
        } else {
            refused.push(format!(
                "--ec2-profile {}: differs from the EC2 profile the sweep ran with (kept in its {MANIFEST})",
                p.display()
            ));
        }
    }
    if let Some(p) = &s.model.instance_types {
        let t = InstanceTypes::load(p)?;
        if instance_types_csv(&t) == instance_types_csv(&def.model.instance_types) {
            redundant.push("--instance-types");
        } else {
            refused.push(format!(
                "--instance-types {}: differs from the instance-type table the sweep ran with (kept in its {MANIFEST})",
                p.display()
            ));
        }
    }
    // The settings: the scenario, the controller profile, values files and --set, on top
    // of the sweep's own base for whatever is not given.
    let mut given: Vec<String> = Vec::new();
    if let Some(n) = &s.scenario {
        given.push(format!("the scenario {n}"));
    }
    if let Some(p) = &s.model.controller_profile {
        given.push(format!("--controller-profile {}", p.display()));
    }
    for f in &s.model.values {
        given.push(format!("--values {}", f.display()));
    }
    for kv in &s.model.set {
        given.push(format!("--set {kv}"));
    }
    if !given.is_empty() {
        let scenario = match &s.scenario {
            Some(n) => ScenarioSpec::resolve(n)?,
            None => def.base.scenario.clone(),
        };
        let controller = match &s.model.controller_profile {
            Some(p) => ControllerProfile::load(p)?,
            None => def.base.controller.clone(),
        };
        let mut here = Settings::new(controller, scenario);
        for f in &s.model.values {
            here.apply_values_file(f)?;
        }
        for kv in &s.model.set {
            here.apply_set(kv)?;
        }
        if settings_json(&here) == settings_json(&def.base) {
            redundant.extend(given.iter().map(|g| g.as_str()));
        } else {
            let mut diffs: Vec<String> = Vec::new();
            if here.scenario.name != def.base.scenario.name {
                diffs.push(format!(
                    "the scenario would be {}, the sweep's is {}",
                    here.scenario.name, def.base.scenario.name
                ));
            }
            diffs.extend(
                knobs::differences(&here, &def.base)
                    .into_iter()
                    .map(|(k, x, y)| {
                        if def.grid.axes.iter().any(|a| a.key == k) {
                            format!("{k} would be fixed at {x}, the sweep varies it")
                        } else {
                            format!("{k} would be {x}, the sweep has {y}")
                        }
                    }),
            );
            refused.push(format!(
                "{}: {}",
                given.join(", "),
                if diffs.is_empty() {
                    "the scenario or controller profile differs from the sweep's".to_string()
                } else {
                    diffs.join("; ")
                }
            ));
        }
    }
    if !refused.is_empty() {
        return Err(BadInput(format!(
            "--from {}: the sweep's own definition is the answer's, and these would change it:\n  {}\ndrop them to recommend from that sweep, or run `enisim recommend` without --from to sweep these settings",
            dir.display(),
            refused.join("\n  ")
        ))
        .into());
    }
    Ok(redundant
        .into_iter()
        .map(|f| {
            format!(
                "warning: --from {}: {f} repeats the sweep's own definition and is not needed",
                dir.display()
            )
        })
        .collect())
}

/// What a recommendation needs of a sweep: points, an interval at each, and thresholds
/// that judge something.
pub fn check_recommendable(def: &SweepDef, dir: &Path) -> anyhow::Result<()> {
    let dir = dir.display();
    if def.points() == 0 {
        return Err(BadInput(format!(
            "{dir}: the sweep has no points: nothing to recommend"
        ))
        .into());
    }
    if def.replications < 2 {
        return Err(BadInput(format!(
            "{dir}: {} replication per point: recommend needs at least 2 (one replication has no confidence interval, and the choice is made on the interval's upper end); sweep again with --replications 2 or more",
            def.replications
        ))
        .into());
    }
    let judged: Vec<&String> = def.thresholds.judged().map(|(n, _)| n).collect();
    let present = judged
        .iter()
        .filter(|n| sweep::table::metric_index(def, n).is_some())
        .count();
    if present == 0 {
        return Err(BadInput(format!(
            "{dir}: no threshold judges a metric of this sweep (thresholds on: {}): every point would qualify unjudged; enable a threshold the sweep has (e.g. eni_creation_p95_s) or sweep again with this build",
            if judged.is_empty() {
                "none".to_string()
            } else {
                judged.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            }
        ))
        .into());
    }
    Ok(())
}

/// When recommend runs the sweep: a sweep of another definition already in `dir` is
/// kept unless --overwrite (one sweep per output directory).
fn check_sweep_dir(dir: &Path, out: &Path, def: &SweepDef, overwrite: bool) -> anyhow::Result<()> {
    if overwrite || !dir.join(MANIFEST).exists() {
        return Ok(());
    }
    let Ok(old) = Manifest::load(dir) else {
        return Ok(()); // the sweep itself reports what is wrong with it
    };
    let fp = def.fingerprint();
    if old.fingerprint != fp || old.shard.is_some() {
        return Err(BadInput(format!(
            "{} holds the sweep of an earlier `enisim recommend` with another definition (fingerprint {} there, {} here: scenario, values, --set, --grid, --replications, --seed or model files differ): add --overwrite to run this sweep in its place (that recommendation's files are replaced too), or give another --out, e.g. --out {}-2",
            dir.display(),
            &old.fingerprint[..12.min(old.fingerprint.len())],
            &fp[..12],
            out.display()
        ))
        .into());
    }
    Ok(())
}

/// Writes the set of output files into `dir` as one: every new file is first written to a
/// temporary name beside its place; only when all are written are the stale files (those
/// of `OUTPUTS` this recommendation does not produce) removed and the new ones renamed in.
/// Returns the stale files removed.
pub fn write_set(dir: &Path, files: &[(&str, String)]) -> anyhow::Result<Vec<&'static str>> {
    let io = |p: &Path, e: std::io::Error| anyhow::anyhow!("{}: {e}", p.display());
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut staged: Vec<(tempfile::NamedTempFile, PathBuf)> = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .tempfile_in(dir)
            .map_err(|e| io(&path, e))?;
        use std::io::Write;
        tmp.write_all(text.as_bytes()).map_err(|e| io(&path, e))?;
        tmp.as_file().sync_all().map_err(|e| io(&path, e))?;
        staged.push((tmp, path));
    }
    let mut removed = Vec::new();
    for name in OUTPUTS {
        if !files.iter().any(|(n, _)| *n == name) {
            let stale = dir.join(name);
            match std::fs::remove_file(&stale) {
                Ok(()) => removed.push(name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&stale, e)),
            }
        }
    }
    for (tmp, path) in staged {
        tmp.persist(&path).map_err(|e| io(&path, e.error))?;
    }
    Ok(removed)
}

pub fn run(a: RecommendArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&a.tolerance) {
        return Err(BadInput("--tolerance must be between 0 and 1".into()).into());
    }
    if !(0.0..=10.0).contains(&a.headroom) {
        return Err(BadInput("--headroom must be between 0 and 10".into()).into());
    }
    check_threads(a.sweep.threads)?;
    // An unwritable --out is found before any work.
    super::run::check_writable(&a.out)?;
    if a.from.is_some() && a.overwrite {
        eprintln!("warning: --overwrite has no effect with --from (recommend runs no sweep)");
    }
    let mut results = match &a.from {
        Some(dir) => {
            let r = sweep::load_results(dir).map_err(cli_error)?;
            if let Some(s) = r.manifest.shard {
                return Err(BadInput(format!(
                    "{} holds shard {s} only: join the shards with `enisim sweep merge` first",
                    dir.display()
                ))
                .into());
            }
            for w in check_from_flags(&a.sweep, &r.def, dir)? {
                eprintln!("{w}");
            }
            r
        }
        None => {
            let def = a.sweep.definition()?;
            if def.replications < 2 {
                return Err(BadInput(format!(
                    "--replications {}: recommend needs at least 2 per point (one replication has no confidence interval, and the choice is made on the interval's upper end)",
                    def.replications
                ))
                .into());
            }
            let dir = a.out.join("sweep");
            check_recommendable(&def, &dir)?;
            check_sweep_dir(&dir, &a.out, &def, a.overwrite)?;
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
    check_recommendable(&results.def, &results.dir)?;
    let opts = Options {
        tolerance: a.tolerance,
        headroom: a.headroom,
    };
    let rec = super::run::in_pool(a.sweep.threads, || recommend::recommend(&results, opts))?;
    let report = render::report(&rec);
    let mut files: Vec<(&str, String)> = Vec::new();
    if let Some(values) = render::values_overlay(&rec) {
        files.push(("values.yaml", values));
    }
    if let Some(p) = render::deployment_patch(&rec) {
        files.push(("deployment-patch.yaml", p));
    }
    files.push(("recommendation.md", report.clone()));
    // What `enisim report` draws: every point's verdict, the chosen point, its margins.
    let doc = crate::report::figures::recommend::RecommendationDoc::new(&rec, &results.summaries());
    files.push(("recommendation.json", doc.to_json()));
    let removed = write_set(&a.out, &files)?;
    print!("{report}");
    let written: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    println!("\nwrote {}: {}", a.out.display(), written.join(", "));
    if !removed.is_empty() {
        println!(
            "removed {} of an earlier recommendation there (this one does not produce them)",
            removed.join(", ")
        );
    }
    if a.report {
        super::report::render(&a.out)?;
    }
    Ok(if rec.chosen.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
