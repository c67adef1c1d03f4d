//! The Kubernetes objects the controller reads and writes (Nodes, NodeENIs) and the API
//! server's part: writes pass the client-side limiter (QPS 20 / burst 30), take a round
//! trip, and a write that changes the stored object emits a watch event that enqueues
//! the NodeENI (no predicates on the NodeENI watch, C:138; node events map to every
//! matching NodeENI, old and new labels, C:154).

use super::profile::KubernetesSpec;
use crate::aws::{AttachmentId, EniId, InstanceId, SecurityGroupId, SubnetId};
use crate::engine::{rng, Nanos, SimHandle, SimRng, SECOND};
use crate::kube::{ApiClientLimiter, WorkQueue};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

pub type NodeEniKey = u32;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    /// From `spec.providerID`; `None` when empty or unparsable (the node is then skipped
    /// and its attachments take the stale path, C:1370 (a)).
    pub instance: Option<InstanceId>,
    pub labels: BTreeMap<String, String>,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeEniSpec {
    /// Equality selector on node labels.
    pub node_selector: BTreeMap<String, String>,
    /// `subnetID` + `subnetIDs` (names are resolved to ids by the scenario).
    pub subnets: Vec<SubnetId>,
    pub security_groups: Vec<SecurityGroupId>,
    /// `securityGroupNames`, resolved through the cached look-up on every create.
    pub security_group_names: Vec<String>,
    /// `spec.deviceIndex` (CRD default 1; 0 means "use DEFAULT_DEVICE_INDEX").
    pub device_index: u32,
}

/// One entry of `status.attachments`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentStatus {
    pub node: String,
    pub instance: InstanceId,
    pub eni: EniId,
    pub attachment: AttachmentId,
    pub subnet: SubnetId,
    pub subnet_cidr: Option<String>,
    pub device_index: u32,
    /// `lastUpdated`, RFC3339 with one-second precision: whole seconds.
    pub last_updated_s: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeEni {
    pub name: String,
    pub spec: NodeEniSpec,
    pub attachments: Vec<AttachmentStatus>,
    pub finalizer: bool,
    pub deletion_requested: Option<Nanos>,
    /// Annotation `aws-multi-eni-controller/cleanup-start-time`.
    pub cleanup_started: Option<Nanos>,
    pub created_at: Nanos,
    /// Gone from the API server (finalizer removed after deletion).
    pub gone: bool,
}

impl NodeEni {
    /// A new NodeENI as a user would apply it: no finalizer, no status yet.
    pub fn new(name: String, spec: NodeEniSpec, now: Nanos) -> Self {
        NodeEni {
            name,
            spec,
            attachments: Vec::new(),
            finalizer: false,
            deletion_requested: None,
            cleanup_started: None,
            created_at: now,
            gone: false,
        }
    }

    pub fn selects(&self, node: &Node) -> bool {
        !node.deleted
            && self
                .spec
                .node_selector
                .iter()
                .all(|(k, v)| node.labels.get(k) == Some(v))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub nodeenis: Vec<NodeEni>,
    /// Bumped by every change that can change what is desired (not by status writes).
    pub generation: u64,
}

impl Cluster {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name && !n.deleted)
    }

    /// NodeENIs whose selector matches the node (`findNodeENIsForNode`).
    pub fn nodeenis_for(&self, node: &Node) -> Vec<NodeEniKey> {
        self.nodeenis
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.gone && n.selects(node))
            .map(|(i, _)| i as NodeEniKey)
            .collect()
    }
}

/// Counters of the API side.
#[derive(Debug, Clone, Default)]
pub struct ApiStats {
    pub status_writes: u64,
    pub status_writes_changed: u64,
    pub meta_writes: u64,
    pub watch_events: u64,
    /// Kubelet Node status posts (each a Node update event): when, and which node.
    pub node_status_posts: Vec<(Nanos, String)>,
    /// When each write completed and each watch event was handled (for CPU).
    pub status_write_times: Vec<Nanos>,
    pub meta_write_times: Vec<Nanos>,
    pub watch_event_times: Vec<Nanos>,
    /// (time, nodes, NodeENIs, attachments in status) at every change (for memory).
    pub objects: Vec<(Nanos, u32, u32, u32)>,
}

