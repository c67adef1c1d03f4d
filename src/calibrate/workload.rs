//! The recorded cluster's workload, for a calibration (issue #11, "The workload"): the
//! simulated moments mean something only when the simulation is asked to do what the
//! recorded cluster was asked to do. The workload comes from, in this order:
//! * a Kubernetes audit log: the NodeENIs' exact create and delete times and specs, the
//!   attachment timelines from the trail ([`RecordedWorkload::from_audit_log`]);
//! * a scenario the user names (built in or a file): their word for the workload, checked
//!   against the trail by [`super::check`] (an error where it cannot be the recorded one);
//! * else reconstructed from the controller's own calls — each Create's tags name its
//!   NodeENI, node and subnet ([`RecordedWorkload::from_trail`]) — and shown to the user,
//!   since what a trail cannot tell (when a NodeENI was created or deleted) is assumed.
//!
//! A recorded workload (audit log or reconstruction) runs as a `recorded` scenario on
//! [`base`]. Both come from the one table of the [`Recording`], so the workload and the
//! moments read the same rows.

use std::path::PathBuf;

use serde::Serialize;

use super::recording::Recording;
use crate::controller::profile::GoDuration;
use crate::scenario::ScenarioSpec;
use crate::workload::{AuditOptions, RecordedWorkload, WorkloadError};

/// Where the user asked the workload to come from.
#[derive(Debug, Clone)]
pub enum Choice {
    /// A Kubernetes audit log (JSON lines of `audit.k8s.io/v1` Events).
    AuditLog(PathBuf),
    /// A scenario (resolved from a built-in name or a file).
    Scenario(Box<ScenarioSpec>),
    /// Neither: reconstructed from the controller's calls in the trail.
    Reconstruct,
}

/// Where the workload came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    Scenario,
    AuditLog,
    Reconstructed,
}

/// The workload a calibration simulates.
#[derive(Debug, Clone)]
pub struct Workload {
    pub origin: Origin,
    /// The scenario simulated (a `recorded` one unless the user gave a scenario).
    pub scenario: ScenarioSpec,
    /// The recorded workload (audit log or reconstruction).
    pub recorded: Option<RecordedWorkload>,
}

/// The scenario a recorded workload runs on: the `burst` scenario's instance type,
/// security groups and run settings (`--set enisim.scenario.instanceType=…` changes
/// them), with no observation beyond the recording's own window — a recorded run goes on
/// to the recording's last second anyway, and burst's extra minute would give the
/// simulated trails verify calls and tenant calls past the end of the recorded one.
pub fn base() -> ScenarioSpec {
    let mut s = ScenarioSpec::embedded("burst").expect("burst is built in");
    s.run.observe_after_converged = GoDuration(0);
    s
}

/// The `--set`/`--values` keys that shape a scenario's cluster, which a recorded workload
/// takes from the recording instead.
const SHAPE_KEYS: [&str; 4] = [
    "enisim.scenario.nodes",
    "enisim.scenario.enisPerNode",
    "enisim.scenario.layout",
    "enisim.scenario.deviceIndex",
];

/// What calibration.json says of the workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub origin: Origin,
    pub scenario: String,
    pub kind: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_log: Option<PathBuf>,
    /// The recorded workload's NodeENIs, nodes and attachments (none for a scenario).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodeenis: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<usize>,
    /// What was left out or assumed.
    pub warnings: Vec<String>,
}

impl Workload {
    /// The workload `choice` names, from `rec` (its scope for an audit log's trail).
    pub fn of(rec: &Recording, choice: Choice) -> Result<Workload, WorkloadError> {
        let (origin, recorded) = match choice {
            Choice::Scenario(scenario) => {
                return Ok(Workload {
                    origin: Origin::Scenario,
                    scenario: *scenario,
                    recorded: None,
                })
            }
            Choice::AuditLog(path) => (
                Origin::AuditLog,
                RecordedWorkload::from_audit_log(
                    &path,
                    Some(&rec.table),
                    &AuditOptions {
                        scope: rec.scope.clone(),
                    },
                )?,
            ),
            Choice::Reconstruct => (
                Origin::Reconstructed,
                RecordedWorkload::from_trail(&rec.table, &rec.scope)?,
            ),
        };
        Ok(Workload {
            origin,
            scenario: recorded.scenario(&base()),
            recorded: Some(recorded),
        })
    }

    /// `Err` (naming the key) when a key given with `--set`/`--values` would reshape a
    /// recorded workload's cluster, which is the recording's.
    pub fn check_keys(&self, given: &[String]) -> Result<(), String> {
        if self.recorded.is_none() {
            return Ok(());
        }
        match given.iter().find(|k| SHAPE_KEYS.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "{k}: the workload is {}, whose nodes, NodeENIs and subnets are the recording's; give a scenario (SCENARIO or --scenario) to calibrate against a workload of your own",
                self.origin_text()
            )),
            None => Ok(()),
        }
    }

    fn origin_text(&self) -> String {
        match (&self.origin, &self.recorded.as_ref().map(|r| &r.source)) {
            (Origin::AuditLog, Some(crate::workload::Source::AuditLog(p))) => {
                format!("the audit log {}", p.display())
            }
            (Origin::AuditLog, _) => "the audit log".into(),
            (Origin::Reconstructed, _) => "reconstructed from the controller's calls".into(),
            (Origin::Scenario, _) => format!("the scenario {}", self.scenario.name),
        }
    }

    /// What the user is shown before the fit: the scenario as given (`simulated`: after
    /// `--set`), or the recorded workload (counts, one line per NodeENI, what was assumed
    /// or left out).
    pub fn summary(&self, simulated: &ScenarioSpec) -> String {
        let c = &simulated.cluster;
        match &self.recorded {
            None => format!(
                "workload: scenario {} ({} nodes × {} ENIs, {}, kind {}), as given\n",
                simulated.name,
                c.nodes,
                c.enis_per_node,
                c.layout.as_str(),
                simulated.kind.as_str()
            ),
            Some(w) => {
                let why = match self.origin {
                    Origin::Reconstructed => " (no scenario or audit log given)",
                    _ => "",
                };
                format!(
                    "the recorded workload, {}{why}:\n{}{}",
                    self.origin_text(),
                    w.describe(),
                    w.nodeeni_lines(20)
                )
            }
        }
    }

    /// A recorded workload as a scenario file (`scenario` being the one simulated, after
    /// `--set`), to read, edit and give back as SCENARIO; `None` for a given scenario.
    pub fn scenario_file(&self, scenario: &ScenarioSpec) -> Option<String> {
        self.recorded
            .as_ref()
            .map(|w| w.scenario_yaml_by(scenario, "enisim calibrate"))
    }

    pub fn note(&self) -> Note {
        let w = self.recorded.as_ref();
        Note {
            origin: self.origin,
            scenario: self.scenario.name.clone(),
            kind: self.scenario.kind.as_str().into(),
            description: self.scenario.description.clone(),
            audit_log: w.and_then(|w| match &w.source {
                crate::workload::Source::AuditLog(p) => Some(p.clone()),
                crate::workload::Source::Trail => None,
            }),
            nodeenis: w.map(|w| w.nodeenis.len()),
            nodes: w.map(|w| w.nodes.len()),
            attachments: w.map(|w| w.desired_attachments()),
            warnings: w.map(|w| w.warnings.clone()).unwrap_or_default(),
        }
    }
}
