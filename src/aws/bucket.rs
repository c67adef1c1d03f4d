//! EC2's request token buckets (aws-ec2.md §1): each request removes one token; a bucket
//! below its maximum refills at `refill` tokens per second, continuously by default or in
//! whole-second ticks as an option; a request finding no token is throttled.
//!
//! Tokens are kept as integers in units of 10⁻¹² token and rates in 10⁻³ token/s, so the
//! arithmetic is exact and the bound "at most b + r·T admitted in any window T" holds to
//! the token, not merely approximately.
//!
//! Other tenants of the account (the VPC CNI, other controllers) draw from the same
//! buckets as Poisson streams. Their arrivals are generated lazily from their own random
//! stream whenever the bucket is looked at, so they cost nothing between looks and they
//! are identical whatever the controller does (common random numbers).

use crate::engine::{Nanos, SimRng, SECOND};
use rand::RngExt;
use serde::{Deserialize, Serialize};

const PICO: u128 = 1_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RefillMode {
    /// rate × dt, as AWS describes the sustained rate (assumption, to be calibrated).
    #[default]
    Continuous,
    /// `refill` whole tokens at every second boundary ("refilled by N tokens every second").
    PerSecondTick,
}

/// Another tenant's Poisson request stream into one bucket, active in [start, end).
#[derive(Debug, Clone)]
pub struct BackgroundSource {
    pub rate_per_s: f64,
    pub start: Nanos,
    pub end: Nanos,
    next: Nanos,
    rng: SimRng,
}

impl BackgroundSource {
    pub fn new(rate_per_s: f64, start: Nanos, end: Nanos, mut rng: SimRng) -> Self {
        let next = if rate_per_s > 0.0 {
            start.saturating_add(exp_gap(rate_per_s, &mut rng))
        } else {
            Nanos::MAX
        };
        BackgroundSource {
            rate_per_s,
            start,
            end,
            next,
            rng,
        }
    }

    /// The arrival times this source makes before `until` (the same draws the bucket
    /// consumes: a trail of a run can show the tenant's calls).
    pub fn arrivals_before(&self, until: Nanos) -> Vec<Nanos> {
        let mut s = self.clone();
        let mut out = Vec::new();
        while s.next < until.min(s.end) {
            out.push(s.next);
            s.advance();
        }
        out
    }

    fn advance(&mut self) {
        self.next = self
            .next
            .saturating_add(exp_gap(self.rate_per_s, &mut self.rng));
        if self.next >= self.end {
            self.next = Nanos::MAX;
        }
    }
}

fn exp_gap(rate_per_s: f64, rng: &mut SimRng) -> Nanos {
    let u: f64 = 1.0 - rng.random::<f64>();
    let gap = -u.ln() / rate_per_s * SECOND as f64;
    (gap as Nanos).max(1)
}

/// What happened in a bucket over a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketStats {
    pub admitted: u64,
    pub throttled: u64,
    pub background_admitted: u64,
    pub background_throttled: u64,
    /// Time during which fewer than one token was available.
    pub empty_time: Nanos,
}

#[derive(Debug, Clone)]
pub struct TokenBucket {
    pub name: String,
    capacity: u128,
    /// Refill in 10⁻³ tokens per second (= 10⁻¹² tokens per nanosecond).
    rate_milli: u128,
    mode: RefillMode,
    tokens: u128,
    last: Nanos,
    background: Vec<BackgroundSource>,
    pub stats: BucketStats,
}

impl TokenBucket {
    /// A full bucket of `max` tokens refilling at `refill_per_s`.
    pub fn new(name: impl Into<String>, max: f64, refill_per_s: f64, mode: RefillMode) -> Self {
        let capacity = (max.max(0.0) * PICO as f64).round() as u128;
        TokenBucket {
            name: name.into(),
            capacity,
            rate_milli: (refill_per_s.max(0.0) * 1e3).round() as u128,
            mode,
            tokens: capacity,
            last: 0,
            background: Vec::new(),
            stats: BucketStats::default(),
        }
    }

    pub fn add_background(&mut self, source: BackgroundSource) {
        self.background.push(source);
    }

    pub fn max(&self) -> f64 {
        self.capacity as f64 / PICO as f64
    }

    pub fn refill_per_s(&self) -> f64 {
        self.rate_milli as f64 / 1e3
    }

