//! The `recorded` scenario kind: a workload given event by event, as a recording showed it
//! (`enisim replay` writes it from a trail or an audit log; `crate::workload` builds it).
//!
//! Nothing here is random: NodeENIs are created and deleted, and nodes join and leave, at
//! the times the file gives. Each NodeENI selects exactly the nodes the recording shows it
//! on, through a label only those nodes carry (`enisim.io/nodeeni.<name>=true`), so the
//! controller's own node selection is modelled as in every other scenario.

use super::values::Settings;
use super::world::{BuildError, Model, World};
use crate::controller::cluster::{NodeEni, NodeEniSpec};
use crate::engine::{time, Nanos};
use crate::metrics::RunRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The label a recorded NodeENI selects its nodes by.
pub fn selector_label(nodeeni: &str) -> String {
    format!("enisim.io/nodeeni.{nodeeni}")
}

/// A node of the recording: the instance behind it and when it was there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedNode {
    pub name: String,
    /// The EC2 instance id the recording names (kept for the user; the model has its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// When the node joined (seconds from the recording's start; 0: there from the start).
    #[serde(default)]
    pub joined_s: f64,
    /// When the node left (its Node object deleted), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_s: Option<f64>,
    /// Whether its instance was terminated when it left (TerminateInstances in the trail).
    #[serde(default)]
    pub terminated: bool,
}

/// A NodeENI of the recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedNodeEni {
    pub name: String,
    /// When it was created (seconds from the recording's start).
    pub created_s: f64,
    /// When its deletion was asked for, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_s: Option<f64>,
    /// The nodes it selects (names in `nodes`).
    pub nodes: Vec<String>,
    /// Its subnets (ids in `subnets`).
    pub subnets: Vec<String>,
    /// `spec.deviceIndex`.
    pub device_index: u32,
}

/// The `recorded` section of a scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedSpec {
    /// Wall-clock time (RFC 3339) of second 0: the recording's first record.
    pub start_time: String,
    /// Seconds the recording spans; the replay runs at least this long.
    pub span_s: f64,
    /// Subnet ids as the recording names them.
    pub subnets: Vec<String>,
    pub nodes: Vec<RecordedNode>,
    pub nodeenis: Vec<RecordedNodeEni>,
}

impl RecordedSpec {
    /// Checks that every name a NodeENI uses exists and times are in order; keys are under
    /// `recorded`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let ok_time = |t: f64| t.is_finite() && t >= 0.0;
        if !ok_time(self.span_s) {
            return Err(("recorded.span_s".into(), "must be ≥ 0".into()));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let key = format!("recorded.nodes[{i}]");
            if !names.insert(n.name.as_str()) {
                return Err((key, format!("node {:?} is listed twice", n.name)));
            }
            if !ok_time(n.joined_s) {
                return Err((format!("{key}.joined_s"), "must be ≥ 0".into()));
            }
            if let Some(r) = n.removed_s {
                if !ok_time(r) || r < n.joined_s {
                    return Err((format!("{key}.removed_s"), "must be ≥ joined_s".into()));
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, e) in self.nodeenis.iter().enumerate() {
            let key = format!("recorded.nodeenis[{i}]");
            if !seen.insert(e.name.as_str()) {
                return Err((key, format!("NodeENI {:?} is listed twice", e.name)));
            }
            if !ok_time(e.created_s) {
                return Err((format!("{key}.created_s"), "must be ≥ 0".into()));
            }
            if let Some(d) = e.deleted_s {
                if !ok_time(d) || d < e.created_s {
                    return Err((format!("{key}.deleted_s"), "must be ≥ created_s".into()));
                }
            }
            for n in &e.nodes {
                if !names.contains(n.as_str()) {
                    return Err((
                        format!("{key}.nodes"),
                        format!("no node {n:?} in recorded.nodes"),
                    ));
                }
            }
            for s in &e.subnets {
                if !self.subnets.contains(s) {
                    return Err((
                        format!("{key}.subnets"),
                        format!("no subnet {s:?} in recorded.subnets"),
                    ));
                }
            }
            if e.device_index > 127 {
                return Err((format!("{key}.device_index"), "at most 127".into()));
            }
        }
        Ok(())
    }

    /// The last time anything happens in the workload.
    pub fn last_event_s(&self) -> f64 {
        let nodes = self
            .nodes
            .iter()
            .flat_map(|n| [Some(n.joined_s), n.removed_s])
            .flatten();
        let enis = self
            .nodeenis
            .iter()
            .flat_map(|e| [Some(e.created_s), e.deleted_s])
            .flatten();
        nodes.chain(enis).fold(0.0, f64::max)
    }

    /// Labels of each node: the usual two, plus one per NodeENI that selects it.
    pub fn node_labels(&self, node: &str) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> = [
            ("ng".to_string(), "multi-eni".to_string()),
            ("kubernetes.io/hostname".to_string(), node.to_string()),
        ]
        .into_iter()
        .collect();
        for e in &self.nodeenis {
            if e.nodes.iter().any(|n| n == node) {
                labels.insert(selector_label(&e.name), "true".into());
            }
        }
        labels
    }
}

/// What happens at one time, in the order applied (at equal times: joins, creates, deletes,
/// removals — the order a recording cannot tell, chosen so a NodeENI never sees a node
/// that has not joined).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Join(usize),
    Create(usize),
    Delete(usize),
    Remove(usize),
}

