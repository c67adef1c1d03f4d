//! What a sweep is: the base settings, the model, the thresholds, the grid, the number of
//! replications and the seed. Its canonical JSON is stored in the output directory
//! (`sweep.json`) and hashed into a fingerprint, so `--resume` and `merge` can tell one
//! sweep from another.

use super::grid::Grid;
use super::SweepError;
use crate::aws::{Ec2Profile, InstanceTypes};
use crate::calibrate::FittedDistribution;
use crate::controller::ControllerProfile;
use crate::metrics::summary::metric_values;
use crate::metrics::thresholds::Thresholds;
use crate::metrics::RunMetrics;
use crate::scenario::{Model, ScenarioSpec, Settings};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The metric derived by the sweep beside `RunMetrics`: EC2 attempts per minute of
/// simulated time (what counts against the account's request budget).
pub const CALLS_PER_MIN: &str = "ec2_calls_per_min";

/// The metric columns of a run, in table order: `RunMetrics`' numeric fields by name
/// (whatever this build's `RunMetrics` holds), then the derived ones.
pub fn metric_names() -> Vec<String> {
    let mut names: Vec<String> = metric_values(&RunMetrics::default()).into_keys().collect();
    names.push(CALLS_PER_MIN.to_string());
    names
}

/// The values of `metric_names()` for one run.
pub fn run_metric_values(m: &RunMetrics, names: &[String]) -> Vec<f64> {
    let mut by_name = metric_values(m);
    let attempts = by_name.get("ec2_attempts").copied().unwrap_or(0.0);
    let end = by_name.get("end_s").copied().unwrap_or(0.0);
    let rate = if end > 0.0 {
        attempts / end * 60.0
    } else {
        0.0
    };
    by_name.insert(CALLS_PER_MIN.to_string(), rate);
    names
        .iter()
        .map(|n| by_name.get(n).copied().unwrap_or(f64::NAN))
        .collect()
}

/// The seed of replication `r` under sweep seed `seed`: exactly the seed `enisim run`
/// gives replication `r` (one definition, `scenario::replications`), so a grid point equals
/// a run with the same settings and seed.
pub use crate::scenario::replication_seed;

/// A deterministic slice of a sweep: the points `p` with `p mod count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `K/N`, 0 ≤ K < N (K as Kubernetes' `JOB_COMPLETION_INDEX` numbers pods).
    pub fn parse(s: &str) -> Result<Shard, SweepError> {
        let bad = |m: String| SweepError::Input(format!("--shard {s}: {m}"));
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad("expected K/N, e.g. 0/4 (K counts from 0)".into()))?;
        let k: u32 = k
            .trim()
            .parse()
            .map_err(|_| bad(format!("K {:?} is not a whole number", k.trim())))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad(format!("N {:?} is not a whole number", n.trim())))?;
        if n == 0 {
            return Err(bad("N must be ≥ 1".into()));
        }
        if k >= n {
            return Err(bad(format!(
                "K must be below N (shards are numbered 0..{}), got K = {k}",
                n - 1
            )));
        }
        Ok(Shard { index: k, count: n })
    }

    pub fn holds(&self, point: usize) -> bool {
        point % self.count as usize == self.index as usize
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Everything that determines a sweep's results.
#[derive(Debug, Clone)]
pub struct SweepDef {
    /// The scenario's name (for messages; the scenario itself is in `base`).
    pub scenario: String,
    pub base: Settings,
    pub model: Model,
    pub thresholds: Thresholds,
    pub grid: Grid,
    pub replications: u32,
    pub seed: u64,
    pub metrics: Vec<String>,
    /// A sweep over a recorded trail (`--replay`): where it came from.
    pub replay: Option<crate::replay::ReplaySource>,
    /// `--calibration`: θ drawn per replication from a calibration's fitted distribution
    /// (the same draw for replication r at every point: common random numbers).
    pub theta: Option<FittedDistribution>,
}

/// The serialisable form of a `SweepDef` (the `definition` of sweep.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionDoc {
    pub enisim: String,
    pub scenario_name: String,
    pub scenario: ScenarioSpec,
    pub controller: ControllerProfile,
    pub ec2: Ec2Profile,
    /// The instance-type table as CSV (models/instance-types.csv's columns).
    pub instance_types: String,
    pub thresholds: Thresholds,
    pub grid: Grid,
    pub replications: u32,
    pub seed: u64,
    pub metrics: Vec<String>,
    /// The recording a replay sweep reads its other tenants from (read again on resume,
    /// merge and `recommend --from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<crate::replay::ReplaySource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theta: Option<FittedDistribution>,
}

