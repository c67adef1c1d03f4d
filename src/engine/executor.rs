//! A small deterministic executor over Rust futures driven by virtual time.
//!
//! Simulated processes are written as `async` sequences (do, wait, branch), the way the Go
//! code they model reads (design.md, "Process-interaction style"). A process only ever
//! suspends on a primitive of this module or of `sync`, each of which schedules exactly
//! one wake-up for the suspended task in the event queue; there is no real waker, no
//! thread and no wall clock, so the order of everything is fixed by (time, sequence).

use super::queue::EventQueue;
use super::time::Nanos;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

type BoxedProcess = Pin<Box<dyn Future<Output = ()>>>;

/// Identifies one task; the generation makes a reused slot distinguishable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskId {
    index: u32,
    generation: u32,
}

struct Slot {
    generation: u32,
    process: Option<BoxedProcess>,
}

struct Inner {
    now: Cell<Nanos>,
    events: RefCell<EventQueue<TaskId>>,
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    current: Cell<Option<TaskId>>,
    dispatched: Cell<u64>,
}

/// A cheap, clonable reference to the running simulation, held by processes.
#[derive(Clone)]
pub struct SimHandle(Rc<Inner>);

/// Owns a simulation. Dropping it drops every unfinished process, which breaks the
/// reference cycle between processes and the handle they hold.
pub struct Sim {
    handle: SimHandle,
}

/// Why `run_until` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// No event left: every process finished or waits on something that will not come.
    Idle,
    /// The next event lies beyond the horizon.
    Horizon,
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Sim {
    pub fn new() -> Self {
        Sim {
            handle: SimHandle(Rc::new(Inner {
                now: Cell::new(0),
                events: RefCell::new(EventQueue::with_capacity(256)),
                slots: RefCell::new(Vec::new()),
                free: RefCell::new(Vec::new()),
                current: Cell::new(None),
                dispatched: Cell::new(0),
            })),
        }
    }

    pub fn handle(&self) -> SimHandle {
        self.handle.clone()
    }

    pub fn now(&self) -> Nanos {
        self.handle.now()
    }

    pub fn spawn<F: Future<Output = ()> + 'static>(&self, process: F) -> TaskId {
        self.handle.spawn(process)
    }

    /// Number of task dispatches so far (the engine's "events").
    pub fn events_dispatched(&self) -> u64 {
        self.handle.0.dispatched.get()
    }

    /// Runs every event with time ≤ `horizon`, then leaves the clock at `horizon`: the
    /// world has been observed up to it, so a process started next starts there, not at
    /// the last event before it. (`Nanos::MAX`, as [`Sim::run`] uses, leaves the clock at
    /// the last event.)
    pub fn run_until(&self, horizon: Nanos) -> RunEnd {
        let inner = &self.handle.0;
        let end = |how: RunEnd| {
            if horizon != Nanos::MAX && inner.now.get() < horizon {
                inner.now.set(horizon);
            }
            how
        };
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        loop {
            let (time, task) = {
                let mut events = inner.events.borrow_mut();
                match events.peek_time() {
                    None => return end(RunEnd::Idle),
                    Some(t) if t > horizon => return end(RunEnd::Horizon),
                    Some(_) => match events.pop() {
                        Some(e) => e,
                        None => return end(RunEnd::Idle),
                    },
                }
            };
            inner.now.set(time);
            let taken = {
                let mut slots = inner.slots.borrow_mut();
                match slots.get_mut(task.index as usize) {
                    Some(slot) if slot.generation == task.generation => slot.process.take(),
                    _ => None,
                }
            };
            let Some(mut process) = taken else { continue };
            inner.dispatched.set(inner.dispatched.get() + 1);
            inner.current.set(Some(task));
            let poll = process.as_mut().poll(&mut cx);
            inner.current.set(None);
            let mut slots = inner.slots.borrow_mut();
            let slot = &mut slots[task.index as usize];
            match poll {
                Poll::Pending => slot.process = Some(process),
                Poll::Ready(()) => {
                    slot.generation = slot.generation.wrapping_add(1);
                    drop(slots);
                    inner.free.borrow_mut().push(task.index);
                    drop(process);
                }
            }
        }
    }

    /// Runs until no event is left.
    pub fn run(&self) -> RunEnd {
        self.run_until(Nanos::MAX)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let slots = std::mem::take(&mut *self.handle.0.slots.borrow_mut());
        self.handle.0.events.borrow_mut().clear();
        drop(slots);
    }
}

impl SimHandle {
    pub fn now(&self) -> Nanos {
        self.0.now.get()
    }

