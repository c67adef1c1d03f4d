//! The NodeENI workload a recording shows (calibration.md §5, "Workload"): which NodeENIs
//! existed, on which nodes and subnets they asked for ENIs and when, which were deleted,
//! which nodes went away — reconstructed from the controller's own CloudTrail calls
//! ([`RecordedWorkload::from_trail`]) or read from a Kubernetes audit log
//! ([`RecordedWorkload::from_audit_log`]). Either way it becomes a `recorded` scenario
//! ([`RecordedWorkload::scenario`]) that the `scenario` module runs and `enisim run` reads
//! back from a file ([`RecordedWorkload::scenario_yaml`]).
//!
//! Times are seconds from the recording's first record (`start_ns`), at the trail's one
//! second resolution. What the recording cannot tell is chosen and said:
//! * a node is there from second 0 (a trail does not show when a Node object appeared);
//! * a NodeENI is created when the controller's busy period holding its first Create began
//!   (calls with gaps of at most [`Reconstruction::busy_gap_s`], 10 s in
//!   `models/workload/reconstruction.yaml`; a NodeENI waits in the work queue while the
//!   workers are busy) — the audit log gives the exact time;
//! * the end of an attachment is its first Detach (or Delete) by the controller; a node
//!   whose every attachment ended while its NodeENIs kept others, or whose instance was
//!   terminated, left; a NodeENI whose every attachment on remaining nodes ended was
//!   deleted; other endings are warned about and not replayed.
//!
//! ```no_run
//! use enisim::workload::{RecordedWorkload, Scope, Trail};
//! use enisim::scenario::ScenarioSpec;
//! let trail = Trail::load(&["traces/synthetic-burst".into()]).unwrap();
//! let w = RecordedWorkload::from_trail(&trail, &Scope::default()).unwrap();
//! let scenario = w.scenario(&ScenarioSpec::embedded("burst").unwrap());
//! println!("{}", w.scenario_yaml(&scenario));
//! ```

mod audit;
mod error;
mod reconstruct;
mod reconstruction;
mod trail;

pub use audit::{audit_log_of_run, AuditOptions};
pub use error::WorkloadError;
pub use reconstruction::Reconstruction;
pub(crate) use trail::Columns;
pub use trail::{Scope, Trail};

use crate::controller::profile::GoDuration;
use crate::engine::SECOND;
use crate::scenario::limits;
use crate::scenario::recorded::{RecordedNode, RecordedNodeEni, RecordedSpec};
use crate::scenario::spec::{ClusterSpec, Kind, RunSpec, ScenarioSpec};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where the workload came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Reconstructed from the controller's calls in the trail.
    Trail,
    /// Read from a Kubernetes audit log (timelines from the trail beside it, if any).
    AuditLog(PathBuf),
}

/// One (NodeENI, node, subnet) attachment as the trail shows it (seconds from the start).
/// From the audit log alone, only what the status writes say is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachmentTimeline {
    pub nodeeni: String,
    pub node: String,
    pub subnet: String,
    /// The ENI that was attached (else the first one created).
    pub eni: Option<String>,
    pub instance: Option<String>,
    /// The first CreateNetworkInterface attempt for it.
    pub first_asked_s: f64,
    /// CreateNetworkInterface attempts (throttled and churned ones included).
    pub creates: u32,
    /// The first successful Create.
    pub created_s: Option<f64>,
    /// The first successful Attach.
    pub attached_s: Option<f64>,
    pub device_index: Option<u32>,
    pub detached_s: Option<f64>,
    pub deleted_s: Option<f64>,
}

/// The NodeENI workload a recording shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedWorkload {
    pub source: Source,
    /// Second 0, ns since the epoch: the first record of the trail's chosen scope (or of
    /// the audit log, without a trail).
    pub start_ns: i64,
    /// Seconds from the first to the last record.
    pub span_s: f64,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Subnet ids in order of first use.
    pub subnets: Vec<String>,
    pub nodes: Vec<RecordedNode>,
    pub nodeenis: Vec<RecordedNodeEni>,
    /// Per attachment, what the trail shows (empty from an audit log alone).
    pub attachments: Vec<AttachmentTimeline>,
    /// Calls by the controller in the trail's scope.
    pub controller_calls: u64,
    /// What was left out or assumed, for the user.
    pub warnings: Vec<String>,
}

