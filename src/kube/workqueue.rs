//! client-go's rate-limiting work queue, with its exact semantics
//! (client-go v0.26.3 / @32ce75a, util/workqueue; queues-and-oracles.md §2):
//!
//! - `add`: an item already dirty is dropped; otherwise it becomes dirty, and unless it is
//!   being processed it is queued (queue.go `Add` L227-251). An item being processed is
//!   thus re-queued once, at `done` (L289-302): a key is never handed to two workers, and
//!   N re-adds during one reconcile collapse into one more run.
//! - `get` pops the head, marks it processing and clean (L265-284); workers block on an
//!   empty queue and are woken one per add, in arrival order (a `sync.Cond`).
//! - `add_after(d ≤ 0)` is `add`; a pending delayed entry keeps the earlier ready time
//!   (delaying_queue.go L249-268, `insert` L354-360).
//! - `add_rate_limited` = `add_after(limiter.when(item))`; `forget` clears only the
//!   limiter's failure count (rate_limiting_queue.go L136-147).

use super::rate_limit::ControllerRateLimiter;
use crate::engine::{Nanos, Signal, SimHandle};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::rc::Rc;

/// What the queue saw, for metrics and for Little's-law checks.
#[derive(Debug, Clone, Default)]
pub struct QueueStats {
    /// Calls to `add` (including those that were deduplicated).
    pub adds: u64,
    /// Items handed to workers.
    pub gets: u64,
    /// Adds dropped because the item was already dirty.
    pub deduplicated: u64,
    /// Rate-limited adds (`workqueue_retries_total`).
    pub retries: u64,
    pub max_depth: usize,
    /// ∫ depth dt over the run, in item·nanoseconds (queued, not delayed, not processing).
    pub depth_area: u128,
    /// ∫ processing dt, in item·nanoseconds.
    pub processing_area: u128,
    /// Sum and count of the waits from entering the queue to `get`.
    pub total_wait: u128,
    pub waits: u64,
    pub last_change: Nanos,
}

struct State<K: Eq + Hash> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
    /// Delayed items and their ready time.
    waiting: HashMap<K, Nanos>,
    /// When each queued item entered the queue (queue_duration metric).
    queued_at: HashMap<K, Nanos>,
    limiter: ControllerRateLimiter<K>,
    stats: QueueStats,
    depth_series: Option<Vec<(Nanos, u32)>>,
}

impl<K: Eq + Hash> State<K> {
    fn account(&mut self, now: Nanos) {
        let dt = now.saturating_sub(self.stats.last_change) as u128;
        self.stats.depth_area += dt * self.queue.len() as u128;
        self.stats.processing_area += dt * self.processing.len() as u128;
        self.stats.last_change = now;
    }

    fn record_depth(&mut self, now: Nanos) {
        let d = self.queue.len();
        self.stats.max_depth = self.stats.max_depth.max(d);
        if let Some(series) = &mut self.depth_series {
            match series.last_mut() {
                Some(last) if last.0 == now => last.1 = d as u32,
                _ => series.push((now, d as u32)),
            }
        }
    }
}

/// A client-go rate-limiting queue living in virtual time. Clones share the queue.
pub struct WorkQueue<K: Eq + Hash> {
    sim: SimHandle,
    state: Rc<RefCell<State<K>>>,
    not_empty: Signal,
}

impl<K: Eq + Hash> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            sim: self.sim.clone(),
            state: self.state.clone(),
            not_empty: self.not_empty.clone(),
        }
    }
}

