//! The rate limiters client-go's work queue and REST client use.
//!
//! - `GoRateLimiter`: golang.org/x/time/rate `Limiter` with `Reserve` semantics (tokens may
//!   go negative: a reservation is always booked and the caller waits), which is what
//!   `BucketRateLimiter.When` and client-go's REST token bucket do
//!   (client-go@32ce75a:util/workqueue/default_rate_limiters.go:L68-70).
//! - `ItemExponentialFailure`: `base·2^failures` capped at `max` (L116-135), `Forget`
//!   clears the count (L144-149).
//! - `ControllerRateLimiter`: `DefaultControllerRateLimiter` = max of the two
//!   (5 ms…1000 s, 10 qps burst 100; L50-56, MaxOf L222-232, Forget forwarded L255-259).

use crate::engine::{Nanos, MILLI, SECOND};
use std::collections::HashMap;
use std::hash::Hash;

/// x/time/rate `Limiter`: `rate` tokens per second, bucket of `burst`, starting full.
#[derive(Debug, Clone)]
pub struct GoRateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Nanos,
}

impl GoRateLimiter {
    pub fn new(rate_per_s: f64, burst: u32) -> Self {
        GoRateLimiter {
            rate: rate_per_s,
            burst: burst as f64,
            tokens: burst as f64,
            last: 0,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn burst(&self) -> u32 {
        self.burst as u32
    }

    fn advance(&self, now: Nanos) -> f64 {
        let elapsed = now.saturating_sub(self.last);
        let tokens = self.tokens + elapsed as f64 / SECOND as f64 * self.rate;
        tokens.min(self.burst)
    }

    /// Books one token at `now` and returns how long the caller must wait for it.
    pub fn reserve(&mut self, now: Nanos) -> Nanos {
        let tokens = self.advance(now) - 1.0;
        self.last = now.max(self.last);
        self.tokens = tokens;
        if tokens < 0.0 {
            // durationFromTokens truncates toward zero.
            (-tokens / self.rate * SECOND as f64) as Nanos
        } else {
            0
        }
    }

    /// Tokens available at `now` (negative when reservations are outstanding).
    pub fn tokens_at(&self, now: Nanos) -> f64 {
        self.advance(now)
    }
}

/// Per-item exponential backoff: `base·2^failures`, capped at `max`.
#[derive(Debug, Clone)]
pub struct ItemExponentialFailure<K: Eq + Hash> {
    base: Nanos,
    max: Nanos,
    failures: HashMap<K, u32>,
}

impl<K: Eq + Hash + Clone> ItemExponentialFailure<K> {
    pub fn new(base: Nanos, max: Nanos) -> Self {
        ItemExponentialFailure {
            base,
            max,
            failures: HashMap::new(),
        }
    }

    pub fn when(&mut self, item: &K) -> Nanos {
        let n = self.failures.entry(item.clone()).or_insert(0);
        let exp = *n;
        *n += 1;
        let backoff = self.base as f64 * 2f64.powi(exp as i32);
        if backoff >= self.max as f64 {
            self.max
        } else {
            backoff as Nanos
        }
    }

    pub fn forget(&mut self, item: &K) {
        self.failures.remove(item);
    }

    pub fn num_requeues(&self, item: &K) -> u32 {
        self.failures.get(item).copied().unwrap_or(0)
    }
}

/// client-go `DefaultControllerRateLimiter` (v0.26.3, the target's version).
#[derive(Debug, Clone)]
pub struct ControllerRateLimiter<K: Eq + Hash> {
    per_item: ItemExponentialFailure<K>,
    overall: GoRateLimiter,
}

impl<K: Eq + Hash + Clone> Default for ControllerRateLimiter<K> {
    fn default() -> Self {
        Self::new(5 * MILLI, 1000 * SECOND, 10.0, 100)
    }
}

impl<K: Eq + Hash + Clone> ControllerRateLimiter<K> {
    pub fn new(base: Nanos, max: Nanos, qps: f64, burst: u32) -> Self {
        ControllerRateLimiter {
            per_item: ItemExponentialFailure::new(base, max),
            overall: GoRateLimiter::new(qps, burst),
        }
    }

    /// MaxOf: every limiter is asked (so the bucket books a token even when the
    /// per-item delay is longer), the longest delay wins.
    pub fn when(&mut self, item: &K, now: Nanos) -> Nanos {
        let a = self.per_item.when(item);
        let b = self.overall.reserve(now);
        a.max(b)
    }

    pub fn forget(&mut self, item: &K) {
        self.per_item.forget(item);
    }

    pub fn num_requeues(&self, item: &K) -> u32 {
        self.per_item.num_requeues(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_ladder_matches_client_go() {
        let mut l = ItemExponentialFailure::new(5 * MILLI, 1000 * SECOND);
        let delays: Vec<Nanos> = (0..25).map(|_| l.when(&"k")).collect();
        assert_eq!(delays[0], 5 * MILLI);
        assert_eq!(delays[9], 2_560 * MILLI); // 10th retry
        assert_eq!(delays[14], 81_920 * MILLI); // 15th
        assert_eq!(delays[15], 163_840 * MILLI); // 16th
        assert_eq!(delays[17], 655_360 * MILLI); // 18th
        assert_eq!(delays[18], 1000 * SECOND); // 19th onward capped
        assert_eq!(delays[24], 1000 * SECOND);
        // At most 15 backoff retries fit in five minutes (queues-and-oracles.md §2).
        let mut cum = 0;
        let fit = delays
            .iter()
            .take_while(|d| {
                cum += **d;
                cum <= 300 * SECOND
            })
            .count();
        assert_eq!(fit, 15);
        l.forget(&"k");
        assert_eq!(l.when(&"k"), 5 * MILLI);
    }

    #[test]
    fn go_limiter_reserves_into_debt() {
        let mut l = GoRateLimiter::new(10.0, 100);
        for _ in 0..100 {
            assert_eq!(l.reserve(0), 0);
        }
        assert_eq!(l.reserve(0), 100 * MILLI);
        assert_eq!(l.reserve(0), 200 * MILLI);
        // After 1 s, 10 tokens have been repaid: the debt of 2 becomes a credit of 8.
        assert_eq!(l.reserve(SECOND), 0);
    }
}
