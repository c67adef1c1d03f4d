//! Scenarios as data (`models/scenarios/*.yaml`, embedded; a path works too).

use super::limits;
use crate::controller::profile::GoDuration;
use crate::engine::{Nanos, SECOND};
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

/// The five scenarios of the controller's performance plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Every attachment requested at t = 0.
    #[default]
    Burst,
    /// 1 × 1 up to 10 × 10 along a path of steps.
    Gradual,
    /// Creates, updates and deletes at rates over a window.
    Mixed,
    /// Injected EC2 faults; time to recover.
    Failure,
    /// Every NodeENI deleted, or every node drained and terminated.
    ScaleDown,
    /// A recorded workload, event by event (`enisim replay` writes these).
    Recorded,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Burst => "burst",
            Kind::Gradual => "gradual",
            Kind::Mixed => "mixed",
            Kind::Failure => "failure",
            Kind::ScaleDown => "scale-down",
            Kind::Recorded => "recorded",
        }
    }
}

/// One step of a gradual scale-up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub nodes: u32,
    pub enis_per_node: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradualSpec {
    pub path: Vec<Step>,
    pub step_interval: GoDuration,
}

/// Poisson rates, per minute, of the changes a mixed run makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MixedRates {
    pub create_nodeeni: f64,
    pub delete_nodeeni: f64,
    pub add_subnet: f64,
    pub remove_subnet: f64,
    pub change_selector: f64,
    pub relabel_node: f64,
    pub add_node: f64,
    pub remove_node: f64,
}

