//! Builds the world a scenario describes (EC2 with its instances and subnets, the
//! Kubernetes objects, the controller) and runs one replication of it.

use super::spec::{DeviceIndexPlan, Kind, Layout};
use super::values::Settings;
use crate::aws::{
    Ec2Client, Ec2Profile, Ec2Server, InstanceType, InstanceTypes, SecurityGroupId, SubnetId,
};
use crate::controller::cluster::{Cluster, Node, NodeEni, NodeEniKey, NodeEniSpec};
use crate::controller::Recorder;
use crate::controller::{ApiServer, Controller, Ec2Ops};
use crate::engine::{time, Nanos, Sim};
use crate::kube::{ControllerRateLimiter, WorkQueue};
use crate::metrics::record::{action_stats, is_unexpected_error, percent, quantiles};
use crate::metrics::stats::{censored_quantile, CensoredQuantile};
use crate::metrics::{EniRow, RunMetrics, RunRecord};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Why a scenario cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error("unknown instance type {name:?}; {hint}")]
    UnknownInstanceType { name: String, hint: String },
    /// A replication's varied parameters could not be set (see `replicate_varied`).
    #[error("{0}")]
    Varied(String),
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
                hint: self.instance_types.unknown_type_hint(name),
            })
    }
}

/// The NodeENI objects of a layout, created at `now`.
pub(crate) fn nodeenis(
    settings: &Settings,
    subnets: &[SubnetId],
    group: SecurityGroupId,
    node_names: &[String],
    now: Nanos,
) -> Vec<NodeEni> {
    let c = &settings.scenario.cluster;
    let all_nodes: BTreeMap<String, String> = [("ng".to_string(), "multi-eni".to_string())]
        .into_iter()
        .collect();
    let make = |name: String, selector, subnets: Vec<SubnetId>, device_index| {
        NodeEni::new(
            name,
            NodeEniSpec {
                node_selector: selector,
                subnets,
                security_groups: vec![group],
                security_group_names: c.security_group_names.clone(),
                device_index,
            },
            now,
        )
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

/// One attachment a NodeENI asks for: (NodeENI, node, subnet).
pub type Want = (NodeEniKey, String, SubnetId);

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
    /// When each (node, subnet) attachment was last asked for (creation times count
    /// from here), and the pairs asked for now.
    demand: RefCell<(BTreeMap<Want, Nanos>, BTreeSet<Want>)>,
    desired_cache: std::cell::Cell<(u64, u64)>,
    pub(crate) settings: Settings,
}

impl World {
    /// EC2 with the scenario's instances and subnets, the nodes, and a started
    /// controller; no NodeENI yet.
    pub fn build(settings: &Settings, model: &Model, seed: u64) -> Result<World, BuildError> {
        let c = &settings.scenario.cluster;
        let itype = model.instance_type(&c.instance_type)?.clone();
        let (spare_nodes, spare_subnets) = settings
            .scenario
            .mixed
            .as_ref()
            .map(|m| (m.spare_nodes, m.spare_subnets))
            .unwrap_or((0, 0));
        let active_nodes = match (&settings.scenario.kind, &settings.scenario.gradual) {
            (Kind::Gradual, Some(g)) => g.path[0].nodes.min(c.nodes),
            _ => c.nodes,
        };
        let mut ec2 = model.ec2.clone();
        if let Some(f) = &settings.scenario.faults {
            ec2.faults
                .error_probability
                .extend(f.error_probability.clone());
            ec2.faults.outages.extend(f.outages.iter().cloned());
            ec2.faults
                .throttle_storms
                .extend(f.throttle_storms.iter().cloned());
        }
        let sim = Sim::new();
        let h = sim.handle();
        let mut server = Ec2Server::new(&ec2, seed);
        let recorded = settings.scenario.recorded.as_ref();
        // A recorded workload names its subnets and nodes; the others are numbered.
        let subnet_names: Vec<String> = match recorded {
            Some(r) => r.subnets.clone(),
            None => (0..c.enis_per_node + spare_subnets)
                .map(|i| format!("multi-eni-{i}"))
                .collect(),
        };
        let subnets: Vec<SubnetId> = subnet_names.iter().map(|n| server.add_subnet(n)).collect();
        let node_subnet = server.add_subnet("nodes");
        let group = server.add_security_group("multi-eni");
        for name in &c.security_group_names {
            server.add_security_group(name);
        }
        let node_names: Vec<String> = match recorded {
            Some(r) => r.nodes.iter().map(|n| n.name.clone()).collect(),
            None => (0..c.nodes + spare_nodes)
                .map(|i| format!("node-{i:02}"))
                .collect(),
        };
        let mut nodes = Vec::new();
        for (i, name) in node_names.iter().enumerate() {
            let inst = server.add_instance(&itype, node_subnet, 0);
            let (labels, deleted) = match recorded {
                // A recorded node that joins later is not there yet.
                Some(r) => (r.node_labels(name), r.nodes[i].joined_s > 0.0),
                None => (
                    [
                        ("ng".to_string(), "multi-eni".to_string()),
                        ("kubernetes.io/hostname".to_string(), name.clone()),
                    ]
                    .into_iter()
                    .collect(),
                    // Nodes past the active count join later (gradual steps, spare nodes).
                    i as u32 >= active_nodes,
                ),
            };
            nodes.push(Node {
                name: name.clone(),
                instance: Some(inst),
                labels,
                deleted,
            });
        }
        let server = Rc::new(RefCell::new(server));
        let queue: WorkQueue<NodeEniKey> = WorkQueue::new(&h, ControllerRateLimiter::default());
        queue.record_depth_series();
        let cluster = Rc::new(RefCell::new(Cluster {
            nodes,
            nodeenis: Vec::new(),
            generation: 0,
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
        .with_log(log.clone())
        .with_jitter(profile.behaviour.sdk_jitter);
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
        if let Some(k) = &profile.kubernetes.kubelet {
            api.start_kubelets(k, seed);
        }
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
            demand: RefCell::new((BTreeMap::new(), BTreeSet::new())),
            desired_cache: std::cell::Cell::new((u64::MAX, 0)),
            settings: settings.clone(),
        })
    }

    /// Creates the layout's NodeENIs now, over the scenario's subnets and active nodes.
    pub fn create_nodeenis(&self) {
        let m = self.settings.scenario.cluster.enis_per_node as usize;
        self.create_layout(&self.subnets[..m.min(self.subnets.len())]);
    }

    /// The layout's NodeENIs over `subnets` (for nodeeni-per-node: one per active node).
    pub fn create_layout(&self, subnets: &[SubnetId]) {
        let active = self.active_node_names();
        for n in nodeenis(&self.settings, subnets, self.group, &active, self.sim.now()) {
            self.api.create_nodeeni(n);
        }
        self.refresh_demand();
    }

    pub fn active_node_names(&self) -> Vec<String> {
        self.cluster
            .borrow()
            .nodes
            .iter()
            .filter(|n| !n.deleted)
            .map(|n| n.name.clone())
            .collect()
    }

    /// The attachments the live NodeENIs ask for: (NodeENI, node, subnet).
    pub fn desired_pairs(&self) -> BTreeSet<Want> {
        let c = self.cluster.borrow();
        let mut out = BTreeSet::new();
        for (k, n) in c.nodeenis.iter().enumerate() {
            if n.gone || n.deletion_requested.is_some() {
                continue;
            }
            for node in c
                .nodes
                .iter()
                .filter(|x| n.selects(x) && x.instance.is_some())
            {
                for s in &n.spec.subnets {
                    out.insert((k as NodeEniKey, node.name.clone(), *s));
                }
            }
        }
        out
    }

    /// Notes when newly desired attachments were asked for. Call after every change.
    pub fn refresh_demand(&self) {
        let now = self.sim.now();
        let pairs = self.desired_pairs();
        let mut d = self.demand.borrow_mut();
        for p in &pairs {
            if !d.1.contains(p) {
                d.0.insert(p.clone(), now);
            }
        }
        d.1 = pairs;
    }

    /// Every attachment ever asked for, with when it last was.
    pub fn demand_times(&self) -> Vec<(Want, Nanos)> {
        self.demand
            .borrow()
            .0
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Whether EC2 has terminated the instance.
    pub fn terminated(&self, i: crate::aws::InstanceId) -> bool {
        self.server.borrow().instance_state(i)
            == Some(crate::aws::server::InstanceState::Terminated)
    }

    /// When the attachment for (NodeENI, node, subnet) was asked for, if it was.
    pub fn demanded_at(&self, nodeeni: NodeEniKey, node: &str, subnet: SubnetId) -> Option<Nanos> {
        self.demand
            .borrow()
            .0
            .get(&(nodeeni, node.to_string(), subnet))
            .copied()
    }

    /// Attachments the NodeENIs that exist ask for (cached per cluster generation).
    pub fn desired_attachments(&self) -> u64 {
        let generation = self.cluster.borrow().generation;
        let (g, n) = self.desired_cache.get();
        if g == generation {
            return n;
        }
        let n = self.desired_pairs().len() as u64;
        self.desired_cache.set((generation, n));
        n
    }

    /// Runs in monitor steps until converged (then the observation window) or `horizon`.
    /// Returns (converged at, mean busy workers until then).
    pub fn run_to_convergence(&self, horizon: Nanos) -> (Option<Nanos>, Option<f64>, Nanos) {
        match self.run_until_converged(0, horizon) {
            Some(ct) => {
                let busy = self
                    .controller
                    .rec
                    .borrow()
                    .workers_busy
                    .mean(self.sim.now());
                let stop = (ct.max(self.sim.now())
                    + self.settings.scenario.run.observe_after_converged.0)
                    .min(horizon);
                self.sim.run_until(stop);
                (Some(ct), Some(busy), stop)
            }
            // Not converged: the run was observed up to the horizon (the clock itself
            // stops at the last event, which may be long before).
            None => (None, None, horizon),
        }
    }

    /// After a convergence check: runs the observation window (when it converged) or to the
    /// horizon (when it did not); returns the end time.
    pub fn observe_after(&self, converged: bool, horizon: Nanos) -> Nanos {
        let end = if converged {
            (self.sim.now() + self.settings.scenario.run.observe_after_converged.0).min(horizon)
        } else {
            horizon
        };
        self.sim.run_until(end);
        end
    }

    /// Runs in monitor steps until every desired attachment holds at a check made no
    /// earlier than `not_before`, or until `deadline`. Returns when it converged.
    pub fn run_until_converged(&self, not_before: Nanos, deadline: Nanos) -> Option<Nanos> {
        self.run_until_condition(not_before, deadline, |w, t| {
            convergence_time(
                &w.cluster.borrow(),
                &w.server.borrow(),
                &w.controller,
                w.desired_attachments(),
                t,
            )
        })
    }

    /// Runs in monitor steps until `check` returns a time, or until `deadline`.
    pub fn run_until_condition(
        &self,
        not_before: Nanos,
        deadline: Nanos,
        check: impl Fn(&World, Nanos) -> Option<Nanos>,
    ) -> Option<Nanos> {
        let step = self.settings.scenario.run.monitor_interval.0;
        let mut t = self.sim.now();
        while t < deadline {
            t = (t + step).min(deadline);
            self.sim.run_until(t);
            if t < not_before {
                continue;
            }
            if let Some(ct) = check(self, t) {
                return Some(ct);
            }
        }
        None
    }

    /// The NodeENIs' names, by key.
    pub fn nodeeni_names(&self) -> Vec<String> {
        self.cluster
            .borrow()
            .nodeenis
            .iter()
            .map(|n| n.name.clone())
            .collect()
    }

    /// Every ENI's row and the creation / attachment samples, with the desired
    /// attachments that were not in place at `end` as censored samples.
    fn eni_samples(&self, rec: &Recorder, srv: &Ec2Server, end: Nanos) -> EniSamples {
        let nodeeni_names = self.nodeeni_names();
        let mut out = EniSamples {
            rows: Vec::new(),
            creation: Vec::new(),
            attachment: Vec::new(),
            ready: Vec::new(),
            churned: 0,
            attached_at_end: 0,
            never_created: 0,
            never_attached: 0,
        };
        // The ENI in status for each (NodeENI, node, subnet), for the censored ones below.
        let mut created_for: BTreeMap<Want, Nanos> = BTreeMap::new();
        for (eni, tl) in &rec.enis {
            // Its attachment time even if it was detached since (a scale-down).
            let attached = srv.first_attached_at(*eni).filter(|t| *t <= end);
            if tl.fate == crate::controller::EniFate::ChurnedAfterAttachFailure {
                out.churned += 1;
            }
            let requested = self
                .demanded_at(tl.nodeeni, &tl.node, tl.subnet)
                .filter(|t| *t <= tl.created_at)
                .unwrap_or(tl.requested_at);
            if tl.in_status_at.is_some() {
                out.creation
                    .push((time::to_secs(tl.created_at - requested), false));
                if let Some(a) = attached {
                    out.attachment
                        .push((time::to_secs(a.saturating_sub(tl.created_at)), false));
                    out.ready
                        .push((time::to_secs(a.saturating_sub(requested)), false));
                }
                if tl.gone_at.is_none() {
                    let want = (tl.nodeeni, tl.node.clone(), tl.subnet);
                    let t = created_for.entry(want).or_insert(tl.created_at);
                    *t = (*t).max(tl.created_at);
                }
            }
            out.rows.push(EniRow {
                replication: 0,
                eni: eni.to_string(),
                nodeeni: nodeeni_names
                    .get(tl.nodeeni as usize)
                    .cloned()
                    .unwrap_or_default(),
                node: tl.node.clone(),
                subnet: tl.subnet.to_string(),
                requested_s: time::to_secs(requested),
                created_s: time::to_secs(tl.created_at),
                attach_returned_s: tl.attach_returned_at.map(time::to_secs),
                ec2_attached_s: attached.map(time::to_secs),
                in_status_s: tl.in_status_at.map(time::to_secs),
                fate: format!("{:?}", tl.fate),
                gone_s: tl.gone_at.map(time::to_secs),
            });
        }
        // Desired attachments not in place at the end are censored observations: their
        // times are only known to exceed what they had waited by `end` (never "0.6 s").
        let cluster = self.cluster.borrow();
        let satisfied: BTreeSet<Want> = cluster
            .nodeenis
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.gone)
            .flat_map(|(k, n)| n.attachments.iter().map(move |a| (k as NodeEniKey, a)))
            .filter(|(_, a)| srv.attached_at(a.eni).is_some_and(|t| t <= end))
            .map(|(k, a)| (k, a.node.clone(), a.subnet))
            .collect();
        drop(cluster);
        let desired = self.desired_pairs();
        out.attached_at_end = desired.intersection(&satisfied).count() as u64;
        for want in desired.difference(&satisfied) {
            let asked = self
                .demanded_at(want.0, &want.1, want.2)
                .unwrap_or(0)
                .min(end);
            let waited = time::to_secs(end - asked);
            out.never_attached += 1;
            match created_for.get(want) {
                // Created and in status, not attached in EC2 (yet).
                Some(created) if *created <= end => {
                    out.attachment.push((time::to_secs(end - created), true));
                }
                _ => {
                    out.never_created += 1;
                    out.creation.push((waited, true));
                    out.attachment.push((waited, true));
                }
            }
            out.ready.push((waited, true));
        }
        out
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
        let samples = self.eni_samples(&rec, &srv, end);
        let enis = samples.rows;
        let churned = samples.churned;
        let attached_at_end = samples.attached_at_end;
        let (c50, c95, c99, cmax) = censored_quantiles(&samples.creation);
        let (a50, a95, a99, amax) = censored_quantiles(&samples.attachment);
        let (_, r95, _, _) = censored_quantiles(&samples.ready);
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
        let outcomes = rec.outcomes(|_| true);
        let (tenant_calls, tenant_throttled) =
            srv.buckets().iter().fold((0, 0), |(calls, throttled), b| {
                (
                    calls + b.stats.background_admitted + b.stats.background_throttled,
                    throttled + b.stats.background_throttled,
                )
            });
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
            0,
            end,
        );
        let resources = crate::controller::resources::controller_series(
            &self.settings.controller.costs,
            &rec.reconciles,
            &calls,
            &api.stats.borrow(),
            0,
            end,
        );
        let live_status: BTreeSet<crate::aws::EniId> = cluster
            .borrow()
            .nodeenis
            .iter()
            .filter(|n| !n.gone)
            .flat_map(|n| n.attachments.iter().map(|a| a.eni))
            .collect();
        let live = srv.live_secondary_enis();
        let leaked_enis = live.iter().filter(|e| !live_status.contains(e)).count() as u64;
        let stuck_finalizers = cluster
            .borrow()
            .nodeenis
            .iter()
            .filter(|n| !n.gone && n.deletion_requested.is_some())
            .count() as u64;
        let wanted = self.desired_pairs();
        let orphaned_attachments = cluster
            .borrow()
            .nodeenis
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.gone && n.deletion_requested.is_none())
            .flat_map(|(k, n)| n.attachments.iter().map(move |a| (k as NodeEniKey, a)))
            .filter(|(k, a)| !wanted.contains(&(*k, a.node.clone(), a.subnet)))
            .count() as u64;
        let eni_balance_gap =
            (srv.stats.enis_created as i64 - srv.stats.enis_deleted as i64) - wanted.len() as i64;
        let (cl50, cl95, _, clmax) = quantiles(
            rec.cleanups
                .iter()
                .filter(|c| c.ok)
                .map(|c| time::to_secs(c.end - c.start))
                .collect(),
        );
        let metrics = RunMetrics {
            desired_attachments: desired,
            attached_at_end,
            converged: converged_at.is_some(),
            full_reconcile_s: time::to_secs(converged_at.unwrap_or(end)),
            full_reconcile_censored: converged_at.is_none(),
            eni_creation_p50_s: c50.value,
            eni_creation_p95_s: c95.value,
            eni_creation_p95_censored: c95.censored,
            eni_creation_p99_s: c99.value,
            eni_creation_max_s: cmax.value,
            eni_attachment_p50_s: a50.value,
            eni_attachment_p95_s: a95.value,
            eni_attachment_p95_censored: a95.censored,
            eni_attachment_p99_s: a99.value,
            eni_attachment_max_s: amax.value,
            eni_ready_p95_s: r95.value,
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
            enis_never_created: samples.never_created,
            enis_never_attached: samples.never_attached,
            eni_operations: outcomes.operations,
            eni_operation_errors: outcomes.operation_errors,
            reconcile_errors: outcomes.reconcile_errors,
            error_rate_percent: outcomes.error_rate_percent(),
            ec2_calls: cstats.calls,
            ec2_attempts: attempts,
            ec2_throttled: throttled,
            ec2_errors: errors,
            ec2_error_percent: percent(errors, attempts),
            ec2_throttled_percent: percent(throttled, attempts),
            tenant_calls,
            tenant_throttled,
            tenant_throttled_percent: percent(tenant_throttled, tenant_calls),
            ec2_limiter_wait_s: time::to_secs(ops.stats.borrow().limiter_wait),
            sdk_retries: cstats.retries,
            sdk_quota_exhausted: cstats.quota_exhausted,
            wrapper_retries: ops.stats.borrow().wrapper_retries,
            enis_created: rec.enis.len() as u64,
            churned_enis: churned,
            index_conflicts: rec.index_conflicts,
            index_conflict_retries: rec.index_conflict_retries,
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
            leaked_enis,
            stuck_finalizers,
            orphaned_attachments,
            eni_balance_gap,
            forced_finalizer_removals: rec.forced_finalizer_removals,
            cleanup_eni_p50_s: cl50,
            cleanup_eni_p95_s: cl95,
            cleanup_eni_max_s: clmax,
            detach_polls: rec.cleanups.iter().map(|c| c.detach_polls as u64).sum(),
            queue_depth_end: queue.len() as u64,
            end_s: time::to_secs(end),
            ..Default::default()
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
        let bucket_levels = srv
            .buckets()
            .iter()
            .map(|b| (b.name.clone(), b.levels().to_vec()))
            .collect();
        let tenant_calls = srv.tenant_calls();
        let tenant_names = srv.tenant_names().to_vec();
        drop(srv);
        RunRecord {
            tenant_calls,
            tenant_names,
            seed,
            metrics,
            actions,
            enis,
            reconciles: reconcile_rows(&rec, &self.nodeeni_names()),
            status_writes: status_write_rows(&rec, &self.nodeeni_names()),
            calls,
            buckets,
            bucket_levels,
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
            steps: Vec::new(),
            operations: rec
                .operations
                .iter()
                .map(|o| crate::metrics::OperationRow {
                    operation: o.operation.as_str(),
                    node: o.node.clone(),
                    start_s: time::to_secs(o.start),
                    end_s: time::to_secs(o.end),
                    ok: o.ok,
                })
                .collect(),
            resources,
            index_conflicts_at: rec.index_conflict_at.clone(),
        }
    }
}

/// The per-ENI samples of a run: exact where the ENI got that far by the end, censored
/// (known only to exceed the time it had waited when the run ended) where it did not.
struct EniSamples {
    rows: Vec<EniRow>,
    /// NodeENI created → ENI exists.
    creation: Vec<(f64, bool)>,
    /// ENI exists → attached in EC2.
    attachment: Vec<(f64, bool)>,
    /// NodeENI created → attached in EC2.
    ready: Vec<(f64, bool)>,
    churned: u64,
    attached_at_end: u64,
    /// Desired attachments with no ENI in NodeENI status at the end.
    never_created: u64,
    /// Desired attachments not attached in EC2 at the end.
    never_attached: u64,
}

/// (p50, p95, p99, max) of censored samples.
fn censored_quantiles(
    xs: &[(f64, bool)],
) -> (
    CensoredQuantile,
    CensoredQuantile,
    CensoredQuantile,
    CensoredQuantile,
) {
    if xs.is_empty() {
        let zero = CensoredQuantile {
            value: 0.0,
            censored: false,
        };
        return (zero, zero, zero, zero);
    }
    let q = |p| censored_quantile(xs, p);
    (q(0.5), q(0.95), q(0.99), q(1.0))
}

/// The reconciles of a run as rows, NodeENIs by name.
fn reconcile_rows(
    rec: &crate::controller::Recorder,
    names: &[String],
) -> Vec<crate::metrics::ReconcileRow> {
    use crate::controller::recorder::ReconcileOutcome;
    let name = |k: NodeEniKey| names.get(k as usize).cloned().unwrap_or_default();
    rec.reconciles
        .iter()
        .map(|r| {
            let (result, after) = match r.outcome {
                ReconcileOutcome::Done => ("done", None),
                ReconcileOutcome::RequeueAfter(d) => ("requeue-after", Some(time::to_secs(d))),
                ReconcileOutcome::Error => ("error", None),
            };
            crate::metrics::ReconcileRow {
                nodeeni: name(r.key),
                worker: r.worker,
                start_s: time::to_secs(r.start),
                end_s: time::to_secs(r.end),
                deleting: r.deleting,
                result,
                requeue_after_s: after,
                ec2_calls: r.ec2_calls,
                status_writes: r.status_writes,
            }
        })
        .collect()
}

/// The status writes of a run as rows, NodeENIs by name.
fn status_write_rows(
    rec: &crate::controller::Recorder,
    names: &[String],
) -> Vec<crate::metrics::StatusWriteRow> {
    rec.status_writes
        .iter()
        .map(|w| crate::metrics::StatusWriteRow {
            time_s: time::to_secs(w.at),
            nodeeni: names.get(w.key as usize).cloned().unwrap_or_default(),
            worker: w.worker,
            kind: w.kind.as_str(),
            node: w.node.clone(),
            changed: w.changed,
        })
        .collect()
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
    // Cheap test first: not enough attachments in status yet.
    let in_status: usize = cluster
        .nodeenis
        .iter()
        .filter(|n| !n.gone && n.deletion_requested.is_none())
        .map(|n| n.attachments.len())
        .sum();
    if (in_status as u64) < desired {
        return None;
    }
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
