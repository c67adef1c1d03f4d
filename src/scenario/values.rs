//! The controller's knobs the Helm way: `--values FILE` (a values file for the real chart,
//! charts/aws-multi-eni-controller) and `--set key=value`, applied in order like `helm`.
//!
//! - Chart keys the model uses: `controller.maxConcurrentReconciles`,
//!   `controller.maxConcurrentENICleanup` (the only timing knobs the chart exposes;
//!   controller-v1.3.8.md §7).
//! - Knobs the chart does not expose live under `enisim.env.<ENV_VAR>` (the controller's
//!   environment variables), what-if switches under `enisim.whatIf.*` and scenario
//!   parameters under `enisim.scenario.*`. Helm ignores these keys, so one file serves both.
//! - Other chart keys (image, nodeSelector, resources…) are accepted and ignored, and so is
//!   a top-level `env:` block: the chart has no env passthrough and drops it at render
//!   (§6). Anything else is an error that names the nearest valid key.

use super::limits;
use super::spec::{DeviceIndexPlan, Layout, ScenarioSpec};
use crate::aws::RetryMode;
use crate::controller::profile::{GoDuration, ImdsJob, NodeOrder, RateLimitSpec};
use crate::controller::{BreakerWiring, ControllerProfile};
use crate::engine::time::parse_go_duration;
use crate::input::{locate_yaml_key, read_text, InputError};
use serde_yaml_ng::Value;
use std::path::Path;

/// Everything a run is configured by.
#[derive(Debug, Clone)]
pub struct Settings {
    pub controller: ControllerProfile,
    pub scenario: ScenarioSpec,
    /// The keys a values file or `--set` gave, in order (for warnings about knobs that do
    /// nothing in the modelled version).
    pub given: Vec<String>,
}

/// Keys the model reads, with what they take.
pub const KNOWN_KEYS: &[(&str, &str)] = &[
    ("controller.maxConcurrentReconciles", "integer 1..=10000"),
    ("controller.maxConcurrentENICleanup", "integer 1..=10000"),
    ("enisim.env.RECONCILE_PERIOD", "Go duration"),
    ("enisim.env.DETACHMENT_TIMEOUT", "Go duration > 0"),
    ("enisim.env.MAX_CLEANUP_DURATION", "Go duration"),
    ("enisim.env.DEFAULT_DEVICE_INDEX", "integer 0..=127"),
    ("enisim.env.DEFAULT_DELETE_ON_TERMINATION", "true|false"),
    ("enisim.env.CIRCUIT_BREAKER_ENABLED", "true|false"),
    (
        "enisim.env.CIRCUIT_BREAKER_FAILURE_THRESHOLD",
        "integer 1..=1000000",
    ),
    (
        "enisim.env.CIRCUIT_BREAKER_SUCCESS_THRESHOLD",
        "integer 1..=1000000",
    ),
    ("enisim.env.CIRCUIT_BREAKER_TIMEOUT", "Go duration"),
    ("enisim.env.AWS_RETRY_MODE", "standard|adaptive|v2-2026|v1"),
    ("enisim.env.AWS_MAX_ATTEMPTS", "integer 1..=100"),
    ("enisim.whatIf.parallelNodes", "true|false"),
    ("enisim.whatIf.eniLimitAware", "true|false"),
    ("enisim.whatIf.paceByPeriod", "true|false"),
    ("enisim.whatIf.circuitBreaker", "off|v1.3.8|fixed"),
    ("enisim.whatIf.nodeOrder", "random|sorted"),
    ("enisim.whatIf.sdkJitter", "random|max"),
    (
        "enisim.kubelet.nodeStatusReportFrequency",
        "Go duration > 0, or off",
    ),
    ("enisim.whatIf.ec2RateLimit.rate", "requests per second > 0"),
    ("enisim.whatIf.ec2RateLimit.burst", "integer 1..=1000000"),
    ("imds.autoConfigureHopLimit", "true|false"),
    ("enisim.scenario.nodes", "integer 1..=5000"),
    ("enisim.scenario.enisPerNode", "integer 1..=64"),
    ("enisim.scenario.instanceType", "instance type name"),
    (
        "enisim.scenario.layout",
        "subnet-per-nodeeni|one-nodeeni|nodeeni-per-node",
    ),
    ("enisim.scenario.deviceIndex", "distinct|default"),
    ("enisim.scenario.horizon", "Go duration, > 0, ≤ 168h"),
    ("enisim.scenario.replications", "integer 1..=100000"),
];

