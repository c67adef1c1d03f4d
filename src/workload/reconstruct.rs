//! The workload from the controller's own calls (controller reference §15): each
//! `CreateNetworkInterface` carries the tags `NodeENI`, `Node` and `SubnetID`, so the
//! Creates say which NodeENI wanted an ENI on which node and subnet, and when it first
//! asked; Attach says on which instance and device index; Detach/Delete when it ended;
//! TerminateInstances which instances went away.

use super::error::WorkloadError;
use super::reconstruction::Reconstruction;
use super::trail::{Columns, Scope, Trail};
use super::{AttachmentTimeline, RecordedWorkload, Source};
use crate::scenario::recorded::{RecordedNode, RecordedNodeEni};
use crate::trace::CLASS_CONTROLLER;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const NS: i64 = 1_000_000_000;

/// Seconds from `t0` (both ns since the epoch).
fn secs(t0: i64, t: i64) -> f64 {
    (t - t0) as f64 / NS as f64
}

/// One (NodeENI, node, subnet) attachment as the trail shows it, in ns since the epoch.
#[derive(Default, Clone)]
struct Pair {
    first_asked: i64,
    first_row: usize,
    creates: u32,
    eni: Option<String>,
    created: Option<i64>,
    attached: Option<i64>,
    instance: Option<String>,
    device_index: Option<u32>,
    detached: Option<i64>,
    deleted: Option<i64>,
}

