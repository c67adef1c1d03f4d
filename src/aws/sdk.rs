//! The AWS SDK client as the controller uses it: retry modes, the retry quota, and the
//! error text that the controller's own wrappers read (aws-ec2.md §4).
//!
//! - `v2-standard` (aws-sdk-go-v2 aws/retry/standard.go@1489ddb2, the controller's mode:
//!   `LoadDefaultConfig` with no retryer options, controller-v1.3.8.md §5): 3 attempts;
//!   delay `U[0,1)·2^n` s after n attempts, exactly 20 s once `n > log2(20)`; a per-client
//!   quota of 500 tokens, 5 per retry, refunded when the retry succeeds, +1 per successful
//!   attempt; when it is empty the call fails with "retry quota exceeded", a text that no
//!   longer carries the throttle code.
//! - `v2-adaptive` (aws/retry/adaptive.go, adaptive_ratelimit.go): standard's attempts,
//!   back-off and retry cost/refund, plus a client-side CUBIC send-rate bucket enabled by
//!   the first throttle; no +1 per successful attempt (its attempt token only updates
//!   the send rate, `GetAttemptToken` → `handleResponse`).
//! - `v2-2026` (AWS_NEW_RETRIES_2026; aws-sdk-go-v2#3416): non-throttle base 50 ms,
//!   throttle base 1 s, 0-based exponent with the cap before jitter; transient retries
//!   cost 14, throttles 5; +1 only for a successful first attempt.
//! - `v1` (aws-sdk-go aws/client/default_retryer.go@8d203cc): 3 retries, 30 ms / 500 ms
//!   minimum delays, 300 s maximum, no quota; ModifyNetworkInterfaceAttribute gets the
//!   EC2 customisation of 1–8 s (service/ec2/customizations.go).
//!
//! Attempt time-outs are not modelled (no attempt ever times out), so the timeout retry
//! cost never applies.

use super::action::Action;
use super::error::{ApiError, ErrorCode};
use super::ids::{AttachmentId, EniId, InstanceId, SubnetId};
use super::server::{Admission, Ec2Server, EniQuery, Request, Response};
use crate::engine::{rng, Nanos, SimHandle, SimRng, TimeWeighted, MILLI, SECOND};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum RetryMode {
    #[default]
    #[serde(rename = "v2-standard")]
    V2Standard,
    #[serde(rename = "v2-adaptive")]
    V2Adaptive,
    #[serde(rename = "v2-2026")]
    V2Retries2026,
    #[serde(rename = "v1")]
    V1,
}

impl RetryMode {
    pub fn parse(s: &str) -> Option<RetryMode> {
        match s {
            "standard" | "v2-standard" => Some(RetryMode::V2Standard),
            "adaptive" | "v2-adaptive" => Some(RetryMode::V2Adaptive),
            "v2-2026" => Some(RetryMode::V2Retries2026),
            "v1" | "legacy" => Some(RetryMode::V1),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RetryMode::V2Standard => "v2-standard",
            RetryMode::V2Adaptive => "v2-adaptive",
            RetryMode::V2Retries2026 => "v2-2026",
            RetryMode::V1 => "v1",
        }
    }

    pub fn default_max_attempts(self) -> u32 {
        match self {
            RetryMode::V1 => 4,
            _ => 3,
        }
    }
}

/// How the SDK's back-off jitter is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SdkJitter {
    /// As the SDK does: a uniform draw from the client's stream (`sdk.jitter`).
    #[default]
    Random,
    /// Every draw at its maximum (u = 1): deterministic back-offs, for comparing with
    /// another model attempt for attempt (not what the SDK does).
    Max,
}

impl SdkJitter {
    pub fn parse(s: &str) -> Option<SdkJitter> {
        match s {
            "random" => Some(SdkJitter::Random),
            "max" => Some(SdkJitter::Max),
            _ => None,
        }
    }
}

pub const RETRY_QUOTA: u32 = 500;
pub const RETRY_COST: u32 = 5;
pub const RETRY_COST_2026_TRANSIENT: u32 = 14;
pub const NO_RETRY_INCREMENT: u32 = 1;
pub const MAX_BACKOFF: Nanos = 20 * SECOND;

