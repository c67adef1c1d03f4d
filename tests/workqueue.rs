//! The client-go work queue rules, one test per documented rule
//! (queues-and-oracles.md §2).

use enisim::engine::{Sim, SimHandle, MILLI, SECOND};
use enisim::kube::{ControllerRateLimiter, WorkQueue};
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

fn queue(sim: &Sim) -> WorkQueue<u32> {
    WorkQueue::new(&sim.handle(), ControllerRateLimiter::default())
}

/// Records (time, item) of every `get` by a single worker that finishes at once.
fn drain_log(sim: &Sim, q: &WorkQueue<u32>) -> Rc<RefCell<Vec<(u64, u32)>>> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let (l, q, h) = (log.clone(), q.clone(), sim.handle());
    sim.spawn(async move {
        loop {
            let k = q.get().await;
            l.borrow_mut().push((h.now(), k));
            q.done(&k);
        }
    });
    log
}

#[test]
fn duplicate_adds_collapse() {
    let sim = Sim::new();
    let q = queue(&sim);
    q.add(1);
    q.add(1);
    q.add(2);
    q.add(1);
    assert_eq!(q.len(), 2);
    let log = drain_log(&sim, &q);
    sim.run();
    assert_eq!(*log.borrow(), vec![(0, 1), (0, 2)]);
    assert_eq!(q.stats().deduplicated, 2);
}

#[test]
fn add_while_processing_requeues_once_at_done() {
    let sim = Sim::new();
    let q = queue(&sim);
    q.add(7);
    assert_eq!(q.try_get(), Some(7));
    q.add(7);
    q.add(7);
    assert_eq!(q.len(), 0, "an item being processed is not queued again");
    assert!(q.is_dirty(&7));
    assert_eq!(q.try_get(), None, "never handed to a second worker");
    q.done(&7);
    assert_eq!(q.len(), 1);
    assert_eq!(q.try_get(), Some(7));
    q.done(&7);
    assert_eq!(q.len(), 0);
}

#[test]
fn earliest_delayed_add_wins() {
    for order in [[10u64, 2], [2, 10]] {
        let sim = Sim::new();
        let q = queue(&sim);
        q.add_after(5, order[0] * SECOND);
        q.add_after(5, order[1] * SECOND);
        assert_eq!(q.delayed(), 1);
        let log = drain_log(&sim, &q);
        sim.run();
        assert_eq!(*log.borrow(), vec![(2 * SECOND, 5)], "order {order:?}");
    }
}

#[test]
fn zero_delay_is_an_immediate_add() {
    let sim = Sim::new();
    let q = queue(&sim);
    q.add_after(3, 0);
    assert_eq!(q.len(), 1);
}

fn time_until_ready_after_failures(failures: u32) -> u64 {
    let sim = Sim::new();
    let q = queue(&sim);
    let out = Rc::new(RefCell::new(0));
    let (o, qq, h) = (out.clone(), q.clone(), sim.handle());
    sim.spawn(async move {
        qq.add(9);
        for _ in 0..failures {
            let k = qq.get().await;
            let asked = h.now();
            qq.add_rate_limited(k);
            qq.done(&k);
            let _ = qq.get().await;
            *o.borrow_mut() = h.now() - asked;
            qq.done(&k);
            qq.add(9);
        }
    });
    sim.run();
    let v = *out.borrow();
    v
}

#[test]
fn backoff_doubles_from_five_ms() {
    assert_eq!(time_until_ready_after_failures(1), 5 * MILLI);
    assert_eq!(time_until_ready_after_failures(2), 10 * MILLI);
    assert_eq!(time_until_ready_after_failures(10), 2_560 * MILLI);
}

#[test]
fn backoff_is_capped_at_1000_s() {
    let mut l: ControllerRateLimiter<u32> = ControllerRateLimiter::default();
    let mut last = 0;
    for i in 0..30 {
        // Space the calls so that the shared bucket never binds.
        last = l.when(&1, i * 1000 * SECOND);
    }
    assert_eq!(last, 1000 * SECOND);
}

#[test]
fn shared_bucket_spaces_retries_past_a_burst_of_100() {
    let sim = Sim::new();
    let q = queue(&sim);
    for k in 0..150 {
        q.add_rate_limited(k);
    }
    let log = drain_log(&sim, &q);
    sim.run();
    let log = log.borrow();
    assert_eq!(log.len(), 150);
    // The first 100 only wait for their own 5 ms backoff.
    assert!(log[..100].iter().all(|&(t, _)| t == 5 * MILLI));
    // Past the burst, each retry waits for a token of the 10 qps bucket.
    for (i, &(t, k)) in log[100..].iter().enumerate() {
        assert_eq!(k, 100 + i as u32);
        let expected = (i as u64 + 1) * 100 * MILLI;
        assert!(
            t.abs_diff(expected) <= 1,
            "retry {k} at {t} ns, expected ≈{expected}"
        );
    }
    for w in log[100..].windows(2) {
        assert!(w[1].0 - w[0].0 >= 100 * MILLI - 1);
    }
}

#[test]
fn forget_resets_the_backoff() {
    let sim = Sim::new();
    let q = queue(&sim);
    for _ in 0..5 {
        q.add_rate_limited(4);
    }
    assert_eq!(q.num_requeues(&4), 5);
    q.forget(&4);
    assert_eq!(q.num_requeues(&4), 0);
    let mut l: ControllerRateLimiter<u32> = ControllerRateLimiter::default();
    l.when(&4, 0);
    l.when(&4, 0);
    l.forget(&4);
    assert_eq!(l.when(&4, 0), 5 * MILLI);
}

/// N workers with random re-adds: a key is never processed by two workers at once and
/// every add made while a key is processing leads to exactly one more run.
#[test]
fn workers_never_share_a_key() {
    use rand::{RngExt, SeedableRng};
    let sim = Sim::new();
    let h: SimHandle = sim.handle();
    let q = queue(&sim);
    let active = Rc::new(RefCell::new(HashSet::new()));
    let violations = Rc::new(RefCell::new(0));
    let runs = Rc::new(RefCell::new(0u32));
    for w in 0..5 {
        let (q, h, active, violations, runs) = (
            q.clone(),
            h.clone(),
            active.clone(),
            violations.clone(),
            runs.clone(),
        );
        sim.spawn(async move {
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(w);
            loop {
                let k = q.get().await;
                if !active.borrow_mut().insert(k) {
                    *violations.borrow_mut() += 1;
                }
                *runs.borrow_mut() += 1;
                h.sleep(rng.random_range(1..50) * MILLI).await;
                active.borrow_mut().remove(&k);
                q.done(&k);
            }
        });
    }
    let (q2, h2) = (q.clone(), h.clone());
    sim.spawn(async move {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(99);
        for _ in 0..2000 {
            q2.add(rng.random_range(0..8));
            h2.sleep(rng.random_range(0..10) * MILLI).await;
        }
    });
    sim.run();
    assert_eq!(*violations.borrow(), 0);
    assert!(*runs.borrow() > 100);
    assert_eq!(q.len(), 0);
    assert_eq!(q.processing(), 0);
}