/// One replication of a recorded workload: its events at their times, then until every
/// attachment still asked for holds (and the observation window), or the horizon.
pub fn simulate(settings: &Settings, model: &Model, seed: u64) -> Result<RunRecord, BuildError> {
    let spec = settings
        .scenario
        .recorded
        .clone()
        .expect("validated: recorded has its section");
    let world = World::build(settings, model, seed)?;
    let at = |s: f64| time::from_secs(s);
    let mut events: Vec<(Nanos, Event)> = Vec::new();
    for (i, n) in spec.nodes.iter().enumerate() {
        if n.joined_s > 0.0 {
            events.push((at(n.joined_s), Event::Join(i)));
        }
        if let Some(r) = n.removed_s {
            events.push((at(r), Event::Remove(i)));
        }
    }
    for (i, e) in spec.nodeenis.iter().enumerate() {
        events.push((at(e.created_s), Event::Create(i)));
        if let Some(d) = e.deleted_s {
            events.push((at(d), Event::Delete(i)));
        }
    }
    events.sort();
    let horizon = settings.scenario.horizon();
    let subnet = |id: &String| {
        let k = spec.subnets.iter().position(|s| s == id).unwrap_or(0);
        world.subnets[k]
    };
    let mut keys = vec![None; spec.nodeenis.len()];
    let mut last = 0;
    for (t, ev) in events {
        if t > horizon {
            break;
        }
        world.sim.run_until(t);
        last = t;
        match ev {
            Event::Join(i) => world
                .api
                .change_node(&spec.nodes[i].name, |n| n.deleted = false),
            Event::Create(i) => {
                let e = &spec.nodeenis[i];
                let spec_n = NodeEniSpec {
                    node_selector: [(selector_label(&e.name), "true".to_string())]
                        .into_iter()
                        .collect(),
                    subnets: e.subnets.iter().map(subnet).collect(),
                    security_groups: vec![world.group],
                    security_group_names: settings.scenario.cluster.security_group_names.clone(),
                    device_index: e.device_index,
                };
                keys[i] = Some(
                    world
                        .api
                        .create_nodeeni(NodeEni::new(e.name.clone(), spec_n, t)),
                );
            }
            Event::Delete(i) => {
                if let Some(k) = keys[i] {
                    world.api.delete_nodeeni(k);
                }
            }
            Event::Remove(i) => {
                let node = &spec.nodes[i];
                let inst = world
                    .cluster
                    .borrow()
                    .node(&node.name)
                    .and_then(|n| n.instance);
                world.api.change_node(&node.name, |n| n.deleted = true);
                if let (true, Some(inst)) = (node.terminated, inst) {
                    world.server.borrow_mut().terminate_instance(inst, t);
                }
            }
        }
        world.refresh_demand();
    }
    // Cleaned up after the last event — every deleted NodeENI gone, no attachment left on
    // a node that left — as a scale-down runs until its cleanup is done: otherwise a
    // workload that ends in deletions "converges" the moment they are asked for (nothing
    // is desired any more) and a cleanup slower than the recorded one is cut off at the
    // recording's end.
    world.run_until_condition(last, horizon, |w, t| {
        let c = w.cluster.borrow();
        let left = |node: &str| c.node(node).is_none();
        let clean = c.nodeenis.iter().all(|n| {
            (n.deletion_requested.is_none() || n.gone)
                && n.attachments.iter().all(|a| !left(&a.node))
        });
        clean.then_some(t)
    });
    // Converged, then observed as long as other runs are — and at least to the end of the
    // recording's last second, so that every recorded tenant call is replayed and a
    // replay at the recorded settings covers the recorded window.
    let converged = world.run_until_converged(last, horizon);
    let end = match converged {
        Some(_) => (world.sim.now() + settings.scenario.run.observe_after_converged.0)
            .max(at(spec.span_s) + crate::engine::SECOND)
            .min(horizon),
        None => horizon,
    };
    world.sim.run_until(end);
    Ok(world.record(converged, None, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RecordedSpec {
        RecordedSpec {
            start_time: "2025-01-01T00:00:00Z".into(),
            span_s: 10.0,
            subnets: vec!["subnet-a".into()],
            nodes: vec![RecordedNode {
                name: "n1".into(),
                instance: None,
                joined_s: 0.0,
                removed_s: None,
                terminated: false,
            }],
            nodeenis: vec![RecordedNodeEni {
                name: "e".into(),
                created_s: 1.0,
                deleted_s: Some(5.0),
                nodes: vec!["n1".into()],
                subnets: vec!["subnet-a".into()],
                device_index: 1,
            }],
        }
    }

    #[test]
    fn validation_names_the_key() {
        assert_eq!(spec().validate(), Ok(()));
        let mut s = spec();
        s.nodeenis[0].nodes.push("n2".into());
        assert_eq!(s.validate().unwrap_err().0, "recorded.nodeenis[0].nodes");
        let mut s = spec();
        s.nodeenis[0].deleted_s = Some(0.5);
        assert_eq!(
            s.validate().unwrap_err().0,
            "recorded.nodeenis[0].deleted_s"
        );
        let mut s = spec();
        s.nodeenis[0].subnets = vec!["subnet-b".into()];
        assert_eq!(s.validate().unwrap_err().0, "recorded.nodeenis[0].subnets");
    }

    #[test]
    fn labels_select_exactly_the_recorded_nodes() {
        let s = spec();
        assert_eq!(
            s.node_labels("n1")
                .get(&selector_label("e"))
                .map(String::as_str),
            Some("true")
        );
        assert!(!s.node_labels("n2").contains_key(&selector_label("e")));
        assert_eq!(s.last_event_s(), 5.0);
    }
}