/// Why a call failed, in the SDK's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum SdkErrorKind {
    /// A non-retryable API error.
    Api(ApiError),
    /// Retries ran out; the text still carries the API error.
    MaxAttempts { attempts: u32, last: ApiError },
    /// The retry quota is empty; the original error is not in the text.
    QuotaExceeded { available: u32, requested: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SdkError {
    pub action: Action,
    pub kind: SdkErrorKind,
}

impl SdkError {
    /// The API error code, as `errors.As` would find it through the SDK's wrapping.
    pub fn code(&self) -> Option<ErrorCode> {
        match &self.kind {
            SdkErrorKind::Api(e) | SdkErrorKind::MaxAttempts { last: e, .. } => Some(e.code),
            SdkErrorKind::QuotaExceeded { .. } => None,
        }
    }

    /// The error string, shaped like aws-sdk-go-v2's `OperationError` text.
    pub fn text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "operation error EC2: {}, ", self.action.name())?;
        match &self.kind {
            SdkErrorKind::Api(e) => write!(f, "{e}"),
            SdkErrorKind::MaxAttempts { attempts, last } => {
                write!(f, "exceeded maximum number of attempts, {attempts}, {last}")
            }
            SdkErrorKind::QuotaExceeded {
                available,
                requested,
            } => write!(
                f,
                "failed to get rate limit token, retry quota exceeded, {available} available, {requested} requested"
            ),
        }
    }
}

impl std::error::Error for SdkError {}

/// Who makes an SDK call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Caller {
    /// The controller's reconcile path (a worker, or a task it waits for).
    #[default]
    Controller,
    /// The controller's IMDS hop-limit job (C:2529).
    ImdsJob,
}

impl Caller {
    pub fn as_str(self) -> &'static str {
        match self {
            Caller::Controller => "controller",
            Caller::ImdsJob => "imds-job",
        }
    }
}

/// What a call's attempts are tagged with: the caller and, for the controller's
/// reconcile path, the worker (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallContext {
    pub caller: Caller,
    pub worker: Option<u32>,
}

/// One attempt, as CloudTrail would record it (plus what CloudTrail cannot see).
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub start: Nanos,
    pub end: Nanos,
    pub action: Action,
    /// 1 for the first attempt of a call.
    pub attempt: u8,
    pub error: Option<ErrorCode>,
    pub eni: Option<EniId>,
    pub attachment: Option<AttachmentId>,
    pub instance: Option<InstanceId>,
    pub subnet: Option<SubnetId>,
    pub device_index: Option<u32>,
    pub dry_run: bool,
    /// Who made the call.
    pub caller: Caller,
    pub worker: Option<u32>,
    /// One id per logical SDK call (per client, from 1): the attempts of a call share it.
    pub call_id: u64,
}

impl CallRecord {
    fn new(
        req: &Request,
        start: Nanos,
        end: Nanos,
        attempt: u32,
        ctx: CallContext,
        call_id: u64,
    ) -> Self {
        let mut r = CallRecord {
            caller: ctx.caller,
            worker: ctx.worker,
            call_id,
            start,
            end,
            action: req.action(),
            attempt: attempt.min(255) as u8,
            error: None,
            eni: None,
            attachment: None,
            instance: None,
            subnet: None,
            device_index: None,
            dry_run: false,
        };
        match req {
            Request::CreateNetworkInterface { subnet, .. } => r.subnet = Some(*subnet),
            Request::AttachNetworkInterface {
                eni,
                instance,
                device_index,
            } => {
                r.eni = Some(*eni);
                r.instance = Some(*instance);
                r.device_index = Some(*device_index);
            }
            Request::DetachNetworkInterface {
                attachment,
                dry_run,
                ..
            } => {
                r.attachment = Some(*attachment);
                r.dry_run = *dry_run;
            }
            Request::DeleteNetworkInterface { eni } => r.eni = Some(*eni),
            Request::ModifyNetworkInterfaceAttribute {
                eni, attachment, ..
            } => {
                r.eni = Some(*eni);
                r.attachment = Some(*attachment);
            }
            Request::DescribeNetworkInterfaces(EniQuery::Ids(ids)) => r.eni = ids.first().copied(),
            Request::DescribeNetworkInterfaces(EniQuery::AttachedToInstance(i)) => {
                r.instance = Some(*i)
            }
            Request::DescribeInstances { ids } => r.instance = ids.first().copied(),
            Request::DescribeSubnets { ids } => r.subnet = ids.first().copied(),
            Request::DescribeSecurityGroups { .. } => {}
        }
        r
    }
}

/// Client-side counters.
#[derive(Debug, Clone, Default)]
pub struct ClientStats {
    pub calls: u64,
    pub attempts: u64,
    pub retries: u64,
    pub throttled_attempts: u64,
    pub quota_exhausted: u64,
    pub max_attempts_exceeded: u64,
    pub failed_calls: u64,
    /// Time spent waiting in the adaptive client-side limiter.
    pub adaptive_wait: Nanos,
}

