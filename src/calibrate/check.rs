//! The user's settings against the trail (calibration.md §2, last row): what the trail
//! says the recorded controller ran — how many NodeENIs it worked on at once, how often it
//! verified an attachment, how many (NodeENI, node, subnet) targets on how many nodes it
//! created ENIs for, whether it detached any — beside what the user said. Warnings where
//! the trail disagrees, each naming both numbers; an error where the scenario cannot be
//! the recorded one (it cannot make the attachments, or the detaches, the trail shows).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::observed::Trail;
use crate::scenario::spec::{Kind, Layout, ScenarioSpec};
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
    /// Distinct nodes and NodeENIs the Creates' tags name.
    pub nodes: usize,
    pub nodeenis: usize,
    /// Most targets on one node.
    pub enis_per_node: usize,
    /// The controller's successful Detaches (DryRun probes aside): attachments it ended.
    pub detached: usize,
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
    let mut per_node: BTreeMap<&Option<String>, usize> = BTreeMap::new();
    for (_, node, _) in &targets {
        *per_node.entry(node).or_default() += 1;
    }
    let detached = trail
        .controller()
        .filter(|c| c.action == "DetachNetworkInterface" && !c.dry_run && c.ok())
        .count();
    TrailSettings {
        nodeenis_in_flight: most.max(0) as usize,
        verify_period_s: (!gaps.is_empty()).then(|| gaps[gaps.len() / 2]),
        targets: targets.len(),
        nodes: per_node.len(),
        nodeenis: targets.iter().map(|t| &t.0).collect::<BTreeSet<_>>().len(),
        enis_per_node: per_node.values().copied().max().unwrap_or(0),
        detached,
    }
}

/// Whether a scenario's workload ends attachments (detaches ENIs it attached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ends {
    Never,
    Always,
    Maybe,
}

/// What a scenario's workload asks of the controller, at most (exactly, when `exact`).
#[derive(Debug, Clone, PartialEq)]
struct Asked {
    nodes: usize,
    enis_per_node: usize,
    targets: usize,
    nodeenis: Option<usize>,
    exact: bool,
    ends: Ends,
}

fn asked(s: &ScenarioSpec) -> Asked {
    let c = &s.cluster;
    let (n, m) = (c.nodes as usize, c.enis_per_node as usize);
    let nodeenis = match c.layout {
        Layout::SubnetPerNodeeni => m,
        Layout::OneNodeeni => 1,
        Layout::NodeeniPerNode => n,
    };
    let fixed = |ends| Asked {
        nodes: n,
        enis_per_node: m,
        targets: n * m,
        nodeenis: Some(nodeenis),
        exact: true,
        ends,
    };
    match (s.kind, &s.recorded, &s.mixed) {
        (Kind::Recorded, Some(r), _) => {
            let on = |node: &String| {
                r.nodeenis
                    .iter()
                    .filter(|e| e.nodes.contains(node))
                    .map(|e| e.subnets.len())
                    .sum::<usize>()
            };
            let ends = r.nodeenis.iter().any(|e| e.deleted_s.is_some())
                || r.nodes.iter().any(|n| n.removed_s.is_some());
            Asked {
                nodes: r.nodes.len(),
                enis_per_node: r.nodes.iter().map(|x| on(&x.name)).max().unwrap_or(0),
                targets: r
                    .nodeenis
                    .iter()
                    .map(|e| e.nodes.len() * e.subnets.len())
                    .sum(),
                nodeenis: Some(r.nodeenis.len()),
                exact: true,
                ends: if ends { Ends::Always } else { Ends::Never },
            }
        }
        (Kind::Mixed, _, Some(mx)) => {
            let nodes = n + mx.spare_nodes as usize;
            let per = m + mx.spare_subnets as usize;
            Asked {
                nodes,
                enis_per_node: per,
                targets: nodes * per,
                nodeenis: None,
                exact: false,
                ends: Ends::Maybe,
            }
        }
        (Kind::ScaleDown, ..) => fixed(Ends::Always),
        (Kind::Burst | Kind::Gradual, ..) => fixed(Ends::Never),
        _ => fixed(Ends::Maybe),
    }
}