/// The API server as the controller's client sees it.
#[derive(Clone)]
pub struct ApiServer {
    sim: SimHandle,
    pub cluster: Rc<RefCell<Cluster>>,
    queue: WorkQueue<NodeEniKey>,
    limiter: ApiClientLimiter,
    spec: KubernetesSpec,
    rng: Rc<RefCell<(SimRng, SimRng)>>,
    self_trigger: bool,
    pub stats: Rc<RefCell<ApiStats>>,
}

impl ApiServer {
    pub fn new(
        sim: &SimHandle,
        cluster: Rc<RefCell<Cluster>>,
        queue: WorkQueue<NodeEniKey>,
        spec: &KubernetesSpec,
        self_trigger: bool,
        seed: u64,
    ) -> Self {
        ApiServer {
            sim: sim.clone(),
            cluster,
            queue,
            limiter: ApiClientLimiter::new(sim, spec.api_qps, spec.api_burst),
            spec: spec.clone(),
            rng: Rc::new(RefCell::new((
                rng::stream(seed, "kube.api-latency"),
                rng::stream(seed, "kube.watch-delay"),
            ))),
            self_trigger,
            stats: Rc::new(RefCell::new(ApiStats::default())),
        }
    }

    pub fn limiter(&self) -> &ApiClientLimiter {
        &self.limiter
    }

    pub fn get(&self, key: NodeEniKey) -> Option<NodeEni> {
        self.cluster
            .borrow()
            .nodeenis
            .get(key as usize)
            .filter(|n| !n.gone)
            .cloned()
    }

    /// The watch event of a change to NodeENI `key`, after the watch delay.
    pub fn emit(&self, key: NodeEniKey) {
        let delay = self.spec.watch_delay.sample(&mut self.rng.borrow_mut().1);
        {
            let mut s = self.stats.borrow_mut();
            s.watch_events += 1;
            s.watch_event_times.push(self.sim.now() + delay);
        }
        let q = self.queue.clone();
        if delay == 0 {
            q.add(key);
            return;
        }
        let sim = self.sim.clone();
        self.sim.spawn(async move {
            sim.sleep(delay).await;
            q.add(key);
        });
    }

    /// Records the object counts the controller's caches hold now.
    pub fn note_objects(&self) {
        let c = self.cluster.borrow();
        let nodes = c.nodes.iter().filter(|n| !n.deleted).count() as u32;
        let live = c.nodeenis.iter().filter(|n| !n.gone);
        let (nnes, atts) = live.fold((0u32, 0u32), |(n, a), x| {
            (n + 1, a + x.attachments.len() as u32)
        });
        drop(c);
        self.stats
            .borrow_mut()
            .objects
            .push((self.sim.now(), nodes, nnes, atts));
    }

    async fn round_trip(&self) {
        self.limiter.acquire().await;
        let latency = self.spec.api_latency.sample(&mut self.rng.borrow_mut().0);
        self.sim.sleep(latency).await;
    }

    /// `Status().Update`: writes the attachments; an event follows only if they changed
    /// (the API server does not bump resourceVersion for a no-op write). Returns whether
    /// it changed them.
    pub async fn update_status(&self, key: NodeEniKey, attachments: &[AttachmentStatus]) -> bool {
        self.round_trip().await;
        let changed = {
            let mut c = self.cluster.borrow_mut();
            let Some(n) = c.nodeenis.get_mut(key as usize).filter(|n| !n.gone) else {
                return false;
            };
            let changed = n.attachments != attachments;
            if changed {
                n.attachments = attachments.to_vec();
            }
            changed
        };
        {
            let mut s = self.stats.borrow_mut();
            s.status_writes += 1;
            s.status_write_times.push(self.sim.now());
        }
        if changed {
            self.stats.borrow_mut().status_writes_changed += 1;
            self.note_objects();
            if self.self_trigger {
                self.emit(key);
            }
        }
        changed
    }

    /// `Update` of metadata (finalizer, annotation). Always an event.
    pub async fn update_meta(&self, key: NodeEniKey, f: impl FnOnce(&mut NodeEni)) {
        self.round_trip().await;
        {
            let mut c = self.cluster.borrow_mut();
            let Some(n) = c.nodeenis.get_mut(key as usize).filter(|n| !n.gone) else {
                return;
            };
            f(n);
            if n.deletion_requested.is_some() && !n.finalizer {
                n.gone = true;
            }
            c.generation += 1;
        }
        {
            let mut s = self.stats.borrow_mut();
            s.meta_writes += 1;
            s.meta_write_times.push(self.sim.now());
        }
        self.note_objects();
        self.emit(key);
    }

