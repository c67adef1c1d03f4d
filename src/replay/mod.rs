//! Trace-driven runs (calibration.md §5): what the trail says happened outside the
//! controller is kept — the NodeENI workload ([`crate::workload`]) and the other tenants'
//! calls at their recorded times and actions, drawing on the same EC2 buckets — and the
//! controller is simulated anew. At the recorded settings the replay is checked against the
//! recording ([`Prepared::validate`]); with other settings it is a counterfactual.
//!
//! The replayed calls go through the same one-second rounding ([`replayed_table`]) and the
//! same `trace::stats` and workload reconstruction as the recording, so both sides are
//! measured by one piece of code.
//!
//! ```no_run
//! use enisim::replay::{prepare, ReplayOptions};
//! use enisim::scenario::{replicate, Model, ScenarioSpec, Settings};
//! use enisim::controller::ControllerProfile;
//! use enisim::workload::Trail;
//! let trail = Trail::load(&["traces/synthetic-burst".into()]).unwrap();
//! let p = prepare(&trail, &ReplayOptions::default(), &ScenarioSpec::embedded("burst").unwrap()).unwrap();
//! let settings = Settings::new(ControllerProfile::embedded(), p.scenario.clone());
//! let runs = replicate(&settings, &p.model(&Model::embedded()), 1, 5, &|| {}).unwrap();
//! println!("{}", p.validate(&runs).unwrap().to_text());
//! ```

pub mod bench;
mod table;
mod tenants;
mod validation;

pub use table::replayed_table;
pub use tenants::{check_scale, copies, TenantSummary};
pub use validation::{Measures, Unit, Validation, ValidationRow};

use crate::aws::tenants::RecordedTenants;
use crate::metrics::RunRecord;
use crate::scenario::{Model, ScenarioSpec};
use crate::trace::{self, StatsTable};
use crate::workload::{AuditOptions, Columns, RecordedWorkload, Scope, Trail, WorkloadError};
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a replay cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error("--tenants-scale {0}: must be a number > 0 (and at most 1000)")]
    BadScale(f64),
    #[error("measuring the replay: {0}")]
    Table(#[from] PolarsError),
    #[error("measuring the replay: {0}")]
    Trace(#[from] trace::TraceError),
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub scope: Scope,
    /// The workload from this Kubernetes audit log instead of the controller's calls.
    pub audit_log: Option<PathBuf>,
    /// Other tenants at this multiple of their recorded calls (each thinned or duplicated
    /// deterministically).
    pub tenants_scale: f64,
}

impl ReplayOptions {
    pub fn new(
        account: Option<String>,
        region: Option<String>,
        audit_log: Option<PathBuf>,
        tenants_scale: f64,
    ) -> ReplayOptions {
        ReplayOptions {
            scope: Scope { account, region },
            audit_log,
            tenants_scale,
        }
    }
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            scope: Scope::default(),
            audit_log: None,
            tenants_scale: 1.0,
        }
    }
}

/// A trail made ready to replay.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub workload: RecordedWorkload,
    /// The workload as a `recorded` scenario.
    pub scenario: ScenarioSpec,
    /// The other tenants' calls to replay (virtual time 0 = `workload.start_ns`).
    pub tenants: Arc<RecordedTenants>,
    pub tenant_summary: TenantSummary,
    /// The recording's statistics (its chosen account and region).
    pub recorded_stats: StatsTable,
    /// The recording, measured as the replay will be.
    pub recorded: Measures,
}

/// Reads the workload (audit log or reconstruction) and the other tenants' calls of `trail`;
/// the scenario takes `base`'s instance type, security groups and run settings.
pub fn prepare(
    trail: &Trail,
    opts: &ReplayOptions,
    base: &ScenarioSpec,
) -> Result<Prepared, ReplayError> {
    check_scale(opts.tenants_scale)?;
    let workload = match &opts.audit_log {
        Some(p) => RecordedWorkload::from_audit_log(
            p,
            Some(trail),
            &AuditOptions {
                scope: opts.scope.clone(),
            },
        )?,
        None => RecordedWorkload::from_trail(trail, &opts.scope)?,
    };
    let cols = Columns::read(trail, &opts.scope)?;
    let (tenants, tenant_summary) =
        tenants::recorded_tenants(&cols, workload.start_ns, opts.tenants_scale);
    // The recording's own statistics over its chosen account and region.
    let scoped = if cols.rows.len() == trail.df.height() {
        trail.df.clone()
    } else {
        let idx = IdxCa::from_vec(
            "rows".into(),
            cols.rows.iter().map(|&i| i as IdxSize).collect(),
        );
        trail.df.take(&idx)?
    };
    let recorded_stats = trace::stats(&scoped)?;
    // Measured as the replay will be: the workload reconstructed from the trail (also when
    // the workload itself came from an audit log, since the replay has no audit log).
    let rebuilt = if opts.audit_log.is_some() {
        RecordedWorkload::from_trail(trail, &opts.scope)?
    } else {
        workload.clone()
    };
    let recorded = Measures::of(&recorded_stats, &rebuilt);
    Ok(Prepared {
        scenario: workload.scenario(base),
        workload,
        tenants: Arc::new(tenants),
        tenant_summary,
        recorded_stats,
        recorded,
    })
}

/// Per caller class of the other tenants: recorded and replayed calls and throttles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantRow {
    pub class: String,
    pub recorded_calls: u64,
    pub recorded_throttled: u64,
    /// Means over the replications.
    pub replayed_calls: f64,
    pub replayed_throttled: f64,
}