pub fn instance_types_csv(t: &InstanceTypes) -> String {
    let mut out = String::from(
        "instance_type,max_enis_default_card,ipv4_per_eni,network_cards,max_enis_all_cards,default_network_card_index,hypervisor,bare_metal\n",
    );
    for i in t.iter() {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            i.name,
            i.max_enis_default_card,
            i.ipv4_per_eni,
            i.network_cards,
            i.max_enis_all_cards,
            i.default_network_card_index,
            i.hypervisor,
            i.bare_metal
        ));
    }
    out
}

/// At most this many replications per point (the bound `run` has too).
pub const MAX_REPLICATIONS: u32 = crate::scenario::limits::MAX_REPLICATIONS as u32;
/// At most this many runs (points × replications) in one sweep: the tables hold them all
/// in memory (a few hundred bytes each).
pub const MAX_RUNS: usize = 2_000_000;

/// Checks the replication count and the number of runs against the caps
/// (`grid::MAX_POINTS`, `MAX_REPLICATIONS`, `MAX_RUNS`).
pub fn check_size(grid: &Grid, replications: u32) -> Result<(), SweepError> {
    if replications == 0 {
        return Err(SweepError::Input("--replications must be ≥ 1".into()));
    }
    if replications > MAX_REPLICATIONS {
        return Err(SweepError::Input(format!(
            "--replications {replications}: at most {MAX_REPLICATIONS} per point"
        )));
    }
    if let Some(a) = grid.axes.iter().find(|a| a.values.is_empty()) {
        return Err(SweepError::Input(format!(
            "the grid axis {} has no values: a sweep needs at least one point",
            a.key
        )));
    }
    let points = match grid.checked_points() {
        Some(p) if p <= super::grid::MAX_POINTS => p,
        _ => {
            return Err(SweepError::Input(format!(
                "the grid has more than {} points",
                super::grid::MAX_POINTS
            )))
        }
    };
    match points.checked_mul(replications as usize) {
        Some(runs) if runs <= MAX_RUNS => Ok(()),
        _ => Err(SweepError::Input(format!(
            "{points} points × --replications {replications} = {} runs is too many: a sweep has at most {MAX_RUNS} runs (fewer points or replications, or split it into several sweeps)",
            points as u128 * replications as u128
        ))),
    }
}

/// FNV-1a, 64 bits, from a given offset basis.
fn fnv1a(basis: u64, bytes: &[u8]) -> u64 {
    let mut h = basis;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl SweepDef {
    /// Checks what a grid cannot check alone (every point's instance type exists, the
    /// replication count) and fixes the metric columns.
    pub fn new(
        scenario: &str,
        base: Settings,
        model: Model,
        thresholds: Thresholds,
        grid: Grid,
        replications: u32,
        seed: u64,
    ) -> Result<SweepDef, SweepError> {
        check_size(&grid, replications)?;
        let def = SweepDef {
            scenario: scenario.to_string(),
            base,
            model,
            thresholds,
            grid,
            replications,
            seed,
            metrics: metric_names(),
            replay: None,
            theta: None,
        };
        // Instance types are checked here, not point by point at run time: a misspelt
        // type is bad input, not a failed point.
        let mut types = std::collections::BTreeSet::new();
        types.insert(def.base.scenario.cluster.instance_type.clone());
        if let Some(axis) = def
            .grid
            .axes
            .iter()
            .find(|a| a.key == "enisim.scenario.instanceType")
        {
            types.extend(axis.values.iter().cloned());
        }
        for t in types {
            def.model
                .instance_type(&t)
                .map_err(|e| SweepError::Input(format!("enisim.scenario.instanceType: {e}")))?;
        }
        Ok(def)
    }

    pub fn points(&self) -> usize {
        self.grid.points()
    }

    pub fn doc(&self) -> DefinitionDoc {
        DefinitionDoc {
            enisim: env!("CARGO_PKG_VERSION").to_string(),
            scenario_name: self.scenario.clone(),
            scenario: self.base.scenario.clone(),
            controller: self.base.controller.clone(),
            ec2: self.model.ec2.clone(),
            instance_types: instance_types_csv(&self.model.instance_types),
            thresholds: self.thresholds.clone(),
            grid: self.grid.clone(),
            replications: self.replications,
            seed: self.seed,
            metrics: self.metrics.clone(),
            replay: self.replay.clone(),
            theta: self.theta.clone(),
        }
    }

    /// Over a recorded trail: its workload is already the base scenario; its other
    /// tenants are replayed on the model's buckets at every point.
    pub fn with_replay(
        mut self,
        source: crate::replay::ReplaySource,
        tenants: std::sync::Arc<crate::aws::tenants::RecordedTenants>,
    ) -> SweepDef {
        self.model.ec2.recorded_tenants = Some(tenants);
        self.replay = Some(source);
        self
    }

    /// Rebuilds a definition from sweep.json (for `recommend --from` and `merge`).
    pub fn from_doc(doc: DefinitionDoc) -> Result<SweepDef, SweepError> {
        check_size(&doc.grid, doc.replications)?;
        let instance_types =
            InstanceTypes::from_csv(Path::new("sweep.json#instance_types"), &doc.instance_types)
                .map_err(|e| SweepError::Input(e.to_string()))?;
        let mut ec2 = doc.ec2;
        if let Some(r) = &doc.replay {
            ec2.recorded_tenants = Some(r.reload().map_err(SweepError::Input)?);
        }
        Ok(SweepDef {
            scenario: doc.scenario_name,
            base: Settings::new(doc.controller, doc.scenario),
            model: Model {
                ec2,
                instance_types,
            },
            thresholds: doc.thresholds,
            grid: doc.grid,
            replications: doc.replications,
            seed: doc.seed,
            metrics: doc.metrics,
            replay: doc.replay,
            theta: doc.theta,
        })
    }

    /// 128 bits of FNV-1a over the canonical JSON of the definition, in hex.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.doc())
    }
}

