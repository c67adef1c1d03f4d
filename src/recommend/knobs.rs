//! Where each knob lives in a real deployment: the chart's values, the controller
//! container's environment (a Deployment patch), a what-if (a controller change), or the
//! scenario (the user's own NodeENIs and instances).

use crate::controller::ControllerProfile;
use crate::engine::time::format_go_duration;
use crate::scenario::Settings;

/// The chart (charts/aws-multi-eni-controller, v1.3.8): its Deployment and container, and
/// the keys of its values file an overlay may set.
pub const CHART_DEPLOYMENT: &str = "eni-controller";
pub const CHART_NAMESPACE: &str = "eni-controller-system";
pub const CHART_CONTAINER: &str = "manager";
pub const CHART_KEYS: [&str; 6] = [
    "controller.maxConcurrentReconciles",
    "controller.maxConcurrentENICleanup",
    "resources.controller.requests.cpu",
    "resources.controller.requests.memory",
    "resources.controller.limits.cpu",
    "resources.controller.limits.memory",
];

/// The controller's environment variables enisim models (`enisim.env.<NAME>`).
pub const ENV_VARS: [&str; 11] = [
    "RECONCILE_PERIOD",
    "DETACHMENT_TIMEOUT",
    "MAX_CLEANUP_DURATION",
    "DEFAULT_DEVICE_INDEX",
    "DEFAULT_DELETE_ON_TERMINATION",
    "CIRCUIT_BREAKER_ENABLED",
    "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
    "CIRCUIT_BREAKER_SUCCESS_THRESHOLD",
    "CIRCUIT_BREAKER_TIMEOUT",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Chart,
    Env,
    WhatIf,
    Scenario,
}

pub fn place(key: &str) -> Place {
    if key.starts_with("controller.") {
        Place::Chart
    } else if key.starts_with("enisim.env.") {
        Place::Env
    } else if key.starts_with("enisim.whatIf.") {
        Place::WhatIf
    } else {
        Place::Scenario
    }
}

/// The value the controller's environment variable `var` takes under `s`, as the
/// controller reads it; `None` when the setting cannot be expressed as that variable
/// (a retry mode only enisim models) or is unset.
pub fn env_value(s: &Settings, var: &str) -> Option<String> {
    let e = &s.controller.env;
    Some(match var {
        "RECONCILE_PERIOD" => format_go_duration(e.reconcile_period.0),
        "DETACHMENT_TIMEOUT" => format_go_duration(e.detachment_timeout.0),
        "MAX_CLEANUP_DURATION" => format_go_duration(e.max_cleanup_duration.0),
        "DEFAULT_DEVICE_INDEX" => e.default_device_index.to_string(),
        "DEFAULT_DELETE_ON_TERMINATION" => e.default_delete_on_termination.to_string(),
        "CIRCUIT_BREAKER_ENABLED" => e.circuit_breaker_enabled.to_string(),
        "CIRCUIT_BREAKER_FAILURE_THRESHOLD" => e.circuit_breaker_failure_threshold.to_string(),
        "CIRCUIT_BREAKER_SUCCESS_THRESHOLD" => e.circuit_breaker_success_threshold.to_string(),
        "CIRCUIT_BREAKER_TIMEOUT" => format_go_duration(e.circuit_breaker_timeout.0),
        "AWS_RETRY_MODE" => match e.aws_retry_mode {
            crate::aws::RetryMode::V2Standard => "standard".into(),
            crate::aws::RetryMode::V2Adaptive => "adaptive".into(),
            _ => return None,
        },
        "AWS_MAX_ATTEMPTS" => e.aws_max_attempts?.to_string(),
        _ => return None,
    })
}

/// The chart value of `controller.*` under `s`.
pub fn chart_value(s: &Settings, key: &str) -> Option<u32> {
    let e = &s.controller.env;
    match key {
        "controller.maxConcurrentReconciles" => Some(e.max_concurrent_reconciles),
        "controller.maxConcurrentENICleanup" => Some(e.max_concurrent_eni_cleanup),
        _ => None,
    }
}

/// An enum's name as the values files spell it (its serde form).
fn spelled<T: serde::Serialize>(t: &T) -> String {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(_) => String::new(),
    }
}