impl RecordedWorkload {
    /// Reconstructed from the controller's calls in `trail` (the account and region of
    /// `scope`). A trail without controller calls gives an empty workload and a warning;
    /// controller calls none of which can be tied to a NodeENI, node and subnet are an
    /// error naming the record and key.
    pub fn from_trail(trail: &Trail, scope: &Scope) -> Result<RecordedWorkload, WorkloadError> {
        reconstruct::from_trail(trail, scope, &Reconstruction::embedded())
    }

    /// [`RecordedWorkload::from_trail`] under other reconstruction assumptions.
    pub fn from_trail_with(
        trail: &Trail,
        scope: &Scope,
        settings: &Reconstruction,
    ) -> Result<RecordedWorkload, WorkloadError> {
        reconstruct::from_trail(trail, scope, settings)
    }

    /// Read from a Kubernetes audit log (JSON lines of `audit.k8s.io/v1` Events: NodeENI
    /// create/update/delete and status writes). With a trail, the attachment timelines
    /// come from the trail's controller calls and second 0 is the trail's; NodeENIs the
    /// trail never touches are warned about, and an audit log none of whose NodeENIs the
    /// trail touches is an error.
    pub fn from_audit_log(
        path: &Path,
        trail: Option<&Trail>,
        opts: &AuditOptions,
    ) -> Result<RecordedWorkload, WorkloadError> {
        audit::from_audit_log(path, trail, opts)
    }

    /// One order whatever the source (so that two sources of one recording compare equal
    /// although their times differ within the trail's resolution): NodeENIs by name, nodes by name (also
    /// within a NodeENI), subnets by first use in that order, attachments by (first ask,
    /// NodeENI, node, subnet). A NodeENI's own subnets keep their order (the controller
    /// works through them in spec order).
    pub(crate) fn canonicalise(&mut self) {
        self.nodeenis.sort_by(|a, b| a.name.cmp(&b.name));
        for e in &mut self.nodeenis {
            e.nodes.sort();
        }
        self.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut subnets: Vec<String> = Vec::new();
        for e in &self.nodeenis {
            for s in &e.subnets {
                if !subnets.contains(s) {
                    subnets.push(s.clone());
                }
            }
        }
        for s in &self.subnets {
            if !subnets.contains(s) {
                subnets.push(s.clone());
            }
        }
        self.subnets = subnets;
        self.attachments.sort_by(|a, b| {
            a.first_asked_s.total_cmp(&b.first_asked_s).then_with(|| {
                (&a.nodeeni, &a.node, &a.subnet).cmp(&(&b.nodeeni, &b.node, &b.subnet))
            })
        });
    }

    /// No NodeENI to replay.
    pub fn is_empty(&self) -> bool {
        self.nodeenis.is_empty()
    }

    /// Attachments the NodeENIs ask for (their nodes × subnets).
    pub fn desired_attachments(&self) -> usize {
        self.nodeenis
            .iter()
            .map(|e| e.nodes.len() * e.subnets.len())
            .sum()
    }

    /// The scenario file's `recorded` section.
    pub fn recorded_spec(&self) -> RecordedSpec {
        RecordedSpec {
            start_time: crate::trace::format_time_s(self.start_ns),
            span_s: self.span_s,
            subnets: self.subnets.clone(),
            nodes: self.nodes.clone(),
            nodeenis: self.nodeenis.clone(),
        }
    }

    /// A `recorded` scenario: this workload, on `base`'s instance type, security groups
    /// and run settings; the horizon is the recording's span plus `base`'s horizon (so
    /// the controller has as long after the last event as a `base` run has), within the
    /// model's limit.
    pub fn scenario(&self, base: &ScenarioSpec) -> ScenarioSpec {
        let per_node = self
            .nodes
            .iter()
            .map(|n| {
                self.nodeenis
                    .iter()
                    .filter(|e| e.nodes.contains(&n.name))
                    .map(|e| e.subnets.len() as u32)
                    .sum::<u32>()
            })
            .max()
            .unwrap_or(0);
        let span = GoDuration((self.span_s.max(0.0) * SECOND as f64).ceil() as u64);
        let horizon = (span.0 + base.run.horizon.0).min(limits::MAX_HORIZON_S * SECOND);
        let source = match &self.source {
            Source::Trail => "the trail's controller calls".to_string(),
            Source::AuditLog(p) => format!("the audit log {}", p.display()),
        };
        ScenarioSpec {
            name: "recorded".into(),
            description: format!(
                "recorded workload from {source}: {} NodeENIs, {} nodes, {} attachments over {:.0} s",
                self.nodeenis.len(),
                self.nodes.len(),
                self.desired_attachments(),
                self.span_s
            ),
            kind: Kind::Recorded,
            cluster: ClusterSpec {
                nodes: (self.nodes.len() as u32).max(1),
                enis_per_node: per_node.clamp(1, limits::MAX_ENIS_PER_NODE as u32),
                ..base.cluster.clone()
            },
            run: RunSpec {
                horizon: GoDuration(horizon),
                ..base.run.clone()
            },
            gradual: None,
            mixed: None,
            faults: base.faults.clone(),
            scale_down: None,
            recorded: Some(self.recorded_spec()),
        }
    }