    /// Seconds since the run's start, as `lastUpdated` stores them.
    pub fn now_s(&self) -> u64 {
        self.sim.now() / SECOND
    }

    // ---- what the world (users, kubelet, autoscaler) does -------------------------

    pub fn create_nodeeni(&self, n: NodeEni) -> NodeEniKey {
        let key = {
            let mut c = self.cluster.borrow_mut();
            c.nodeenis.push(n);
            c.generation += 1;
            (c.nodeenis.len() - 1) as NodeEniKey
        };
        self.note_objects();
        self.emit(key);
        key
    }

    pub fn delete_nodeeni(&self, key: NodeEniKey) {
        let now = self.sim.now();
        {
            let mut c = self.cluster.borrow_mut();
            let Some(n) = c.nodeenis.get_mut(key as usize).filter(|n| !n.gone) else {
                return;
            };
            if n.deletion_requested.is_some() {
                return;
            }
            n.deletion_requested = Some(now);
            if !n.finalizer {
                n.gone = true;
            }
            c.generation += 1;
        }
        self.note_objects();
        self.emit(key);
    }

    /// Changes a NodeENI's spec (an update event).
    pub fn update_nodeeni_spec(&self, key: NodeEniKey, f: impl FnOnce(&mut NodeEniSpec)) {
        {
            let mut c = self.cluster.borrow_mut();
            let Some(n) = c.nodeenis.get_mut(key as usize).filter(|n| !n.gone) else {
                return;
            };
            f(&mut n.spec);
            c.generation += 1;
        }
        self.emit(key);
    }

    /// Adds, changes or deletes a node; every NodeENI matching it before or after is
    /// enqueued.
    pub fn change_node(&self, name: &str, f: impl FnOnce(&mut Node)) {
        let keys = {
            let mut c = self.cluster.borrow_mut();
            let Some(i) = c.nodes.iter().position(|n| n.name == name) else {
                return;
            };
            let before = c.nodeenis_for(&c.nodes[i]);
            f(&mut c.nodes[i]);
            c.generation += 1;
            let mut keys = before;
            for k in c.nodeenis_for(&c.nodes[i]) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            keys
        };
        self.note_objects();
        for k in keys {
            self.emit(k);
        }
    }

    /// A kubelet's Node status post: a Node update event with unchanged labels, mapped to
    /// every NodeENI matching the node (`findNodeENIsForNode`, C:154-186). A deleted (or
    /// not yet joined) node posts nothing.
    pub fn node_status_posted(&self, name: &str) {
        let keys = {
            let c = self.cluster.borrow();
            match c.nodes.iter().find(|n| n.name == name) {
                Some(n) if !n.deleted => c.nodeenis_for(n),
                _ => return,
            }
        };
        self.stats
            .borrow_mut()
            .node_status_posts
            .push((self.sim.now(), name.to_string()));
        for k in keys {
            self.emit(k);
        }
    }

    /// One kubelet status loop per node (`KubeletSpec`): the first post at a phase drawn
    /// uniformly in [0, report) from the node's own stream, then each post at the first
    /// jittered tick at least `report` after the last.
    pub fn start_kubelets(&self, spec: &super::profile::KubeletSpec, seed: u64) {
        use rand::RngExt;
        let names: Vec<String> = self
            .cluster
            .borrow()
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .collect();
        let report = spec.node_status_report_frequency.0;
        let tick = spec.node_status_update_frequency.0.max(1);
        let jitter = spec.update_jitter;
        for name in names {
            let mut rng = rng::stream(seed, &format!("kube.kubelet.{name}"));
            let api = self.clone();
            self.sim.spawn(async move {
                let phase = (rng.random::<f64>() * report as f64) as Nanos;
                api.sim.sleep(phase).await;
                loop {
                    api.node_status_posted(&name);
                    let mut wait: Nanos = 0;
                    while wait < report {
                        wait += (tick as f64 * (1.0 + jitter * rng.random::<f64>())) as Nanos;
                    }
                    api.sim.sleep(wait).await;
                }
            });
        }
    }

    pub fn add_node(&self, node: Node) {
        let keys = {
            let mut c = self.cluster.borrow_mut();
            let keys = c.nodeenis_for(&node);
            c.nodes.push(node);
            c.generation += 1;
            keys
        };
        self.note_objects();
        for k in keys {
            self.emit(k);
        }
    }
}
