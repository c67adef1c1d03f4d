//! EC2 as a server, as the controller's calls meet it.
//!
//! A call is admitted or throttled when it arrives (the token is taken at request
//! arrival; controller-v1.3.8.md §13 asks that this be decided explicitly), then takes a
//! sampled service time, and its effect is applied atomically when it completes — the
//! instant CloudTrail stamps as `eventTime` (aws-ec2.md §5). Attach and detach return at
//! once; the attachment then moves attaching → attached (or detaching → available) after
//! a sampled delay, and describes answer with the state at their own virtual time.

use super::action::{Action, Category};
use super::bucket::{BackgroundSource, TokenBucket};
use super::error::{ApiError, ErrorCode};
use super::ids::{AttachmentId, EniId, InstanceId, SecurityGroupId, SubnetId};
use super::instance_types::InstanceType;
use super::profile::{BucketLayout, Ec2Profile};
use super::tenants::TenantCall;
use crate::engine::{rng, time, Distribution, Nanos, SimRng};
use rand::RngExt;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub enum EniQuery {
    /// `networkInterfaceIdSet`: fails whole with NotFound if any id is unknown.
    Ids(Vec<EniId>),
    /// Filters `attachment.instance-id` and `attachment.status=attached` (E:581).
    AttachedToInstance(InstanceId),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    CreateNetworkInterface {
        subnet: SubnetId,
        groups: Vec<SecurityGroupId>,
    },
    AttachNetworkInterface {
        eni: EniId,
        instance: InstanceId,
        device_index: u32,
    },
    DetachNetworkInterface {
        attachment: AttachmentId,
        force: bool,
        dry_run: bool,
    },
    DeleteNetworkInterface {
        eni: EniId,
    },
    ModifyNetworkInterfaceAttribute {
        eni: EniId,
        attachment: AttachmentId,
        delete_on_termination: bool,
    },
    DescribeNetworkInterfaces(EniQuery),
    DescribeInstances {
        ids: Vec<InstanceId>,
    },
    DescribeSubnets {
        ids: Vec<SubnetId>,
    },
    /// By `group-name` filter, or by `tag:Name` when `by_tag` (E:747).
    DescribeSecurityGroups {
        name: String,
        by_tag: bool,
    },
}

impl Request {
    pub fn action(&self) -> Action {
        match self {
            Request::CreateNetworkInterface { .. } => Action::CreateNetworkInterface,
            Request::AttachNetworkInterface { .. } => Action::AttachNetworkInterface,
            Request::DetachNetworkInterface { .. } => Action::DetachNetworkInterface,
            Request::DeleteNetworkInterface { .. } => Action::DeleteNetworkInterface,
            Request::ModifyNetworkInterfaceAttribute { .. } => {
                Action::ModifyNetworkInterfaceAttribute
            }
            Request::DescribeNetworkInterfaces(_) => Action::DescribeNetworkInterfaces,
            Request::DescribeInstances { .. } => Action::DescribeInstances,
            Request::DescribeSubnets { .. } => Action::DescribeSubnets,
            Request::DescribeSecurityGroups { .. } => Action::DescribeSecurityGroups,
        }
    }

