//! What one replication produces: per-ENI rows, per-call rows, and its scalar metrics.

use crate::aws::{Action, CallRecord};
use crate::engine::{time, Nanos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One ENI the controller created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EniRow {
    /// Index of the replication within its run (set by the caller that numbers them).
    pub replication: u32,
    pub eni: String,
    pub nodeeni: String,
    pub node: String,
    pub subnet: String,
    pub requested_s: f64,
    pub created_s: f64,
    pub attach_returned_s: Option<f64>,
    /// EC2's view: attachment state `attached`.
    pub ec2_attached_s: Option<f64>,
    /// The controller's view: written to NodeENI status.
    pub in_status_s: Option<f64>,
    pub fate: String,
    pub gone_s: Option<f64>,
}

/// One reconcile: which NodeENI, which worker, when, how it ended, what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconcileRow {
    pub nodeeni: String,
    pub worker: u32,
    pub start_s: f64,
    pub end_s: f64,
    /// The NodeENI was being deleted (the cleanup path).
    pub deleting: bool,
    /// `done` (Result{}), `requeue-after` or `error` (AddRateLimited).
    pub result: &'static str,
    pub requeue_after_s: Option<f64>,
    /// SDK calls it made (attempts are in calls.csv, by worker and call id).
    pub ec2_calls: u64,
    pub status_writes: u64,
}

/// One NodeENI status write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusWriteRow {
    pub time_s: f64,
    pub nodeeni: String,
    pub worker: Option<u32>,
    /// `verify` (per node), `new-attachment` or `final`.
    pub kind: &'static str,
    pub node: Option<String>,
    /// It changed the stored status (and so emitted a watch event).
    pub changed: bool,
}

/// One ENI operation as the controller sees it, after the SDK's and its own retries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationRow {
    /// `create`, `attach`, `detach` or `delete`.
    pub operation: &'static str,
    pub node: String,
    pub start_s: f64,
    pub end_s: f64,
    pub ok: bool,
}

/// Per-action figures of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ActionStats {
    pub calls: u64,
    pub attempts: u64,
    pub retries: u64,
    pub throttled: u64,
    /// Throttled share of attempts.
    pub throttled_percent: f64,
    /// Errors other than expected probe answers (DryRunOperation, *.NotFound).
    pub errors: u64,
    pub peak_per_s: u64,
    pub mean_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
}

