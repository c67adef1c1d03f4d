//! The five scenarios of the controller's performance plan, each a way of driving a
//! `World` through time: burst, gradual scale-up, mixed operations, failure recovery,
//! scale-down.

use super::spec::{Kind, Layout, ScaleDownVariant};
use super::values::Settings;
use super::world::{nodeenis, BuildError, Model, World};
use crate::controller::cluster::{NodeEni, NodeEniSpec};
use crate::controller::resources::controller_resources;
use crate::engine::{rng, time, Nanos, SimRng, SECOND};
use crate::metrics::stats::censored_quantile;
use crate::metrics::{RunRecord, StepMetrics};
use rand::RngExt;
use std::collections::BTreeMap;

/// One replication of whatever scenario `settings` names.
pub fn simulate(settings: &Settings, model: &Model, seed: u64) -> Result<RunRecord, BuildError> {
    match settings.scenario.kind {
        Kind::Burst => burst(settings, model, seed),
        Kind::Gradual => gradual(settings, model, seed),
        Kind::Mixed => mixed(settings, model, seed),
        Kind::Failure => failure(settings, model, seed),
        Kind::ScaleDown => scale_down(settings, model, seed),
        Kind::Recorded => super::recorded::simulate(settings, model, seed),
    }
}

/// Every NodeENI at t = 0; until converged (plus the observation window) or the horizon.
fn burst(settings: &Settings, model: &Model, seed: u64) -> Result<RunRecord, BuildError> {
    let world = World::build(settings, model, seed)?;
    world.create_nodeenis();
    let (converged, busy, end) = world.run_to_convergence(settings.scenario.horizon());
    Ok(world.record(converged, busy, end))
}

/// The burst through injected faults (merged into the EC2 profile by `World::build`);
/// convergence is only checked after the last fault window.
fn failure(settings: &Settings, model: &Model, seed: u64) -> Result<RunRecord, BuildError> {
    let world = World::build(settings, model, seed)?;
    world.create_nodeenis();
    let fault_end = time::from_secs(
        settings
            .scenario
            .faults
            .as_ref()
            .map(|f| f.last_window_end_s())
            .unwrap_or(0.0),
    );
    let horizon = settings.scenario.horizon();
    let converged = world.run_until_converged(fault_end, horizon);
    let end = world.observe_after(converged.is_some(), horizon);
    let mut rec = world.record(converged, None, end);
    rec.metrics.recovery_s = match converged {
        Some(t) => time::to_secs(t.saturating_sub(fault_end)),
        None => time::to_secs(horizon.saturating_sub(fault_end)),
    };
    Ok(rec)
}

/// The burst converges, then every NodeENI is deleted (or every node drained and its
/// instance terminated); until the cleanup is done or the horizon.
fn scale_down(settings: &Settings, model: &Model, seed: u64) -> Result<RunRecord, BuildError> {
    let world = World::build(settings, model, seed)?;
    world.create_nodeenis();
    let horizon = settings.scenario.horizon();
    let spec = settings
        .scenario
        .scale_down
        .clone()
        .expect("validated: scale-down has its section");
    let converged = world.run_until_converged(0, horizon);
    let start = (world.sim.now() + spec.after_converged.0).min(horizon);
    world.sim.run_until(start);
    match spec.variant {
        ScaleDownVariant::DeleteNodeenis => {
            let n = world.cluster.borrow().nodeenis.len() as u32;
            for k in 0..n {
                world.api.delete_nodeeni(k);
            }
        }
        ScaleDownVariant::DrainNodes => {
            for name in world.active_node_names() {
                let inst = world.cluster.borrow().node(&name).and_then(|n| n.instance);
                world.api.change_node(&name, |n| n.deleted = true);
                if let Some(i) = inst {
                    world
                        .server
                        .borrow_mut()
                        .terminate_instance(i, world.sim.now());
                }
            }
        }
    }
    world.refresh_demand();
    let done = world.run_until_condition(start, horizon, |w, t| {
        let c = w.cluster.borrow();
        let clean = match spec.variant {
            ScaleDownVariant::DeleteNodeenis => c.nodeenis.iter().all(|n| n.gone),
            ScaleDownVariant::DrainNodes => c.nodeenis.iter().all(|n| n.attachments.is_empty()),
        };
        clean.then_some(t)
    });
    let end = world.sim.now();
    let mut rec = world.record(converged, None, end);
    rec.metrics.cleanup_total_s = time::to_secs(done.unwrap_or(end).saturating_sub(start));
    Ok(rec)
}