    /// Whether the call carries a filter (or ids, when those count as filtering).
    pub fn filtered(&self, ids_count_as_filter: bool) -> bool {
        match self {
            Request::DescribeNetworkInterfaces(EniQuery::AttachedToInstance(_)) => true,
            Request::DescribeNetworkInterfaces(EniQuery::Ids(_)) => ids_count_as_filter,
            Request::DescribeInstances { ids } => !ids.is_empty() && ids_count_as_filter,
            Request::DescribeSecurityGroups { .. } => true,
            _ => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EniStatus {
    Available,
    InUse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachStatus {
    Attaching,
    Attached,
    Detaching,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Running,
    Terminated,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Running => "running",
            InstanceState::Terminated => "terminated",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentView {
    pub id: AttachmentId,
    pub instance: InstanceId,
    pub device_index: u32,
    pub status: AttachStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EniView {
    pub id: EniId,
    pub subnet: SubnetId,
    pub status: EniStatus,
    pub attachment: Option<AttachmentView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceView {
    pub id: InstanceId,
    pub state: InstanceState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Created(EniView),
    Attached { attachment: AttachmentId },
    Ok,
    Interfaces(Vec<EniView>),
    Instances(Vec<InstanceView>),
    Subnets(Vec<(SubnetId, String)>),
    SecurityGroups(Vec<SecurityGroupId>),
}

#[derive(Debug, Clone)]
struct Attachment {
    id: AttachmentId,
    instance: InstanceId,
    device_index: u32,
    attached_at: Nanos,
    detached_at: Option<Nanos>,
    delete_on_termination: bool,
}

#[derive(Debug, Clone)]
struct Eni {
    subnet: SubnetId,
    deleted: bool,
    primary: bool,
    attachment: Option<Attachment>,
    created_at: Nanos,
    /// When it first became `attached` (kept after a detach, for timelines).
    first_attached_at: Option<Nanos>,
}

#[derive(Debug, Clone)]
struct Instance {
    kind: InstanceType,
    state: InstanceState,
    /// ENIs attached (in any state) to this instance, the primary first.
    enis: Vec<EniId>,
}

/// How an arriving call is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admitted; the effect is applied at completion. `fault` = fail with InternalError.
    Accepted {
        fault: bool,
    },
    Throttled,
    Outage,
}

/// Server-side counters.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    pub enis_created: u64,
    pub enis_deleted: u64,
    pub attachments_created: u64,
    pub detaches_started: u64,
}

pub struct Ec2Server {
    profile: Ec2Profile,
    buckets: Vec<TokenBucket>,
    bucket_of: [usize; Action::COUNT],
    unfiltered_bucket_of: [Option<usize>; Action::COUNT],
    latency: Vec<Distribution>,
    latency_rng: Vec<SimRng>,
    rejected_rng: SimRng,
    /// Per-action latency of a rejected attempt, with its own stream, where the profile
    /// lists one (`latency.rejected_actions`); `None`: the shared `latency.rejected`.
    rejected_by_action: Vec<Option<(Distribution, SimRng)>>,
    fault_probability: [f64; Action::COUNT],
    fault_rng: Vec<SimRng>,
    attach_rng: SimRng,
    detach_rng: SimRng,
    outages: Vec<(Nanos, Nanos)>,
    enis: Vec<Eni>,
    attachments: HashMap<AttachmentId, EniId>,
    next_attachment: u32,
    instances: Vec<Instance>,
    subnets: Vec<String>,
    security_groups: Vec<String>,
    /// Other tenants, by the tag their arrivals carry in the buckets' logs.
    tenant_names: Vec<String>,
    /// The run's seed, for the streams drawn when the tenants' log is read.
    seed: u64,
    pub stats: ServerStats,
}

/// A tenant arrival's tag: the tenant's index and the action.
fn tag_of(tenant: u32, action: Action) -> u32 {
    tenant << 8 | action.index() as u32
}

impl Ec2Server {
    /// A server with the profile's buckets (full at t = 0), tenants and faults, drawing
    /// its randomness from streams named after what they drive.
    pub fn new(profile: &Ec2Profile, seed: u64) -> Ec2Server {
        let t = &profile.throttling;
        let mut buckets = Vec::new();
        let mut bucket_of = [usize::MAX; Action::COUNT];
        let mut unfiltered_bucket_of = [None; Action::COUNT];
        let fallback = super::profile::BucketSpec {
            max: 100.0,
            refill_per_s: 5.0,
        };
        match t.layout {
            BucketLayout::PerAction => {
                for a in super::action::ALL_ACTIONS {
                    let spec = t.actions.get(a.name()).copied().unwrap_or(fallback);
                    bucket_of[a.index()] = buckets.len();
                    buckets.push(TokenBucket::new(
                        a.name(),
                        spec.max,
                        spec.refill_per_s,
                        t.refill,
                    ));
                    if let Some(u) = t.unfiltered.get(a.name()) {
                        unfiltered_bucket_of[a.index()] = Some(buckets.len());
                        buckets.push(TokenBucket::new(
                            format!("{}/unfiltered", a.name()),
                            u.max,
                            u.refill_per_s,
                            t.refill,
                        ));
                    }
                }
            }
            BucketLayout::PerCategory => {
                let mut by_cat: HashMap<Category, usize> = HashMap::new();
                for (cat, spec) in &t.categories {
                    by_cat.insert(*cat, buckets.len());
                    buckets.push(TokenBucket::new(
                        format!("{cat:?}"),
                        spec.max,
                        spec.refill_per_s,
                        t.refill,
                    ));
                }
                for a in super::action::ALL_ACTIONS {
                    // Uncategorized actions keep their own bucket (AWS doc table).
                    let idx = match (a.category(), by_cat.get(&a.category())) {
                        (Category::Uncategorized, _) | (_, None) => {
                            let spec = t.actions.get(a.name()).copied().unwrap_or(fallback);
                            buckets.push(TokenBucket::new(
                                a.name(),
                                spec.max,
                                spec.refill_per_s,
                                t.refill,
                            ));
                            buckets.len() - 1
                        }
                        (_, Some(&i)) => i,
                    };
                    bucket_of[a.index()] = idx;
                    if a.has_unfiltered_bucket() {
                        unfiltered_bucket_of[a.index()] =
                            by_cat.get(&Category::UnfilteredNonMutating).copied();
                    }
                }
            }
        }
        let mut server = Ec2Server {
            latency: super::action::ALL_ACTIONS
                .iter()
                .map(|a| profile.latency_for(*a).clone())
                .collect(),
            latency_rng: super::action::ALL_ACTIONS
                .iter()
                .map(|a| rng::stream(seed, &format!("ec2.latency.{}", a.name())))
                .collect(),
            rejected_rng: rng::stream(seed, "ec2.latency.rejected"),
            rejected_by_action: super::action::ALL_ACTIONS
                .iter()
                .map(|a| {
                    profile.latency.rejected_actions.get(a.name()).map(|d| {
                        let name = format!("ec2.latency.rejected.{}", a.name());
                        (d.clone(), rng::stream(seed, &name))
                    })
                })
                .collect(),
            fault_probability: [0.0; Action::COUNT],
            fault_rng: super::action::ALL_ACTIONS
                .iter()
                .map(|a| rng::stream(seed, &format!("ec2.fault.{}", a.name())))
                .collect(),
            attach_rng: rng::stream(seed, "ec2.attach-delay"),
            detach_rng: rng::stream(seed, "ec2.detach-delay"),
            outages: profile
                .faults
                .outages
                .iter()
                .map(|w| (time::from_secs(w.start_s), time::from_secs(w.end_s)))
                .collect(),
            buckets,
            bucket_of,
            unfiltered_bucket_of,
            enis: Vec::new(),
            attachments: HashMap::new(),
            next_attachment: 0,
            instances: Vec::new(),
            subnets: Vec::new(),
            security_groups: Vec::new(),
            tenant_names: Vec::new(),
            seed,
            stats: ServerStats::default(),
            profile: profile.clone(),
        };
        for (name, p) in &profile.faults.error_probability {
            if name == "*" {
                server.fault_probability = [*p; Action::COUNT];
            }
        }
        for (name, p) in &profile.faults.error_probability {
            if let Some(a) = Action::from_name(name) {
                server.fault_probability[a.index()] = *p;
            }
        }
        for tenant in &profile.background {
            if let Some(a) = Action::from_name(&tenant.action) {
                let idx = server.bucket_index(a, tenant.filtered);
                let tag = server.tenant_tag(&tenant.name, a);
                server.buckets[idx].add_background(
                    BackgroundSource::new(
                        tenant.rate_per_s,
                        0,
                        Nanos::MAX,
                        rng::stream(seed, &format!("tenant.{}.{}", tenant.name, a.name())),
                    )
                    .with_tag(tag),
                );
            }
        }
        for (i, storm) in profile.faults.throttle_storms.iter().enumerate() {
            if let Some(a) = Action::from_name(&storm.action) {
                let idx = server.bucket_index(a, true);
                let tag = server.tenant_tag(&format!("storm-{i}"), a);
                server.buckets[idx].add_background(
                    BackgroundSource::new(
                        storm.rate_per_s,
                        time::from_secs(storm.start_s),
                        time::from_secs(storm.end_s),
                        rng::stream(seed, &format!("storm.{i}.{}", a.name())),
                    )
                    .with_tag(tag),
                );
            }
        }
        if let Some(rec) = &profile.recorded_tenants {
            let first = server.tenant_names.len() as u32;
            for n in &rec.names {
                server.tenant_names.push(n.clone());
            }
            let mut per_bucket: Vec<Vec<(Nanos, u32)>> = vec![Vec::new(); server.buckets.len()];
            for (c, at) in rec.calls.iter().zip(rec.arrivals(seed)) {
                let idx = server.bucket_index(c.action, c.filtered);
                per_bucket[idx].push((at, tag_of(first + c.tenant, c.action)));
            }
            for (b, arrivals) in server.buckets.iter_mut().zip(per_bucket) {
                if !arrivals.is_empty() {
                    b.add_recorded(arrivals);
                }
            }
        }
        server
    }

    /// The tag of a tenant's arrivals of `action` in the buckets' logs.
    fn tenant_tag(&mut self, name: &str, action: Action) -> u32 {
        let i = match self.tenant_names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.tenant_names.push(name.to_string());
                self.tenant_names.len() - 1
            }
        };
        tag_of(i as u32, action)
    }

    /// Other tenants' names, indexed by [`TenantCall::tenant`].
    pub fn tenant_names(&self) -> &[String] {
        &self.tenant_names
    }

    /// Every tenant call the buckets have seen (bring them forward first with
    /// [`Ec2Server::settle_buckets`]), in time order: its action, tenant and whether it
    /// was throttled.
    pub fn tenant_calls(&self) -> Vec<TenantCall> {
        use rand::RngExt;
        let mut out: Vec<TenantCall> = Vec::new();
        for (b, bucket) in self.buckets.iter().enumerate() {
            let unfiltered = self.unfiltered_bucket_of.contains(&Some(b));
            for &(at, tag, admitted) in bucket.tenant_log() {
                out.push(TenantCall {
                    at,
                    action: super::action::ALL_ACTIONS[(tag & 0xff) as usize % Action::COUNT],
                    tenant: tag >> 8,
                    throttled: !admitted,
                    filtered: !unfiltered,
                    failed: false,
                });
            }
        }
        out.sort_by_key(|c| (c.at, c.tenant, c.action.index()));
        // An admitted call fails with a server error at the profile's probability for its
        // action, as the controller's own calls do (one stream per tenant and action, in
        // time order). The buckets do not see it; a trail of the account does.
        let mut streams: HashMap<(u32, usize), SimRng> = HashMap::new();
        for c in out.iter_mut().filter(|c| !c.throttled) {
            let p = self.fault_probability[c.action.index()];
            if p <= 0.0 {
                continue;
            }
            let name = self
                .tenant_names
                .get(c.tenant as usize)
                .map_or("tenant", String::as_str);
            let rng = streams
                .entry((c.tenant, c.action.index()))
                .or_insert_with(|| {
                    rng::stream(
                        self.seed,
                        &format!("tenant-errors.{name}.{}", c.action.name()),
                    )
                });
            c.failed = rng.random::<f64>() < p;
        }
        out
    }

    pub fn profile(&self) -> &Ec2Profile {
        &self.profile
    }

    fn bucket_index(&self, action: Action, filtered: bool) -> usize {
        if !filtered {
            if let Some(i) = self.unfiltered_bucket_of[action.index()] {
                return i;
            }
        }
        self.bucket_of[action.index()]
    }

    pub fn buckets(&self) -> &[TokenBucket] {
        &self.buckets
    }

    /// Brings every bucket's statistics up to `now`.
    pub fn settle_buckets(&mut self, now: Nanos) {
        for b in &mut self.buckets {
            b.tokens(now);
        }
    }

    pub fn bucket_tokens(&mut self, action: Action, now: Nanos) -> f64 {
        let i = self.bucket_index(action, true);
        self.buckets[i].tokens(now)
    }

    // ---- the world the scenario sets up -------------------------------------------

    pub fn add_subnet(&mut self, name: &str) -> SubnetId {
        self.subnets.push(name.to_string());
        SubnetId(self.subnets.len() as u32 - 1)
    }

    pub fn add_security_group(&mut self, name: &str) -> SecurityGroupId {
        self.security_groups.push(name.to_string());
        SecurityGroupId(self.security_groups.len() as u32 - 1)
    }

    /// A running instance with its primary interface at device index 0.
    pub fn add_instance(
        &mut self,
        kind: &InstanceType,
        subnet: SubnetId,
        now: Nanos,
    ) -> InstanceId {
        let id = InstanceId(self.instances.len() as u32);
        let eni = EniId(self.enis.len() as u32);
        let attachment = self.new_attachment_id();
        self.enis.push(Eni {
            subnet,
            deleted: false,
            primary: true,
            attachment: Some(Attachment {
                id: attachment,
                instance: id,
                device_index: 0,
                attached_at: now,
                detached_at: None,
                delete_on_termination: true,
            }),
            created_at: now,
            first_attached_at: None,
        });
        self.attachments.insert(attachment, eni);
        self.instances.push(Instance {
            kind: kind.clone(),
            state: InstanceState::Running,
            enis: vec![eni],
        });
        id
    }

    /// Terminates an instance: interfaces marked delete-on-termination are deleted, the
    /// others detached (available).
    pub fn terminate_instance(&mut self, id: InstanceId, now: Nanos) {
        let Some(inst) = self.instances.get_mut(id.0 as usize) else {
            return;
        };
        inst.state = InstanceState::Terminated;
        let enis = std::mem::take(&mut inst.enis);
        for e in enis {
            let eni = &mut self.enis[e.0 as usize];
            if let Some(a) = eni.attachment.take() {
                self.attachments.remove(&a.id);
                if a.delete_on_termination {
                    eni.deleted = true;
                    if !eni.primary {
                        self.stats.enis_deleted += 1;
                    }
                }
            }
            let _ = now;
        }
    }

    fn new_attachment_id(&mut self) -> AttachmentId {
        self.next_attachment += 1;
        AttachmentId(self.next_attachment)
    }

    // ---- a call's life: arrival, then completion ----------------------------------

    /// How long a throttled or outage-rejected attempt of `action` takes to come back.
    fn rejected_latency(&mut self, action: Action) -> Nanos {
        match &mut self.rejected_by_action[action.index()] {
            Some((d, rng)) => d.sample(rng),
            None => self.profile.latency.rejected.sample(&mut self.rejected_rng),
        }
    }

    /// A call arrives at `now`: outage, throttle, or admitted (and maybe doomed to an
    /// injected fault). Returns the admission and how long the answer takes.
    pub fn arrive(&mut self, req: &Request, now: Nanos) -> (Admission, Nanos) {
        let action = req.action();
        // An outage rejects before the bucket is consulted (assumption).
        if self.outages.iter().any(|&(s, e)| now >= s && now < e) {
            return (Admission::Outage, self.rejected_latency(action));
        }
        let filtered = req.filtered(self.profile.throttling.describe_by_id_is_filtered);
        let b = self.bucket_index(action, filtered);
        if !self.buckets[b].try_take(now) {
            return (Admission::Throttled, self.rejected_latency(action));
        }
        let p = self.fault_probability[action.index()];
        let fault = p > 0.0 && self.fault_rng[action.index()].random::<f64>() < p;
        let latency = self.latency[action.index()].sample(&mut self.latency_rng[action.index()]);
        (Admission::Accepted { fault }, latency)
    }

    /// Applies an admitted call at its completion time `now`.
    pub fn complete(
        &mut self,
        req: &Request,
        now: Nanos,
        fault: bool,
    ) -> Result<Response, ApiError> {
        if fault {
            return Err(ApiError::new(
                ErrorCode::InternalError,
                "An internal error has occurred",
            ));
        }
        match req {
            Request::CreateNetworkInterface { subnet, groups } => self.create(*subnet, groups, now),
            Request::AttachNetworkInterface {
                eni,
                instance,
                device_index,
            } => self.attach(*eni, *instance, *device_index, now),
            Request::DetachNetworkInterface {
                attachment,
                force: _,
                dry_run,
            } => self.detach(*attachment, *dry_run, now),
            Request::DeleteNetworkInterface { eni } => self.delete(*eni, now),
            Request::ModifyNetworkInterfaceAttribute {
                eni,
                attachment,
                delete_on_termination,
            } => self.modify(*eni, *attachment, *delete_on_termination, now),
            Request::DescribeNetworkInterfaces(q) => self.describe_enis(q, now),
            Request::DescribeInstances { ids } => self.describe_instances(ids),
            Request::DescribeSubnets { ids } => {
                let mut out = Vec::new();
                for id in ids {
                    if id.0 as usize >= self.subnets.len() {
                        return Err(ApiError::new(
                            ErrorCode::InvalidSubnetIdNotFound,
                            format!("The subnet ID '{id}' does not exist"),
                        ));
                    }
                    out.push((*id, format!("10.{}.0.0/20", 16 + id.0 % 200)));
                }
                Ok(Response::Subnets(out))
            }
            Request::DescribeSecurityGroups { name, .. } => Ok(Response::SecurityGroups(
                self.security_groups
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| *n == name)
                    .map(|(i, _)| SecurityGroupId(i as u32))
                    .collect(),
            )),
        }
    }

    /// Drops attachments whose detach has finished by `now`.
    fn settle_eni(&mut self, id: EniId, now: Nanos) {
        let eni = &mut self.enis[id.0 as usize];
        if let Some(a) = &eni.attachment {
            if a.detached_at.is_some_and(|t| t <= now) {
                let (aid, inst) = (a.id, a.instance);
                if a.detached_at.is_some_and(|d| a.attached_at < d) {
                    eni.first_attached_at.get_or_insert(a.attached_at);
                }
                eni.attachment = None;
                self.attachments.remove(&aid);
                if let Some(i) = self.instances.get_mut(inst.0 as usize) {
                    i.enis.retain(|e| *e != id);
                }
            }
        }
    }

    fn live_eni(&mut self, id: EniId, now: Nanos) -> Result<&mut Eni, ApiError> {
        if (id.0 as usize) < self.enis.len() && !self.enis[id.0 as usize].deleted {
            self.settle_eni(id, now);
            Ok(&mut self.enis[id.0 as usize])
        } else {
            Err(ApiError::new(
                ErrorCode::InvalidNetworkInterfaceIdNotFound,
                format!("The networkInterface ID '{id}' does not exist"),
            ))
        }
    }

    fn view(&self, id: EniId, now: Nanos) -> EniView {
        let eni = &self.enis[id.0 as usize];
        let attachment = eni.attachment.as_ref().map(|a| AttachmentView {
            id: a.id,
            instance: a.instance,
            device_index: a.device_index,
            status: if a.detached_at.is_some() {
                AttachStatus::Detaching
            } else if now < a.attached_at {
                AttachStatus::Attaching
            } else {
                AttachStatus::Attached
            },
        });
        EniView {
            id,
            subnet: eni.subnet,
            status: if attachment.is_some() {
                EniStatus::InUse
            } else {
                EniStatus::Available
            },
            attachment,
        }
    }

    fn create(
        &mut self,
        subnet: SubnetId,
        groups: &[SecurityGroupId],
        now: Nanos,
    ) -> Result<Response, ApiError> {
        if subnet.0 as usize >= self.subnets.len() {
            return Err(ApiError::new(
                ErrorCode::InvalidSubnetIdNotFound,
                format!("The subnet ID '{subnet}' does not exist"),
            ));
        }
        if let Some(g) = groups
            .iter()
            .find(|g| g.0 as usize >= self.security_groups.len())
        {
            return Err(ApiError::new(
                ErrorCode::InvalidGroupNotFound,
                format!("The security group '{g}' does not exist"),
            ));
        }
        let id = EniId(self.enis.len() as u32);
        self.enis.push(Eni {
            subnet,
            deleted: false,
            primary: false,
            attachment: None,
            created_at: now,
            first_attached_at: None,
        });
        self.stats.enis_created += 1;
        Ok(Response::Created(self.view(id, now)))
    }

    fn attach(
        &mut self,
        eni: EniId,
        instance: InstanceId,
        device_index: u32,
        now: Nanos,
    ) -> Result<Response, ApiError> {
        let attached = self.live_eni(eni, now)?.attachment.is_some();
        let Some(inst) = self.instances.get(instance.0 as usize) else {
            return Err(ApiError::new(
                ErrorCode::InvalidInstanceIdNotFound,
                format!("The instance ID '{instance}' does not exist"),
            ));
        };
        if inst.state != InstanceState::Running {
            return Err(ApiError::new(
                ErrorCode::IncorrectInstanceState,
                format!("Instance '{instance}' is not 'running'."),
            ));
        }
        if attached {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("Interface '{eni}' is already attached."),
            ));
        }
        for e in inst.enis.clone() {
            self.settle_eni(e, now);
        }
        let inst = &self.instances[instance.0 as usize];
        // The limit is checked before the device index (decision, controller-v1.3.8.md §13):
        // every interface on the default card counts, attaching and detaching included.
        let count = inst.enis.len() as u32;
        if count >= inst.kind.max_enis_default_card {
            return Err(ApiError::new(
                ErrorCode::AttachmentLimitExceeded,
                format!(
                    "Interface count {} exceeds the limit for {}",
                    count + 1,
                    inst.kind.name
                ),
            ));
        }
        let taken = inst.enis.iter().any(|e| {
            self.enis[e.0 as usize]
                .attachment
                .as_ref()
                .is_some_and(|a| a.device_index == device_index)
        });
        if taken {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!(
                    "Instance '{instance}' already has an interface attached at device index '{device_index}'."
                ),
            ));
        }
        let id = self.new_attachment_id();
        let delay = self.profile.attachment.attach.sample(&mut self.attach_rng);
        self.enis[eni.0 as usize].attachment = Some(Attachment {
            id,
            instance,
            device_index,
            attached_at: now + delay,
            detached_at: None,
            delete_on_termination: false,
        });
        self.attachments.insert(id, eni);
        self.instances[instance.0 as usize].enis.push(eni);
        self.stats.attachments_created += 1;
        Ok(Response::Attached { attachment: id })
    }

    fn detach(
        &mut self,
        attachment: AttachmentId,
        dry_run: bool,
        now: Nanos,
    ) -> Result<Response, ApiError> {
        let not_found = || {
            ApiError::new(
                ErrorCode::InvalidAttachmentIdNotFound,
                format!("The attachment ID '{attachment}' does not exist"),
            )
        };
        let eni = *self.attachments.get(&attachment).ok_or_else(not_found)?;
        self.settle_eni(eni, now);
        let e = &self.enis[eni.0 as usize];
        let Some(a) = e.attachment.as_ref().filter(|a| a.id == attachment) else {
            return Err(not_found());
        };
        if a.device_index == 0 && e.primary {
            return Err(ApiError::new(
                ErrorCode::OperationNotPermitted,
                "The network interface at device index 0 cannot be detached.",
            ));
        }
        if dry_run {
            return Err(ApiError::new(
                ErrorCode::DryRunOperation,
                "Request would have succeeded, but DryRun flag is set.",
            ));
        }
        if a.detached_at.is_none() {
            // A detach requested while still attaching completes after the attach (assumption).
            let start = now.max(a.attached_at);
            let delay = self.profile.attachment.detach.sample(&mut self.detach_rng);
            if let Some(a) = self.enis[eni.0 as usize].attachment.as_mut() {
                a.detached_at = Some(start + delay);
            }
            self.stats.detaches_started += 1;
        }
        Ok(Response::Ok)
    }

    fn delete(&mut self, id: EniId, now: Nanos) -> Result<Response, ApiError> {
        let eni = self.live_eni(id, now)?;
        if eni.attachment.is_some() {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("Network interface '{id}' is currently in use."),
            ));
        }
        eni.deleted = true;
        self.stats.enis_deleted += 1;
        Ok(Response::Ok)
    }

    fn modify(
        &mut self,
        id: EniId,
        attachment: AttachmentId,
        dot: bool,
        now: Nanos,
    ) -> Result<Response, ApiError> {
        let eni = self.live_eni(id, now)?;
        match eni.attachment.as_mut().filter(|a| a.id == attachment) {
            Some(a) => {
                a.delete_on_termination = dot;
                Ok(Response::Ok)
            }
            None => Err(ApiError::new(
                ErrorCode::InvalidAttachmentIdNotFound,
                format!("The attachment ID '{attachment}' does not exist"),
            )),
        }
    }

    fn describe_enis(&mut self, q: &EniQuery, now: Nanos) -> Result<Response, ApiError> {
        match q {
            EniQuery::Ids(ids) => {
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    self.live_eni(*id, now)?;
                    out.push(self.view(*id, now));
                }
                Ok(Response::Interfaces(out))
            }
            EniQuery::AttachedToInstance(inst) => {
                let Some(i) = self.instances.get(inst.0 as usize) else {
                    return Ok(Response::Interfaces(Vec::new()));
                };
                for e in i.enis.clone() {
                    self.settle_eni(e, now);
                }
                let views = self.instances[inst.0 as usize]
                    .enis
                    .iter()
                    .map(|e| self.view(*e, now))
                    .filter(|v| {
                        v.attachment
                            .as_ref()
                            .is_some_and(|a| a.status == AttachStatus::Attached)
                    })
                    .collect();
                Ok(Response::Interfaces(views))
            }
        }
    }

    fn describe_instances(&self, ids: &[InstanceId]) -> Result<Response, ApiError> {
        let mut out = Vec::new();
        for id in ids {
            match self.instances.get(id.0 as usize) {
                Some(i) => out.push(InstanceView {
                    id: *id,
                    state: i.state,
                }),
                None => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidInstanceIdNotFound,
                        format!("The instance ID '{id}' does not exist"),
                    ))
                }
            }
        }
        Ok(Response::Instances(out))
    }

    // ---- EC2's own view, for metrics ------------------------------------------------

    /// When EC2 reports the interface `attached` (None if it has no attachment).
    pub fn attached_at(&self, eni: EniId) -> Option<Nanos> {
        self.enis
            .get(eni.0 as usize)
            .and_then(|e| e.attachment.as_ref())
            .filter(|a| a.detached_at.is_none())
            .map(|a| a.attached_at)
    }

    /// When the ENI first became `attached` in EC2, even if it has been detached since
    /// (its attachment time in a run that went on to clean it up).
    pub fn first_attached_at(&self, eni: EniId) -> Option<Nanos> {
        let e = self.enis.get(eni.0 as usize)?;
        e.first_attached_at.or_else(|| {
            e.attachment
                .as_ref()
                .filter(|a| a.detached_at.is_none_or(|d| a.attached_at < d))
                .map(|a| a.attached_at)
        })
    }

    pub fn eni_created_at(&self, eni: EniId) -> Option<Nanos> {
        self.enis.get(eni.0 as usize).map(|e| e.created_at)
    }

    /// Secondary interfaces that exist (not deleted) at `now`, attached or not.
    pub fn live_secondary_enis(&self) -> Vec<EniId> {
        self.enis
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.deleted && !e.primary)
            .map(|(i, _)| EniId(i as u32))
            .collect()
    }

    /// Secondary interfaces attached (EC2 state `attached`) to `instance` at `now`.
    pub fn attached_secondaries(&mut self, instance: InstanceId, now: Nanos) -> Vec<(EniId, u32)> {
        let Some(i) = self.instances.get(instance.0 as usize) else {
            return Vec::new();
        };
        for e in i.enis.clone() {
            self.settle_eni(e, now);
        }
        self.instances[instance.0 as usize]
            .enis
            .iter()
            .filter_map(|e| {
                let eni = &self.enis[e.0 as usize];
                let a = eni.attachment.as_ref()?;
                (!eni.primary && a.detached_at.is_none() && a.attached_at <= now)
                    .then_some((*e, a.device_index))
            })
            .collect()
    }

    pub fn instance_state(&self, instance: InstanceId) -> Option<InstanceState> {
        self.instances.get(instance.0 as usize).map(|i| i.state)
    }

    pub fn instance_type(&self, instance: InstanceId) -> Option<&InstanceType> {
        self.instances.get(instance.0 as usize).map(|i| &i.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::InstanceTypes;

    fn server() -> (Ec2Server, InstanceId, SubnetId, SecurityGroupId) {
        let mut s = Ec2Server::new(&Ec2Profile::embedded(), 1);
        let types = InstanceTypes::embedded();
        let subnet = s.add_subnet("a");
        let sg = s.add_security_group("sg");
        let i = s.add_instance(types.get("m5.large").unwrap(), subnet, 0);
        (s, i, subnet, sg)
    }

    fn create(s: &mut Ec2Server, subnet: SubnetId, sg: SecurityGroupId) -> EniId {
        match s.complete(
            &Request::CreateNetworkInterface {
                subnet,
                groups: vec![sg],
            },
            0,
            false,
        ) {
            Ok(Response::Created(v)) => v.id,
            other => panic!("{other:?}"),
        }
    }

    fn attach(
        s: &mut Ec2Server,
        eni: EniId,
        instance: InstanceId,
        idx: u32,
        now: Nanos,
    ) -> Result<Response, ApiError> {
        s.complete(
            &Request::AttachNetworkInterface {
                eni,
                instance,
                device_index: idx,
            },
            now,
            false,
        )
    }

    #[test]
    fn attaching_past_the_type_limit_fails() {
        // m5.large: 3 interfaces on the card, the primary included.
        let (mut s, i, subnet, sg) = server();
        for idx in 1..=2 {
            let e = create(&mut s, subnet, sg);
            assert!(attach(&mut s, e, i, idx, 0).is_ok());
        }
        let e = create(&mut s, subnet, sg);
        let err = attach(&mut s, e, i, 3, 0).unwrap_err();
        assert_eq!(err.code, ErrorCode::AttachmentLimitExceeded);
        assert!(err
            .message
            .contains("Interface count 4 exceeds the limit for m5.large"));
    }

    #[test]
    fn a_taken_device_index_fails() {
        let (mut s, i, subnet, sg) = server();
        let a = create(&mut s, subnet, sg);
        let b = create(&mut s, subnet, sg);
        attach(&mut s, a, i, 1, 0).unwrap();
        let err = attach(&mut s, b, i, 1, 0).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue);
        assert!(err.message.contains("device index '1'"));
        let err = attach(&mut s, b, i, 0, 0).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    }

    #[test]
    fn attach_and_detach_move_through_their_states() {
        let (mut s, i, subnet, sg) = server();
        let e = create(&mut s, subnet, sg);
        let Response::Attached { attachment } = attach(&mut s, e, i, 1, 0).unwrap() else {
            panic!()
        };
        let at = s.attached_at(e).unwrap();
        assert!((1_000_000_000..=5_000_000_000).contains(&at), "{at}");
        let status = |s: &mut Ec2Server, t| match s
            .complete(
                &Request::DescribeNetworkInterfaces(EniQuery::Ids(vec![e])),
                t,
                false,
            )
            .unwrap()
        {
            Response::Interfaces(v) => (v[0].status, v[0].attachment.as_ref().map(|a| a.status)),
            _ => panic!(),
        };
        assert_eq!(
            status(&mut s, 0),
            (EniStatus::InUse, Some(AttachStatus::Attaching))
        );
        assert_eq!(
            status(&mut s, at),
            (EniStatus::InUse, Some(AttachStatus::Attached))
        );
        // The filtered look-up sees only `attached` interfaces (primary included).
        let Ok(Response::Interfaces(v)) = s.complete(
            &Request::DescribeNetworkInterfaces(EniQuery::AttachedToInstance(i)),
            0,
            false,
        ) else {
            panic!()
        };
        assert_eq!(v.len(), 1);
        let detach = |dry_run| Request::DetachNetworkInterface {
            attachment,
            force: true,
            dry_run,
        };
        assert_eq!(
            s.complete(&detach(true), at, false).unwrap_err().code,
            ErrorCode::DryRunOperation
        );
        s.complete(&detach(false), at, false).unwrap();
        assert_eq!(
            status(&mut s, at),
            (EniStatus::InUse, Some(AttachStatus::Detaching))
        );
        let del = Request::DeleteNetworkInterface { eni: e };
        let err = s.complete(&del, at, false).unwrap_err();
        assert!(err.message.contains("currently in use"));
        let later = at + 1_000_000_000_000;
        assert_eq!(status(&mut s, later), (EniStatus::Available, None));
        assert_eq!(
            s.complete(&detach(true), later, false).unwrap_err().code,
            ErrorCode::InvalidAttachmentIdNotFound
        );
        s.complete(&del, later, false).unwrap();
        assert_eq!(
            s.complete(&del, later, false).unwrap_err().code,
            ErrorCode::InvalidNetworkInterfaceIdNotFound
        );
    }

    #[test]
    fn the_primary_cannot_be_detached() {
        let (mut s, i, _, _) = server();
        let Ok(Response::Interfaces(v)) = s.complete(
            &Request::DescribeNetworkInterfaces(EniQuery::AttachedToInstance(i)),
            0,
            false,
        ) else {
            panic!()
        };
        let a = v[0].attachment.as_ref().unwrap().id;
        let err = s
            .complete(
                &Request::DetachNetworkInterface {
                    attachment: a,
                    force: true,
                    dry_run: false,
                },
                0,
                false,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::OperationNotPermitted);
    }

    #[test]
    fn arrivals_past_the_bucket_are_throttled() {
        let (mut s, _, subnet, sg) = server();
        let req = Request::CreateNetworkInterface {
            subnet,
            groups: vec![sg],
        };
        let admitted = (0..150)
            .filter(|_| matches!(s.arrive(&req, 0).0, Admission::Accepted { .. }))
            .count();
        assert_eq!(admitted, 100);
    }
}