    /// Refill from `last` to `t`, accounting the time spent below one token.
    fn refill_to(&mut self, t: Nanos) {
        if t <= self.last {
            return;
        }
        let dt = (t - self.last) as u128;
        match self.mode {
            RefillMode::Continuous => {
                if self.tokens < PICO {
                    let need = PICO - self.tokens;
                    let until_one = if self.rate_milli == 0 {
                        u128::MAX
                    } else {
                        need.div_ceil(self.rate_milli)
                    };
                    self.stats.empty_time += dt.min(until_one) as Nanos;
                }
                self.tokens = (self.tokens + self.rate_milli * dt).min(self.capacity);
            }
            RefillMode::PerSecondTick => {
                let mut cursor = self.last;
                let ticks_before = self.last / SECOND;
                let ticks_after = t / SECOND;
                for k in ticks_before + 1..=ticks_after {
                    let tick = k * SECOND;
                    if self.tokens < PICO {
                        self.stats.empty_time += tick - cursor;
                    }
                    // rate_milli·10⁻³ tokens = rate_milli·10⁹ picotokens per tick.
                    self.tokens =
                        (self.tokens + self.rate_milli * SECOND as u128).min(self.capacity);
                    cursor = tick;
                    if self.tokens >= self.capacity {
                        break;
                    }
                }
                if self.tokens < PICO && cursor < t {
                    self.stats.empty_time += t - cursor.max(self.last);
                }
            }
        }
        self.last = t;
    }

    /// Brings the bucket to time `now`: background arrivals in time order, then refill.
    fn advance(&mut self, now: Nanos) {
        loop {
            let next = self
                .background
                .iter()
                .enumerate()
                .filter(|(_, s)| s.next <= now)
                .min_by_key(|(_, s)| s.next)
                .map(|(i, s)| (i, s.next));
            let Some((i, at)) = next else { break };
            self.refill_to(at);
            if self.tokens >= PICO {
                self.tokens -= PICO;
                self.stats.background_admitted += 1;
            } else {
                self.stats.background_throttled += 1;
            }
            self.background[i].advance();
        }
        self.refill_to(now);
    }

    /// One request at `now`: `true` if a token was taken, `false` if throttled.
    pub fn try_take(&mut self, now: Nanos) -> bool {
        self.advance(now);
        if self.tokens >= PICO {
            self.tokens -= PICO;
            self.stats.admitted += 1;
            true
        } else {
            self.stats.throttled += 1;
            false
        }
    }

    /// Tokens available at `now` (advancing the bucket).
    pub fn tokens(&mut self, now: Nanos) -> f64 {
        self.advance(now);
        self.tokens as f64 / PICO as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::stream;
    use crate::engine::MILLI;

    #[test]
    fn doc_example_describe_hosts_refills_in_five_seconds() {
        // DescribeHosts: bucket 100, refill 20/s: empty → full in 5 s (AWS doc).
        let mut b = TokenBucket::new("DescribeHosts", 100.0, 20.0, RefillMode::Continuous);
        for _ in 0..100 {
            assert!(b.try_take(0));
        }
        assert!(!b.try_take(0));
        assert!((b.tokens(5 * SECOND) - 100.0).abs() < 1e-9);
        // After a burst, 20 requests per second are sustained.
        let mut ok = 0;
        for i in 0..2000 {
            if b.try_take(5 * SECOND + i * 5 * MILLI) {
                ok += 1;
            }
        }
        // 10 s of requests at 200/s: the full bucket plus 20/s.
        assert!((ok as i64 - (100 + 200)).abs() <= 1, "{ok}");
    }

    #[test]
    fn per_second_ticks_add_whole_tokens_on_the_second() {
        let mut b = TokenBucket::new("x", 10.0, 5.0, RefillMode::PerSecondTick);
        for _ in 0..10 {
            assert!(b.try_take(0));
        }
        assert_eq!(b.tokens(999 * MILLI), 0.0);
        assert_eq!(b.tokens(SECOND), 5.0);
        assert_eq!(b.tokens(10 * SECOND), 10.0);
    }

    #[test]
    fn empty_time_is_measured() {
        let mut b = TokenBucket::new("x", 1.0, 1.0, RefillMode::Continuous);
        assert!(b.try_take(0));
        b.tokens(3 * SECOND);
        assert_eq!(b.stats.empty_time, SECOND);
    }

    #[test]
    fn background_load_draws_from_the_same_bucket() {
        let mut b = TokenBucket::new("x", 50.0, 5.0, RefillMode::Continuous);
        b.add_background(BackgroundSource::new(20.0, 0, Nanos::MAX, stream(1, "bg")));
        b.tokens(100 * SECOND);
        let s = &b.stats;
        // Over 100 s at 20/s offered, about 50 + 5·100 = 550 can be admitted.
        assert!((s.background_admitted as i64 - 550).abs() <= 2, "{s:?}");
        assert!(s.background_throttled > 1300, "{s:?}");
    }
}