    /// The scenario as a file `enisim run` accepts, with a header saying where it came from.
    pub fn scenario_yaml(&self, scenario: &ScenarioSpec) -> String {
        self.scenario_yaml_by(scenario, "enisim replay")
    }

    /// As [`RecordedWorkload::scenario_yaml`], the header naming the command `by` that wrote it.
    pub fn scenario_yaml_by(&self, scenario: &ScenarioSpec, by: &str) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "# Written by `{by}`: the NodeENI workload a recording shows.\n"
        ));
        out.push_str(
            "# Times are seconds from recorded.start_time. Edit and run with `enisim run FILE`.\n",
        );
        for w in &self.warnings {
            out.push_str(&format!("# note: {w}\n"));
        }
        out.push_str(&serde_yaml_ng::to_string(scenario).unwrap_or_default());
        out
    }

    /// Per NodeENI, seconds from its first Create to its last attachment's first
    /// successful Attach (the NodeENI's create → attach chain), for those fully attached.
    pub fn chain_durations(&self) -> Vec<(String, f64)> {
        self.nodeenis
            .iter()
            .filter_map(|e| {
                let mine: Vec<&AttachmentTimeline> = self
                    .attachments
                    .iter()
                    .filter(|a| a.nodeeni == e.name)
                    .collect();
                if mine.is_empty() || mine.iter().any(|a| a.attached_s.is_none()) {
                    return None;
                }
                let start = mine
                    .iter()
                    .map(|a| a.first_asked_s)
                    .fold(f64::INFINITY, f64::min);
                let end = mine
                    .iter()
                    .filter_map(|a| a.attached_s)
                    .fold(f64::NEG_INFINITY, f64::max);
                Some((e.name.clone(), end - start))
            })
            .collect()
    }

    /// Seconds from second 0 until every recorded attachment had been attached (the
    /// last first successful Attach), if every one was.
    pub fn all_attached_s(&self) -> Option<f64> {
        if self.attachments.is_empty() || self.attachments.iter().any(|a| a.attached_s.is_none()) {
            return None;
        }
        self.attachments
            .iter()
            .filter_map(|a| a.attached_s)
            .reduce(f64::max)
    }

    /// One line per NodeENI (the first `max`): when it was created and deleted, on how
    /// many nodes and subnets, its device index.
    pub fn nodeeni_lines(&self, max: usize) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let mut out = String::new();
        for e in self.nodeenis.iter().take(max) {
            let deleted = e
                .deleted_s
                .map(|d| format!(", deleted at {d:.0} s"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {}: created at {:.0} s{deleted}, {} node{} × {} subnet{}, device index {}\n",
                e.name,
                e.created_s,
                e.nodes.len(),
                plural(e.nodes.len()),
                e.subnets.len(),
                plural(e.subnets.len()),
                e.device_index
            ));
        }
        if self.nodeenis.len() > max {
            out.push_str(&format!(
                "  … and {} more NodeENIs\n",
                self.nodeenis.len() - max
            ));
        }
        out
    }

    /// A few lines for the user: counts, times, and what was left out.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            out.push_str("no controller workload to replay");
            if self.controller_calls == 0 {
                out.push_str(" (the trail has no call by the controller)");
            }
            out.push('\n');
        } else {
            let deleted = self
                .nodeenis
                .iter()
                .filter(|e| e.deleted_s.is_some())
                .count();
            let gone = self.nodes.iter().filter(|n| n.removed_s.is_some()).count();
            out.push_str(&format!(
                "workload: {} NodeENIs ({} deleted), {} nodes ({} went away), {} subnets, {} attachments; first NodeENI at {:.0} s, last at {:.0} s\n",
                self.nodeenis.len(),
                deleted,
                self.nodes.len(),
                gone,
                self.subnets.len(),
                self.desired_attachments(),
                self.nodeenis.iter().map(|e| e.created_s).fold(f64::INFINITY, f64::min),
                self.nodeenis.iter().map(|e| e.created_s).fold(0.0, f64::max),
            ));
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out
    }
}
