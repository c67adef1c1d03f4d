//! Builds the world a scenario describes (EC2 with its instances and subnets, the
//! Kubernetes objects, the controller) and runs one replication of it.

use super::spec::{DeviceIndexPlan, Layout};
use super::values::Settings;
use crate::aws::{
    Ec2Client, Ec2Profile, Ec2Server, InstanceType, InstanceTypes, SecurityGroupId, SubnetId,
};
use crate::controller::cluster::{Cluster, Node, NodeEni, NodeEniKey, NodeEniSpec};
use crate::controller::{ApiServer, Controller, Ec2Ops};
use crate::engine::{time, Nanos, Sim};
use crate::kube::{ControllerRateLimiter, WorkQueue};
use crate::metrics::record::{action_stats, is_unexpected_error, quantiles};
use crate::metrics::{EniRow, RunMetrics, RunRecord};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Why a scenario cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error("unknown instance type {name:?}; known in this family: {suggestions}")]
    UnknownInstanceType { name: String, suggestions: String },
}

/// The model inputs that are not Helm values.
#[derive(Debug, Clone)]
pub struct Model {
    pub ec2: Ec2Profile,
    pub instance_types: InstanceTypes,
}

impl Model {
    pub fn embedded() -> Model {
        Model {
            ec2: Ec2Profile::embedded(),
            instance_types: InstanceTypes::embedded(),
        }
    }

    pub fn instance_type(&self, name: &str) -> Result<&InstanceType, BuildError> {
        self.instance_types
            .get(name)
            .ok_or_else(|| BuildError::UnknownInstanceType {
                name: name.to_string(),
                suggestions: self.instance_types.suggest(name).join(", "),
            })
    }
}

/// The NodeENI objects of a layout.
fn nodeenis(
    settings: &Settings,
    subnets: &[SubnetId],
    group: SecurityGroupId,
    node_names: &[String],
) -> Vec<NodeEni> {
    let c = &settings.scenario.cluster;
    let all_nodes: BTreeMap<String, String> = [("ng".to_string(), "multi-eni".to_string())]
        .into_iter()
        .collect();
    let make = |name: String, selector, subnets: Vec<SubnetId>, device_index| NodeEni {
        name,
        spec: NodeEniSpec {
            node_selector: selector,
            subnets,
            security_groups: vec![group],
            security_group_names: c.security_group_names.clone(),
            device_index,
        },
        attachments: Vec::new(),
        finalizer: false,
        deletion_requested: None,
        cleanup_started: None,
        created_at: 0,
        gone: false,
    };
    match c.layout {
        Layout::SubnetPerNodeeni => subnets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let idx = match c.device_index {
                    DeviceIndexPlan::Distinct => i as u32 + 1,
                    DeviceIndexPlan::Default => 1,
                };
                make(format!("multi-eni-{i}"), all_nodes.clone(), vec![*s], idx)
            })
            .collect(),
        Layout::OneNodeeni => vec![make("multi-eni".into(), all_nodes, subnets.to_vec(), 1)],
        Layout::NodeeniPerNode => node_names
            .iter()
            .map(|n| {
                let sel = [("kubernetes.io/hostname".to_string(), n.clone())]
                    .into_iter()
                    .collect();
                make(format!("multi-eni-{n}"), sel, subnets.to_vec(), 1)
            })
            .collect(),
    }
}

/// A built world: EC2, the cluster, the API server and the controller, ready to run.
pub struct World {
    pub sim: Sim,
    pub server: Rc<RefCell<Ec2Server>>,
    pub cluster: Rc<RefCell<Cluster>>,
    pub api: ApiServer,
    pub client: Ec2Client,
    pub ops: Ec2Ops,
    pub queue: WorkQueue<NodeEniKey>,
    pub controller: Controller,
    pub log: Rc<RefCell<Vec<crate::aws::CallRecord>>>,
    pub subnets: Vec<SubnetId>,
    pub group: SecurityGroupId,
    pub node_names: Vec<String>,
    pub seed: u64,
    settings: Settings,
}