/// Adds the layout's objects for `nodes` active nodes and `subnets` subnets, on top of
/// what a previous step created.
fn grow_to(world: &World, settings: &Settings, nodes: u32, subnets: u32, prev_subnets: u32) {
    let names = world.node_names.clone();
    for name in names.iter().take(nodes as usize) {
        let inactive = world
            .cluster
            .borrow()
            .nodes
            .iter()
            .any(|n| &n.name == name && n.deleted);
        if inactive {
            world.api.change_node(name, |n| n.deleted = false);
        }
    }
    let subnet_ids = &world.subnets[..subnets as usize];
    match settings.scenario.cluster.layout {
        Layout::SubnetPerNodeeni => {
            // NodeENIs for the new subnets; the existing ones already select every node.
            let all = nodeenis(settings, subnet_ids, world.group, &[], world.sim.now());
            for n in all.into_iter().skip(prev_subnets as usize) {
                world.api.create_nodeeni(n);
            }
        }
        Layout::OneNodeeni => {
            if world.cluster.borrow().nodeenis.is_empty() {
                world.create_layout(subnet_ids);
            } else {
                let ids = subnet_ids.to_vec();
                world.api.update_nodeeni_spec(0, move |s| s.subnets = ids);
            }
        }
        Layout::NodeeniPerNode => {
            let existing = world.nodeeni_names();
            for (k, _) in existing.iter().enumerate() {
                let ids = subnet_ids.to_vec();
                world
                    .api
                    .update_nodeeni_spec(k as u32, move |s| s.subnets = ids);
            }
            let new_nodes: Vec<String> = names
                .iter()
                .take(nodes as usize)
                .filter(|n| !existing.contains(&format!("multi-eni-{n}")))
                .cloned()
                .collect();
            for n in nodeenis(
                settings,
                subnet_ids,
                world.group,
                &new_nodes,
                world.sim.now(),
            ) {
                world.api.create_nodeeni(n);
            }
        }
    }
    world.refresh_demand();
}

/// 1 × 1 up to N × M along the path, one step per interval.
fn gradual(settings: &Settings, model: &Model, seed: u64) -> Result<RunRecord, BuildError> {
    let g = settings
        .scenario
        .gradual
        .clone()
        .expect("validated: gradual has its section");
    let c = &settings.scenario.cluster;
    let world = World::build(settings, model, seed)?;
    let mut steps = Vec::new();
    let mut prev_subnets = 0;
    for (k, step) in g.path.iter().enumerate() {
        let (nodes, subnets) = (
            step.nodes.min(c.nodes),
            step.enis_per_node.min(c.enis_per_node),
        );
        let start = world.sim.now();
        grow_to(&world, settings, nodes, subnets, prev_subnets);
        prev_subnets = subnets;
        let end = start + g.step_interval.0;
        let converged = world.run_until_converged(0, end);
        world.sim.run_until(end);
        steps.push(step_metrics(
            &world, settings, k as u32, nodes, subnets, start, end, converged,
        ));
    }
    let end = world.sim.now();
    let converged = steps
        .last()
        .filter(|s| s.converged)
        .map(|s| time::from_secs(s.start_s + s.full_reconcile_s));
    let mut rec = world.record(converged, None, end);
    // The run's full reconciliation is the last (full-size) step's, from that step's start:
    // the path's earlier steps are not reconciliation time.
    if let Some(last) = steps.last() {
        rec.metrics.full_reconcile_s = last.full_reconcile_s;
    }
    rec.steps = steps;
    Ok(rec)
}