/// Chart keys (every key of the chart's values.yaml from its first release to v1.3.8, and
/// the keys of its perf-test values file) that do not move the model.
const IGNORED_PREFIXES: &[&str] = &[
    "cloudNativeAuth",
    "image",
    "namespace",
    "awsRegion",
    "controller.enableLeaderElection",
    "controller.metricsAddr",
    "controller.terminationGracePeriodSeconds",
    "eniManager",
    "resources",
    "nodeSelector",
    "securityContext",
    "serviceAccount",
    "rbac",
    "podAnnotations",
    "podLabels",
    "tolerations",
    "affinity",
    "metrics",
    "logLevel",
    "imds.hopLimit",
    "imds.aggressiveConfiguration",
    "env",
    "scaleTest",
    "hpa",
    "pdb",
    "serviceMonitor",
    "grafana",
];

fn is_ignored(key: &str) -> bool {
    IGNORED_PREFIXES
        .iter()
        .any(|p| key == *p || key.starts_with(&format!("{p}.")))
}

/// The valid key closest to `key`.
pub fn nearest_key(key: &str) -> &'static str {
    KNOWN_KEYS
        .iter()
        .map(|(k, _)| {
            (
                *k,
                strsim::jaro_winkler(&k.to_lowercase(), &key.to_lowercase()),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| k)
        .unwrap_or("controller.maxConcurrentReconciles")
}

/// Parses a `--set` value as Helm's strvals does: bools, integers, null, else a string.
pub fn parse_set_value(raw: &str) -> Value {
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => match raw.parse::<i64>() {
            Ok(i) => Value::Number(i.into()),
            Err(_) => Value::String(raw.to_string()),
        },
    }
}

/// A whole number in `min..=max`, checked before any narrowing (so 2³² is an error, not
/// 0 workers).
fn as_uint(v: &Value, min: u64, max: u64) -> Result<u64, String> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) if n < min => Err(format!("must be ≥ {min}, got {n}")),
        Some(n) => Err(format!("at most {max} (the model's bound), got {n}")),
        None => Err(format!(
            "expected a whole number from {min} to {max}, got {}",
            show(v)
        )),
    }
}

/// [`as_uint`] for a `u32` field (`max` ≤ `u32::MAX`).
fn as_u32(v: &Value, min: u64, max: u64) -> Result<u32, String> {
    let n = as_uint(v, min, max.min(u32::MAX as u64))?;
    u32::try_from(n).map_err(|_| format!("at most {}, got {n}", u32::MAX))
}

fn as_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(format!("expected true or false, got {}", show(v))),
    }
}

fn as_str(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(format!("expected a string, got {}", show(v))),
    }
}

fn as_duration(v: &Value) -> Result<GoDuration, String> {
    let s = as_str(v)?;
    parse_go_duration(&s).map(GoDuration)
}

fn as_rate(v: &Value) -> Result<f64, String> {
    let r = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    match r {
        Some(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!("expected a rate > 0, got {}", show(v))),
    }
}

fn show(v: &Value) -> String {
    serde_yaml_ng::to_string(v)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| format!("{v:?}"))
}

fn one_of<T>(v: &Value, parse: impl Fn(&str) -> Option<T>, allowed: &str) -> Result<T, String> {
    let s = as_str(v)?;
    parse(&s).ok_or_else(|| format!("expected one of {allowed}, got {s:?}"))
}