/// "2 nodes × 3 ENIs" (what a scenario asks for).
fn size(a: &Asked) -> String {
    format!("{} nodes × {} ENIs", a.nodes, a.enis_per_node)
}

const SIZE: &str =
    "--set enisim.scenario.nodes=N --set enisim.scenario.enisPerNode=M, or a scenario file";

/// The way out of a contradiction (leave the scenario to the trail, or say it right).
const OWN: &str = "leave the scenario out to calibrate against the trail's own workload (reconstructed from the controller's calls)";

/// Warnings where the trail disagrees with the settings, each naming the trail's number
/// and the setting's; `Err` where the scenario cannot be the recorded cluster's workload:
/// more targets, nodes or ENIs on one node than it makes, or detaches where it never
/// detaches.
pub fn check(seen: &TrailSettings, settings: &Settings) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let scenario = &settings.scenario;
    let a = asked(scenario);
    let name = &scenario.name;
    let shown = format!(
        "{} nodes, up to {} ENIs on one node",
        seen.nodes, seen.enis_per_node
    );
    if seen.targets > a.targets {
        return Err(format!(
            "the trail's controller created ENIs for {} (NodeENI, node, subnet) targets ({shown}); the scenario {name} asks for {} ({}): {OWN}, or give the recorded cluster's size ({SIZE})",
            seen.targets,
            a.targets,
            size(&a)
        ));
    }
    if seen.nodes > a.nodes || seen.enis_per_node > a.enis_per_node {
        return Err(format!(
            "the trail's controller created ENIs on {shown}; the scenario {name} has {}: {OWN}, or give the recorded cluster's size ({SIZE})",
            size(&a)
        ));
    }
    if seen.detached > 0 && a.ends == Ends::Never {
        return Err(format!(
            "the trail's controller made {} successful DetachNetworkInterface call(s) (a scale-down or a change); the scenario {name} (kind {}) never detaches an ENI: {OWN}, or give a scenario that scales down",
            seen.detached,
            scenario.kind.as_str()
        ));
    }
    if a.exact && seen.targets > 0 && seen.targets < a.targets {
        warnings.push(format!(
            "the trail's controller created ENIs for {} (NodeENI, node, subnet) targets ({shown}); the scenario {name} asks for {} ({}): the recorded run may have been smaller, or cut",
            seen.targets,
            a.targets,
            size(&a)
        ));
    }
    if let Some(n) = a
        .nodeenis
        .filter(|&n| seen.targets > 0 && n != seen.nodeenis)
    {
        warnings.push(format!(
            "the trail's Creates name {} NodeENIs; the scenario {name} makes {n} (layout {}): one worker reconciles a NodeENI at a time, so the recorded concurrency is not the scenario's",
            seen.nodeenis,
            scenario.cluster.layout.as_str()
        ));
    }
    if a.ends == Ends::Always && seen.targets > 0 && seen.detached == 0 {
        warnings.push(format!(
            "the scenario {name} ends its attachments; the trail's controller detached none: the recording may end before the scale-down"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ControllerProfile;

    /// What a 2 × 3 scale-down trail shows (subnet-per-nodeeni, MCR 5).
    fn seen() -> TrailSettings {
        TrailSettings {
            nodeenis_in_flight: 3,
            verify_period_s: Some(2.0),
            targets: 6,
            nodes: 2,
            nodeenis: 3,
            enis_per_node: 3,
            detached: 6,
        }
    }

    fn settings(name: &str, nodes: u32, enis: u32, sets: &[&str]) -> Settings {
        let mut s = ScenarioSpec::embedded(name).unwrap();
        s.cluster.nodes = nodes;
        s.cluster.enis_per_node = enis;
        let mut s = Settings::new(ControllerProfile::embedded(), s);
        for kv in sets {
            s.apply_set(kv).unwrap();
        }
        s
    }

    #[test]
    fn the_true_scenario_passes_silently() {
        assert_eq!(
            check(&seen(), &settings("scale-down", 2, 3, &[])),
            Ok(vec![])
        );
    }

    #[test]
    fn a_contradiction_a_warning_can_carry_names_both_numbers() {
        let w = check(
            &seen(),
            &settings(
                "scale-down",
                3,
                3,
                &[
                    "controller.maxConcurrentReconciles=1",
                    "enisim.scenario.layout=one-nodeeni",
                ],
            ),
        )
        .unwrap();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("6 (NodeENI, node, subnet) targets (2 nodes, up to 3 ENIs on one node); the scenario scale-down asks for 9 (3 nodes × 3 ENIs)"), "{}", w[0]);
        assert!(
            w[1].contains("the trail's Creates name 3 NodeENIs; the scenario scale-down makes 1 (layout one-nodeeni)"),
            "{}",
            w[1]
        );
        assert_eq!(
            w[2],
            "the trail shows up to 3 NodeENIs in flight; you said maxConcurrentReconciles=1"
        );
        // A scale-down scenario, and a trail that never detaches: cut before it?
        let quiet = TrailSettings {
            detached: 0,
            ..seen()
        };
        let w = check(&quiet, &settings("scale-down", 2, 3, &[])).unwrap();
        assert!(w[0].contains("detached none"), "{w:?}");
    }

    #[test]
    fn a_scenario_that_cannot_be_the_recorded_one_is_an_error() {
        let e = check(&seen(), &settings("scale-down", 1, 1, &[])).unwrap_err();
        assert!(e.contains("6 (NodeENI, node, subnet) targets"), "{e}");
        assert!(e.contains("asks for 1 (1 nodes × 1 ENIs)"), "{e}");
        // Enough targets, too few per node.
        let e = check(&seen(), &settings("scale-down", 3, 2, &[])).unwrap_err();
        assert!(
            e.contains("on 2 nodes, up to 3 ENIs on one node; the scenario scale-down has 3 nodes × 2 ENIs"),
            "{e}"
        );
        // Detaches a burst never makes.
        let e = check(&seen(), &settings("burst", 2, 3, &[])).unwrap_err();
        assert!(
            e.contains("6 successful DetachNetworkInterface call(s)")
                && e.contains("the scenario burst (kind burst) never detaches"),
            "{e}"
        );
        // A mixed scenario's spare nodes and subnets count: 2 × 3 fits 1 node + 4 spare.
        assert!(check(&seen(), &settings("mixed", 1, 1, &[])).is_ok());
    }

    #[test]
    fn a_recorded_scenario_asks_for_what_its_file_lists() {
        use crate::scenario::recorded::{RecordedNode, RecordedNodeEni, RecordedSpec};
        let node = |n: &str| RecordedNode {
            name: n.into(),
            instance: None,
            joined_s: 0.0,
            removed_s: None,
            terminated: false,
        };
        let eni = |k: u32| RecordedNodeEni {
            name: format!("multi-eni-{k}"),
            created_s: 0.0,
            deleted_s: Some(20.0),
            nodes: vec!["a".into(), "b".into()],
            subnets: vec![format!("subnet-{k}")],
            device_index: k + 1,
        };
        let spec = RecordedSpec {
            start_time: "2025-01-01T00:00:00Z".into(),
            span_s: 30.0,
            subnets: (0..3).map(|k| format!("subnet-{k}")).collect(),
            nodes: vec![node("a"), node("b")],
            nodeenis: (0..3).map(eni).collect(),
        };
        let mut s = ScenarioSpec::embedded("burst").unwrap();
        s.kind = Kind::Recorded;
        s.recorded = Some(spec);
        let a = asked(&s);
        assert_eq!(
            (a.nodes, a.enis_per_node, a.targets, a.nodeenis, a.ends),
            (2, 3, 6, Some(3), Ends::Always)
        );
        let settings = Settings::new(ControllerProfile::embedded(), s);
        assert_eq!(check(&seen(), &settings), Ok(vec![]));
    }
}