#[allow(clippy::too_many_arguments)]
fn step_metrics(
    world: &World,
    settings: &Settings,
    step: u32,
    nodes: u32,
    enis_per_node: u32,
    start: Nanos,
    end: Nanos,
    converged: Option<Nanos>,
) -> StepMetrics {
    let rec = world.controller.rec.borrow();
    let server = world.server.borrow();
    let (mut creation, mut attachment) = (Vec::new(), Vec::new());
    for ((nodeeni, node, subnet), at) in world.demand_times() {
        if at != start {
            continue;
        }
        let tl = rec
            .enis
            .values()
            .filter(|t| {
                t.nodeeni == nodeeni
                    && t.node == node
                    && t.subnet == subnet
                    && t.in_status_at.is_some()
                    && t.created_at >= start
            })
            .min_by_key(|t| t.created_at);
        // Not created / not attached by the step's end: censored at what it had waited.
        let waited = time::to_secs(end - start);
        match tl {
            Some(t) => {
                creation.push((time::to_secs(t.created_at - start), false));
                attachment.push(match server.attached_at(t.eni).filter(|a| *a <= end) {
                    Some(a) => (time::to_secs(a.saturating_sub(t.created_at)), false),
                    None => (time::to_secs(end - t.created_at), true),
                });
            }
            None => {
                creation.push((waited, true));
                attachment.push((waited, true));
            }
        }
    }
    let outcomes = rec.outcomes(|t| t >= start && t < end);
    let res = controller_resources(
        &settings.controller.costs,
        &settings.controller.eni_manager,
        &rec.reconciles,
        &world.log.borrow(),
        &world.api.stats.borrow(),
        start,
        end,
    );
    let creation_p95 = censored_quantile(&creation, 0.95);
    let attachment_p95 = censored_quantile(&attachment, 0.95);
    StepMetrics {
        step,
        nodes,
        enis_per_node,
        start_s: time::to_secs(start),
        eni_creation_p95_s: creation_p95.value,
        eni_attachment_p95_s: attachment_p95.value,
        full_reconcile_s: time::to_secs(converged.unwrap_or(end).saturating_sub(start)),
        converged: converged.is_some(),
        censored: creation_p95.censored || attachment_p95.censored,
        cpu_p95_millicores: res.cpu_p95_millicores,
        cpu_peak_millicores: res.cpu_peak_millicores,
        memory_p95_mib: res.memory_p95_mib,
        memory_peak_mib: res.memory_peak_mib,
        error_rate_percent: outcomes.error_rate_percent(),
    }
}

/// The kinds of change a mixed run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    CreateNodeeni,
    DeleteNodeeni,
    AddSubnet,
    RemoveSubnet,
    SwapSelector,
    RelabelNode,
    AddNode,
    RemoveNode,
}

