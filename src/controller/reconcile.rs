//! The NodeENI reconciler of v1.3.8, written to read like its Go code
//! (pkg/controller/nodeeni_controller.go = C; controller-v1.3.8.md §2–4 and §12).

use super::cluster::{ApiServer, AttachmentStatus, NodeEni, NodeEniKey};
use super::ec2::{CallError, Ec2Ops};
use super::profile::{ControllerProfile, NodeOrder};
use super::recorder::{
    EniFate, EniOperation, EniTimeline, ReconcileOutcome, ReconcileRecord, Recorder,
    StatusWriteKind, StatusWriteRecord,
};
use crate::aws::server::{EniStatus, InstanceState};
use crate::aws::{CallContext, Caller, EniId, InstanceId, SecurityGroupId};
use crate::engine::{rng, SimHandle, SimRng};
use crate::kube::WorkQueue;
use rand::seq::SliceRandom;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// A reconcile that returned an error: the key goes through `AddRateLimited`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileError(pub String);

/// The controller under study: workers, reconciler, EC2 layer and what it records.
#[derive(Clone)]
pub struct Controller {
    pub(super) sim: SimHandle,
    pub(super) api: ApiServer,
    pub(super) ec2: Ec2Ops,
    pub(super) profile: Rc<ControllerProfile>,
    pub(super) queue: WorkQueue<NodeEniKey>,
    pub rec: Rc<RefCell<Recorder>>,
    node_rng: Rc<RefCell<SimRng>>,
    poll_rng: Rc<RefCell<SimRng>>,
    /// Instance type limits, for the ENI-limit-aware what-if.
    limits: Rc<dyn Fn(InstanceId) -> Option<u32>>,
    /// The reconcile worker this handle runs as (`None`: not a worker), and the status
    /// writes made through it.
    worker: Option<u32>,
    writes_made: Rc<std::cell::Cell<u64>>,
}

impl Controller {
    pub fn new(
        sim: &SimHandle,
        api: ApiServer,
        ec2: Ec2Ops,
        profile: ControllerProfile,
        queue: WorkQueue<NodeEniKey>,
        limits: Rc<dyn Fn(InstanceId) -> Option<u32>>,
        seed: u64,
    ) -> Self {
        Controller {
            sim: sim.clone(),
            api,
            ec2,
            profile: Rc::new(profile),
            queue,
            rec: Rc::new(RefCell::new(Recorder::new(sim.now()))),
            node_rng: Rc::new(RefCell::new(rng::stream(seed, "controller.node-order"))),
            poll_rng: Rc::new(RefCell::new(rng::stream(
                seed,
                "controller.detach-poll-jitter",
            ))),
            limits,
            worker: None,
            writes_made: Rc::new(std::cell::Cell::new(0)),
        }
    }

    /// This controller as `caller` (worker `worker`): its EC2 calls and status writes are
    /// tagged and counted apart.
    fn as_caller(&self, caller: Caller, worker: Option<u32>) -> Controller {
        Controller {
            ec2: self.ec2.for_caller(CallContext { caller, worker }),
            worker,
            writes_made: Rc::new(std::cell::Cell::new(0)),
            ..self.clone()
        }
    }

    /// `Status().Update` of `key`, recorded as `kind`.
    async fn write_status(
        &self,
        key: NodeEniKey,
        atts: &[AttachmentStatus],
        kind: StatusWriteKind,
        node: Option<&str>,
    ) {
        let changed = self.api.update_status(key, atts).await;
        self.writes_made.set(self.writes_made.get() + 1);
        self.rec.borrow_mut().status_writes.push(StatusWriteRecord {
            at: self.sim.now(),
            key,
            worker: self.worker,
            kind,
            node: node.map(str::to_string),
            changed,
        });
    }