    /// Starts a process; its first step runs at the current time, after the events
    /// already scheduled for this time.
    pub fn spawn<F: Future<Output = ()> + 'static>(&self, process: F) -> TaskId {
        let boxed: BoxedProcess = Box::pin(process);
        let reused = self.0.free.borrow_mut().pop();
        let id = {
            let mut slots = self.0.slots.borrow_mut();
            match reused {
                Some(index) => {
                    let slot = &mut slots[index as usize];
                    slot.process = Some(boxed);
                    TaskId {
                        index,
                        generation: slot.generation,
                    }
                }
                None => {
                    slots.push(Slot {
                        generation: 0,
                        process: Some(boxed),
                    });
                    TaskId {
                        index: (slots.len() - 1) as u32,
                        generation: 0,
                    }
                }
            }
        };
        self.wake_at(id, self.now());
        id
    }

    /// Spawns a process whose result can be awaited.
    pub fn spawn_joinable<T: 'static, F: Future<Output = T> + 'static>(
        &self,
        process: F,
    ) -> JoinHandle<T> {
        let state = Rc::new(JoinState {
            value: RefCell::new(None),
            waiter: Cell::new(None),
        });
        let inner_state = state.clone();
        let sim = self.clone();
        self.spawn(async move {
            let v = process.await;
            *inner_state.value.borrow_mut() = Some(v);
            if let Some(w) = inner_state.waiter.take() {
                sim.wake_at(w, sim.now());
            }
        });
        JoinHandle {
            state,
            sim: self.clone(),
        }
    }

    pub(crate) fn current(&self) -> TaskId {
        // Every primitive that suspends is polled from inside `run_until`.
        self.0
            .current
            .get()
            .expect("a simulation primitive was awaited outside the simulation")
    }

    pub(crate) fn wake_at(&self, task: TaskId, time: Nanos) {
        self.0.events.borrow_mut().push(time, task);
    }

    /// Suspends the calling process for `d` nanoseconds (no-op for zero, like Go's
    /// `time.Sleep(0)`).
    pub fn sleep(&self, d: Nanos) -> Sleep {
        Sleep {
            sim: self.clone(),
            until: self.now().saturating_add(d),
            armed: false,
        }
    }

    pub fn sleep_until(&self, until: Nanos) -> Sleep {
        Sleep {
            sim: self.clone(),
            until,
            armed: false,
        }
    }

    /// Lets every other event scheduled for this instant run first.
    pub fn yield_now(&self) -> YieldNow {
        YieldNow {
            sim: self.clone(),
            yielded: false,
        }
    }
}

pub struct Sleep {
    sim: SimHandle,
    until: Nanos,
    armed: bool,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.sim.now() >= self.until {
            return Poll::Ready(());
        }
        if !self.armed {
            let task = self.sim.current();
            self.sim.wake_at(task, self.until);
            self.armed = true;
        }
        Poll::Pending
    }
}

pub struct YieldNow {
    sim: SimHandle,
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        let task = self.sim.current();
        self.sim.wake_at(task, self.sim.now());
        self.yielded = true;
        Poll::Pending
    }
}

struct JoinState<T> {
    value: RefCell<Option<T>>,
    waiter: Cell<Option<TaskId>>,
}

/// The result of a process started with `spawn_joinable`.
pub struct JoinHandle<T> {
    state: Rc<JoinState<T>>,
    sim: SimHandle,
}

impl<T> JoinHandle<T> {
    pub fn is_finished(&self) -> bool {
        self.state.value.borrow().is_some()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        if let Some(v) = self.state.value.borrow_mut().take() {
            return Poll::Ready(v);
        }
        self.state.waiter.set(Some(self.sim.current()));
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::SECOND;

    #[test]
    fn sleeps_interleave_in_time_order_and_fifo_at_ties() {
        let sim = Sim::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        for (name, delays) in [("a", vec![3, 1]), ("b", vec![1, 3]), ("c", vec![4])] {
            let h = sim.handle();
            let log = log.clone();
            sim.spawn(async move {
                for d in delays {
                    h.sleep(d * SECOND).await;
                    log.borrow_mut().push((h.now() / SECOND, name));
                }
            });
        }
        assert_eq!(sim.run(), RunEnd::Idle);
        assert_eq!(
            *log.borrow(),
            // At t = 4 the wake-ups leave in the order they were scheduled: c (at 0), b (at 1), a (at 3).
            vec![(1, "b"), (3, "a"), (4, "c"), (4, "b"), (4, "a")]
        );
    }

    #[test]
    fn horizon_stops_and_resumes() {
        let sim = Sim::new();
        let h = sim.handle();
        let count = Rc::new(Cell::new(0));
        let c = count.clone();
        sim.spawn(async move {
            loop {
                h.sleep(SECOND).await;
                c.set(c.get() + 1);
            }
        });
        assert_eq!(sim.run_until(10 * SECOND), RunEnd::Horizon);
        assert_eq!(count.get(), 10);
        assert_eq!(sim.run_until(15 * SECOND), RunEnd::Horizon);
        assert_eq!(count.get(), 15);
    }

    #[test]
    fn the_clock_is_left_at_the_horizon() {
        // One event at 3 s; observing up to 10 s leaves the clock at 10 s, so what starts
        // next starts there (a gradual step, a deletion), not back at 3 s.
        let sim = Sim::new();
        let h = sim.handle();
        sim.spawn(async move { h.sleep(3 * SECOND).await });
        assert_eq!(sim.run_until(10 * SECOND), RunEnd::Idle);
        assert_eq!(sim.now(), 10 * SECOND);
        let h = sim.handle();
        sim.spawn(async move { h.sleep(SECOND).await });
        sim.run();
        assert_eq!(sim.now(), 11 * SECOND);
    }

    #[test]
    fn joinable_processes_return_values() {
        let sim = Sim::new();
        let h = sim.handle();
        let out = Rc::new(Cell::new(0));
        let o = out.clone();
        sim.spawn(async move {
            let hh = h.clone();
            let a = h.spawn_joinable(async move {
                hh.sleep(5).await;
                7
            });
            let v = a.await;
            o.set(v + h.now() as i32);
        });
        sim.run();
        assert_eq!(out.get(), 12);
    }
}
