//! Scenarios as data (`models/scenarios/*.yaml`, embedded; a path works too).

use crate::controller::profile::GoDuration;
use crate::engine::Nanos;
use crate::input::{parse_yaml, read_text, InputError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How the 10 × 10 attachments are spread over NodeENI objects; it decides how much the
/// reconcile workers can overlap (one key is never reconciled by two workers, and inside
/// one NodeENI nodes and subnets are processed one after another; §6 of
/// queues-and-oracles.md, controller-v1.3.8.md §12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One NodeENI per subnet, each selecting every node.
    SubnetPerNodeeni,
    /// One NodeENI with every subnet, selecting every node.
    OneNodeeni,
    /// One NodeENI per node, each with every subnet.
    NodeeniPerNode,
}

impl Layout {
    pub fn parse(s: &str) -> Option<Layout> {
        match s {
            "subnet-per-nodeeni" => Some(Layout::SubnetPerNodeeni),
            "one-nodeeni" => Some(Layout::OneNodeeni),
            "nodeeni-per-node" => Some(Layout::NodeeniPerNode),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::SubnetPerNodeeni => "subnet-per-nodeeni",
            Layout::OneNodeeni => "one-nodeeni",
            Layout::NodeeniPerNode => "nodeeni-per-node",
        }
    }
}

/// `spec.deviceIndex` of the NodeENIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceIndexPlan {
    /// Every NodeENI leaves the CRD default (1).
    Default,
    /// With one NodeENI per subnet, NodeENI i sets deviceIndex i + 1.
    Distinct,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub nodes: u32,
    pub enis_per_node: u32,
    pub instance_type: String,
    pub layout: Layout,
    pub device_index: DeviceIndexPlan,
    /// Security groups referenced by name (each costs a cached look-up).
    #[serde(default)]
    pub security_group_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// A replication stops here whatever happens.
    pub horizon: GoDuration,
    /// Kept running this long after every attachment is in place (steady-state load).
    pub observe_after_converged: GoDuration,
    /// How often the run checks whether it has converged (resolution of the stop, not of
    /// the measured times, which come from the event records).
    pub monitor_interval: GoDuration,
    pub replications: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    pub description: String,
    pub cluster: ClusterSpec,
    pub run: RunSpec,
}

const EMBEDDED: &[(&str, &str)] = &[("burst", include_str!("../../models/scenarios/burst.yaml"))];

impl ScenarioSpec {
    /// The scenarios built into the binary, by name.
    pub fn embedded_names() -> Vec<&'static str> {
        EMBEDDED.iter().map(|(n, _)| *n).collect()
    }

    pub fn embedded(name: &str) -> Option<ScenarioSpec> {
        EMBEDDED.iter().find(|(n, _)| *n == name).map(|(n, text)| {
            let path = format!("models/scenarios/{n}.yaml");
            Self::from_str(Path::new(&path), text)
                .unwrap_or_else(|e| panic!("embedded scenario {n} is invalid: {e}"))
        })
    }

    /// A name of an embedded scenario, or a path to a scenario file.
    pub fn resolve(name_or_path: &str) -> Result<ScenarioSpec, InputError> {
        if let Some(s) = Self::embedded(name_or_path) {
            return Ok(s);
        }
        let path = Path::new(name_or_path);
        if path.exists() {
            return Self::load(path);
        }
        Err(InputError::new(
            path,
            format!(
                "no such scenario; built in: {}",
                Self::embedded_names().join(", ")
            ),
        ))
    }

    pub fn load(path: &Path) -> Result<ScenarioSpec, InputError> {
        let text = read_text(path)?;
        Self::from_str(path, &text)
    }

    pub fn from_str(file: &Path, text: &str) -> Result<ScenarioSpec, InputError> {
        let s: ScenarioSpec = parse_yaml(file, text)?;
        s.validate()
            .map_err(|(k, m)| InputError::for_yaml_key(file, text, &k, m))?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), (String, String)> {
        let c = &self.cluster;
        if c.nodes == 0 {
            return Err(("cluster.nodes".into(), "must be ≥ 1".into()));
        }
        if c.enis_per_node == 0 {
            return Err(("cluster.enis_per_node".into(), "must be ≥ 1".into()));
        }
        if c.enis_per_node > 64 {
            return Err(("cluster.enis_per_node".into(), "at most 64".into()));
        }
        let r = &self.run;
        if r.horizon.0 == 0 {
            return Err(("run.horizon".into(), "must be > 0".into()));
        }
        if r.monitor_interval.0 == 0 {
            return Err(("run.monitor_interval".into(), "must be > 0".into()));
        }
        if r.replications == 0 {
            return Err(("run.replications".into(), "must be ≥ 1".into()));
        }
        Ok(())
    }

    pub fn horizon(&self) -> Nanos {
        self.run.horizon.0
    }
}
