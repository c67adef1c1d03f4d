//! The controller's EC2 client (`EC2Client`, pkg/aws/ec2.go = E) over the SDK, with its
//! own retry wrappers and caches (controller-v1.3.8.md §2, §5):
//!
//! - Layer 2, E's wrappers: `wait.ExponentialBackoff` (5 tries; sleeps ≈1, 2, 4, 8 s with
//!   +≤10 % jitter) around Detach, Delete, DescribeNetworkInterfaces and
//!   DescribeInstances, retrying only when the error text contains `RequestLimitExceeded`
//!   or `Throttling` (case-sensitive). Create, Attach, Modify, DescribeSubnets and
//!   DescribeSecurityGroups have SDK retries only.
//! - Layer 3, the cleanup wrappers (C:1111, 1163): the same backoff, also matching
//!   "rate limit" — which the SDK's quota-exhausted text contains.
//! - When a wrapper gives up, its error carries the last error's text, so an outer layer
//!   can retry it again (the layers nest to 5 × 5 × 3 attempts, §5).
//! - E maps `InvalidAttachmentID.NotFound` on Detach to success (E:353); describes by id
//!   answer "not found" as absent.
//! - Subnet CIDRs and security-group ids are cached with one shared `lastCacheUpdate`
//!   and a 5-minute TTL: entries expire together and any miss revalidates all (E:40-70).

use super::circuit_breaker::{BreakerWiring, CircuitBreaker};
use super::profile::{BackoffSpec, ControllerProfile};
use crate::aws::server::{EniQuery, EniView, InstanceView, Request, Response};
use crate::aws::{
    AttachmentId, CallContext, Ec2Client, EniId, ErrorCode, InstanceId, SdkError, SecurityGroupId,
    SubnetId,
};
use crate::engine::{rng, Nanos, SimHandle, SimRng};
use crate::kube::GoRateLimiter;
use rand::RngExt;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// An EC2 failure as the controller sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    Sdk(SdkError),
    /// A wrapper ran out of tries; the text is the last error's.
    Exhausted(Box<CallError>),
    /// The (wired-in) circuit breaker refused the call.
    CircuitOpen,
    /// An error the controller's Go code makes itself (`fmt.Errorf`), with its text;
    /// a wrapped EC2 error's text is part of it, so the wrappers' string matches see it.
    Text(String),
}

impl CallError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            CallError::Sdk(e) => e.code(),
            CallError::Exhausted(inner) => inner.code(),
            CallError::CircuitOpen | CallError::Text(_) => None,
        }
    }

    pub fn text(&self) -> String {
        self.to_string()
    }

    /// The wrappers' test: the text contains `RequestLimitExceeded` or `Throttling`
    /// (E's wrappers), or also `rate limit` (the cleanup wrappers, `layer3`).
    pub fn is_throttle_text(&self, layer3: bool) -> bool {
        let t = self.text();
        t.contains("RequestLimitExceeded")
            || t.contains("Throttling")
            || (layer3 && t.contains("rate limit"))
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Sdk(e) => write!(f, "{e}"),
            CallError::Exhausted(inner) => write!(f, "failed after retries: {inner}"),
            CallError::CircuitOpen => write!(f, "circuit breaker is open"),
            CallError::Text(t) => write!(f, "{t}"),
        }
    }
}

/// Which wrapper retries a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    /// E's wrapper (layer 2).
    Ec2,
    /// A cleanup wrapper (layer 3) around an E call.
    Cleanup,
}

#[derive(Default)]
struct LookupCache {
    last_update: Option<Nanos>,
    subnet_cidr: HashMap<SubnetId, String>,
    group_by_name: HashMap<String, SecurityGroupId>,
}

/// Counters the controller's EC2 layer keeps.
#[derive(Debug, Clone, Default)]
pub struct Ec2OpsStats {
    pub wrapper_retries: u64,
    pub wrapper_exhausted: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub limiter_wait: Nanos,
}

#[derive(Clone)]
pub struct Ec2Ops {
    sim: SimHandle,
    client: Ec2Client,
    backoff: BackoffSpec,
    cache_ttl: Nanos,
    cache: Rc<RefCell<LookupCache>>,
    rng: Rc<RefCell<SimRng>>,
    breaker: Option<Rc<RefCell<CircuitBreaker>>>,
    limiter: Option<Rc<RefCell<GoRateLimiter>>>,
    pub stats: Rc<RefCell<Ec2OpsStats>>,
    /// Who this handle's calls are made for, and how many SDK calls it has made.
    ctx: CallContext,
    calls_made: Rc<std::cell::Cell<u64>>,
}

