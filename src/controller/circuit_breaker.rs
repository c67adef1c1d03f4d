//! The controller's circuit breaker (pkg/aws/retry/circuit_breaker.go at v1.3.8;
//! controller-v1.3.8.md §5). v1.3.8 builds it but never calls it: it is off by default and
//! can be wired in, either as the code behaves or with its half-open bug fixed.
//!
//! - Closed → Open after `failure_threshold` consecutive failures; a success resets the
//!   count.
//! - Open → HalfOpen on the first request more than `timeout` after the last failure; that
//!   request is admitted and the half-open request count reset to 0.
//! - HalfOpen admits while `request_count < max_concurrent` (hard-coded 1, C:105), and in
//!   v1.3.8 the count is never decremented: only two half-open requests are ever admitted,
//!   so with `success_threshold ≥ 3` it sticks half-open, rejecting everything.
//! - `success_threshold` successes in half-open close it; any failure reopens it.

use crate::engine::Nanos;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerWiring {
    /// v1.3.8: built, never called.
    #[default]
    Off,
    /// Wired around every EC2 operation, with the code's half-open behaviour.
    #[serde(rename = "v1.3.8")]
    V138,
    /// Wired, with the half-open request count released when a request completes.
    Fixed,
}

impl BreakerWiring {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(BreakerWiring::Off),
            "v1.3.8" => Some(BreakerWiring::V138),
            "fixed" => Some(BreakerWiring::Fixed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub timeout: Nanos,
    max_concurrent: u32,
    fixed: bool,
    state: BreakerState,
    failures: u32,
    successes: u32,
    request_count: u32,
    last_failure: Nanos,
    /// (time, new state) of every transition.
    pub transitions: Vec<(Nanos, BreakerState)>,
    pub rejected: u64,
}

impl CircuitBreaker {
    pub fn new(
        failure_threshold: u32,
        success_threshold: u32,
        timeout: Nanos,
        fixed: bool,
    ) -> Self {
        CircuitBreaker {
            failure_threshold,
            success_threshold,
            timeout,
            max_concurrent: 1,
            fixed,
            state: BreakerState::Closed,
            failures: 0,
            successes: 0,
            request_count: 0,
            last_failure: 0,
            transitions: Vec::new(),
            rejected: 0,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    fn set(&mut self, now: Nanos, s: BreakerState) {
        if self.state != s {
            self.state = s;
            self.transitions.push((now, s));
        }
    }

    /// Whether a request may go ahead at `now`.
    pub fn allow(&mut self, now: Nanos) -> bool {
        let ok = match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => {
                if now.saturating_sub(self.last_failure) > self.timeout {
                    self.set(now, BreakerState::HalfOpen);
                    self.request_count = 0;
                    self.successes = 0;
                    true
                } else {
                    false
                }
            }
            BreakerState::HalfOpen => {
                if self.request_count < self.max_concurrent {
                    self.request_count += 1;
                    true
                } else {
                    false
                }
            }
        };
        if !ok {
            self.rejected += 1;
        }
        ok
    }

    /// The outcome of an admitted request.
    pub fn record(&mut self, now: Nanos, success: bool) {
        if self.state == BreakerState::HalfOpen && self.fixed {
            self.request_count = self.request_count.saturating_sub(1);
        }
        if success {
            match self.state {
                BreakerState::HalfOpen => {
                    self.successes += 1;
                    if self.successes >= self.success_threshold {
                        self.failures = 0;
                        self.set(now, BreakerState::Closed);
                    }
                }
                _ => self.failures = 0,
            }
        } else {
            self.last_failure = now;
            match self.state {
                BreakerState::HalfOpen => self.set(now, BreakerState::Open),
                _ => {
                    self.failures += 1;
                    if self.failures >= self.failure_threshold {
                        self.set(now, BreakerState::Open);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SECOND;

    fn trip(b: &mut CircuitBreaker) {
        for _ in 0..5 {
            assert!(b.allow(0));
            b.record(0, false);
        }
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn v138_sticks_half_open_with_the_default_thresholds() {
        let mut b = CircuitBreaker::new(5, 3, 30 * SECOND, false);
        trip(&mut b);
        assert!(!b.allow(10 * SECOND));
        let t = 31 * SECOND;
        assert!(b.allow(t)); // the transition request
        b.record(t, true);
        assert!(b.allow(t)); // the one half-open slot
        b.record(t, true);
        for k in 0..100 {
            assert!(!b.allow(t + k * SECOND), "never admits a third");
        }
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn fixed_breaker_closes_after_three_successes() {
        let mut b = CircuitBreaker::new(5, 3, 30 * SECOND, true);
        trip(&mut b);
        let t = 31 * SECOND;
        for _ in 0..3 {
            assert!(b.allow(t));
            b.record(t, true);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        // With threshold 2 the v1.3.8 breaker does close (the code's own test uses 2).
        let mut b = CircuitBreaker::new(5, 2, 30 * SECOND, false);
        trip(&mut b);
        for _ in 0..2 {
            assert!(b.allow(t));
            b.record(t, true);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