    pub(super) fn jitter_rng(&self) -> std::cell::RefMut<'_, SimRng> {
        self.poll_rng.borrow_mut()
    }

    pub fn ec2(&self) -> &Ec2Ops {
        &self.ec2
    }

    pub fn api(&self) -> &ApiServer {
        &self.api
    }

    pub fn profile(&self) -> &ControllerProfile {
        &self.profile
    }

    /// Starts `MaxConcurrentReconciles` workers, each looping `processNextWorkItem`
    /// (controller-runtime v0.14.6 internal/controller/controller.go:L228-269, L323-346):
    /// error → AddRateLimited; RequeueAfter → Forget + AddAfter; success → Forget; then Done.
    pub fn start(&self) {
        if let Some(job) = self.profile.behaviour.imds_job {
            // The controller's own instance: the first node's (assumption: any one instance).
            let c = self.as_caller(Caller::ImdsJob, None);
            let own = self
                .api
                .cluster
                .borrow()
                .nodes
                .iter()
                .find_map(|n| n.instance);
            if let Some(own) = own {
                self.sim.spawn(async move {
                    loop {
                        for _ in 0..job.describe_instances_per_run {
                            let _ = c.ec2.describe_instance_sdk(own).await;
                        }
                        c.sim.sleep(job.period.0).await;
                    }
                });
            }
        }
        for worker in 0..self.profile.env.max_concurrent_reconciles {
            let c = self.as_caller(Caller::Controller, Some(worker));
            self.sim.spawn(async move {
                loop {
                    let key = c.queue.get().await;
                    let start = c.sim.now();
                    c.rec.borrow_mut().workers_busy.add(start, 1);
                    let deleting = c
                        .api
                        .get(key)
                        .is_some_and(|n| n.deletion_requested.is_some());
                    let calls_before = c.ec2.calls_made();
                    let writes_before = c.writes_made.get();
                    let outcome = match c.reconcile(key).await {
                        Err(_) => {
                            c.queue.add_rate_limited(key);
                            ReconcileOutcome::Error
                        }
                        Ok(ReconcileOutcome::RequeueAfter(d)) => {
                            c.queue.forget(&key);
                            c.queue.add_after(key, d);
                            ReconcileOutcome::RequeueAfter(d)
                        }
                        Ok(o) => {
                            c.queue.forget(&key);
                            o
                        }
                    };
                    let end = c.sim.now();
                    {
                        let mut r = c.rec.borrow_mut();
                        r.workers_busy.add(end, -1);
                        r.reconciles.push(ReconcileRecord {
                            key,
                            worker,
                            start,
                            end,
                            outcome,
                            deleting,
                            ec2_calls: c.ec2.calls_made() - calls_before,
                            status_writes: c.writes_made.get() - writes_before,
                        });
                    }
                    c.queue.done(&key);
                }
            });
        }
    }

    /// `Reconcile` (C:188).
    pub async fn reconcile(&self, key: NodeEniKey) -> Result<ReconcileOutcome, ReconcileError> {
        let Some(nne) = self.api.get(key) else {
            return Ok(ReconcileOutcome::Done);
        };
        if nne.deletion_requested.is_some() {
            return self.handle_deletion(key, nne).await;
        }
        if !nne.finalizer {
            // addFinalizer (C:1314): Update, then Result{}; the watch event re-enqueues.
            self.api.update_meta(key, |n| n.finalizer = true).await;
            return Ok(ReconcileOutcome::Done);
        }
        self.process_node_eni(key, nne).await?;
        Ok(ReconcileOutcome::RequeueAfter(
            self.profile.env.reconcile_period.0,
        ))
    }

    /// `processNodeENI` (C:1329): every matching node, one after another (or in parallel
    /// under the what-if), then stale attachments, then the final status write.
    async fn process_node_eni(&self, key: NodeEniKey, nne: NodeEni) -> Result<(), ReconcileError> {
        let mut nodes: Vec<(String, Option<InstanceId>)> = {
            let c = self.api.cluster.borrow();
            c.nodes
                .iter()
                .filter(|n| nne.selects(n))
                .map(|n| (n.name.clone(), n.instance))
                .collect()
        };
        match self.profile.behaviour.node_order {
            NodeOrder::Random => nodes.shuffle(&mut *self.node_rng.borrow_mut()),
            NodeOrder::Sorted => nodes.sort(),
        }
        let nne = Rc::new(RefCell::new(nne));
        if self.profile.behaviour.parallel_nodes {
            let handles: Vec<_> = nodes
                .iter()
                .map(|(name, inst)| {
                    let (c, nne, name, inst) = (self.clone(), nne.clone(), name.clone(), *inst);
                    self.sim
                        .spawn_joinable(async move { c.process_node(key, &nne, &name, inst).await })
                })
                .collect();
            for h in handles {
                h.await;
            }
        } else {
            for (name, inst) in &nodes {
                // Per-node errors are logged and swallowed (C:1349-1354).
                self.process_node(key, &nne, name, *inst).await;
            }
        }
        let current: BTreeSet<String> = nodes
            .into_iter()
            .filter(|(_, i)| i.is_some())
            .map(|(n, _)| n)
            .collect();
        self.remove_stale_attachments(&nne, &current).await;
        let atts = nne.borrow().attachments.clone();
        self.write_status(key, &atts, StatusWriteKind::Final, None)
            .await;
        self.note_in_status(&atts);
        Ok(())
    }

    fn note_in_status(&self, atts: &[AttachmentStatus]) {
        let now = self.sim.now();
        let mut r = self.rec.borrow_mut();
        for a in atts {
            if let Some(t) = r.enis.get_mut(&a.eni) {
                t.in_status_at.get_or_insert(now);
            }
        }
    }

    /// `processNode` (C:1370).
    async fn process_node(
        &self,
        key: NodeEniKey,
        nne: &Rc<RefCell<NodeEni>>,
        node: &str,
        instance: Option<InstanceId>,
    ) {
        // (a) No usable providerID: skip; the node's attachments take the stale path.
        let Some(instance) = instance else { return };
        // (b) Verify this node's attachments, then one unconditional status write.
        self.verify_eni_attachments(key, nne, node).await;
        // (d) Indices in use on this node and the NodeENI-wide subnet → index map.
        let (mut used, subnet_index) = {
            let n = nne.borrow();
            let used: BTreeSet<u32> = n
                .attachments
                .iter()
                .filter(|a| a.node == node && a.device_index > 0)
                .map(|a| a.device_index)
                .collect();
            let mut map: BTreeMap<crate::aws::SubnetId, u32> = BTreeMap::new();
            for a in &n.attachments {
                let e = map.entry(a.subnet).or_insert(a.device_index);
                *e = (*e).min(a.device_index);
            }
            (used, map)
        };
        // (e) What AWS reports as attached; on failure the internal set alone (C:1570).
        let aws_enis = self.ec2.instance_enis(instance).await.ok();
        if let Some(v) = &aws_enis {
            for e in v {
                if let Some(a) = &e.attachment {
                    used.insert(a.device_index);
                }
            }
        }
        // (f) createMissingENIs (C:1473): each subnet in turn; `used` is not updated
        // between subnets (§11.6).
        let (subnets, base, group_ids, group_names) = {
            let n = nne.borrow();
            let base = if n.spec.device_index > 0 {
                n.spec.device_index
            } else {
                self.profile.env.default_device_index
            };
            (
                n.spec.subnets.clone(),
                base,
                n.spec.security_groups.clone(),
                n.spec.security_group_names.clone(),
            )
        };
        for (i, subnet) in subnets.iter().enumerate() {
            let exists = nne
                .borrow()
                .attachments
                .iter()
                .any(|a| a.node == node && a.subnet == *subnet);
            if exists {
                continue;
            }
            if self.profile.behaviour.eni_limit_aware {
                let on_card = aws_enis.as_ref().map(|v| v.len() as u32).unwrap_or(0);
                if (self.limits)(instance).is_some_and(|max| on_card >= max) {
                    continue;
                }
            }
            let mut index = subnet_index.get(subnet).copied().unwrap_or(base + i as u32);
            while used.contains(&index) {
                index += 1;
            }
            // createENI (C:2024): security-group names through the cache, then Create.
            let mut groups: Vec<SecurityGroupId> = group_ids.clone();
            let mut lookup_failed = false;
            for name in &group_names {
                match self.ec2.security_group_id(name).await {
                    Ok(Some(id)) => groups.push(id),
                    _ => lookup_failed = true,
                }
            }
            if lookup_failed || groups.is_empty() {
                continue; // "no security groups" is an error (C:2056)
            }
            let Ok(eni) = self
                .recorded(
                    EniOperation::Create,
                    node,
                    self.ec2.create(*subnet, groups),
                    Result::is_ok,
                )
                .await
            else {
                continue;
            };
            let requested_at = nne.borrow().created_at;
            self.rec.borrow_mut().enis.insert(
                eni,
                EniTimeline {
                    eni,
                    nodeeni: key,
                    node: node.to_string(),
                    subnet: *subnet,
                    requested_at,
                    created_at: self.sim.now(),
                    attach_returned_at: None,
                    in_status_at: None,
                    fate: EniFate::Alive,
                    gone_at: None,
                },
            );
            let Some((attachment, device_index, returned_at)) = self
                .recorded(
                    EniOperation::Attach,
                    node,
                    self.attach_eni(eni, instance, index),
                    Option::is_some,
                )
                .await
            else {
                // Any attach failure: delete the new ENI, error swallowed, next subnet (C:1664).
                if self.delete_eni(eni, node).await {
                    self.rec.borrow_mut().eni_gone(
                        eni,
                        EniFate::ChurnedAfterAttachFailure,
                        self.sim.now(),
                    );
                }
                continue;
            };
            if let Some(t) = self.rec.borrow_mut().enis.get_mut(&eni) {
                t.attach_returned_at = Some(returned_at);
            }
            let subnet_cidr = self.ec2.subnet_cidr(*subnet).await.ok();
            let atts = {
                let mut n = nne.borrow_mut();
                n.attachments.push(AttachmentStatus {
                    node: node.to_string(),
                    instance,
                    eni,
                    attachment,
                    subnet: *subnet,
                    subnet_cidr,
                    device_index,
                    last_updated_s: self.api.now_s(),
                });
                n.attachments.clone()
            };
            // Status written at once for every new ENI (C:1704).
            self.write_status(key, &atts, StatusWriteKind::NewAttachment, Some(node))
                .await;
            self.note_in_status(&atts);
        }
    }

    /// `attachENI` (C:2183): Attach, Modify(DeleteOnTermination). On a device-index
    /// conflict (`isDeviceIndexConflictError`, C:2233) it asks AWS which indices are taken
    /// (`getAWSUsedDeviceIndices` → `GetInstanceENIs`, C:1570): if that look-up fails it
    /// returns the error (C:2199-2202); `findNextAvailableDeviceIndex` (C:2243) walks up
    /// from the conflicting index itself, and if AWS shows that index free it returns the
    /// error with no second Attach (C:2206-2210) — AWS only reports `attached`, so an
    /// index held by an attaching ENI looks free (§12.1); otherwise one retry at the
    /// index found (C:2213-2215). Returns the attachment, the index used and when the
    /// Attach call returned.
    async fn attach_eni(
        &self,
        eni: EniId,
        instance: InstanceId,
        index: u32,
    ) -> Option<(crate::aws::AttachmentId, u32, crate::engine::Nanos)> {
        match self.ec2.attach(eni, instance, index).await {
            Ok(att) => {
                let returned = self.sim.now();
                self.modify_after_attach(eni, att).await;
                Some((att, index, returned))
            }
            Err(e) => {
                self.note_attach_failure(&e);
                if !is_device_index_conflict(&e.text()) {
                    return None;
                }
                {
                    let mut rec = self.rec.borrow_mut();
                    rec.index_conflicts += 1;
                    rec.index_conflict_at.push(self.sim.now());
                }
                // The look-up failed: the error goes back (C:2199-2202).
                let aws_enis = self.ec2.instance_enis(instance).await.ok()?;
                let taken: BTreeSet<u32> = aws_enis
                    .iter()
                    .filter_map(|v| v.attachment.as_ref().map(|a| a.device_index))
                    .collect();
                let mut next = index;
                while taken.contains(&next) {
                    next += 1;
                }
                if next == index {
                    // "No device index conflict found in AWS state" (C:2206-2210).
                    self.rec.borrow_mut().index_conflicts_unresolved += 1;
                    return None;
                }
                self.rec.borrow_mut().index_conflict_retries += 1;
                match self.ec2.attach(eni, instance, next).await {
                    Ok(att) => {
                        let returned = self.sim.now();
                        self.modify_after_attach(eni, att).await;
                        Some((att, next, returned))
                    }
                    Err(e) => {
                        self.note_attach_failure(&e);
                        None
                    }
                }
            }
        }
    }

    /// Runs one ENI operation (create, attach, detach, delete, as the controller sees it
    /// after the SDK's and its own retries) and records its outcome: the source of the
    /// plan's error rate (`eni_operation_errors_total / eni_operations_total`).
    pub(super) async fn recorded<R>(
        &self,
        operation: EniOperation,
        node: &str,
        work: impl std::future::Future<Output = R>,
        ok: impl Fn(&R) -> bool,
    ) -> R {
        let start = self.sim.now();
        let r = work.await;
        self.rec
            .borrow_mut()
            .operation(operation, node, start, self.sim.now(), ok(&r));
        r
    }

    /// DeleteNetworkInterface as one recorded ENI operation; whether it succeeded.
    pub(super) async fn delete_eni(&self, eni: EniId, node: &str) -> bool {
        self.recorded(
            EniOperation::Delete,
            node,
            self.ec2.delete(eni),
            Result::is_ok,
        )
        .await
        .is_ok()
    }

    fn note_attach_failure(&self, e: &CallError) {
        let code = e
            .code()
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| "other".into());
        *self
            .rec
            .borrow_mut()
            .attach_failures
            .entry(code)
            .or_insert(0) += 1;
    }

    /// Modify follows every successful attach, its errors only logged (C:2192-2216, §12.4).
    async fn modify_after_attach(&self, eni: EniId, att: crate::aws::AttachmentId) {
        if self.profile.env.default_delete_on_termination {
            let _ = self.ec2.modify_delete_on_termination(eni, att).await;
        }
    }

    /// `verifyENIAttachments` (C:2256) for one node, then its status write (C:2283).
    async fn verify_eni_attachments(
        &self,
        key: NodeEniKey,
        nne: &Rc<RefCell<NodeEni>>,
        node: &str,
    ) {
        let mine: Vec<AttachmentStatus> = nne
            .borrow()
            .attachments
            .iter()
            .filter(|a| a.node == node)
            .cloned()
            .collect();
        for att in mine {
            let keep = self.attachment_still_valid(&att).await;
            let mut n = nne.borrow_mut();
            if keep {
                // updateAttachmentInfo (C:2459): CIDR from the cache if missing, lastUpdated = now.
                let cidr = self.ec2.cached_subnet_cidr(att.subnet);
                if let Some(a) = n.attachments.iter_mut().find(|a| a.eni == att.eni) {
                    if a.subnet_cidr.is_none() {
                        a.subnet_cidr = cidr;
                    }
                    a.last_updated_s = self.api.now_s();
                }
            } else {
                n.attachments.retain(|a| a.eni != att.eni);
            }
        }
        let atts = nne.borrow().attachments.clone();
        self.write_status(key, &atts, StatusWriteKind::Verify, Some(node))
            .await;
    }

    /// `isAttachmentValid` (DryRun probe, C:2314) then `isENIProperlyAttached` (C:2350).
    async fn attachment_still_valid(&self, att: &AttachmentStatus) -> bool {
        match self.dry_run_probe(att).await {
            Probe::Gone => return false, // "just detached": dropped without delete
            Probe::Keep => {}
        }
        match self.ec2.describe_eni(att.eni).await {
            Ok(None) => false,
            Ok(Some(v)) => {
                if v.status == EniStatus::Available {
                    if self.delete_eni(att.eni, &att.node).await {
                        self.rec.borrow_mut().eni_gone(
                            att.eni,
                            EniFate::DeletedWhenFoundAvailable,
                            self.sim.now(),
                        );
                    }
                    return false;
                }
                v.attachment.is_none_or(|a| a.instance == att.instance)
            }
            // Another describe error: one more DryRun probe decides.
            Err(_) => matches!(self.dry_run_probe(att).await, Probe::Keep),
        }
    }

    /// DetachNetworkInterface DryRun=true, Force=false: `DryRunOperation` → keep; E reads
    /// "attachment not found" as success, which the caller takes for "gone"; any other
    /// error keeps the attachment, so throttling never drops one (§12.3).
    async fn dry_run_probe(&self, att: &AttachmentStatus) -> Probe {
        match self.ec2.detach(att.attachment, false, true).await {
            Ok(()) => Probe::Gone,
            Err(_) => Probe::Keep,
        }
    }

    /// `removeStaleAttachments` (C:1717).
    async fn remove_stale_attachments(
        &self,
        nne: &Rc<RefCell<NodeEni>>,
        current: &BTreeSet<String>,
    ) {
        let atts = nne.borrow().attachments.clone();
        let mut stale = Vec::new();
        for att in atts {
            let is_stale = if current.contains(&att.node) {
                self.stale_in_aws(&att).await
            } else {
                self.comprehensively_stale(&att).await
            };
            if is_stale {
                stale.push(att);
            }
        }
        if stale.is_empty() {
            return;
        }
        let dropped: Vec<EniId> = if stale.len() == 1 {
            // handleStaleAttachment (C:1981-2006): DescribeENI; gone → dropped with no
            // cleanup; a describe error → "will still attempt cleanup"; then
            // cleanupENIAttachment, the attachment kept if it failed.
            let att = &stale[0];
            let gone = matches!(self.ec2.describe_eni(att.eni).await, Ok(None));
            if gone || self.cleanup_eni_attachment(att).await {
                vec![att.eni]
            } else {
                vec![]
            }
        } else {
            // cleanupSpecificENIAttachmentsInParallel (C:1764): all succeeded → every one
            // dropped; otherwise one DescribeENI per stale attachment, successful or not,
            // decides: gone → dropped, exists or error → kept (C:1777-1805).
            let results = self.parallel_cleanup(&stale).await;
            if results.iter().all(|ok| *ok) {
                stale.iter().map(|a| a.eni).collect()
            } else {
                let mut out = Vec::new();
                for att in &stale {
                    if matches!(self.ec2.describe_eni(att.eni).await, Ok(None)) {
                        out.push(att.eni);
                    }
                }
                out
            }
        };
        nne.borrow_mut()
            .attachments
            .retain(|a| !dropped.contains(&a.eni));
    }

    /// `isAttachmentStaleInAWS` (C:1810-1832): `verifyInstanceExists`, then
    /// `verifyENIAttachmentState` (DescribeENI: not found, no attachment or not `in-use`
    /// → stale; another error → valid, C:1917-1950), then `verifyENIInstanceMapping`
    /// (DescribeENI: any error → valid; no attachment or another instance → stale,
    /// C:1953-1978).
    async fn stale_in_aws(&self, att: &AttachmentStatus) -> bool {
        if !self.instance_exists(att.instance).await {
            return true;
        }
        match self.ec2.describe_eni(att.eni).await {
            Ok(None) => return true,
            Ok(Some(v)) if v.attachment.is_none() || v.status != EniStatus::InUse => return true,
            _ => {}
        }
        // E's DescribeENI returns "not found" as an error (E:475-477), which this step
        // takes for "valid" like any other error (C:1957-1961).
        match self.ec2.describe_eni_or_not_found(att.eni).await {
            Ok(Some(v)) => v.attachment.is_none_or(|a| a.instance != att.instance),
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// `isAttachmentComprehensivelyStale` (C:1835-1879): the instance gone or in an
    /// invalid state → stale with no further call; otherwise (a DescribeInstances error
    /// included: "assuming it exists") one DescribeENI, stale in every branch except a
    /// describe error that is not "not found".
    async fn comprehensively_stale(&self, att: &AttachmentStatus) -> bool {
        if !self.instance_exists(att.instance).await {
            return true;
        }
        self.ec2.describe_eni(att.eni).await.is_ok()
    }

    /// `verifyInstanceExists` (C:1882-1915): DescribeInstances; not found → false; any
    /// other error → true ("be conservative and assume instance exists"); else the state
    /// must be running, pending, stopping or stopped (terminated and shutting-down are
    /// not).
    async fn instance_exists(&self, instance: InstanceId) -> bool {
        match self.ec2.describe_instance(instance).await {
            Err(_) => true,
            Ok(None) => false,
            Ok(Some(i)) => i.state != InstanceState::Terminated,
        }
    }
}

/// `isDeviceIndexConflictError` (C:2233-2240): a string match on the error text.
fn is_device_index_conflict(text: &str) -> bool {
    text.contains("already has an interface attached at device index")
        || (text.contains("InvalidParameterValue") && text.contains("device index"))
}

enum Probe {
    Keep,
    Gone,
}