/// The scalar metrics of one replication (seconds unless named otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct RunMetrics {
    pub desired_attachments: u64,
    pub attached_at_end: u64,
    pub converged: bool,
    /// Until every desired attachment held; the end of the run when it never did.
    pub full_reconcile_s: f64,
    /// Not converged by the end: `full_reconcile_s` is only a lower bound ("> horizon").
    pub full_reconcile_censored: bool,
    pub eni_creation_p50_s: f64,
    /// Over the ENIs created, and the desired ones never created as censored samples
    /// (their time is more than what they had waited at the end).
    pub eni_creation_p95_s: f64,
    /// The p95 reaches a censored sample: `eni_creation_p95_s` is a lower bound.
    pub eni_creation_p95_censored: bool,
    pub eni_creation_p99_s: f64,
    pub eni_creation_max_s: f64,
    pub eni_attachment_p50_s: f64,
    pub eni_attachment_p95_s: f64,
    /// The p95 reaches a censored sample: `eni_attachment_p95_s` is a lower bound.
    pub eni_attachment_p95_censored: bool,
    pub eni_attachment_p99_s: f64,
    pub eni_attachment_max_s: f64,
    pub eni_ready_p95_s: f64,
    pub reconcile_p50_s: f64,
    pub reconcile_p95_s: f64,
    pub reconcile_max_s: f64,
    pub reconciles: u64,
    pub workers_busy_max: f64,
    pub workers_busy_mean: f64,
    /// Mean busy workers from t = 0 until converged (or the end).
    pub workers_busy_to_converge: f64,
    pub ec2_in_flight_max: f64,
    pub ec2_in_flight_mean: f64,
    /// Desired attachments with no ENI in NodeENI status at the end.
    pub enis_never_created: u64,
    /// Desired attachments not attached in EC2 at the end.
    pub enis_never_attached: u64,
    /// ENI operations as the controller sees them, after the SDK's and its own retries
    /// (create, attach, detach, delete), and reconciles.
    pub eni_operations: u64,
    /// ENI operations that failed.
    pub eni_operation_errors: u64,
    /// Reconciles that returned an error (rate-limited requeue).
    pub reconcile_errors: u64,
    /// The plan's error rate, as the controller's dashboard computes it
    /// (`eni_operation_errors_total / eni_operations_total`): failed ENI operations and
    /// failed reconciles over ENI operations and reconciles.
    pub error_rate_percent: f64,
    pub ec2_calls: u64,
    pub ec2_attempts: u64,
    pub ec2_throttled: u64,
    /// Attempts that failed with anything but an expected probe answer.
    pub ec2_errors: u64,
    /// AWS API level: unexpected errors per EC2 attempt (throttles included).
    pub ec2_error_percent: f64,
    /// AWS API level: throttled share of the controller's EC2 attempts.
    pub ec2_throttled_percent: f64,
    /// Other tenants' calls on the account's buckets (background load, storms).
    pub tenant_calls: u64,
    /// Other tenants' calls the buckets throttled.
    pub tenant_throttled: u64,
    /// Throttled share of other tenants' calls.
    pub tenant_throttled_percent: f64,
    /// Time the controller's calls waited on a client-side EC2 limiter (what-if), summed.
    pub ec2_limiter_wait_s: f64,
    pub sdk_retries: u64,
    pub sdk_quota_exhausted: u64,
    pub wrapper_retries: u64,
    pub enis_created: u64,
    pub churned_enis: u64,
    pub index_conflicts: u64,
    /// Conflicts retried with a second Attach (the others return the error, C:2206-2210).
    pub index_conflict_retries: u64,
    pub status_writes: u64,
    pub queue_depth_max: f64,
    pub breaker_transitions: u64,
    pub cpu_p95_millicores: f64,
    pub cpu_peak_millicores: f64,
    pub cpu_mean_millicores: f64,
    pub memory_p95_mib: f64,
    pub memory_peak_mib: f64,
    pub eni_manager_cpu_millicores: f64,
    pub eni_manager_memory_mib: f64,
    pub eni_manager_api_reads_per_s: f64,
    /// Failure recovery: from the end of the last fault until every desired attachment
    /// holds again (0 when they held throughout).
    pub recovery_s: f64,
    /// Secondary ENIs alive in EC2 that no live NodeENI's status holds.
    pub leaked_enis: u64,
    /// NodeENIs asked to be deleted that still exist at the end.
    pub stuck_finalizers: u64,
    /// Status attachments no longer asked for (node gone or unmatched, subnet removed).
    pub orphaned_attachments: u64,
    /// (ENIs created − ENIs deleted) − attachments the final NodeENIs and nodes require.
    pub eni_balance_gap: i64,
    pub forced_finalizer_removals: u64,
    /// Scale-down: from the deletion until the last NodeENI is gone (or the status empty).
    pub cleanup_total_s: f64,
    pub cleanup_eni_p50_s: f64,
    pub cleanup_eni_p95_s: f64,
    pub cleanup_eni_max_s: f64,
    pub detach_polls: u64,
    pub queue_depth_end: u64,
    /// Changes a mixed run made.
    pub changes: u64,
    pub end_s: f64,
}

/// One step of a gradual scale-up.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct StepMetrics {
    pub step: u32,
    pub nodes: u32,
    pub enis_per_node: u32,
    pub start_s: f64,
    pub eni_creation_p95_s: f64,
    pub eni_attachment_p95_s: f64,
    pub full_reconcile_s: f64,
    pub converged: bool,
    /// The step's creation / attachment p95 reaches an ENI not in place at its end.
    pub censored: bool,
    pub cpu_p95_millicores: f64,
    pub cpu_peak_millicores: f64,
    pub memory_p95_mib: f64,
    pub memory_peak_mib: f64,
    pub error_rate_percent: f64,
}