impl Settings {
    pub fn new(controller: ControllerProfile, scenario: ScenarioSpec) -> Self {
        Settings {
            controller,
            scenario,
            given: Vec::new(),
        }
    }

    /// What the user should know about these settings before trusting a run of them
    /// (a key v1.3.8 reads and ignores, for one).
    pub fn warnings(&self) -> Vec<String> {
        self.controller
            .warnings(self.given.iter().map(String::as_str))
    }

    /// Checks the settings as a whole, after every values file and `--set`: the bounds a
    /// scenario file is held to hold for `--set` too.
    pub fn validate(&self) -> Result<(), InputError> {
        self.scenario.validate().map_err(|(k, m)| {
            InputError::new("--set/--values", m).with_key(format!("scenario {k}"))
        })
    }

    /// Applies one key. `Ok(false)` when the key is a chart key the model ignores.
    pub fn apply(&mut self, key: &str, v: &Value) -> Result<bool, String> {
        let used = self.apply_key(key, v)?;
        if used {
            self.given.push(key.to_string());
        }
        Ok(used)
    }

    fn apply_key(&mut self, key: &str, v: &Value) -> Result<bool, String> {
        let env = &mut self.controller.env;
        let beh = &mut self.controller.behaviour;
        let cl = &mut self.scenario.cluster;
        match key {
            "controller.maxConcurrentReconciles" => {
                env.max_concurrent_reconciles = as_u32(v, 1, limits::MAX_WORKERS)?
            }
            "controller.maxConcurrentENICleanup" => {
                env.max_concurrent_eni_cleanup = as_u32(v, 1, limits::MAX_CLEANUP_WORKERS)?
            }
            "enisim.env.RECONCILE_PERIOD" => env.reconcile_period = as_duration(v)?,
            "enisim.env.DETACHMENT_TIMEOUT" => {
                let d = as_duration(v)?;
                if d.0 == 0 {
                    return Err("must be > 0".into());
                }
                env.detachment_timeout = d
            }
            "enisim.env.MAX_CLEANUP_DURATION" => env.max_cleanup_duration = as_duration(v)?,
            "enisim.env.DEFAULT_DEVICE_INDEX" => {
                env.default_device_index = as_u32(v, 0, limits::MAX_DEVICE_INDEX)?
            }
            "enisim.env.DEFAULT_DELETE_ON_TERMINATION" => {
                env.default_delete_on_termination = as_bool(v)?
            }
            "enisim.env.CIRCUIT_BREAKER_ENABLED" => env.circuit_breaker_enabled = as_bool(v)?,
            "enisim.env.CIRCUIT_BREAKER_FAILURE_THRESHOLD" => {
                env.circuit_breaker_failure_threshold = as_u32(v, 1, limits::MAX_BREAKER_THRESHOLD)?
            }
            "enisim.env.CIRCUIT_BREAKER_SUCCESS_THRESHOLD" => {
                env.circuit_breaker_success_threshold = as_u32(v, 1, limits::MAX_BREAKER_THRESHOLD)?
            }
            "enisim.env.CIRCUIT_BREAKER_TIMEOUT" => env.circuit_breaker_timeout = as_duration(v)?,
            "enisim.env.AWS_RETRY_MODE" => {
                env.aws_retry_mode = one_of(v, RetryMode::parse, "standard, adaptive, v2-2026, v1")?
            }
            "enisim.env.AWS_MAX_ATTEMPTS" => {
                env.aws_max_attempts = Some(as_u32(v, 1, limits::MAX_AWS_ATTEMPTS)?)
            }
            "enisim.whatIf.parallelNodes" => beh.parallel_nodes = as_bool(v)?,
            "enisim.whatIf.eniLimitAware" => beh.eni_limit_aware = as_bool(v)?,
            "enisim.whatIf.paceByPeriod" => beh.self_trigger = !as_bool(v)?,
            "enisim.whatIf.circuitBreaker" => {
                beh.circuit_breaker = one_of(v, BreakerWiring::parse, "off, v1.3.8, fixed")?
            }
            "enisim.whatIf.nodeOrder" => {
                beh.node_order = one_of(
                    v,
                    |s| match s {
                        "random" => Some(NodeOrder::Random),
                        "sorted" => Some(NodeOrder::Sorted),
                        _ => None,
                    },
                    "random, sorted",
                )?
            }
            "enisim.whatIf.sdkJitter" => {
                beh.sdk_jitter = one_of(v, crate::aws::SdkJitter::parse, "random, max")?
            }
            "enisim.kubelet.nodeStatusReportFrequency" => {
                let kube = &mut self.controller.kubernetes;
                if matches!(v, Value::String(s) if s == "off") || matches!(v, Value::Bool(false)) {
                    kube.kubelet = None;
                } else {
                    let d = as_duration(v)?;
                    if d.0 == 0 {
                        return Err("must be > 0 (or off)".into());
                    }
                    let Some(k) = kube.kubelet.as_mut() else {
                        return Err(
                            "the controller profile models no kubelet (kubernetes.kubelet); add one there"
                                .into(),
                        );
                    };
                    k.node_status_report_frequency = d;
                }
            }
            "enisim.whatIf.ec2RateLimit.rate" => {
                let r = as_rate(v)?;
                let burst = beh.ec2_rate_limit.map(|l| l.burst).unwrap_or(1);
                beh.ec2_rate_limit = Some(RateLimitSpec {
                    rate_per_s: r,
                    burst,
                });
            }
            "enisim.whatIf.ec2RateLimit.burst" => {
                let b = as_u32(v, 1, limits::MAX_LIMITER_BURST)?;
                let rate = beh.ec2_rate_limit.map(|l| l.rate_per_s).unwrap_or(10.0);
                beh.ec2_rate_limit = Some(RateLimitSpec {
                    rate_per_s: rate,
                    burst: b,
                });
            }
            "imds.autoConfigureHopLimit" => {
                beh.imds_job = if as_bool(v)? {
                    Some(beh.imds_job.unwrap_or(ImdsJob {
                        period: GoDuration(5 * 60 * crate::engine::SECOND),
                        describe_instances_per_run: 2,
                    }))
                } else {
                    None
                }
            }
            "enisim.scenario.nodes" => cl.nodes = as_u32(v, 1, limits::MAX_NODES)?,
            "enisim.scenario.enisPerNode" => {
                cl.enis_per_node = as_u32(v, 1, limits::MAX_ENIS_PER_NODE)?
            }
            "enisim.scenario.horizon" => {
                let d = as_duration(v)?;
                if d.0 == 0 || d.0 > limits::MAX_HORIZON_S * crate::engine::SECOND {
                    return Err(format!(
                        "must be > 0 and at most {} h",
                        limits::MAX_HORIZON_S / 3600
                    ));
                }
                self.scenario.run.horizon = d
            }
            "enisim.scenario.replications" => {
                self.scenario.run.replications = as_u32(v, 1, limits::MAX_REPLICATIONS)?
            }
            "enisim.scenario.instanceType" => cl.instance_type = as_str(v)?,
            "enisim.scenario.layout" => {
                cl.layout = one_of(
                    v,
                    Layout::parse,
                    "subnet-per-nodeeni, one-nodeeni, nodeeni-per-node",
                )?
            }
            "enisim.scenario.deviceIndex" => {
                cl.device_index = one_of(
                    v,
                    |s| match s {
                        "distinct" => Some(DeviceIndexPlan::Distinct),
                        "default" => Some(DeviceIndexPlan::Default),
                        _ => None,
                    },
                    "distinct, default",
                )?
            }
            k if is_ignored(k) => return Ok(false),
            k => {
                return Err(format!(
                    "unknown key {k:?}; did you mean {:?}?",
                    nearest_key(k)
                ))
            }
        }
        Ok(true)
    }