impl Ec2Ops {
    pub fn new(sim: &SimHandle, client: Ec2Client, profile: &ControllerProfile, seed: u64) -> Self {
        let env = &profile.env;
        // Under the what-if, the breaker exists only if CIRCUIT_BREAKER_ENABLED (C:100);
        // v1.3.8 itself never calls it (C:446), so the default wiring is Off.
        let breaker = match profile.behaviour.circuit_breaker {
            BreakerWiring::Off => None,
            _ if !env.circuit_breaker_enabled => None,
            wiring => Some(Rc::new(RefCell::new(CircuitBreaker::new(
                env.circuit_breaker_failure_threshold,
                env.circuit_breaker_success_threshold,
                env.circuit_breaker_timeout.0,
                wiring == BreakerWiring::Fixed,
            )))),
        };
        Ec2Ops {
            sim: sim.clone(),
            client,
            backoff: profile.wrapper_backoff,
            cache_ttl: profile.cache_ttl.0,
            cache: Rc::new(RefCell::new(LookupCache::default())),
            rng: Rc::new(RefCell::new(rng::stream(seed, "controller.wrapper-jitter"))),
            breaker,
            limiter: profile
                .behaviour
                .ec2_rate_limit
                .map(|r| Rc::new(RefCell::new(GoRateLimiter::new(r.rate_per_s, r.burst)))),
            stats: Rc::new(RefCell::new(Ec2OpsStats::default())),
            ctx: CallContext::default(),
            calls_made: Rc::new(std::cell::Cell::new(0)),
        }
    }

    /// The same EC2 layer (caches, breaker, limiter, client), its calls tagged with `ctx`
    /// and counted apart (`calls_made`).
    pub fn for_caller(&self, ctx: CallContext) -> Ec2Ops {
        Ec2Ops {
            ctx,
            calls_made: Rc::new(std::cell::Cell::new(0)),
            ..self.clone()
        }
    }

    /// SDK calls made through this handle (and its clones) so far.
    pub fn calls_made(&self) -> u64 {
        self.calls_made.get()
    }

    pub fn client(&self) -> &Ec2Client {
        &self.client
    }

    pub fn breaker(&self) -> Option<CircuitBreaker> {
        self.breaker.as_ref().map(|b| b.borrow().clone())
    }

    /// One SDK call, through the what-if limiter and the wired-in breaker.
    async fn sdk(&self, req: Request) -> Result<Response, CallError> {
        if let Some(l) = &self.limiter {
            let wait = l.borrow_mut().reserve(self.sim.now());
            if wait > 0 {
                self.stats.borrow_mut().limiter_wait += wait;
                self.sim.sleep(wait).await;
            }
        }
        if let Some(b) = &self.breaker {
            if !b.borrow_mut().allow(self.sim.now()) {
                return Err(CallError::CircuitOpen);
            }
        }
        self.calls_made.set(self.calls_made.get() + 1);
        let result = self
            .client
            .call_in(req, self.ctx)
            .await
            .map_err(CallError::Sdk);
        if let Some(b) = &self.breaker {
            // Expected answers (a DryRun "would succeed", "not found") are not failures
            // (decision: the breaker would wrap the controller's operations, which treat
            // them as outcomes).
            let ok = match &result {
                Ok(_) => true,
                Err(e) => e
                    .code()
                    .is_some_and(|c| c == ErrorCode::DryRunOperation || c.is_not_found()),
            };
            b.borrow_mut().record(self.sim.now(), ok);
        }
        result
    }

