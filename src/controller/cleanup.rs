//! Deletion and cleanup (controller-v1.3.8.md §3): the cleanup-start annotation, the
//! worker pool that blocks the reconcile worker, per-ENI detach / poll / delete, the
//! requeue after DetachmentTimeout, and the forced finalizer removal after
//! MaxCleanupDuration that leaks whatever is left.

use super::cluster::{AttachmentStatus, NodeEni, NodeEniKey};
use super::ec2::{CallError, Wrapper};
use super::reconcile::{Controller, ReconcileError};
use super::recorder::{CleanupRecord, EniFate, EniOperation, ReconcileOutcome};
use crate::aws::server::EniStatus;
use crate::engine::Nanos;
use rand::RngExt;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Cleanup pool size `min(MaxConcurrentENICleanup, max(1, ⌊n/2⌋))`, capped at n
/// (`parallelCleanupENIs`, PC:26). n = 1 runs inline.
pub fn cleanup_workers(max_concurrent_cleanup: u32, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    (max_concurrent_cleanup as usize).min((n / 2).max(1)).min(n)
}

/// `WaitForENIDetachment` poll offsets (E:817): sleeps of `T/5·1.5^k`, k = 0..3, before
/// the jitter of up to +10 %.
pub fn detach_poll_sleeps(t: Nanos) -> [Nanos; 4] {
    let mut out = [0; 4];
    for (k, s) in out.iter_mut().enumerate() {
        *s = (t as f64 / 5.0 * 1.5f64.powi(k as i32)) as Nanos;
    }
    out
}

impl Controller {
    /// `handleDeletion` (C:221).
    pub(super) async fn handle_deletion(
        &self,
        key: NodeEniKey,
        nne: NodeEni,
    ) -> Result<ReconcileOutcome, ReconcileError> {
        let env = &self.profile.env;
        let now = self.sim.now();
        if let Some(start) = nne.cleanup_started {
            if now.saturating_sub(start) > env.max_cleanup_duration.0 {
                // Forced: the finalizer goes, no AWS cleanup; whatever is left leaks.
                let leaked: Vec<_> = {
                    let server = self.ec2.client().server().borrow();
                    let live = server.live_secondary_enis();
                    nne.attachments
                        .iter()
                        .map(|a| a.eni)
                        .filter(|e| live.contains(e))
                        .collect()
                };
                {
                    let mut r = self.rec.borrow_mut();
                    r.forced_finalizer_removals += 1;
                    r.leaked_on_forced_removal.extend(leaked);
                }
                self.api.update_meta(key, |n| n.finalizer = false).await;
                self.rec
                    .borrow_mut()
                    .nodeeni_deleted_at
                    .insert(key, self.sim.now());
                return Ok(ReconcileOutcome::Done);
            }
        } else {
            // setCleanupStartTime (C:291), then on with the cleanup in the same pass.
            let t = now;
            self.api
                .update_meta(key, |n| n.cleanup_started = Some(t))
                .await;
        }
        // Status is never pruned during deletion (§3, §11.14): every pass cleans all.
        let results = self.parallel_cleanup(&nne.attachments).await;
        if results.iter().any(|ok| !ok) {
            return Ok(ReconcileOutcome::RequeueAfter(env.detachment_timeout.0));
        }
        self.api.update_meta(key, |n| n.finalizer = false).await;
        self.rec
            .borrow_mut()
            .nodeeni_deleted_at
            .insert(key, self.sim.now());
        Ok(ReconcileOutcome::Done)
    }

