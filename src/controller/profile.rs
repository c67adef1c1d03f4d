//! A controller profile: one release's defaults, hard-coded timings and behaviour switches
//! (`models/controller/v1.3.8.yaml`, embedded; overridable by path). Helm values and
//! `--set` overrides are applied on top of a profile (see `scenario::values`).

use super::circuit_breaker::BreakerWiring;
use crate::aws::{RetryMode, SdkJitter};
use crate::engine::time::{format_go_duration, parse_go_duration};
use crate::engine::{Distribution, Nanos};
use crate::input::{parse_yaml, read_text, InputError};
use crate::plausible::{validate_section, PlausibleSection};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::Path;

pub const EMBEDDED_PATH: &str = "models/controller/v1.3.8.yaml";
const EMBEDDED: &str = include_str!("../../models/controller/v1.3.8.yaml");

/// A Go duration string in YAML ("15s", "5m").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoDuration(pub Nanos);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_go_duration(&s)
            .map(GoDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_go_duration(self.0))
    }
}

/// The controller's environment-driven settings (pkg/config/config.go, CFG:90-105).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSettings {
    pub reconcile_period: GoDuration,
    pub detachment_timeout: GoDuration,
    pub max_concurrent_reconciles: u32,
    pub max_concurrent_eni_cleanup: u32,
    pub max_cleanup_duration: GoDuration,
    pub default_device_index: u32,
    pub default_delete_on_termination: bool,
    pub circuit_breaker_enabled: bool,
    pub circuit_breaker_failure_threshold: u32,
    pub circuit_breaker_success_threshold: u32,
    pub circuit_breaker_timeout: GoDuration,
    pub aws_retry_mode: RetryMode,
    pub aws_max_attempts: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NodeOrder {
    /// The informer cache's list order: effectively random per reconcile
    /// (controller-v1.3.8.md §12.8), drawn from a seeded stream.
    #[default]
    Random,
    /// By node name, for hand-checked cases.
    Sorted,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    pub rate_per_s: f64,
    pub burst: u32,
}

/// Behaviour switches: the defaults reproduce v1.3.8; the others are named what-ifs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Status writes re-trigger the key (no GenerationChanged predicate; §4). `false` =
    /// reconcile paced by ReconcilePeriod (status-only updates do not enqueue).
    pub self_trigger: bool,
    pub node_order: NodeOrder,
    pub circuit_breaker: BreakerWiring,
    /// What-if: the nodes of one NodeENI processed in parallel.
    pub parallel_nodes: bool,
    /// What-if: no create on an instance whose default card is full.
    pub eni_limit_aware: bool,
    /// What-if: a client-side EC2 rate limiter (x/time/rate) before every call.
    pub ec2_rate_limit: Option<RateLimitSpec>,
    /// The IMDS hop-limit job (Helm `imds.autoConfigureHopLimit`, default true): at start
    /// and on a 5-minute ticker, STS + DescribeInstances calls (C:2529; §6).
    pub imds_job: Option<ImdsJob>,
    /// The SDK's back-off jitter: `random` (as the SDK draws it) or `max` (every draw at
    /// its maximum, for attempt-for-attempt comparison with another model).
    #[serde(default)]
    pub sdk_jitter: SdkJitter,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImdsJob {
    pub period: GoDuration,
    pub describe_instances_per_run: u32,
}

/// `wait.Backoff` of the wrappers (E:340…; C:1111, 1163): Steps 5, 1 s, ×2, jitter 0.1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffSpec {
    pub steps: u32,
    pub initial: GoDuration,
    pub factor: f64,
    pub jitter: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSpec {
    /// controller-runtime v0.14.6 `GetConfig`: QPS 20 / burst 30.
    pub api_qps: f64,
    pub api_burst: u32,
    /// apiserver round trip of a write (assumption).
    pub api_latency: Distribution,
    /// From a write to the watch event reaching the work queue (assumption).
    pub watch_delay: Distribution,
    /// The kubelet's Node status posts, each a Node update event the controller maps to
    /// every matching NodeENI (C:138-186, no predicate). `None`: no Node updates.
    #[serde(default)]
    pub kubelet: Option<KubeletSpec>,
}