/// After the burst converges: Poisson changes over the window, then until the final
/// desired state holds (or the horizon).
fn mixed(settings: &Settings, model: &Model, seed: u64) -> Result<RunRecord, BuildError> {
    let m = settings
        .scenario
        .mixed
        .clone()
        .expect("validated: mixed has its section");
    let world = World::build(settings, model, seed)?;
    world.create_nodeenis();
    let horizon = settings.scenario.horizon();
    world.run_until_converged(0, horizon);
    let t0 = world.sim.now();
    let window_end = (t0 + m.window.0).min(horizon);
    // Every change type is its own Poisson stream (common random numbers across settings).
    let r = &m.rates_per_min;
    let kinds = [
        (Change::CreateNodeeni, r.create_nodeeni, "create"),
        (Change::DeleteNodeeni, r.delete_nodeeni, "delete"),
        (Change::AddSubnet, r.add_subnet, "add-subnet"),
        (Change::RemoveSubnet, r.remove_subnet, "remove-subnet"),
        (Change::SwapSelector, r.change_selector, "selector"),
        (Change::RelabelNode, r.relabel_node, "relabel"),
        (Change::AddNode, r.add_node, "add-node"),
        (Change::RemoveNode, r.remove_node, "remove-node"),
    ];
    let mut events: Vec<(Nanos, Change)> = Vec::new();
    for (kind, per_min, name) in kinds {
        if per_min <= 0.0 {
            continue;
        }
        let mut g = rng::stream(seed, &format!("mixed.{name}"));
        let mut t = t0;
        loop {
            let u: f64 = 1.0 - g.random::<f64>();
            t += ((-u.ln() / (per_min / 60.0)) * SECOND as f64) as Nanos;
            if t >= window_end {
                break;
            }
            events.push((t, kind));
        }
    }
    events.sort();
    let mut pick = rng::stream(seed, "mixed.targets");
    let mut applied = 0u64;
    for (t, kind) in events {
        world.sim.run_until(t);
        if apply_change(&world, settings, kind, &mut pick) {
            applied += 1;
        }
        world.refresh_demand();
    }
    world.sim.run_until(window_end);
    let converged = world.run_until_converged(window_end, horizon);
    let end = world.observe_after(converged.is_some(), horizon);
    let mut rec = world.record(converged, None, end);
    rec.metrics.changes = applied;
    Ok(rec)
}

fn choose<T: Clone>(items: &[T], g: &mut SimRng) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        Some(items[g.random_range(0..items.len())].clone())
    }
}

/// Applies one change; false when nothing fitted (no candidate target).
fn apply_change(world: &World, settings: &Settings, kind: Change, g: &mut SimRng) -> bool {
    let m = settings.scenario.cluster.enis_per_node as usize;
    let spare_subnets: Vec<_> = world.subnets[m.min(world.subnets.len())..].to_vec();
    let (live, active, inactive): (Vec<u32>, Vec<String>, Vec<String>) = {
        let c = world.cluster.borrow();
        let live = c
            .nodeenis
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.gone && n.deletion_requested.is_none())
            .map(|(i, _)| i as u32)
            .collect();
        let active = c
            .nodes
            .iter()
            .filter(|n| !n.deleted)
            .map(|n| n.name.clone())
            .collect();
        // A node that never ran (its instance still running) can join; removed ones cannot.
        let server = world.server.borrow();
        let inactive = c
            .nodes
            .iter()
            .filter(|n| n.deleted)
            .filter(|n| {
                n.instance
                    .is_some_and(|i| server.instance_type(i).is_some() && !world.terminated(i))
            })
            .map(|n| n.name.clone())
            .collect();
        (live, active, inactive)
    };
    match kind {
        Change::CreateNodeeni => {
            let (Some(node), Some(subnet)) = (choose(&active, g), choose(&spare_subnets, g)) else {
                return false;
            };
            let index = world.subnets.iter().position(|s| *s == subnet).unwrap_or(0) as u32 + 1;
            let n = world.cluster.borrow().nodeenis.len();
            world.api.create_nodeeni(NodeEni::new(
                format!("mixed-{n}"),
                NodeEniSpec {
                    node_selector: [("kubernetes.io/hostname".to_string(), node)]
                        .into_iter()
                        .collect(),
                    subnets: vec![subnet],
                    security_groups: vec![world.group],
                    security_group_names: Vec::new(),
                    device_index: index,
                },
                world.sim.now(),
            ));
            true
        }
        Change::DeleteNodeeni => match choose(&live, g) {
            Some(k) => {
                world.api.delete_nodeeni(k);
                true
            }
            None => false,
        },
        Change::AddSubnet => {
            let Some(k) = choose(&live, g) else {
                return false;
            };
            let have = world.cluster.borrow().nodeenis[k as usize]
                .spec
                .subnets
                .clone();
            let options: Vec<_> = spare_subnets
                .iter()
                .filter(|s| !have.contains(s))
                .copied()
                .collect();
            let Some(s) = choose(&options, g) else {
                return false;
            };
            world
                .api
                .update_nodeeni_spec(k, move |spec| spec.subnets.push(s));
            true
        }
        Change::RemoveSubnet => {
            let candidates: Vec<u32> = live
                .iter()
                .copied()
                .filter(|k| {
                    world.cluster.borrow().nodeenis[*k as usize]
                        .spec
                        .subnets
                        .len()
                        > 1
                })
                .collect();
            let Some(k) = choose(&candidates, g) else {
                return false;
            };
            world.api.update_nodeeni_spec(k, |spec| {
                spec.subnets.pop();
            });
            true
        }
        Change::SwapSelector => {
            let (Some(k), Some(node)) = (choose(&live, g), choose(&active, g)) else {
                return false;
            };
            world.api.update_nodeeni_spec(k, move |spec| {
                if spec.node_selector.contains_key("ng") {
                    spec.node_selector = [("kubernetes.io/hostname".to_string(), node)]
                        .into_iter()
                        .collect();
                } else {
                    spec.node_selector = [("ng".to_string(), "multi-eni".to_string())]
                        .into_iter()
                        .collect();
                }
            });
            true
        }
        Change::RelabelNode => {
            let Some(node) = choose(&active, g) else {
                return false;
            };
            world.api.change_node(&node, |n| {
                if n.labels.remove("ng").is_none() {
                    n.labels.insert("ng".into(), "multi-eni".into());
                }
            });
            true
        }
        Change::AddNode => match choose(&inactive, g) {
            Some(node) => {
                world.api.change_node(&node, |n| n.deleted = false);
                true
            }
            None => false,
        },
        Change::RemoveNode => {
            let Some(node) = choose(&active, g) else {
                return false;
            };
            let inst = world.cluster.borrow().node(&node).and_then(|n| n.instance);
            world.api.change_node(&node, |n| n.deleted = true);
            if let Some(i) = inst {
                world
                    .server
                    .borrow_mut()
                    .terminate_instance(i, world.sim.now());
            }
            true
        }
    }
}