    /// `--set key=value[,key=value]`.
    pub fn apply_set(&mut self, arg: &str) -> Result<(), InputError> {
        for part in arg.split(',') {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                InputError::new("--set", format!("expected key=value, got {part:?}"))
            })?;
            let k = k.trim();
            self.apply(k, &parse_set_value(v.trim()))
                .map_err(|m| InputError::new("--set", m).with_key(k))?;
        }
        Ok(())
    }

    /// `--values FILE`.
    pub fn apply_values_file(&mut self, path: &Path) -> Result<(), InputError> {
        let text = read_text(path)?;
        self.apply_values_text(path, &text)
    }

    pub fn apply_values_text(&mut self, path: &Path, text: &str) -> Result<(), InputError> {
        if text.trim().is_empty() {
            return Ok(()); // an empty values file sets nothing, as in helm
        }
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| {
            let mut err = InputError::new(path, format!("not YAML: {e}"));
            err.line = e.location().map(|l| l.line());
            err
        })?;
        let mut leaves = Vec::new();
        match &doc {
            Value::Mapping(_) => flatten("", &doc, &mut leaves),
            Value::Null => {}
            _ => {
                return Err(
                    InputError::new(path, "a values file must be a mapping of keys").at_line(1),
                )
            }
        }
        for (key, v) in leaves {
            self.apply(&key, v).map_err(|m| InputError {
                file: path.to_path_buf(),
                line: locate_yaml_key(text, &key),
                key: Some(key.clone()),
                message: m,
            })?;
        }
        Ok(())
    }
}