/// aws-sdk-go-v2 `adaptiveRateLimit` (CUBIC), in virtual seconds.
#[derive(Debug, Clone)]
struct AdaptiveRateLimit {
    enabled: bool,
    fill_rate: f64,
    calculated_rate: f64,
    last_refilled: Option<f64>,
    measured_tx_rate: f64,
    last_tx_rate_bucket: f64,
    request_count: i64,
    last_max_rate: f64,
    last_throttle_time: f64,
    time_window: f64,
    remaining: f64,
    capacity: f64,
}

impl AdaptiveRateLimit {
    const SMOOTH: f64 = 0.8;
    const BETA: f64 = 0.7;
    const SCALE: f64 = 0.4;
    const MIN_FILL_RATE: f64 = 0.5;
    const MIN_CAPACITY: f64 = 1.0;

    fn new() -> Self {
        AdaptiveRateLimit {
            enabled: false,
            fill_rate: 0.0,
            calculated_rate: 0.0,
            last_refilled: None,
            measured_tx_rate: 0.0,
            last_tx_rate_bucket: 0.0,
            request_count: 0,
            last_max_rate: 0.0,
            last_throttle_time: 0.0,
            time_window: 0.0,
            remaining: 0.0,
            capacity: 0.0,
        }
    }

    fn refill(&mut self, now: f64) {
        match self.last_refilled {
            None => self.last_refilled = Some(now),
            Some(last) => {
                self.remaining =
                    (self.remaining + (now - last) * self.fill_rate).min(self.capacity);
                self.last_refilled = Some(now);
            }
        }
    }

    /// (acquired, wait before trying again).
    fn acquire(&mut self, now: f64) -> (bool, f64) {
        if !self.enabled {
            return (true, 0.0);
        }
        self.refill(now);
        if self.remaining < 1.0 {
            return (false, (1.0 - self.remaining) / self.fill_rate);
        }
        self.remaining -= 1.0;
        (true, 0.0)
    }

    fn update(&mut self, now: f64, throttled: bool) {
        let bucket = (now * 2.0).floor() / 2.0;
        self.request_count += 1;
        if bucket > self.last_tx_rate_bucket {
            let current = self.request_count as f64 / (bucket - self.last_tx_rate_bucket);
            self.measured_tx_rate =
                current * Self::SMOOTH + self.measured_tx_rate * (1.0 - Self::SMOOTH);
            self.request_count = 0;
            self.last_tx_rate_bucket = bucket;
        }
        if throttled {
            let rate = if self.enabled {
                self.measured_tx_rate.min(self.fill_rate)
            } else {
                self.measured_tx_rate
            };
            self.last_max_rate = rate;
            self.time_window = (self.last_max_rate * (1.0 - Self::BETA) / Self::SCALE).cbrt();
            self.last_throttle_time = now;
            self.calculated_rate = rate * Self::BETA;
            self.enabled = true;
        } else {
            self.time_window = (self.last_max_rate * (1.0 - Self::BETA) / Self::SCALE).cbrt();
            let dt = now - self.last_throttle_time;
            self.calculated_rate =
                Self::SCALE * (dt - self.time_window).powi(3) + self.last_max_rate;
        }
        let new_rate = self.calculated_rate.min(2.0 * self.measured_tx_rate);
        self.refill(now);
        self.fill_rate = new_rate.max(Self::MIN_FILL_RATE);
        self.capacity = new_rate.max(Self::MIN_CAPACITY);
        self.remaining = self.remaining.min(self.capacity);
    }
}

struct ClientState {
    quota: u32,
    rng: SimRng,
    adaptive: Option<AdaptiveRateLimit>,
    stats: ClientStats,
}

struct ClientInner {
    sim: SimHandle,
    server: Rc<RefCell<Ec2Server>>,
    mode: RetryMode,
    max_attempts: u32,
    jitter: SdkJitter,
    state: RefCell<ClientState>,
    log: Option<Rc<RefCell<Vec<CallRecord>>>>,
    in_flight: Rc<RefCell<TimeWeighted>>,
}

/// One SDK client (one retry quota), shared by clones.
#[derive(Clone)]
pub struct Ec2Client(Rc<ClientInner>);

impl Ec2Client {
    pub fn new(
        sim: &SimHandle,
        server: Rc<RefCell<Ec2Server>>,
        mode: RetryMode,
        max_attempts: Option<u32>,
        seed: u64,
    ) -> Self {
        Ec2Client(Rc::new(ClientInner {
            sim: sim.clone(),
            server,
            mode,
            max_attempts: max_attempts.unwrap_or(mode.default_max_attempts()).max(1),
            jitter: SdkJitter::Random,
            state: RefCell::new(ClientState {
                quota: RETRY_QUOTA,
                rng: rng::stream(seed, "sdk.jitter"),
                adaptive: (mode == RetryMode::V2Adaptive).then(AdaptiveRateLimit::new),
                stats: ClientStats::default(),
            }),
            log: None,
            in_flight: Rc::new(RefCell::new(TimeWeighted::new(sim.now()))),
        }))
    }