/// Everything one replication produced.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub seed: u64,
    pub metrics: RunMetrics,
    pub actions: BTreeMap<Action, ActionStats>,
    pub enis: Vec<EniRow>,
    pub calls: Vec<CallRecord>,
    /// Every reconcile, in the order they ended.
    pub reconciles: Vec<ReconcileRow>,
    /// Every status write, in time order.
    pub status_writes: Vec<StatusWriteRow>,
    /// (bucket name, time below one token in seconds, throttled requests).
    pub buckets: Vec<(String, f64, u64)>,
    /// (bucket name, tokens at t = 0 s, 1 s, 2 s, … to the end of the run).
    pub bucket_levels: Vec<(String, Vec<f64>)>,
    pub queue_depth: Vec<(Nanos, u32)>,
    pub breaker: Vec<(Nanos, String)>,
    pub attach_failures: BTreeMap<String, u64>,
    /// Gradual scale-up: one entry per step.
    pub steps: Vec<StepMetrics>,
    /// Every ENI operation, in the order they ended.
    pub operations: Vec<OperationRow>,
    /// The controller's CPU work and memory, second by second.
    pub resources: crate::controller::resources::ResourceSeries,
    /// When each device-index conflict was seen (`coordination_conflicts_total`).
    pub index_conflicts_at: Vec<Nanos>,
    /// Every call of the account's other tenants (background load, storms, recorded
    /// tenants), with what the buckets did with it; tenants by index into `tenant_names`.
    pub tenant_calls: Vec<crate::aws::tenants::TenantCall>,
    pub tenant_names: Vec<String>,
}

/// Quantile summary of a set of durations in seconds: (p50, p95, p99, max).
pub fn quantiles(mut xs: Vec<f64>) -> (f64, f64, f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0, 0.0, 0.0);
    }
    xs.sort_by(f64::total_cmp);
    let q = |p| super::stats::quantile(&xs, p);
    (q(0.5), q(0.95), q(0.99), *xs.last().unwrap_or(&0.0))
}

/// Per-action statistics from the attempt log.
pub fn action_stats(calls: &[CallRecord], span: Nanos) -> BTreeMap<Action, ActionStats> {
    let mut out: BTreeMap<Action, ActionStats> = BTreeMap::new();
    let mut per_second: BTreeMap<(Action, u64), u64> = BTreeMap::new();
    let mut latencies: BTreeMap<Action, Vec<f64>> = BTreeMap::new();
    for c in calls {
        let s = out.entry(c.action).or_default();
        s.attempts += 1;
        if c.attempt == 1 {
            s.calls += 1;
        } else {
            s.retries += 1;
        }
        let served = match c.error {
            Some(e) => {
                if e.is_throttle() {
                    s.throttled += 1;
                }
                if is_unexpected_error(e) {
                    s.errors += 1;
                }
                !e.is_throttle() && e != crate::aws::ErrorCode::ServiceUnavailable
            }
            None => true,
        };
        if served {
            latencies
                .entry(c.action)
                .or_default()
                .push(time::to_millis(c.end - c.start));
        }
        *per_second
            .entry((c.action, c.start / crate::engine::SECOND))
            .or_insert(0) += 1;
    }
    for ((a, _), n) in per_second {
        let s = out.entry(a).or_default();
        s.peak_per_s = s.peak_per_s.max(n);
    }
    let span_s = time::to_secs(span).max(1e-9);
    for (a, s) in out.iter_mut() {
        s.mean_per_s = s.attempts as f64 / span_s;
        s.throttled_percent = percent(s.throttled, s.attempts);
        let (p50, p95, p99, _) = quantiles(latencies.remove(a).unwrap_or_default());
        s.latency_p50_ms = p50;
        s.latency_p95_ms = p95;
        s.latency_p99_ms = p99;
    }
    out
}

/// 100·part/whole, 0 for an empty whole.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// An error that counts against the error rate: anything but the answers the controller
/// asks for on purpose (DryRun "would succeed", "not found" probes).
pub fn is_unexpected_error(e: crate::aws::ErrorCode) -> bool {
    e != crate::aws::ErrorCode::DryRunOperation && !e.is_not_found()
}