/// The value of any key `--set` takes (`scenario::values::KNOWN_KEYS`) under `s`, as it
/// could be given back to `--set`; `None` for a key the model does not read or a setting
/// the key cannot express (a retry mode only enisim models as an environment variable).
pub fn value_of(s: &Settings, key: &str) -> Option<String> {
    if let Some(v) = chart_value(s, key) {
        return Some(v.to_string());
    }
    if let Some(var) = key.strip_prefix("enisim.env.") {
        return match var {
            "AWS_RETRY_MODE" => Some(spelled(&s.controller.env.aws_retry_mode)),
            _ => env_value(s, var),
        };
    }
    let b = &s.controller.behaviour;
    let c = &s.scenario.cluster;
    Some(match key {
        "enisim.whatIf.parallelNodes" => b.parallel_nodes.to_string(),
        "enisim.whatIf.eniLimitAware" => b.eni_limit_aware.to_string(),
        "enisim.whatIf.paceByPeriod" => (!b.self_trigger).to_string(),
        "enisim.whatIf.circuitBreaker" => spelled(&b.circuit_breaker),
        "enisim.whatIf.nodeOrder" => spelled(&b.node_order),
        "enisim.whatIf.ec2RateLimit.rate" => b.ec2_rate_limit?.rate_per_s.to_string(),
        "enisim.whatIf.ec2RateLimit.burst" => b.ec2_rate_limit?.burst.to_string(),
        "imds.autoConfigureHopLimit" => b.imds_job.is_some().to_string(),
        "enisim.scenario.nodes" => c.nodes.to_string(),
        "enisim.scenario.enisPerNode" => c.enis_per_node.to_string(),
        "enisim.scenario.instanceType" => c.instance_type.clone(),
        "enisim.scenario.layout" => c.layout.as_str().to_string(),
        "enisim.scenario.deviceIndex" => spelled(&c.device_index),
        "enisim.scenario.horizon" => format_go_duration(s.scenario.run.horizon.0),
        "enisim.scenario.replications" => s.scenario.run.replications.to_string(),
        _ => return None,
    })
}

/// The keys `--set` takes whose values differ between `a` and `b`: (key, in a, in b).
pub fn differences(a: &Settings, b: &Settings) -> Vec<(String, String, String)> {
    crate::scenario::values::KNOWN_KEYS
        .iter()
        .filter_map(|(k, _)| {
            let (x, y) = (value_of(a, k), value_of(b, k));
            (x != y).then(|| {
                let show = |v: Option<String>| v.unwrap_or_else(|| "unset".into());
                (k.to_string(), show(x), show(y))
            })
        })
        .collect()
}

/// Environment variables a deployment must set to reproduce `s`: those the sweep varied
/// (`swept`) and those whose value differs from the embedded controller profile's default
/// (set by a values file or `--set`). Each with its value, or `None` when it cannot be set
/// by environment (named in the report instead).
pub fn env_to_set(s: &Settings, swept: &[String]) -> Vec<(String, Option<String>)> {
    let default = Settings::new(ControllerProfile::embedded(), s.scenario.clone());
    ENV_VARS
        .iter()
        .filter(|v| {
            swept.iter().any(|k| k == &format!("enisim.env.{v}"))
                || env_value(s, v) != env_value(&default, v)
        })
        .map(|v| (v.to_string(), env_value(s, v)))
        .collect()
}

/// Behaviour switches of `s` that differ from v1.3.8's: each one needs a controller change.
pub fn what_ifs(s: &Settings) -> Vec<String> {
    let d = ControllerProfile::embedded().behaviour;
    let b = &s.controller.behaviour;
    let mut out = Vec::new();
    if b.parallel_nodes != d.parallel_nodes {
        out.push(format!("enisim.whatIf.parallelNodes={}", b.parallel_nodes));
    }
    if b.eni_limit_aware != d.eni_limit_aware {
        out.push(format!("enisim.whatIf.eniLimitAware={}", b.eni_limit_aware));
    }
    if b.self_trigger != d.self_trigger {
        out.push(format!("enisim.whatIf.paceByPeriod={}", !b.self_trigger));
    }
    if b.circuit_breaker != d.circuit_breaker {
        out.push(format!(
            "enisim.whatIf.circuitBreaker={:?}",
            b.circuit_breaker
        ));
    }
    if b.node_order != d.node_order {
        out.push(format!("enisim.whatIf.nodeOrder={:?}", b.node_order));
    }
    if b.ec2_rate_limit != d.ec2_rate_limit {
        if let Some(l) = b.ec2_rate_limit {
            out.push(format!(
                "enisim.whatIf.ec2RateLimit.rate={} burst={}",
                l.rate_per_s, l.burst
            ));
        }
    }
    out
}