impl World {
    /// EC2 with the scenario's instances and subnets, the nodes, and a started
    /// controller; no NodeENI yet.
    pub fn build(settings: &Settings, model: &Model, seed: u64) -> Result<World, BuildError> {
        let c = &settings.scenario.cluster;
        let itype = model.instance_type(&c.instance_type)?.clone();
        let sim = Sim::new();
        let h = sim.handle();
        let mut server = Ec2Server::new(&model.ec2, seed);
        let subnets: Vec<SubnetId> = (0..c.enis_per_node)
            .map(|i| server.add_subnet(&format!("multi-eni-{i}")))
            .collect();
        let node_subnet = server.add_subnet("nodes");
        let group = server.add_security_group("multi-eni");
        for name in &c.security_group_names {
            server.add_security_group(name);
        }
        let node_names: Vec<String> = (0..c.nodes).map(|i| format!("node-{i:02}")).collect();
        let mut nodes = Vec::new();
        for name in &node_names {
            let inst = server.add_instance(&itype, node_subnet, 0);
            nodes.push(Node {
                name: name.clone(),
                instance: Some(inst),
                labels: [
                    ("ng".to_string(), "multi-eni".to_string()),
                    ("kubernetes.io/hostname".to_string(), name.clone()),
                ]
                .into_iter()
                .collect(),
                deleted: false,
            });
        }
        let server = Rc::new(RefCell::new(server));
        let queue: WorkQueue<NodeEniKey> = WorkQueue::new(&h, ControllerRateLimiter::default());
        queue.record_depth_series();
        let cluster = Rc::new(RefCell::new(Cluster {
            nodes,
            nodeenis: Vec::new(),
        }));
        let profile = &settings.controller;
        let api = ApiServer::new(
            &h,
            cluster.clone(),
            queue.clone(),
            &profile.kubernetes,
            profile.behaviour.self_trigger,
            seed,
        );
        let log = Rc::new(RefCell::new(Vec::new()));
        let client = Ec2Client::new(
            &h,
            server.clone(),
            profile.env.aws_retry_mode,
            profile.env.aws_max_attempts,
            seed,
        )
        .with_log(log.clone());
        let ops = Ec2Ops::new(&h, client.clone(), profile, seed);
        let limit_server = server.clone();
        let limits = Rc::new(move |i| {
            limit_server
                .borrow()
                .instance_type(i)
                .map(|t| t.max_enis_default_card)
        });
        let controller = Controller::new(
            &h,
            api.clone(),
            ops.clone(),
            profile.clone(),
            queue.clone(),
            limits,
            seed,
        );
        controller.start();
        api.note_objects();
        Ok(World {
            sim,
            server,
            cluster,
            api,
            client,
            ops,
            queue,
            controller,
            log,
            subnets,
            group,
            node_names,
            seed,
            settings: settings.clone(),
        })
    }

    /// Creates the layout's NodeENIs now.
    pub fn create_nodeenis(&self) {
        for n in nodeenis(&self.settings, &self.subnets, self.group, &self.node_names) {
            self.api.create_nodeeni(n);
        }
    }

    /// Attachments the NodeENIs that exist ask for.
    pub fn desired_attachments(&self) -> u64 {
        let c = self.cluster.borrow();
        c.nodeenis
            .iter()
            .filter(|n| !n.gone && n.deletion_requested.is_none())
            .map(|n| {
                let nodes = c
                    .nodes
                    .iter()
                    .filter(|x| n.selects(x) && x.instance.is_some())
                    .count();
                (nodes * n.spec.subnets.len()) as u64
            })
            .sum()
    }

    /// Runs in monitor steps until converged (then the observation window) or `horizon`.
    /// Returns (converged at, mean busy workers until then).
    pub fn run_to_convergence(&self, horizon: Nanos) -> (Option<Nanos>, Option<f64>, Nanos) {
        let step = self.settings.scenario.run.monitor_interval.0;
        let desired = self.desired_attachments();
        let mut t = self.sim.now();
        while t < horizon {
            t = (t + step).min(horizon);
            self.sim.run_until(t);
            let converged = convergence_time(
                &self.cluster.borrow(),
                &self.server.borrow(),
                &self.controller,
                desired,
                t,
            );
            if let Some(ct) = converged {
                let busy = self.controller.rec.borrow().workers_busy.mean(t);
                let stop =
                    (ct.max(t) + self.settings.scenario.run.observe_after_converged.0).min(horizon);
                self.sim.run_until(stop);
                return (Some(ct), Some(busy), stop);
            }
        }
        (None, None, t)
    }

