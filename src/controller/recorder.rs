//! What the controller model records as it runs: per-ENI timelines, reconciles, cleanup.

use super::cluster::NodeEniKey;
use crate::aws::{EniId, SubnetId};
use crate::engine::{Nanos, TimeWeighted};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EniFate {
    /// Still alive at the end of the run.
    Alive,
    /// Deleted right after a failed attach (churn: limit exceeded, index conflict…).
    ChurnedAfterAttachFailure,
    /// Found `available` by verification and deleted.
    DeletedWhenFoundAvailable,
    /// Cleaned up by a deletion or stale-attachment pass.
    CleanedUp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EniTimeline {
    pub eni: EniId,
    pub nodeeni: NodeEniKey,
    pub node: String,
    pub subnet: SubnetId,
    /// When the NodeENI that asked for it was created.
    pub requested_at: Nanos,
    /// CreateNetworkInterface completed.
    pub created_at: Nanos,
    /// AttachNetworkInterface returned (what the controller records as "attached").
    pub attach_returned_at: Option<Nanos>,
    /// The status write that recorded it completed.
    pub in_status_at: Option<Nanos>,
    pub fate: EniFate,
    pub gone_at: Option<Nanos>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileOutcome {
    /// `Result{}`: no requeue.
    Done,
    RequeueAfter(Nanos),
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileRecord {
    pub key: NodeEniKey,
    /// The reconcile worker (0-based) that ran it.
    pub worker: u32,
    pub start: Nanos,
    pub end: Nanos,
    pub outcome: ReconcileOutcome,
    pub deleting: bool,
    /// SDK calls and status writes this reconcile made (its own, and those of the
    /// cleanup tasks it waited for).
    pub ec2_calls: u64,
    pub status_writes: u64,
}

/// An ENI operation as the controller sees it (the `operation` label of the controller's
/// declared `eni_operations_total{operation,status,node}`, pkg/observability/metrics.go).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EniOperation {
    Create,
    Attach,
    Detach,
    Delete,
}

impl EniOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            EniOperation::Create => "create",
            EniOperation::Attach => "attach",
            EniOperation::Detach => "detach",
            EniOperation::Delete => "delete",
        }
    }
}

/// Which of `processNodeENI`'s status writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWriteKind {
    /// After `verifyENIAttachments` for one node (C:2283).
    Verify,
    /// Right after a new ENI is attached (C:1704).
    NewAttachment,
    /// The final write of the pass (C:1361).
    Final,
}

impl StatusWriteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusWriteKind::Verify => "verify",
            StatusWriteKind::NewAttachment => "new-attachment",
            StatusWriteKind::Final => "final",
        }
    }
}

/// One ENI operation's outcome, after the SDK's and the controller's own retries.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationRecord {
    pub operation: EniOperation,
    pub node: String,
    pub start: Nanos,
    pub end: Nanos,
    pub ok: bool,
}

/// One `Status().Update` the controller made.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusWriteRecord {
    /// When the write completed.
    pub at: Nanos,
    pub key: NodeEniKey,
    pub worker: Option<u32>,
    pub kind: StatusWriteKind,
    /// The node, for the per-node and new-attachment writes.
    pub node: Option<String>,
    /// Whether it changed the stored status (only then a watch event follows).
    pub changed: bool,
}

/// ENI operations and reconciles, and how many of each failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub operations: u64,
    pub operation_errors: u64,
    pub reconciles: u64,
    pub reconcile_errors: u64,
}

impl Outcomes {
    /// The plan's error rate, as the controller's dashboard computes it
    /// (`eni_operation_errors_total / eni_operations_total`): failed operations and failed
    /// reconciles over operations and reconciles, in per cent.
    pub fn error_rate_percent(&self) -> f64 {
        crate::metrics::record::percent(
            self.operation_errors + self.reconcile_errors,
            self.operations + self.reconciles,
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CleanupRecord {
    pub eni: EniId,
    pub start: Nanos,
    pub end: Nanos,
    pub ok: bool,
    pub detach_polls: u32,
}

#[derive(Debug, Clone)]
pub struct Recorder {
    pub enis: BTreeMap<EniId, EniTimeline>,
    pub reconciles: Vec<ReconcileRecord>,
    pub status_writes: Vec<StatusWriteRecord>,
    pub workers_busy: TimeWeighted,
    pub cleanups: Vec<CleanupRecord>,
    pub attach_failures: BTreeMap<String, u64>,
    /// Attach errors read as a device-index conflict (C:2233).
    pub index_conflicts: u64,
    /// When each of them was seen.
    pub index_conflict_at: Vec<Nanos>,
    /// …of which AWS showed the index free: error, no second Attach (C:2206-2210).
    pub index_conflicts_unresolved: u64,
    /// …of which a second Attach was made at the index AWS showed free (C:2215).
    pub index_conflict_retries: u64,
    pub forced_finalizer_removals: u64,
    /// ENIs left in EC2 when a finalizer was forced off.
    pub leaked_on_forced_removal: Vec<EniId>,
    pub nodeeni_deleted_at: BTreeMap<NodeEniKey, Nanos>,
    pub operations: Vec<OperationRecord>,
}

impl Recorder {
    pub fn new(start: Nanos) -> Self {
        Recorder {
            enis: BTreeMap::new(),
            reconciles: Vec::new(),
            status_writes: Vec::new(),
            workers_busy: TimeWeighted::new(start),
            cleanups: Vec::new(),
            attach_failures: BTreeMap::new(),
            index_conflicts: 0,
            index_conflict_at: Vec::new(),
            index_conflicts_unresolved: 0,
            index_conflict_retries: 0,
            forced_finalizer_removals: 0,
            leaked_on_forced_removal: Vec::new(),
            nodeeni_deleted_at: BTreeMap::new(),
            operations: Vec::new(),
        }
    }

    /// The ENI operations and reconciles that ended where `within` holds, with how many
    /// failed: the two sides of the plan's error rate.
    pub fn outcomes(&self, within: impl Fn(Nanos) -> bool) -> Outcomes {
        let ops = self.operations.iter().filter(|o| within(o.end));
        let reconciles = self.reconciles.iter().filter(|r| within(r.end));
        let mut out = Outcomes::default();
        for o in ops {
            out.operations += 1;
            out.operation_errors += u64::from(!o.ok);
        }
        for r in reconciles {
            out.reconciles += 1;
            out.reconcile_errors += u64::from(r.outcome == ReconcileOutcome::Error);
        }
        out
    }

    /// Notes an ENI operation that ran from `start` until `end`.
    pub fn operation(
        &mut self,
        operation: EniOperation,
        node: &str,
        start: Nanos,
        end: Nanos,
        ok: bool,
    ) {
        self.operations.push(OperationRecord {
            operation,
            node: node.to_string(),
            start,
            end,
            ok,
        });
    }

    pub fn eni_gone(&mut self, eni: EniId, fate: EniFate, now: Nanos) {
        if let Some(t) = self.enis.get_mut(&eni) {
            if t.gone_at.is_none() {
                t.fate = fate;
                t.gone_at = Some(now);
            }
        }
    }
}