/// The kubelet's node-status loop: `wait.JitterUntil(syncNodeStatus,
/// nodeStatusUpdateFrequency, 0.04, sliding)` (pkg/kubelet/kubelet.go); an unchanged status
/// is posted at the first tick at least `nodeStatusReportFrequency` after the last post
/// (pkg/kubelet/kubelet_node_status.go, tryUpdateNodeStatus).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeletSpec {
    pub node_status_update_frequency: GoDuration,
    pub node_status_report_frequency: GoDuration,
    /// JitterUntil's jitter factor: each tick lasts `update · (1 + jitter · U[0,1))`.
    pub update_jitter: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerProfile {
    pub name: String,
    pub env: EnvSettings,
    pub behaviour: Behaviour,
    pub wrapper_backoff: BackoffSpec,
    /// Subnet/security-group cache TTL, one shared clock (E:70).
    pub cache_ttl: GoDuration,
    pub kubernetes: KubernetesSpec,
    /// Per-operation costs for CPU and memory (see `resources`).
    pub costs: Costs,
    pub eni_manager: EniManagerCosts,
    /// Plausible ranges of the assumed values, keyed by `controller::named` names.
    #[serde(default, skip_serializing_if = "PlausibleSection::is_empty")]
    pub plausible: PlausibleSection,
}

/// What the controller process spends per operation (all assumptions, each with the
/// Prometheus series a user calibrates it from; see models/controller/v1.3.8.yaml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Costs {
    pub cpu_window: GoDuration,
    pub cpu_base_millicores: f64,
    pub cpu_ms_per_reconcile: f64,
    pub cpu_ms_per_ec2_attempt: f64,
    pub cpu_ms_per_status_write: f64,
    pub cpu_ms_per_meta_write: f64,
    pub cpu_ms_per_watch_event: f64,
    pub memory_base_mib: f64,
    pub memory_kib_per_node: f64,
    pub memory_kib_per_nodeeni: f64,
    pub memory_kib_per_attachment: f64,
    pub memory_kib_per_inflight_call: f64,
    pub memory_kib_per_busy_worker: f64,
    /// Whether these costs were fitted to a real controller's metrics (a calibration sets
    /// `calibrated: true`); the shipped costs are assumptions. `recommend` never sizes
    /// `resources` below the chart's defaults from costs that are not calibrated. Left out
    /// of the serialised profile when false, so sweep fingerprints do not change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub calibrated: bool,
}

/// The ENI Manager DaemonSet pod on each node: two unsynchronised 30 s loops, each listing
/// every NodeENI (uncached) and GETting its Node per NodeENI (controller-v1.3.8.md §9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EniManagerCosts {
    pub loop_interval: GoDuration,
    pub loops: u32,
    pub cpu_ms_per_loop: f64,
    pub cpu_ms_per_nodeeni_per_loop: f64,
    pub memory_base_mib: f64,
    pub memory_kib_per_nodeeni: f64,
}

/// What v1.3.8 does with `CIRCUIT_BREAKER_ENABLED`: parses it (CFG:293-299), validates
/// the thresholds when it is true (CFG:152-161), builds a breaker and logs "Circuit breaker
/// enabled" (C:99-114) — and no AWS call ever goes through it (`executeWithCircuitBreaker`
/// and `executeWithEnhancedRetry`, C:446-491, have no caller). The model ignores it too,
/// except under `enisim.whatIf.circuitBreaker`, where it decides whether the wired breaker
/// exists (C:100; C:448 runs the call directly when there is none).
pub const CIRCUIT_BREAKER_ENABLED_WARNING: &str = "CIRCUIT_BREAKER_ENABLED has no effect in v1.3.8 (the breaker is built but no AWS call goes through it); use enisim.whatIf.circuitBreaker to model a wired one";

/// The warning for a values / `--set` key that the controller reads but that changes
/// nothing, if `key` is one (`enisim.env.CIRCUIT_BREAKER_ENABLED`, or the bare env name).
pub fn inert_key_warning(key: &str) -> Option<&'static str> {
    let name = key.rsplit('.').next().unwrap_or(key);
    (name == "CIRCUIT_BREAKER_ENABLED").then_some(CIRCUIT_BREAKER_ENABLED_WARNING)
}