    /// Everything the replication produced, up to `end`.
    pub fn record(
        &self,
        converged_at: Option<Nanos>,
        busy_to_converge: Option<f64>,
        end: Nanos,
    ) -> RunRecord {
        let desired = self.desired_attachments();
        let (cluster, controller, client, queue, api, ops, log, seed) = (
            &self.cluster,
            &self.controller,
            &self.client,
            &self.queue,
            &self.api,
            &self.ops,
            &self.log,
            self.seed,
        );
        // ---- collect ------------------------------------------------------------------
        let calls = log.borrow().clone();
        let rec = controller.rec.borrow().clone();
        let mut srv = self.server.borrow_mut();
        srv.settle_buckets(end);
        let mut enis = Vec::new();
        let (mut creation, mut attachment, mut ready) = (Vec::new(), Vec::new(), Vec::new());
        let nodeeni_names: Vec<String> = cluster
            .borrow()
            .nodeenis
            .iter()
            .map(|n| n.name.clone())
            .collect();
        let in_status: std::collections::BTreeSet<_> = cluster
            .borrow()
            .nodeenis
            .iter()
            .flat_map(|n| n.attachments.iter().map(|a| a.eni))
            .collect();
        let mut churned = 0;
        for (eni, tl) in &rec.enis {
            let attached = srv.attached_at(*eni);
            if tl.fate == crate::controller::EniFate::ChurnedAfterAttachFailure {
                churned += 1;
            }
            if in_status.contains(eni) {
                creation.push(time::to_secs(tl.created_at - tl.requested_at));
                if let Some(a) = attached {
                    attachment.push(time::to_secs(a.saturating_sub(tl.created_at)));
                    ready.push(time::to_secs(a.saturating_sub(tl.requested_at)));
                }
            }
            enis.push(EniRow {
                replication: 0,
                eni: eni.to_string(),
                nodeeni: nodeeni_names
                    .get(tl.nodeeni as usize)
                    .cloned()
                    .unwrap_or_default(),
                node: tl.node.clone(),
                subnet: tl.subnet.to_string(),
                requested_s: time::to_secs(tl.requested_at),
                created_s: time::to_secs(tl.created_at),
                attach_returned_s: tl.attach_returned_at.map(time::to_secs),
                ec2_attached_s: attached.map(time::to_secs),
                in_status_s: tl.in_status_at.map(time::to_secs),
                fate: format!("{:?}", tl.fate),
                gone_s: tl.gone_at.map(time::to_secs),
            });
        }
        let attached_at_end = attachment.len() as u64;
        // Missing attachments count at the horizon (censored, the worst case).
        let missing = desired.saturating_sub(creation.len() as u64);
        for _ in 0..missing {
            creation.push(time::to_secs(end));
        }
        for _ in 0..desired.saturating_sub(attachment.len() as u64) {
            attachment.push(time::to_secs(end));
            ready.push(time::to_secs(end));
        }
        let (c50, c95, c99, cmax) = quantiles(creation);
        let (a50, a95, a99, amax) = quantiles(attachment);
        let (_, r95, _, _) = quantiles(ready);
        let (rc50, rc95, _, rcmax) = quantiles(
            rec.reconciles
                .iter()
                .map(|r| time::to_secs(r.end - r.start))
                .collect(),
        );
        let actions = action_stats(&calls, end);
        let attempts = calls.len() as u64;
        let errors = calls
            .iter()
            .filter(|c| c.error.is_some_and(is_unexpected_error))
            .count() as u64;
        let throttled = calls
            .iter()
            .filter(|c| c.error.is_some_and(|e| e.is_throttle()))
            .count() as u64;
        let cstats = client.stats();
        let in_flight = client.in_flight();
        let qstats = queue.stats();
        let breaker = ops.breaker();
        let res = crate::controller::resources::controller_resources(
            &self.settings.controller.costs,
            &self.settings.controller.eni_manager,
            &rec.reconciles,
            &calls,
            &api.stats.borrow(),
            end,
        );
        let metrics = RunMetrics {
            desired_attachments: desired,
            attached_at_end,
            converged: converged_at.is_some(),
            full_reconcile_s: time::to_secs(converged_at.unwrap_or(end)),
            eni_creation_p50_s: c50,
            eni_creation_p95_s: c95,
            eni_creation_p99_s: c99,
            eni_creation_max_s: cmax,
            eni_attachment_p50_s: a50,
            eni_attachment_p95_s: a95,
            eni_attachment_p99_s: a99,
            eni_attachment_max_s: amax,
            eni_ready_p95_s: r95,
            reconcile_p50_s: rc50,
            reconcile_p95_s: rc95,
            reconcile_max_s: rcmax,
            reconciles: rec.reconciles.len() as u64,
            workers_busy_max: rec.workers_busy.max() as f64,
            workers_busy_mean: rec.workers_busy.mean(end),
            workers_busy_to_converge: busy_to_converge
                .unwrap_or_else(|| rec.workers_busy.mean(end)),
            ec2_in_flight_max: in_flight.max() as f64,
            ec2_in_flight_mean: in_flight.mean(end),
            ec2_calls: cstats.calls,
            ec2_attempts: attempts,
            ec2_throttled: throttled,
            ec2_errors: errors,
            error_rate_percent: if attempts == 0 {
                0.0
            } else {
                100.0 * errors as f64 / attempts as f64
            },
            sdk_retries: cstats.retries,
            sdk_quota_exhausted: cstats.quota_exhausted,
            wrapper_retries: ops.stats.borrow().wrapper_retries,
            enis_created: rec.enis.len() as u64,
            churned_enis: churned,
            index_conflicts: rec.index_conflict_retries,
            status_writes: api.stats.borrow().status_writes,
            queue_depth_max: qstats.max_depth as f64,
            breaker_transitions: breaker
                .as_ref()
                .map(|b| b.transitions.len() as u64)
                .unwrap_or(0),
            cpu_p95_millicores: res.cpu_p95_millicores,
            cpu_peak_millicores: res.cpu_peak_millicores,
            cpu_mean_millicores: res.cpu_mean_millicores,
            memory_p95_mib: res.memory_p95_mib,
            memory_peak_mib: res.memory_peak_mib,
            eni_manager_cpu_millicores: res.eni_manager_cpu_millicores,
            eni_manager_memory_mib: res.eni_manager_memory_mib,
            eni_manager_api_reads_per_s: res.eni_manager_api_reads_per_s,
            end_s: time::to_secs(end),
        };
        let buckets = srv
            .buckets()
            .iter()
            .map(|b| {
                (
                    b.name.clone(),
                    time::to_secs(b.stats.empty_time),
                    b.stats.throttled,
                )
            })
            .collect();
        drop(srv);
        RunRecord {
            seed,
            metrics,
            actions,
            enis,
            calls,
            buckets,
            queue_depth: queue.depth_series(),
            breaker: breaker
                .map(|b| {
                    b.transitions
                        .iter()
                        .map(|(t, s)| (*t, format!("{s:?}")))
                        .collect()
                })
                .unwrap_or_default(),
            attach_failures: rec.attach_failures.clone(),
        }
    }
}

