//! Waiting on other processes: a condition-variable-like `Signal` and a `WaitGroup`.
//! Waiters are woken in the order they started waiting, at the current virtual time.

use super::executor::{SimHandle, TaskId};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

struct Waiter {
    task: TaskId,
    woken: Cell<bool>,
}

/// Processes wait on it; `notify_one` wakes the longest waiter, `notify_all` every one.
/// Like a Go `sync.Cond`, a woken process must re-check its condition.
#[derive(Clone)]
pub struct Signal {
    sim: SimHandle,
    waiters: Rc<RefCell<VecDeque<Rc<Waiter>>>>,
}

impl Signal {
    pub fn new(sim: &SimHandle) -> Self {
        Signal {
            sim: sim.clone(),
            waiters: Rc::new(RefCell::new(VecDeque::new())),
        }
    }

    pub fn wait(&self) -> SignalWait {
        SignalWait {
            signal: self.clone(),
            waiter: None,
        }
    }

    pub fn notify_one(&self) -> bool {
        let next = self.waiters.borrow_mut().pop_front();
        match next {
            Some(w) => {
                w.woken.set(true);
                self.sim.wake_at(w.task, self.sim.now());
                true
            }
            None => false,
        }
    }

    pub fn notify_all(&self) {
        while self.notify_one() {}
    }

    pub fn waiting(&self) -> usize {
        self.waiters.borrow().len()
    }
}

pub struct SignalWait {
    signal: Signal,
    waiter: Option<Rc<Waiter>>,
}

impl Future for SignalWait {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        match &self.waiter {
            Some(w) if w.woken.get() => Poll::Ready(()),
            Some(_) => Poll::Pending,
            None => {
                let w = Rc::new(Waiter {
                    task: self.signal.sim.current(),
                    woken: Cell::new(false),
                });
                self.signal.waiters.borrow_mut().push_back(w.clone());
                self.waiter = Some(w);
                Poll::Pending
            }
        }
    }
}

/// Counts outstanding work; `wait` returns when the count is back to zero (Go's
/// `sync.WaitGroup`, used by the cleanup worker pool).
#[derive(Clone)]
pub struct WaitGroup {
    count: Rc<Cell<usize>>,
    signal: Signal,
}

impl WaitGroup {
    pub fn new(sim: &SimHandle) -> Self {
        WaitGroup {
            count: Rc::new(Cell::new(0)),
            signal: Signal::new(sim),
        }
    }

    pub fn add(&self, n: usize) {
        self.count.set(self.count.get() + n);
    }

    pub fn done(&self) {
        let c = self.count.get().saturating_sub(1);
        self.count.set(c);
        if c == 0 {
            self.signal.notify_all();
        }
    }

    pub async fn wait(&self) {
        while self.count.get() > 0 {
            self.signal.wait().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::executor::Sim;

    #[test]
    fn wait_group_releases_when_all_done() {
        let sim = Sim::new();
        let h = sim.handle();
        let wg = WaitGroup::new(&h);
        let finished_at = Rc::new(Cell::new(0));
        wg.add(3);
        for d in [5u64, 9, 2] {
            let (h, wg) = (h.clone(), wg.clone());
            sim.spawn(async move {
                h.sleep(d).await;
                wg.done();
            });
        }
        let f = finished_at.clone();
        let h2 = h.clone();
        sim.spawn(async move {
            wg.wait().await;
            f.set(h2.now());
        });
        sim.run();
        assert_eq!(finished_at.get(), 9);
    }

    #[test]
    fn signal_wakes_in_fifo_order() {
        let sim = Sim::new();
        let h = sim.handle();
        let sig = Signal::new(&h);
        let order = Rc::new(RefCell::new(Vec::new()));
        for i in 0..3 {
            let (s, o) = (sig.clone(), order.clone());
            sim.spawn(async move {
                s.wait().await;
                o.borrow_mut().push(i);
            });
        }
        let (s, h2) = (sig.clone(), h.clone());
        sim.spawn(async move {
            h2.sleep(1).await;
            s.notify_one();
            h2.sleep(1).await;
            s.notify_all();
        });
        sim.run();
        assert_eq!(*order.borrow(), vec![0, 1, 2]);
    }
}