/// Dotted keys of the leaves; maps under ignored chart keys are leaves as a whole.
fn flatten<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Mapping(m) if prefix.is_empty() || !is_ignored(prefix) => {
            for (k, child) in m {
                let k = match k {
                    Value::String(s) => s.clone(),
                    other => show(other),
                };
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, child, out);
            }
        }
        _ => out.push((prefix.to_string(), v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::new(
            ControllerProfile::embedded(),
            ScenarioSpec::embedded("burst").unwrap(),
        )
    }

    #[test]
    fn chart_values_apply_and_unknown_keys_suggest() {
        let mut s = settings();
        let text = "image:\n  tag: v1.3.8\ncontroller:\n  maxConcurrentReconciles: 15\n  maxConcurrentENICleanup: 8\nresources:\n  controller:\n    limits: {cpu: 1000m}\nenv:\n  CIRCUIT_BREAKER_ENABLED: \"false\"\n";
        s.apply_values_text(Path::new("v.yaml"), text).unwrap();
        assert_eq!(s.controller.env.max_concurrent_reconciles, 15);
        assert_eq!(s.controller.env.max_concurrent_eni_cleanup, 8);
        let e = s
            .apply_values_text(
                Path::new("v.yaml"),
                "controller:\n  maxConcurrentReconcile: 3\n",
            )
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("controller.maxConcurrentReconciles"),
            "{e}"
        );
        let e = s
            .apply_values_text(
                Path::new("v.yaml"),
                "controller:\n  maxConcurrentReconciles: 0\n",
            )
            .unwrap_err();
        assert!(e.message.contains("≥ 1"));
        assert!(s.apply_values_text(Path::new("v.yaml"), "a: [1\n").is_err());
    }

    #[test]
    fn set_parses_like_helm() {
        let mut s = settings();
        s.apply_set("enisim.env.DETACHMENT_TIMEOUT=30s,enisim.whatIf.parallelNodes=true")
            .unwrap();
        assert_eq!(s.controller.env.detachment_timeout.0, 30_000_000_000);
        assert!(s.controller.behaviour.parallel_nodes);
        assert!(s.apply_set("enisim.env.RECONCILE_PERIOD=-5m").is_err());
        assert!(s.apply_set("enisim.env.RECONCILE_PERIOD=abc").is_err());
        assert!(s.apply_set("nonsense").is_err());
    }
}
