//! Client-side throttling of the controller's Kubernetes API calls.
//!
//! The target pins controller-runtime v0.14.6 and calls `ctrl.GetConfigOrDie()`, which sets
//! QPS 20 / burst 30 when QPS is unset (pkg/client/config/config.go:L102-104;
//! queues-and-oracles.md §3). client-go's token-bucket limiter `Wait`s on an x/time/rate
//! reservation, so calls past the burst are spaced at 1/QPS. v0.14 builds one REST client
//! per GVK, so all NodeENI writes share one bucket (controller-v1.3.8.md §4).

use super::rate_limit::GoRateLimiter;
use crate::engine::{Nanos, SimHandle};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone)]
pub struct ApiClientLimiter {
    sim: SimHandle,
    limiter: Option<Rc<RefCell<GoRateLimiter>>>,
    waited: Rc<RefCell<(u64, Nanos)>>,
}

impl ApiClientLimiter {
    /// `qps <= 0` turns client-side throttling off, as client-go does for QPS < 0.
    pub fn new(sim: &SimHandle, qps: f64, burst: u32) -> Self {
        ApiClientLimiter {
            sim: sim.clone(),
            limiter: (qps > 0.0).then(|| Rc::new(RefCell::new(GoRateLimiter::new(qps, burst)))),
            waited: Rc::new(RefCell::new((0, 0))),
        }
    }

    /// controller-runtime v0.14.6 defaults.
    pub fn controller_runtime_v0_14(sim: &SimHandle) -> Self {
        Self::new(sim, 20.0, 30)
    }

    /// Waits for permission to send one request.
    pub async fn acquire(&self) {
        let Some(l) = &self.limiter else { return };
        let delay = l.borrow_mut().reserve(self.sim.now());
        if delay > 0 {
            {
                let mut w = self.waited.borrow_mut();
                w.0 += 1;
                w.1 += delay;
            }
            self.sim.sleep(delay).await;
        }
    }

    /// (requests that had to wait, total time waited).
    pub fn throttled(&self) -> (u64, Nanos) {
        *self.waited.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Sim, MILLI};

    #[test]
    fn past_the_burst_requests_are_spaced_at_one_over_qps() {
        let sim = Sim::new();
        let h = sim.handle();
        let client = ApiClientLimiter::controller_runtime_v0_14(&h);
        let times = Rc::new(RefCell::new(Vec::new()));
        let t = times.clone();
        let c = client.clone();
        let hh = h.clone();
        sim.spawn(async move {
            for _ in 0..40 {
                c.acquire().await;
                t.borrow_mut().push(hh.now());
            }
        });
        sim.run();
        let times = times.borrow();
        assert!(times[..30].iter().all(|&x| x == 0));
        for i in 30..40 {
            assert_eq!(times[i], (i as u64 - 29) * 50 * MILLI);
        }
        assert_eq!(client.throttled().0, 10);
    }
}