impl ControllerProfile {
    /// Warnings for the keys a user set (their `--set` / values-file keys): a key v1.3.8
    /// reads but ignores is named, unless a what-if makes it matter (the wired breaker).
    pub fn warnings<'a>(&self, keys_set: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let wired = self.behaviour.circuit_breaker != BreakerWiring::Off;
        let mut out: Vec<String> = Vec::new();
        for k in keys_set {
            if let Some(w) = inert_key_warning(k) {
                if !wired && !out.iter().any(|o| o == w) {
                    out.push(w.to_string());
                }
            }
        }
        out
    }

    pub fn embedded() -> ControllerProfile {
        Self::from_str(Path::new(EMBEDDED_PATH), EMBEDDED)
            .unwrap_or_else(|e| panic!("the embedded controller profile is invalid: {e}"))
    }

    pub fn load(path: &Path) -> Result<ControllerProfile, InputError> {
        let text = read_text(path)?;
        Self::from_str(path, &text)
    }

    pub fn from_str(file: &Path, text: &str) -> Result<ControllerProfile, InputError> {
        let p: ControllerProfile = parse_yaml(file, text)?;
        p.validate()
            .map_err(|(k, m)| InputError::for_yaml_key(file, text, &k, m))?;
        validate_section(file, text, &p.plausible, |n| p.named(n))?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), (String, String)> {
        let e = &self.env;
        if e.max_concurrent_reconciles == 0 {
            return Err(("env.max_concurrent_reconciles".into(), "must be ≥ 1".into()));
        }
        if e.max_concurrent_eni_cleanup == 0 {
            return Err((
                "env.max_concurrent_eni_cleanup".into(),
                "must be ≥ 1".into(),
            ));
        }
        if e.detachment_timeout.0 == 0 {
            return Err(("env.detachment_timeout".into(), "must be > 0".into()));
        }
        // LoadControllerConfig refuses to start (CFG:152-161).
        if e.circuit_breaker_enabled
            && (e.circuit_breaker_failure_threshold == 0
                || e.circuit_breaker_success_threshold == 0
                || e.circuit_breaker_timeout.0 == 0)
        {
            return Err((
                "env.circuit_breaker_enabled".into(),
                "with the circuit breaker enabled, its failure and success thresholds and its timeout must be positive (CFG:152-161)".into(),
            ));
        }
        if e.aws_max_attempts == Some(0) {
            return Err(("env.aws_max_attempts".into(), "must be ≥ 1".into()));
        }
        let b = &self.wrapper_backoff;
        if b.steps == 0 || b.factor < 1.0 || !(0.0..=1.0).contains(&b.jitter) {
            return Err((
                "wrapper_backoff".into(),
                "steps ≥ 1, factor ≥ 1 and jitter in [0, 1] are required".into(),
            ));
        }
        if let Some(r) = &self.behaviour.ec2_rate_limit {
            if r.rate_per_s.is_nan() || r.rate_per_s <= 0.0 || r.burst == 0 {
                return Err((
                    "behaviour.ec2_rate_limit".into(),
                    "rate_per_s must be > 0 and burst ≥ 1".into(),
                ));
            }
        }
        let c = &self.costs;
        for (name, v) in [
            ("cpu_base_millicores", c.cpu_base_millicores),
            ("cpu_ms_per_reconcile", c.cpu_ms_per_reconcile),
            ("cpu_ms_per_ec2_attempt", c.cpu_ms_per_ec2_attempt),
            ("cpu_ms_per_status_write", c.cpu_ms_per_status_write),
            ("cpu_ms_per_meta_write", c.cpu_ms_per_meta_write),
            ("cpu_ms_per_watch_event", c.cpu_ms_per_watch_event),
            ("memory_base_mib", c.memory_base_mib),
            ("memory_kib_per_node", c.memory_kib_per_node),
            ("memory_kib_per_nodeeni", c.memory_kib_per_nodeeni),
            ("memory_kib_per_attachment", c.memory_kib_per_attachment),
            (
                "memory_kib_per_inflight_call",
                c.memory_kib_per_inflight_call,
            ),
            ("memory_kib_per_busy_worker", c.memory_kib_per_busy_worker),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err((format!("costs.{name}"), format!("must be ≥ 0, got {v}")));
            }
        }
        if c.cpu_window.0 == 0 {
            return Err(("costs.cpu_window".into(), "must be > 0".into()));
        }
        let m = &self.eni_manager;
        if m.loop_interval.0 == 0 {
            return Err(("eni_manager.loop_interval".into(), "must be > 0".into()));
        }
        let k = &self.kubernetes;
        k.api_latency
            .validate()
            .map_err(|m| ("kubernetes.api_latency".to_string(), m))?;
        k.watch_delay
            .validate()
            .map_err(|m| ("kubernetes.watch_delay".to_string(), m))?;
        if let Some(kl) = &k.kubelet {
            if kl.node_status_update_frequency.0 == 0 || kl.node_status_report_frequency.0 == 0 {
                return Err((
                    "kubernetes.kubelet".into(),
                    "node_status_update_frequency and node_status_report_frequency must be > 0"
                        .into(),
                ));
            }
            if !(0.0..=1.0).contains(&kl.update_jitter) {
                return Err((
                    "kubernetes.kubelet.update_jitter".into(),
                    "must be in [0, 1]".into(),
                ));
            }
        }
        Ok(())
    }
}