    /// `parallelCleanupENIs` (PC:155): a worker pool the reconcile worker waits for.
    pub(super) async fn parallel_cleanup(&self, atts: &[AttachmentStatus]) -> Vec<bool> {
        let n = atts.len();
        if n == 0 {
            return Vec::new();
        }
        if n == 1 {
            return vec![self.cleanup_eni_attachment(&atts[0]).await];
        }
        let workers = cleanup_workers(self.profile.env.max_concurrent_eni_cleanup, n);
        let work: Rc<RefCell<VecDeque<(usize, AttachmentStatus)>>> =
            Rc::new(RefCell::new(atts.iter().cloned().enumerate().collect()));
        let results = Rc::new(RefCell::new(vec![false; n]));
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (c, work, results) = (self.clone(), work.clone(), results.clone());
                self.sim.spawn_joinable(async move {
                    loop {
                        let next = work.borrow_mut().pop_front();
                        let Some((i, att)) = next else { break };
                        let ok = c.cleanup_eni_attachment(&att).await;
                        results.borrow_mut()[i] = ok;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await;
        }
        let out = results.borrow().clone();
        out
    }

    /// `cleanupENIAttachment` (C:1205). True when the ENI is gone at the end.
    pub(super) async fn cleanup_eni_attachment(&self, att: &AttachmentStatus) -> bool {
        let start = self.sim.now();
        let mut polls = 0;
        let ok = self.cleanup_steps(att, &mut polls).await;
        let end = self.sim.now();
        let mut r = self.rec.borrow_mut();
        r.cleanups.push(CleanupRecord {
            eni: att.eni,
            start,
            end,
            ok,
            detach_polls: polls,
        });
        if ok {
            r.eni_gone(att.eni, EniFate::CleanedUp, end);
        }
        ok
    }

    /// `cleanupENIAttachment` (C:1205-1240): the ENI's cleanup succeeds only if detach,
    /// wait and delete all succeed (C:1221-1236: each failure sets `success = false` and
    /// the next step runs anyway).
    async fn cleanup_steps(&self, att: &AttachmentStatus, polls: &mut u32) -> bool {
        let t = self.profile.env.detachment_timeout.0;
        // Step 2, checkENIExists (C:1072-1098): gone → done; a describe error "will still
        // attempt cleanup" (C:1086-1088), and `eniExists, _ :=` drops the error (C:1215).
        if let Ok(None) = self.ec2.describe_eni(att.eni).await {
            return true;
        }
        let mut success = true;
        // Step 3, detachENIWithRetry (C:1102): Force=true inside the cleanup wrapper
        // (C:1111); an attachment that is not found counts as detached (E:353, C:1120).
        if self
            .recorded(
                EniOperation::Detach,
                &att.node,
                self.ec2.retrying(Wrapper::Cleanup, async || {
                    self.ec2.detach(att.attachment, true, false).await
                }),
                Result::is_ok,
            )
            .await
            .is_err()
        {
            success = false;
        }
        // Step 4, waitForENIDetachmentWithRetry (C:1154) around WaitForENIDetachment
        // (E:817): a time-out is an error (E:874-877), and so is a failed look-up.
        if self
            .ec2
            .retrying(Wrapper::Cleanup, async || {
                self.wait_for_detachment(att, t, polls).await
            })
            .await
            .is_err()
        {
            success = false;
        }
        // Step 5, deleteENIIfExists (C:1242).
        if !self.delete_eni_if_exists(att, t).await {
            success = false;
        }
        success
    }

    /// `deleteENIIfExists` (C:1242-1311): a describe error is a failure; still attached →
    /// sleep T and look again (an error then is a failure too, C:1271-1281); then Delete,
    /// whose "not found" E already reads as success (E:406).
    async fn delete_eni_if_exists(&self, att: &AttachmentStatus, t: Nanos) -> bool {
        let view = match self.ec2.describe_eni(att.eni).await {
            Ok(None) => return true,
            Ok(Some(v)) => v,
            Err(_) => return false,
        };
        // E reports no attachment for an `available` ENI (E:494-500).
        if view.attachment.is_some() && view.status != EniStatus::Available {
            self.sim.sleep(t).await;
            match self.ec2.describe_eni(att.eni).await {
                Ok(None) => return true,
                Ok(Some(_)) => {}
                Err(_) => return false,
            }
        }
        self.delete_eni(att.eni, &att.node).await
    }

    /// `WaitForENIDetachment` (E:817-881): five looks, sleeps of T/5·1.5^k (+≤10 %)
    /// between them (0, 3, 7.5, 14.25, 24.4 s for T = 15 s). A throttling error text
    /// counts as one more look (E:843-848); any other error ends the wait at once
    /// (E:851-853); after the last look, "timed out waiting for ENI detachment" with the
    /// last error's text (E:874-877), which the cleanup wrapper retries only if that text
    /// reads as throttling.
    async fn wait_for_detachment(
        &self,
        att: &AttachmentStatus,
        t: Nanos,
        polls: &mut u32,
    ) -> Result<(), CallError> {
        let sleeps = detach_poll_sleeps(t);
        let mut last: Option<CallError> = None;
        for k in 0..=sleeps.len() {
            *polls += 1;
            match self.ec2.describe_eni(att.eni).await {
                Ok(None) => return Ok(()),
                Ok(Some(v)) if v.attachment.is_none() || v.status == EniStatus::Available => {
                    return Ok(())
                }
                Ok(Some(v)) => {
                    let status = match v.status {
                        EniStatus::InUse => "in-use",
                        EniStatus::Available => "available",
                    };
                    last = Some(CallError::Text(format!("ENI is still attached: {status}")))
                }
                Err(e) if e.is_throttle_text(false) => last = Some(e),
                Err(e) => {
                    return Err(CallError::Text(format!(
                        "failed to check ENI detachment status: {e}"
                    )))
                }
            }
            if k < sleeps.len() {
                let jitter: f64 = self.jitter_rng().random::<f64>() * 0.1;
                self.sim
                    .sleep((sleeps[k] as f64 * (1.0 + jitter)) as Nanos)
                    .await;
            }
        }
        Err(CallError::Text(format!(
            "timed out waiting for ENI detachment: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{MILLI, SECOND};

    #[test]
    fn pool_sizes_match_the_formula() {
        let with3: Vec<usize> = (1..=20).map(|n| cleanup_workers(3, n)).collect();
        assert_eq!(&with3[..6], &[1, 1, 1, 2, 2, 3]);
        assert!(with3[5..].iter().all(|&w| w == 3));
        let with8: Vec<usize> = (1..=20).map(|n| cleanup_workers(8, n)).collect();
        for (i, w) in with8.iter().enumerate() {
            let n = i + 1;
            assert_eq!(*w, 8.min((n / 2).max(1)), "n={n}");
        }
        assert_eq!(with8[15], 8); // 8 workers only from n = 16
        assert_eq!(with8[14], 7);
    }

    #[test]
    fn detach_polls_fall_at_the_documented_offsets() {
        let s = detach_poll_sleeps(15 * SECOND);
        let mut t = 0;
        let mut at = vec![0];
        for d in s {
            t += d;
            at.push(t);
        }
        assert_eq!(
            at,
            vec![0, 3 * SECOND, 7_500 * MILLI, 14_250 * MILLI, 24_375 * MILLI]
        );
    }
}
