//! The user's settings against the trail (calibration.md §2, last row): what the trail
//! says the recorded controller ran — how many NodeENIs it worked on at once, how often it
//! verified an attachment, how many (NodeENI, node, subnet) targets it created ENIs for —
//! beside what the user said. Warnings where the trail disagrees; an error where the
//! scenario cannot be the recorded one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::observed::Trail;
use crate::scenario::Settings;

/// What the trail shows of the recorded controller's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrailSettings {
    /// Most NodeENIs with a create/attach chain in flight in one second.
    pub nodeenis_in_flight: usize,
    /// Median gap (s) between consecutive DryRun probes of one ENI (the verify period).
    pub verify_period_s: Option<f64>,
    /// Distinct (NodeENI, node, subnet) targets of the controller's Creates.
    pub targets: usize,
}

pub fn trail_settings(trail: &Trail) -> TrailSettings {
    // NodeENI of each ENI, from the Creates' tags.
    let mut owner: HashMap<&str, &str> = HashMap::new();
    let mut targets = BTreeSet::new();
    for c in trail.controller() {
        if c.action == "CreateNetworkInterface" {
            if let (Some(e), Some(n)) = (&c.eni, &c.nodeeni) {
                owner.insert(e, n);
            }
            if let Some(n) = &c.nodeeni {
                targets.insert((n.clone(), c.node.clone(), c.subnet.clone()));
            }
        }
    }
    let mut span: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for c in trail.controller() {
        let n = match c.action.as_str() {
            "CreateNetworkInterface" => c.nodeeni.as_deref(),
            "AttachNetworkInterface" | "ModifyNetworkInterfaceAttribute" => {
                c.eni.as_deref().and_then(|e| owner.get(e).copied())
            }
            _ => None,
        };
        if let Some(n) = n {
            let s = span.entry(n).or_insert((c.t_s, c.t_s));
            s.0 = s.0.min(c.t_s);
            s.1 = s.1.max(c.t_s);
        }
    }
    let mut edges: Vec<(i64, i32)> = span
        .values()
        .flat_map(|&(a, b)| [(a, 1), (b + 1, -1)])
        .collect();
    edges.sort();
    let (mut cur, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        cur += d;
        most = most.max(cur);
    }
    let mut last_probe: HashMap<&str, i64> = HashMap::new();
    let mut gaps = Vec::new();
    for c in trail.controller() {
        if c.action == "DetachNetworkInterface" && c.dry_run {
            if let Some(e) = c.eni.as_deref() {
                if let Some(p) = last_probe.insert(e, c.t_s) {
                    gaps.push((c.t_s - p) as f64);
                }
            }
        }
    }
    gaps.sort_by(f64::total_cmp);
    TrailSettings {
        nodeenis_in_flight: most.max(0) as usize,
        verify_period_s: (!gaps.is_empty()).then(|| gaps[gaps.len() / 2]),
        targets: targets.len(),
    }
}

/// Warnings where the trail disagrees with the settings; `Err` where the scenario cannot
/// be the recorded cluster (more ENI targets in the trail than the scenario asks for).
pub fn check(seen: &TrailSettings, settings: &Settings) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let c = &settings.scenario.cluster;
    let wanted = (c.nodes * c.enis_per_node) as usize;
    if seen.targets > wanted {
        return Err(format!(
            "the trail's controller created ENIs for {} (NodeENI, node, subnet) targets; the scenario asks for {wanted} ({} nodes × {} ENIs): give the recorded cluster's size (--set enisim.scenario.nodes=N --set enisim.scenario.enisPerNode=M, or a scenario file)",
            seen.targets, c.nodes, c.enis_per_node
        ));
    }
    if seen.targets > 0 && seen.targets < wanted {
        warnings.push(format!(
            "the trail's controller created ENIs for {} (NodeENI, node, subnet) targets; the scenario asks for {wanted}: the recorded run may have been smaller, or cut",
            seen.targets
        ));
    }
    let mcr = settings.controller.env.max_concurrent_reconciles as usize;
    if seen.nodeenis_in_flight > mcr {
        warnings.push(format!(
            "the trail shows up to {} NodeENIs in flight; you said maxConcurrentReconciles={mcr}",
            seen.nodeenis_in_flight
        ));
    }
    if let Some(p) = seen.verify_period_s {
        let period = settings.controller.env.reconcile_period.0 as f64 / 1e9;
        let self_trigger = settings.controller.behaviour.self_trigger;
        if self_trigger && p >= 0.5 * period {
            warnings.push(format!(
                "the trail verifies each ENI every {p:.0} s, about RECONCILE_PERIOD ({period:.0} s): the recorded controller looks paced by its period, not self-triggered (try --set enisim.whatIf.paceByPeriod=true)"
            ));
        } else if !self_trigger && p < 0.5 * period {
            warnings.push(format!(
                "the trail verifies each ENI every {p:.0} s, much faster than RECONCILE_PERIOD ({period:.0} s): the recorded controller looks self-triggered (v1.3.8), not paced by its period"
            ));
        }
    }
    Ok(warnings)
}