pub fn fingerprint_of(doc: &DefinitionDoc) -> String {
    let text = serde_json::to_string(doc).unwrap_or_default();
    let a = fnv1a(0xcbf2_9ce4_8422_2325, text.as_bytes());
    let b = fnv1a(0x6c62_272e_07bb_0142, text.as_bytes());
    format!("{a:016x}{b:016x}")
}

/// sweep.json: the definition, its fingerprint and the shard this directory holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub fingerprint: String,
    pub shard: Option<Shard>,
    pub points: usize,
    pub replications: u32,
    pub runs_in_this_directory: usize,
    pub definition: DefinitionDoc,
}

pub const MANIFEST_FORMAT: &str = "enisim-sweep/1";

impl Manifest {
    pub fn new(def: &SweepDef, shard: Option<Shard>) -> Manifest {
        let points = def.points();
        let mine = (0..points)
            .filter(|p| shard.is_none_or(|s| s.holds(*p)))
            .count();
        Manifest {
            format: MANIFEST_FORMAT.into(),
            fingerprint: def.fingerprint(),
            shard,
            points,
            replications: def.replications,
            runs_in_this_directory: mine * def.replications as usize,
            definition: def.doc(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn load(dir: &Path) -> Result<Manifest, SweepError> {
        let path = dir.join(super::MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            SweepError::Input(format!(
                "{}: cannot read ({e}); is {} a sweep's output directory?",
                path.display(),
                dir.display()
            ))
        })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| {
            SweepError::Input(format!("{}: not a sweep manifest: {e}", path.display()))
        })?;
        if m.format != MANIFEST_FORMAT {
            return Err(SweepError::Input(format!(
                "{}: format {:?}, this enisim reads {MANIFEST_FORMAT:?}",
                path.display(),
                m.format
            )));
        }
        if fingerprint_of(&m.definition) != m.fingerprint {
            return Err(SweepError::Input(format!(
                "{}: the fingerprint does not match the definition (edited by hand?)",
                path.display()
            )));
        }
        Ok(m)
    }

    /// The points this directory holds, in order.
    pub fn my_points(&self) -> Vec<usize> {
        (0..self.points)
            .filter(|p| self.shard.is_none_or(|s| s.holds(*p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition() {
        assert_eq!(Shard::parse("1/4").unwrap(), Shard { index: 1, count: 4 });
        for bad in ["4/4", "5/4", "1", "a/4", "1/0", "-1/4"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let e = Shard::parse("4/4").unwrap_err().to_string();
        assert!(e.contains("K must be below N"), "{e}");
        let shards: Vec<Shard> = (0..3).map(|k| Shard { index: k, count: 3 }).collect();
        for p in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.holds(p)).count(), 1);
        }
    }

    #[test]
    fn replication_seeds_are_those_of_run() {
        assert_eq!(
            replication_seed(1, 3),
            crate::engine::rng::stream_seed(1, "replication-3")
        );
    }

    #[test]
    fn definition_round_trips_through_json() {
        let base = Settings::new(
            ControllerProfile::embedded(),
            ScenarioSpec::embedded("burst").unwrap(),
        );
        let grid = Grid::parse(&["controller.maxConcurrentReconciles=1,2".into()], &base).unwrap();
        let def = SweepDef::new(
            "burst",
            base,
            Model::embedded(),
            Thresholds::embedded(),
            grid,
            3,
            7,
        )
        .unwrap();
        let json = Manifest::new(&def, None).to_json();
        let back: Manifest = serde_json::from_str(&json).unwrap();
        let def2 = SweepDef::from_doc(back.definition).unwrap();
        assert_eq!(def2.fingerprint(), def.fingerprint());
        assert_eq!(def2.base.controller, def.base.controller);
        assert_eq!(def2.model.ec2, def.model.ec2);
        assert_eq!(
            def2.model.instance_types.len(),
            def.model.instance_types.len()
        );
    }
}