impl<K: Eq + Hash + Clone + 'static> WorkQueue<K> {
    pub fn new(sim: &SimHandle, limiter: ControllerRateLimiter<K>) -> Self {
        WorkQueue {
            sim: sim.clone(),
            state: Rc::new(RefCell::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                waiting: HashMap::new(),
                queued_at: HashMap::new(),
                limiter,
                stats: QueueStats::default(),
                depth_series: None,
            })),
            not_empty: Signal::new(sim),
        }
    }

    /// Records the queue depth at every change (for the depth-over-time series).
    pub fn record_depth_series(&self) {
        self.state.borrow_mut().depth_series = Some(vec![(self.sim.now(), 0)]);
    }

    pub fn add(&self, item: K) {
        let now = self.sim.now();
        let mut s = self.state.borrow_mut();
        s.stats.adds += 1;
        if s.dirty.contains(&item) {
            s.stats.deduplicated += 1;
            return;
        }
        s.dirty.insert(item.clone());
        if s.processing.contains(&item) {
            return;
        }
        s.account(now);
        s.queued_at.insert(item.clone(), now);
        s.queue.push_back(item);
        s.record_depth(now);
        drop(s);
        self.not_empty.notify_one();
    }

    /// Waits for an item and marks it processing.
    pub async fn get(&self) -> K {
        loop {
            if let Some(item) = self.try_get() {
                return item;
            }
            self.not_empty.wait().await;
        }
    }

    /// Takes the head of the queue if there is one.
    pub fn try_get(&self) -> Option<K> {
        let now = self.sim.now();
        let mut s = self.state.borrow_mut();
        if s.queue.is_empty() {
            return None;
        }
        s.account(now);
        let item = s.queue.pop_front()?;
        s.processing.insert(item.clone());
        s.dirty.remove(&item);
        if let Some(t) = s.queued_at.remove(&item) {
            s.stats.total_wait += (now - t) as u128;
            s.stats.waits += 1;
        }
        s.stats.gets += 1;
        s.record_depth(now);
        Some(item)
    }

    pub fn done(&self, item: &K) {
        let now = self.sim.now();
        let mut s = self.state.borrow_mut();
        s.account(now);
        s.processing.remove(item);
        if s.dirty.contains(item) {
            s.queued_at.insert(item.clone(), now);
            s.queue.push_back(item.clone());
            s.record_depth(now);
            drop(s);
            self.not_empty.notify_one();
        }
    }

    pub fn add_after(&self, item: K, delay: Nanos) {
        if delay == 0 {
            self.add(item);
            return;
        }
        let ready_at = self.sim.now().saturating_add(delay);
        {
            let mut s = self.state.borrow_mut();
            match s.waiting.get(&item) {
                Some(&existing) if existing <= ready_at => return,
                _ => {
                    s.waiting.insert(item.clone(), ready_at);
                }
            }
        }
        let queue = self.clone();
        let sim = self.sim.clone();
        self.sim.spawn(async move {
            sim.sleep_until(ready_at).await;
            let fire = {
                let mut s = queue.state.borrow_mut();
                if s.waiting.get(&item) == Some(&ready_at) {
                    s.waiting.remove(&item);
                    true
                } else {
                    false // superseded by an earlier ready time
                }
            };
            if fire {
                queue.add(item);
            }
        });
    }

    pub fn add_rate_limited(&self, item: K) {
        let delay = {
            let mut s = self.state.borrow_mut();
            s.stats.retries += 1;
            let now = self.sim.now();
            s.limiter.when(&item, now)
        };
        self.add_after(item, delay);
    }

    pub fn forget(&self, item: &K) {
        self.state.borrow_mut().limiter.forget(item);
    }

    pub fn num_requeues(&self, item: &K) -> u32 {
        self.state.borrow().limiter.num_requeues(item)
    }

    /// Items queued and ready (`workqueue_depth`).
    pub fn len(&self) -> usize {
        self.state.borrow().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn processing(&self) -> usize {
        self.state.borrow().processing.len()
    }

    pub fn delayed(&self) -> usize {
        self.state.borrow().waiting.len()
    }

    pub fn is_dirty(&self, item: &K) -> bool {
        self.state.borrow().dirty.contains(item)
    }

    /// Statistics brought up to the current time.
    pub fn stats(&self) -> QueueStats {
        let mut s = self.state.borrow_mut();
        s.account(self.sim.now());
        s.stats.clone()
    }

    pub fn depth_series(&self) -> Vec<(Nanos, u32)> {
        self.state.borrow().depth_series.clone().unwrap_or_default()
    }
}