impl Prepared {
    /// `model` with this trail's other tenants replayed on its buckets.
    pub fn model(&self, model: &Model) -> Model {
        let mut m = model.clone();
        m.ec2.recorded_tenants = Some(self.tenants.clone());
        m
    }

    /// One replication measured as the recording was.
    pub fn measure(&self, run: &RunRecord) -> Result<Measures, ReplayError> {
        let df = replayed_table(run, self.workload.start_ns)?;
        let stats = trace::stats(&df)?;
        let w =
            RecordedWorkload::from_trail(&Trail::from_table(df, "the replay"), &Scope::default())?;
        Ok(Measures::of(&stats, &w))
    }

    /// Recorded vs replayed over `runs`.
    pub fn validate(&self, runs: &[RunRecord]) -> Result<Validation, ReplayError> {
        let replayed: Vec<Measures> = runs
            .iter()
            .map(|r| self.measure(r))
            .collect::<Result<_, _>>()?;
        Ok(Validation::new(&self.recorded, &replayed))
    }

    /// The other tenants, recorded vs replayed (what a setting did to them).
    pub fn tenant_rows(&self, runs: &[RunRecord]) -> Vec<TenantRow> {
        let n = runs.len().max(1) as f64;
        let mut replayed: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for r in runs {
            for c in &r.tenant_calls {
                let name = r
                    .tenant_names
                    .get(c.tenant as usize)
                    .cloned()
                    .unwrap_or_default();
                let e = replayed.entry(name).or_default();
                e.0 += 1.0 / n;
                if c.throttled {
                    e.1 += 1.0 / n;
                }
            }
        }
        let mut classes: Vec<String> = self.tenant_summary.calls.keys().cloned().collect();
        for k in replayed.keys() {
            if !classes.contains(k) {
                classes.push(k.clone());
            }
        }
        classes
            .into_iter()
            .map(|class| {
                let (calls, throttled) = replayed.get(&class).copied().unwrap_or_default();
                TenantRow {
                    recorded_calls: self.tenant_summary.calls.get(&class).copied().unwrap_or(0),
                    recorded_throttled: self
                        .tenant_summary
                        .throttled
                        .get(&class)
                        .copied()
                        .unwrap_or(0),
                    replayed_calls: calls,
                    replayed_throttled: throttled,
                    class,
                }
            })
            .collect()
    }
}

/// The tenant rows as text: one line per class.
pub fn tenant_lines(rows: &[TenantRow], scale: f64) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("other tenants: none in the trail\n");
        return out;
    }
    for r in rows {
        out.push_str(&format!(
            "other tenants ({}): recorded {} calls, {} throttled; replayed{} {:.0} calls, {:.1} throttled\n",
            r.class,
            r.recorded_calls,
            r.recorded_throttled,
            if scale == 1.0 { String::new() } else { format!(" at {scale}×") },
            r.replayed_calls,
            r.replayed_throttled
        ));
    }
    out
}

/// Where a replay's recording came from, as a sweep definition keeps it (sweep.json): the
/// trail is read again when the sweep is resumed, merged or recommended from, and must
/// still hold the same tenant calls (`digest`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaySource {
    pub trail: Vec<PathBuf>,
    #[serde(default)]
    pub audit_log: Option<PathBuf>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub tenants_scale: f64,
    /// The base scenario (name or file).
    pub base: String,
    /// Other tenants' calls replayed, and a digest of them (FNV-1a over second, action,
    /// tenant and the tenants' names).
    pub tenant_calls: usize,
    pub digest: String,
}

/// A digest of recorded tenant calls (what a sweep's fingerprint and a re-read check).
pub fn tenants_digest(t: &RecordedTenants) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for n in &t.names {
        eat(n.as_bytes());
        eat(&[0]);
    }
    for c in &t.calls {
        eat(&c.second.to_le_bytes());
        eat(&[c.action.index() as u8, u8::from(c.filtered)]);
        eat(&c.tenant.to_le_bytes());
    }
    format!("{h:016x}")
}

impl ReplaySource {
    /// The source of `p`, prepared from these paths and options.
    pub fn of(p: &Prepared, trail: &[PathBuf], opts: &ReplayOptions, base: &str) -> ReplaySource {
        ReplaySource {
            trail: trail.to_vec(),
            audit_log: opts.audit_log.clone(),
            account: opts.scope.account.clone(),
            region: opts.scope.region.clone(),
            tenants_scale: opts.tenants_scale,
            base: base.to_string(),
            tenant_calls: p.tenants.calls.len(),
            digest: tenants_digest(&p.tenants),
        }
    }

    /// The options the trail was prepared with.
    pub fn options(&self) -> ReplayOptions {
        ReplayOptions::new(
            self.account.clone(),
            self.region.clone(),
            self.audit_log.clone(),
            self.tenants_scale,
        )
    }

    /// Reads the trail again; an error when it no longer holds the same tenant calls.
    pub fn reload(&self) -> Result<Arc<RecordedTenants>, String> {
        let trail = Trail::load(&self.trail).map_err(|e| e.to_string())?;
        let base = ScenarioSpec::resolve(&self.base).map_err(|e| e.to_string())?;
        let p = prepare(&trail, &self.options(), &base).map_err(|e| e.to_string())?;
        let digest = tenants_digest(&p.tenants);
        if digest != self.digest {
            return Err(format!(
                "the replayed trail {} changed since the sweep ran ({} tenant calls then, {} now)",
                self.trail
                    .iter()
                    .map(|t| t.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                self.tenant_calls,
                p.tenants.calls.len()
            ));
        }
        Ok(p.tenants)
    }
}