impl MixedRates {
    pub fn named(&self) -> [(&'static str, f64); 8] {
        [
            ("create_nodeeni", self.create_nodeeni),
            ("delete_nodeeni", self.delete_nodeeni),
            ("add_subnet", self.add_subnet),
            ("remove_subnet", self.remove_subnet),
            ("change_selector", self.change_selector),
            ("relabel_node", self.relabel_node),
            ("add_node", self.add_node),
            ("remove_node", self.remove_node),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixedSpec {
    /// Changes start once the initial burst has converged and go on this long.
    pub window: GoDuration,
    pub rates_per_min: MixedRates,
    /// Spare nodes (instances) that `add_node` can bring in.
    pub spare_nodes: u32,
    /// Spare subnets that new NodeENIs and `add_subnet` use.
    pub spare_subnets: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScaleDownVariant {
    /// `kubectl delete nodeeni --all`.
    DeleteNodeenis,
    /// Every node drained, its Node object deleted and its instance terminated.
    DrainNodes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleDownSpec {
    pub variant: ScaleDownVariant,
    /// How long after the burst converged the scale-down starts.
    pub after_converged: GoDuration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub kind: Kind,
    pub cluster: ClusterSpec,
    pub run: RunSpec,
    #[serde(default)]
    pub gradual: Option<GradualSpec>,
    #[serde(default)]
    pub mixed: Option<MixedSpec>,
    /// EC2 faults added to the EC2 profile's for this scenario (seconds from t = 0).
    #[serde(default)]
    pub faults: Option<crate::aws::profile::Faults>,
    #[serde(default)]
    pub scale_down: Option<ScaleDownSpec>,
    /// The workload of a recording (kind `recorded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<super::recorded::RecordedSpec>,
}

const EMBEDDED: &[(&str, &str)] = &[
    ("burst", include_str!("../../models/scenarios/burst.yaml")),
    (
        "gradual",
        include_str!("../../models/scenarios/gradual.yaml"),
    ),
    ("mixed", include_str!("../../models/scenarios/mixed.yaml")),
    (
        "failure",
        include_str!("../../models/scenarios/failure.yaml"),
    ),
    (
        "scale-down",
        include_str!("../../models/scenarios/scale-down.yaml"),
    ),
    ("drain", include_str!("../../models/scenarios/drain.yaml")),
];

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
        if c.enis_per_node as u64 > limits::MAX_ENIS_PER_NODE {
            return Err((
                "cluster.enis_per_node".into(),
                format!("at most {}", limits::MAX_ENIS_PER_NODE),
            ));
        }
        if c.nodes as u64 > limits::MAX_NODES {
            return Err((
                "cluster.nodes".into(),
                format!(
                    "at most {} (Kubernetes' scalability limit)",
                    limits::MAX_NODES
                ),
            ));
        }
        let r = &self.run;
        if r.horizon.0 == 0 || r.horizon.0 > limits::MAX_HORIZON_S * SECOND {
            return Err((
                "run.horizon".into(),
                format!("must be > 0 and at most {} h", limits::MAX_HORIZON_S / 3600),
            ));
        }
        if r.monitor_interval.0 == 0 {
            return Err(("run.monitor_interval".into(), "must be > 0".into()));
        }
        let checks = r.horizon.0 / r.monitor_interval.0;
        if checks > limits::MAX_MONITOR_CHECKS {
            return Err((
                "run.monitor_interval".into(),
                format!(
                    "{} convergence checks over the horizon (at most {}): use a monitor_interval of at least {} ms",
                    checks,
                    limits::MAX_MONITOR_CHECKS,
                    r.horizon.0.div_ceil(limits::MAX_MONITOR_CHECKS).div_ceil(1_000_000)
                ),
            ));
        }
        if r.replications == 0 || r.replications as u64 > limits::MAX_REPLICATIONS {
            return Err((
                "run.replications".into(),
                format!("from 1 to {}", limits::MAX_REPLICATIONS),
            ));
        }
        let need = |section: &str, present: bool| {
            if present {
                Ok(())
            } else {
                Err((
                    "kind".to_string(),
                    format!("kind {:?} needs a `{section}` section", self.kind),
                ))
            }
        };
        match self.kind {
            Kind::Burst => {}
            Kind::Gradual => need("gradual", self.gradual.is_some())?,
            Kind::Mixed => need("mixed", self.mixed.is_some())?,
            Kind::Failure => need("faults", self.faults.is_some())?,
            Kind::ScaleDown => need("scale_down", self.scale_down.is_some())?,
            Kind::Recorded => need("recorded", self.recorded.is_some())?,
        }
        if let Some(r) = &self.recorded {
            r.validate()?;
        }
        if let Some(g) = &self.gradual {
            if g.path.is_empty() {
                return Err(("gradual.path".into(), "the path has no step".into()));
            }
            if g.step_interval.0 == 0 {
                return Err(("gradual.step_interval".into(), "must be > 0".into()));
            }
            for (i, w) in g.path.windows(2).enumerate() {
                if w[1].nodes < w[0].nodes || w[1].enis_per_node < w[0].enis_per_node {
                    return Err((
                        format!("gradual.path[{}]", i + 1),
                        format!(
                            "the path shrinks: {} × {} after {} × {}",
                            w[1].nodes, w[1].enis_per_node, w[0].nodes, w[0].enis_per_node
                        ),
                    ));
                }
            }
            for (i, s) in g.path.iter().enumerate() {
                if s.nodes == 0 || s.enis_per_node == 0 || s.enis_per_node > 64 {
                    return Err((
                        format!("gradual.path[{i}]"),
                        "nodes ≥ 1 and 1 ≤ enis_per_node ≤ 64".into(),
                    ));
                }
            }
        }
        if let Some(m) = &self.mixed {
            if m.window.0 == 0 {
                return Err(("mixed.window".into(), "must be > 0".into()));
            }
            for (name, r) in m.rates_per_min.named() {
                if !(r.is_finite() && r >= 0.0) {
                    return Err((
                        format!("mixed.rates_per_min.{name}"),
                        format!("a rate must be ≥ 0, got {r}"),
                    ));
                }
            }
        }
        if let Some(f) = &self.faults {
            f.validate("faults")?;
        }
        Ok(())
    }

    pub fn horizon(&self) -> Nanos {
        self.run.horizon.0
    }
}