/// One replication of the scenario under `settings`: the burst's NodeENIs at t = 0, run
/// until converged (plus the observation window) or the horizon.
pub fn simulate(settings: &Settings, model: &Model, seed: u64) -> Result<RunRecord, BuildError> {
    let world = World::build(settings, model, seed)?;
    world.create_nodeenis();
    let (converged, busy, end) = world.run_to_convergence(settings.scenario.horizon());
    Ok(world.record(converged, busy, end))
}

/// The time at which every desired attachment was in NodeENI status and `attached` in
/// EC2, if that holds by `now`.
fn convergence_time(
    cluster: &Cluster,
    server: &Ec2Server,
    controller: &Controller,
    desired: u64,
    now: Nanos,
) -> Option<Nanos> {
    let rec = controller.rec.borrow();
    let mut count = 0;
    let mut latest = 0;
    for n in cluster
        .nodeenis
        .iter()
        .filter(|n| !n.gone && n.deletion_requested.is_none())
    {
        for node in cluster
            .nodes
            .iter()
            .filter(|x| n.selects(x) && x.instance.is_some())
        {
            for s in &n.spec.subnets {
                let a = n
                    .attachments
                    .iter()
                    .find(|a| a.node == node.name && a.subnet == *s)?;
                let attached = server.attached_at(a.eni)?;
                let in_status = rec.enis.get(&a.eni).and_then(|t| t.in_status_at)?;
                if attached > now {
                    return None;
                }
                latest = latest.max(attached).max(in_status);
                count += 1;
            }
        }
    }
    (count >= desired).then_some(latest)
}