    /// `wait.ExponentialBackoff` retrying `op` while its error reads as throttling.
    pub async fn retrying<T>(
        &self,
        wrapper: Wrapper,
        mut op: impl AsyncFnMut() -> Result<T, CallError>,
    ) -> Result<T, CallError> {
        let mut delay = self.backoff.initial.0 as f64;
        let mut step = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_throttle_text(wrapper == Wrapper::Cleanup) => {
                    if step >= self.backoff.steps {
                        self.stats.borrow_mut().wrapper_exhausted += 1;
                        return Err(CallError::Exhausted(Box::new(e)));
                    }
                    let jitter: f64 = self.rng.borrow_mut().random::<f64>() * self.backoff.jitter;
                    let sleep = (delay * (1.0 + jitter)) as Nanos;
                    delay *= self.backoff.factor;
                    step += 1;
                    self.stats.borrow_mut().wrapper_retries += 1;
                    self.sim.sleep(sleep).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn not_found(e: &CallError) -> bool {
        e.code().is_some_and(|c| c.is_not_found())
    }

    /// DescribeNetworkInterfaces by id (E:440): `None` when it does not exist.
    pub async fn describe_eni(&self, eni: EniId) -> Result<Option<EniView>, CallError> {
        self.describe_eni_in(Wrapper::Ec2, eni).await
    }

    pub async fn describe_eni_in(
        &self,
        w: Wrapper,
        eni: EniId,
    ) -> Result<Option<EniView>, CallError> {
        let r = self
            .retrying(w, async || {
                self.sdk(Request::DescribeNetworkInterfaces(EniQuery::Ids(vec![eni])))
                    .await
            })
            .await;
        match r {
            Ok(Response::Interfaces(mut v)) => Ok(v.pop()),
            Ok(_) => Ok(None),
            Err(e) if Self::not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// DescribeNetworkInterfaces by id, "not found" left as the error E returns
    /// (`failed to describe ENI after retries: …NotFound`, E:475-477): for the callers
    /// that treat every error alike (C:1957).
    pub async fn describe_eni_or_not_found(
        &self,
        eni: EniId,
    ) -> Result<Option<EniView>, CallError> {
        let r = self
            .retrying(Wrapper::Ec2, async || {
                self.sdk(Request::DescribeNetworkInterfaces(EniQuery::Ids(vec![eni])))
                    .await
            })
            .await?;
        Ok(match r {
            Response::Interfaces(mut v) => v.pop(),
            _ => None,
        })
    }

    /// `GetInstanceENIs` (E:581): interfaces attached (status `attached`) to an instance.
    pub async fn instance_enis(&self, instance: InstanceId) -> Result<Vec<EniView>, CallError> {
        let r = self
            .retrying(Wrapper::Ec2, async || {
                self.sdk(Request::DescribeNetworkInterfaces(
                    EniQuery::AttachedToInstance(instance),
                ))
                .await
            })
            .await?;
        Ok(match r {
            Response::Interfaces(v) => v,
            _ => Vec::new(),
        })
    }

    /// DescribeInstances by id (E:523): `None` when not found.
    pub async fn describe_instance(
        &self,
        instance: InstanceId,
    ) -> Result<Option<InstanceView>, CallError> {
        let r = self
            .retrying(Wrapper::Ec2, async || {
                self.sdk(Request::DescribeInstances {
                    ids: vec![instance],
                })
                .await
            })
            .await;
        match r {
            Ok(Response::Instances(mut v)) => Ok(v.pop()),
            Ok(_) => Ok(None),
            Err(e) if Self::not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// DescribeInstances straight through the SDK (the IMDS job's look-up).
    pub async fn describe_instance_sdk(&self, instance: InstanceId) -> Result<(), CallError> {
        self.sdk(Request::DescribeInstances {
            ids: vec![instance],
        })
        .await
        .map(|_| ())
    }

    /// DetachNetworkInterface (E:317-353): attachment not found counts as success.
    pub async fn detach(
        &self,
        attachment: AttachmentId,
        force: bool,
        dry_run: bool,
    ) -> Result<(), CallError> {
        let r = self
            .retrying(Wrapper::Ec2, async || {
                self.sdk(Request::DetachNetworkInterface {
                    attachment,
                    force,
                    dry_run,
                })
                .await
            })
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(ErrorCode::InvalidAttachmentIdNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// DeleteNetworkInterface (E:389): an ENI that is not found counts as deleted
    /// (E:406-410).
    pub async fn delete(&self, eni: EniId) -> Result<(), CallError> {
        let r = self
            .retrying(Wrapper::Ec2, async || {
                self.sdk(Request::DeleteNetworkInterface { eni }).await
            })
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(ErrorCode::InvalidNetworkInterfaceIdNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// CreateNetworkInterface (E:238), SDK retries only.
    pub async fn create(
        &self,
        subnet: SubnetId,
        groups: Vec<SecurityGroupId>,
    ) -> Result<EniId, CallError> {
        match self
            .sdk(Request::CreateNetworkInterface { subnet, groups })
            .await?
        {
            Response::Created(v) => Ok(v.id),
            other => unreachable_response("CreateNetworkInterface", other),
        }
    }

    /// AttachNetworkInterface (E:276), SDK retries only.
    pub async fn attach(
        &self,
        eni: EniId,
        instance: InstanceId,
        device_index: u32,
    ) -> Result<AttachmentId, CallError> {
        match self
            .sdk(Request::AttachNetworkInterface {
                eni,
                instance,
                device_index,
            })
            .await?
        {
            Response::Attached { attachment } => Ok(attachment),
            other => unreachable_response("AttachNetworkInterface", other),
        }
    }

    /// ModifyNetworkInterfaceAttribute (DeleteOnTermination), SDK retries only.
    pub async fn modify_delete_on_termination(
        &self,
        eni: EniId,
        attachment: AttachmentId,
    ) -> Result<(), CallError> {
        self.sdk(Request::ModifyNetworkInterfaceAttribute {
            eni,
            attachment,
            delete_on_termination: true,
        })
        .await
        .map(|_| ())
    }

    fn cache_valid(&self) -> bool {
        self.cache
            .borrow()
            .last_update
            .is_some_and(|t| self.sim.now().saturating_sub(t) < self.cache_ttl)
    }

    /// The CIDR if the cache has it and is fresh (no call; `updateAttachmentInfo`).
    pub fn cached_subnet_cidr(&self, subnet: SubnetId) -> Option<String> {
        if !self.cache_valid() {
            return None;
        }
        self.cache.borrow().subnet_cidr.get(&subnet).cloned()
    }

    /// Subnet CIDR through the cache; a miss costs one DescribeSubnets (E:648/704).
    pub async fn subnet_cidr(&self, subnet: SubnetId) -> Result<String, CallError> {
        if let Some(c) = self.cached_subnet_cidr(subnet) {
            self.stats.borrow_mut().cache_hits += 1;
            return Ok(c);
        }
        self.stats.borrow_mut().cache_misses += 1;
        let r = self
            .sdk(Request::DescribeSubnets { ids: vec![subnet] })
            .await?;
        let cidr = match r {
            Response::Subnets(v) => v.into_iter().next().map(|(_, c)| c).unwrap_or_default(),
            _ => String::new(),
        };
        let mut c = self.cache.borrow_mut();
        c.subnet_cidr.insert(subnet, cidr.clone());
        c.last_update = Some(self.sim.now());
        Ok(cidr)
    }

    /// `GetSecurityGroupIDByName` (E:747): cache, else DescribeSecurityGroups by
    /// group-name, then by tag:Name (1–2 calls).
    pub async fn security_group_id(
        &self,
        name: &str,
    ) -> Result<Option<SecurityGroupId>, CallError> {
        if self.cache_valid() {
            if let Some(id) = self.cache.borrow().group_by_name.get(name).copied() {
                self.stats.borrow_mut().cache_hits += 1;
                return Ok(Some(id));
            }
        }
        self.stats.borrow_mut().cache_misses += 1;
        for by_tag in [false, true] {
            let r = self
                .sdk(Request::DescribeSecurityGroups {
                    name: name.to_string(),
                    by_tag,
                })
                .await?;
            if let Response::SecurityGroups(v) = r {
                if let Some(id) = v.first().copied() {
                    let mut c = self.cache.borrow_mut();
                    c.group_by_name.insert(name.to_string(), id);
                    c.last_update = Some(self.sim.now());
                    return Ok(Some(id));
                }
            }
        }
        Ok(None)
    }
}

fn unreachable_response<T>(action: &str, r: Response) -> Result<T, CallError> {
    // The server answers each request with its own response type; anything else is a
    // bug in the model, reported as an internal error rather than a panic.
    Err(CallError::Sdk(SdkError {
        action: crate::aws::Action::from_name(action)
            .unwrap_or(crate::aws::Action::DescribeInstances),
        kind: crate::aws::sdk::SdkErrorKind::Api(crate::aws::ApiError::new(
            ErrorCode::InternalError,
            format!("unexpected response {r:?}"),
        )),
    }))
}