impl Pair {
    fn end(&self) -> Option<i64> {
        match (self.detached, self.deleted) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

type Key = (String, String, String);

/// The workload a trail shows, reconstructed from the controller's calls under `settings`.
pub fn from_trail(
    trail: &Trail,
    scope: &Scope,
    settings: &Reconstruction,
) -> Result<RecordedWorkload, WorkloadError> {
    let c = Columns::read(trail, scope)?;
    let mut warnings = Vec::new();
    let (t0, t_last) = match (c.rows.first(), c.rows.last()) {
        (Some(&a), Some(&b)) => (c.time[a], c.time[b]),
        _ => (0, 0),
    };
    let is_ctrl = |i: usize| Columns::str(&c.class, i) == Some(CLASS_CONTROLLER);
    let action = |i: usize| Columns::str(&c.action, i).unwrap_or("");

    // 1. Creates: the pairs, in order of first appearance.
    let mut pairs: BTreeMap<Key, Pair> = BTreeMap::new();
    let mut eni_key: HashMap<String, Key> = HashMap::new();
    let mut controller_calls = 0u64;
    let mut untied: Vec<usize> = Vec::new();
    let mut creates = 0u64;
    for &i in &c.rows {
        if !is_ctrl(i) {
            continue;
        }
        controller_calls += 1;
        if action(i) != "CreateNetworkInterface" {
            continue;
        }
        creates += 1;
        let subnet = Columns::str(&c.nodeeni_subnet, i).or_else(|| Columns::str(&c.subnet, i));
        let (Some(ne), Some(node), Some(subnet)) = (
            Columns::str(&c.nodeeni, i),
            Columns::str(&c.node, i),
            subnet,
        ) else {
            untied.push(i);
            continue;
        };
        let key = (ne.to_string(), node.to_string(), subnet.to_string());
        let p = pairs.entry(key.clone()).or_insert_with(|| Pair {
            first_asked: c.time[i],
            first_row: i,
            ..Pair::default()
        });
        p.creates += 1;
        if !c.failed(i) && p.created.is_none() {
            p.created = Some(c.time[i]);
            if let Some(e) = Columns::str(&c.eni, i) {
                p.eni = Some(e.to_string());
                eni_key.insert(e.to_string(), key);
            }
        } else if !c.failed(i) {
            // A later ENI of the same pair (churn): its attach may be the one that holds.
            if let Some(e) = Columns::str(&c.eni, i) {
                eni_key.insert(e.to_string(), key);
            }
        }
    }
    if controller_calls > 0 && pairs.is_empty() {
        let i = untied
            .first()
            .copied()
            .or_else(|| c.rows.iter().copied().find(|&i| is_ctrl(i)))
            .unwrap_or(0);
        let detail = if creates == 0 {
            format!(
                "{controller_calls} call(s) by the controller but no CreateNetworkInterface: \
                 nothing ties them to a NodeENI, node or subnet (give the Kubernetes audit log with --audit-log)"
            )
        } else {
            format!(
                "none of the controller's {creates} CreateNetworkInterface call(s) carries the NodeENI and Node tags \
                 (requestParameters.tagSpecificationSet): its calls cannot be tied to any instance or subnet \
                 (give the Kubernetes audit log with --audit-log)"
            )
        };
        return Err(WorkloadError::Untied {
            at: c.place(trail, i),
            key: "requestParameters.tagSpecificationSet",
            detail,
        });
    }
    if !untied.is_empty() {
        warnings.push(format!(
            "{} of the controller's {creates} CreateNetworkInterface call(s) carry no NodeENI/Node tag \
             (first: {}): left out of the workload",
            untied.len(),
            c.place(trail, untied[0])
        ));
    }

    // 2. Attach, Detach, Delete of the pairs' ENIs; terminated instances.
    let mut terminated: HashMap<String, i64> = HashMap::new();
    for &i in &c.rows {
        let act = action(i);
        if act == "TerminateInstances" && !c.failed(i) {
            if let Some(inst) = Columns::str(&c.instance, i) {
                terminated.entry(inst.to_string()).or_insert(c.time[i]);
            }
            continue;
        }
        if !is_ctrl(i) {
            continue;
        }
        let Some(key) = Columns::str(&c.eni, i).and_then(|e| eni_key.get(e)) else {
            continue;
        };
        let eni = Columns::str(&c.eni, i).unwrap_or("");
        let p = pairs.get_mut(key).expect("keys come from the pairs");
        let ok = !c.failed(i);
        match act {
            "AttachNetworkInterface" if ok && p.attached.is_none() => {
                p.attached = Some(c.time[i]);
                p.eni = Some(eni.to_string());
                p.instance = Columns::str(&c.instance, i).map(str::to_string);
                p.device_index = c.device[i];
            }
            "DetachNetworkInterface" if p.attached.is_some() && p.detached.is_none() => {
                // A Detach answered "attachment not found" still ends the attachment.
                let not_found = Columns::str(&c.error, i)
                    .is_some_and(|e| e.ends_with("InvalidAttachmentID.NotFound"));
                if (ok || not_found) && p.eni.as_deref() == Some(eni) {
                    p.detached = Some(c.time[i]);
                }
            }
            "DeleteNetworkInterface"
                if ok
                    && p.attached.is_some()
                    && p.deleted.is_none()
                    && p.eni.as_deref() == Some(eni) =>
            {
                p.deleted = Some(c.time[i]);
            }
            _ => {}
        }
    }

    // A NodeENI waits in the work queue while the workers are busy, so its first Create
    // can come long after it was created. It is taken as created when the controller's
    // busy period holding that Create began (a burst of NodeENIs applied at once is then
    // created at once): the start of the run of controller calls with gaps ≤ the
    // settings' busy gap (an assumption: models/workload/reconstruction.yaml).
    let mut busy_start: HashMap<usize, i64> = HashMap::new();
    {
        let gap = settings.busy_gap_ns();
        let mut start = i64::MIN;
        let mut prev = i64::MIN;
        for &i in c.rows.iter().filter(|&&i| is_ctrl(i)) {
            let t = c.time[i];
            if prev == i64::MIN || t - prev > gap {
                start = t;
            }
            prev = t;
            busy_start.insert(i, start);
        }
    }
    let created_at = |p: &Pair| {
        busy_start
            .get(&p.first_row)
            .copied()
            .unwrap_or(p.first_asked)
    };

    // 3. Nodes (instance from their attaches), subnets, NodeENIs.
    let mut node_instance: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut node_order: Vec<String> = Vec::new();
    let mut subnets: Vec<String> = Vec::new();
    let mut by_first: Vec<(&Key, &Pair)> = pairs.iter().collect();
    by_first.sort_by_key(|(_, p)| p.first_row);
    for (k, p) in &by_first {
        if !node_instance.contains_key(&k.1) {
            node_order.push(k.1.clone());
        }
        let slot = node_instance.entry(k.1.clone()).or_insert(None);
        match (&slot, &p.instance) {
            (None, Some(i)) => *slot = Some(i.clone()),
            (Some(a), Some(b)) if a != b => warnings.push(format!(
                "node {} is attached on two instances ({a}, then {b}): the first is kept",
                k.1
            )),
            _ => {}
        }
        if !subnets.contains(&k.2) {
            subnets.push(k.2.clone());
        }
    }

    // Which attachments ended, and what explains it: the node went away (its instance
    // terminated, or every attachment on it ended while its NodeENIs kept others), or the
    // NodeENI was deleted (every attachment it had, on nodes that stayed, ended).
    let mut nodeeni_order: Vec<String> = Vec::new();
    for (k, _) in &by_first {
        if !nodeeni_order.contains(&k.0) {
            nodeeni_order.push(k.0.clone());
        }
    }
    let node_ends: BTreeMap<&str, (bool, Option<i64>)> = node_order
        .iter()
        .map(|n| {
            let mine: Vec<&Pair> = pairs
                .iter()
                .filter(|(k, _)| &k.1 == n)
                .map(|(_, p)| p)
                .collect();
            let all_end = mine.iter().all(|p| p.end().is_some());
            let first_end = mine.iter().filter_map(|p| p.end()).min();
            (n.as_str(), (all_end, first_end))
        })
        .collect();
    let mut nodes: Vec<RecordedNode> = Vec::new();
    for n in &node_order {
        let inst = node_instance.get(n).cloned().flatten();
        let term = inst.as_ref().and_then(|i| terminated.get(i)).copied();
        let (all_end, first_end) = node_ends[n.as_str()];
        // The node's NodeENIs keep attachments on other nodes that did not end.
        let others_stay = pairs.iter().any(|(k, p)| {
            &k.1 != n && p.end().is_none() && pairs.keys().any(|m| m.1 == *n && m.0 == k.0)
        });
        let removed = match term {
            Some(t) => Some(t),
            None if all_end && others_stay => first_end,
            None => None,
        };
        nodes.push(RecordedNode {
            name: n.clone(),
            instance: inst,
            joined_s: 0.0,
            removed_s: removed.map(|t| secs(t0, t).max(0.0)),
            terminated: term.is_some(),
        });
    }
    let removed: BTreeSet<&str> = nodes
        .iter()
        .filter(|n| n.removed_s.is_some())
        .map(|n| n.name.as_str())
        .collect();
    let mut nodeenis = Vec::new();
    for ne in &nodeeni_order {
        let mine: Vec<(&Key, &Pair)> = by_first
            .iter()
            .filter(|(k, _)| &k.0 == ne)
            .copied()
            .collect();
        let created = mine.iter().map(|(_, p)| created_at(p)).min().unwrap_or(t0);
        let staying: Vec<&Pair> = mine
            .iter()
            .filter(|(k, _)| !removed.contains(k.1.as_str()))
            .map(|(_, p)| *p)
            .collect();
        let deleted = (!staying.is_empty() && staying.iter().all(|p| p.end().is_some()))
            .then(|| staying.iter().filter_map(|p| p.end()).min())
            .flatten();
        let partly = staying.iter().filter(|p| p.end().is_some()).count();
        if deleted.is_none() && partly > 0 {
            warnings.push(format!(
                "{partly} attachment(s) of NodeENI {ne} ended while the NodeENI and their nodes stayed \
                 (a spec or label change the trail cannot show): not replayed"
            ));
        }
        let mut node_list: Vec<String> = Vec::new();
        let mut subnet_list: Vec<String> = Vec::new();
        let mut devices: BTreeMap<u32, u32> = BTreeMap::new();
        for (k, p) in &mine {
            if !node_list.contains(&k.1) {
                node_list.push(k.1.clone());
            }
            if !subnet_list.contains(&k.2) {
                subnet_list.push(k.2.clone());
            }
            if let Some(d) = p.device_index {
                *devices.entry(d).or_default() += 1;
            }
        }
        // spec.deviceIndex: the index most of its attachments got (ties: the smallest);
        // none attached: the CRD default 1.
        let device_index = devices
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(d, _)| *d)
            .unwrap_or(1);
        nodeenis.push(RecordedNodeEni {
            name: ne.clone(),
            created_s: secs(t0, created),
            deleted_s: deleted.map(|t| secs(t0, t)),
            nodes: node_list,
            subnets: subnet_list,
            device_index,
        });
    }
    let attachments = by_first
        .iter()
        .map(|(k, p)| AttachmentTimeline {
            nodeeni: k.0.clone(),
            node: k.1.clone(),
            subnet: k.2.clone(),
            eni: p.eni.clone(),
            instance: p.instance.clone(),
            first_asked_s: secs(t0, p.first_asked),
            creates: p.creates,
            created_s: p.created.map(|t| secs(t0, t)),
            attached_s: p.attached.map(|t| secs(t0, t)),
            device_index: p.device_index,
            detached_s: p.detached.map(|t| secs(t0, t)),
            deleted_s: p.deleted.map(|t| secs(t0, t)),
        })
        .collect();
    if controller_calls == 0 {
        warnings.push(
            "the trail has no call by the controller: there is no controller workload to replay"
                .into(),
        );
    }
    let mut w = RecordedWorkload {
        source: Source::Trail,
        start_ns: t0,
        span_s: secs(t0, t_last),
        account: c.account.clone(),
        region: c.region.clone(),
        subnets,
        nodes,
        nodeenis,
        attachments,
        controller_calls,
        warnings,
    };
    w.canonicalise();
    Ok(w)
}