    /// Keeps a record of every attempt in `log`.
    pub fn with_log(self, log: Rc<RefCell<Vec<CallRecord>>>) -> Self {
        let inner = Rc::try_unwrap(self.0)
            .unwrap_or_else(|_| panic!("with_log must be called before the client is shared"));
        Ec2Client(Rc::new(ClientInner {
            log: Some(log),
            ..inner
        }))
    }

    /// Sets how back-off jitter is drawn (default: `Random`, as the SDK does).
    pub fn with_jitter(self, jitter: SdkJitter) -> Self {
        let inner = Rc::try_unwrap(self.0)
            .unwrap_or_else(|_| panic!("with_jitter must be called before the client is shared"));
        Ec2Client(Rc::new(ClientInner { jitter, ..inner }))
    }

    pub fn mode(&self) -> RetryMode {
        self.0.mode
    }

    pub fn server(&self) -> &Rc<RefCell<Ec2Server>> {
        &self.0.server
    }

    pub fn quota(&self) -> u32 {
        self.0.state.borrow().quota
    }

    pub fn stats(&self) -> ClientStats {
        self.0.state.borrow().stats.clone()
    }

    pub fn in_flight(&self) -> TimeWeighted {
        self.0.in_flight.borrow().clone()
    }

    fn retryable(code: ErrorCode) -> bool {
        code.is_throttle() || matches!(code.http_status(), 500 | 502 | 503 | 504)
    }

    /// Delay before the retry that follows `attempts` attempts.
    fn retry_delay(&self, attempts: u32, action: Action, throttle: bool) -> Nanos {
        let mut st = self.0.state.borrow_mut();
        let u: f64 = match self.0.jitter {
            SdkJitter::Random => st.rng.random(),
            SdkJitter::Max => 1.0,
        };
        match self.0.mode {
            RetryMode::V2Standard | RetryMode::V2Adaptive => {
                if attempts as f64 > (MAX_BACKOFF as f64 / SECOND as f64).log2() {
                    MAX_BACKOFF
                } else {
                    (u * (1u64 << attempts) as f64 * SECOND as f64) as Nanos
                }
            }
            RetryMode::V2Retries2026 => {
                let base = if throttle { SECOND } else { 50 * MILLI };
                let capped = (base as f64 * 2f64.powi(attempts as i32 - 1)).min(MAX_BACKOFF as f64);
                (u * capped) as Nanos
            }
            RetryMode::V1 => {
                let retry_count = attempts - 1;
                let (min, max) = if action == Action::ModifyNetworkInterfaceAttribute {
                    (SECOND, 8 * SECOND)
                } else if throttle {
                    (500 * MILLI, 300 * SECOND)
                } else {
                    (30 * MILLI, 300 * SECOND)
                };
                let jitter = |d: Nanos, u: f64| d + (u * d as f64) as Nanos;
                let delay = (1u64 << retry_count.min(32)).saturating_mul(jitter(min, u));
                if delay > max {
                    jitter(max / 2, u)
                } else {
                    delay
                }
            }
        }
    }

    fn retry_cost(&self, throttle: bool) -> Option<u32> {
        match self.0.mode {
            RetryMode::V1 => None,
            RetryMode::V2Retries2026 if !throttle => Some(RETRY_COST_2026_TRANSIENT),
            _ => Some(RETRY_COST),
        }
    }

    /// Makes one SDK call: attempts, back-offs and quota, as the configured mode does.
    pub async fn call(&self, req: Request) -> Result<Response, SdkError> {
        self.call_in(req, CallContext::default()).await
    }