/// Per-step degradation: for each metric, the first step whose mean over replications
/// leaves "acceptable" under `thresholds`.
pub fn degradation_points(
    runs: &[RunRecord],
    thresholds: &crate::metrics::thresholds::Thresholds,
) -> BTreeMap<String, Option<u32>> {
    let n_steps = runs.iter().map(|r| r.steps.len()).min().unwrap_or(0);
    let mut out = BTreeMap::new();
    for (metric, th) in thresholds.judged() {
        let mut first = None;
        for k in 0..n_steps {
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|r| step_value(&r.steps[k], metric))
                .collect();
            if values.is_empty() {
                break;
            }
            let ci = crate::metrics::mean_ci(&values);
            // A step that left an ENI uncreated or unattached has no finite p95.
            let censored = matches!(
                metric.as_str(),
                "eni_creation_p95_s" | "eni_attachment_p95_s"
            ) && runs.iter().any(|r| r.steps[k].censored);
            if censored || th.judge(ci.high()) != crate::metrics::thresholds::Verdict::Acceptable {
                first = Some(k as u32);
                break;
            }
        }
        if runs.iter().all(|r| {
            r.steps
                .first()
                .is_some_and(|s| step_value(s, metric).is_some())
        }) {
            out.insert(metric.clone(), first);
        }
    }
    out
}

/// A step's value of a threshold metric, by the threshold's name.
pub fn step_value(s: &StepMetrics, metric: &str) -> Option<f64> {
    Some(match metric {
        "eni_creation_p95_s" => s.eni_creation_p95_s,
        "eni_attachment_p95_s" => s.eni_attachment_p95_s,
        "full_reconcile_s" => s.full_reconcile_s,
        "cpu_p95_millicores" => s.cpu_p95_millicores,
        "cpu_peak_millicores" => s.cpu_peak_millicores,
        "memory_p95_mib" => s.memory_p95_mib,
        "memory_peak_mib" => s.memory_peak_mib,
        "error_rate_percent" => s.error_rate_percent,
        _ => return None,
    })
}