    /// `call`, its attempts recorded with `ctx`.
    pub async fn call_in(&self, req: Request, ctx: CallContext) -> Result<Response, SdkError> {
        let sim = &self.0.sim;
        let action = req.action();
        let call_id = {
            let mut st = self.0.state.borrow_mut();
            st.stats.calls += 1;
            st.stats.calls
        };
        let mut attempts: u32 = 0;
        let mut held_retry_cost: Option<u32> = None;
        loop {
            attempts += 1;
            // Adaptive mode: wait for a send token (FailOnNoAttemptTokens = false).
            loop {
                let (ok, wait) = {
                    let mut st = self.0.state.borrow_mut();
                    match st.adaptive.as_mut() {
                        Some(a) => a.acquire(sim.now() as f64 / SECOND as f64),
                        None => (true, 0.0),
                    }
                };
                if ok {
                    break;
                }
                let wait = ((wait * SECOND as f64) as Nanos).max(1);
                self.0.state.borrow_mut().stats.adaptive_wait += wait;
                sim.sleep(wait).await;
            }
            let start = sim.now();
            let (admission, latency) = self.0.server.borrow_mut().arrive(&req, start);
            self.0.in_flight.borrow_mut().add(start, 1);
            sim.sleep(latency).await;
            let end = sim.now();
            self.0.in_flight.borrow_mut().add(end, -1);
            let result = match admission {
                Admission::Accepted { fault } => {
                    self.0.server.borrow_mut().complete(&req, end, fault)
                }
                Admission::Throttled => Err(ApiError::throttled()),
                Admission::Outage => Err(ApiError::new(
                    ErrorCode::ServiceUnavailable,
                    "The service is unavailable. Please try again shortly.",
                )),
            };
            if let Some(log) = &self.0.log {
                let mut rec = CallRecord::new(&req, start, end, attempts, ctx, call_id);
                match &result {
                    Ok(Response::Created(v)) => rec.eni = Some(v.id),
                    Ok(Response::Attached { attachment }) => rec.attachment = Some(*attachment),
                    Err(e) => rec.error = Some(e.code),
                    _ => {}
                }
                log.borrow_mut().push(rec);
            }
            let throttled = matches!(&result, Err(e) if e.code.is_throttle());
            let outcome =
                self.settle_attempt(action, result, attempts, throttled, &mut held_retry_cost);
            match outcome {
                AttemptOutcome::Done(r) => return r,
                AttemptOutcome::Retry => {
                    let delay = self.retry_delay(attempts, action, throttled);
                    sim.sleep(delay).await;
                }
            }
        }
    }

    /// Books an attempt's result against the quota and decides: done, or retry.
    fn settle_attempt(
        &self,
        action: Action,
        result: Result<Response, ApiError>,
        attempts: u32,
        throttled: bool,
        held_retry_cost: &mut Option<u32>,
    ) -> AttemptOutcome {
        let sim = &self.0.sim;
        let mut st = self.0.state.borrow_mut();
        st.stats.attempts += 1;
        if throttled {
            st.stats.throttled_attempts += 1;
        }
        if let Some(a) = st.adaptive.as_mut() {
            a.update(sim.now() as f64 / SECOND as f64, throttled);
        }
        let e = match result {
            Ok(resp) => {
                if self.0.mode != RetryMode::V1 {
                    let refund = held_retry_cost.unwrap_or(0);
                    let increment = match self.0.mode {
                        RetryMode::V2Retries2026 if attempts > 1 => 0,
                        // Adaptive's attempt token is `handleResponse`, which only feeds
                        // the send-rate limiter, and its initial token is `nopRelease`
                        // (aws/retry/adaptive.go GetAttemptToken, GetInitialToken): no
                        // NoRetryIncrement; the retry cost is still Standard's, refunded
                        // when the retry succeeds (adaptive.go GetRetryToken).
                        RetryMode::V2Adaptive => 0,
                        _ => NO_RETRY_INCREMENT,
                    };
                    st.quota = (st.quota + refund + increment).min(RETRY_QUOTA);
                }
                return AttemptOutcome::Done(Ok(resp));
            }
            Err(e) => e,
        };
        // A held retry token is not refunded when its attempt fails.
        let fail = |st: &mut ClientState, kind| {
            st.stats.failed_calls += 1;
            AttemptOutcome::Done(Err(SdkError { action, kind }))
        };
        if !Self::retryable(e.code) {
            return fail(&mut st, SdkErrorKind::Api(e));
        }
        if attempts >= self.0.max_attempts {
            st.stats.max_attempts_exceeded += 1;
            return fail(&mut st, SdkErrorKind::MaxAttempts { attempts, last: e });
        }
        *held_retry_cost = match self.retry_cost(throttled) {
            None => None,
            Some(cost) if st.quota >= cost => {
                st.quota -= cost;
                Some(cost)
            }
            Some(cost) => {
                st.stats.quota_exhausted += 1;
                let available = st.quota;
                return fail(
                    &mut st,
                    SdkErrorKind::QuotaExceeded {
                        available,
                        requested: cost,
                    },
                );
            }
        };
        st.stats.retries += 1;
        AttemptOutcome::Retry
    }
}

enum AttemptOutcome {
    Done(Result<Response, SdkError>),
    Retry,
}
