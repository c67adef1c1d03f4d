//! The token-bucket (size, refill) pairs a trail allows (calibration.md §2): a necessary
//! condition on every pair that could have produced the recorded admissions and throttles,
//! so the true bucket is never left out of the set, only (at worst) joined by neighbours.
//!
//! CloudTrail gives each call's *completion* second (aws-ec2.md, `eventTime`), while the
//! bucket is consulted when the call *arrives*, a service time earlier. So every call is
//! known only to have arrived in a window of whole seconds `[lo, hi)`: `hi` is the second
//! after its eventTime; `lo` is its eventTime less the longest service time the plausible
//! ranges allow (a throttled call: the longest rejection), and, for the controller's calls
//! on an ENI, no earlier than the eventTime second of the controller's last call on that ENI
//! in an earlier second (one NodeENI is reconciled by one worker at a time, so its calls on
//! an ENI are sequential: queues-and-oracles.md, work-queue semantics).
//!
//! With the bucket full at the earliest arrival of the trail (assumption: the trail starts
//! with the account idle) and refill r, a bucket of size M
//! * admits at most M + R(span) calls that arrive inside any span: a pair is out when the
//!   admitted calls whose windows lie inside `[u, v)` outnumber M + R(v − u);
//! * is empty (under one token) at a throttled call's arrival t only if, for some m ≤ t, the
//!   admitted calls that could have arrived in (m⁻, t] number more than M − 1 + R(t − m): a
//!   pair is out when no t of the call's window and no m allows that.
//!
//! Both are necessary (any placement of the calls in their windows that reproduces the
//! trail satisfies them), so the set may be wider than the trail strictly allows, never
//! narrower (for calls within the latency bound and the start assumption).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::observed::Trail;
use crate::aws::bucket::RefillMode;

/// The grid an action's set is sought on, and how early its calls may have arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub maxes: Vec<f64>,
    pub refills: Vec<f64>,
    /// Whole seconds an admitted call may take from arrival to completion (at most).
    pub admitted_latency_s: i64,
    /// Whole seconds a throttled call may take to be rejected (at most).
    pub rejected_latency_s: i64,
}

/// The (size, refill) pairs of one action's bucket that the recorded calls allow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketSet {
    pub action: String,
    pub calls: u64,
    pub throttles: u64,
    /// For each refill rate of the grid, the sizes consistent with the trail, as
    /// `[refill_per_s, smallest max, largest max]` (only refills with any). A row stands
    /// for the refills within half a grid step of its own: its sizes are those some refill
    /// of that cell allows.
    pub consistent: Vec<[f64; 3]>,
    /// No throttle was recorded: every bucket at least as generous as the smallest
    /// consistent one fits, so the set says only how small the bucket cannot be.
    pub lower_bound_only: bool,
}

impl BucketSet {
    /// Is (max, refill) in the set (refill on the grid's nearest point)?
    pub fn contains(&self, max: f64, refill: f64) -> bool {
        let Some(row) = self
            .consistent
            .iter()
            .min_by(|a, b| (a[0] - refill).abs().total_cmp(&(b[0] - refill).abs()))
        else {
            return false;
        };
        let step = self.refill_step();
        (row[0] - refill).abs() <= step / 2.0 + 1e-9 && row[1] <= max && max <= row[2]
    }

    fn refill_step(&self) -> f64 {
        self.consistent
            .windows(2)
            .map(|w| w[1][0] - w[0][0])
            .fold(f64::INFINITY, f64::min)
            .min(1.0)
    }

    /// The refills (per second) whose consistent sizes hold `max`, as an interval: a row
    /// stands for the refills within half a grid step of its own. `None` when no row does.
    pub fn refills_holding(&self, max: f64) -> Option<(f64, f64)> {
        let half = self.refill_step() / 2.0;
        let half = if half.is_finite() { half } else { 0.0 };
        let rows = self
            .consistent
            .iter()
            .filter(|r| r[1] <= max && max <= r[2])
            .map(|r| r[0]);
        let lo = rows.clone().fold(f64::INFINITY, f64::min);
        let hi = rows.fold(f64::NEG_INFINITY, f64::max);
        (lo <= hi).then(|| ((lo - half).max(0.0), hi + half))
    }

    /// The smallest consistent size at the refill nearest `refill`.
    pub fn min_max_at(&self, refill: f64) -> Option<f64> {
        self.consistent
            .iter()
            .min_by(|a, b| (a[0] - refill).abs().total_cmp(&(b[0] - refill).abs()))
            .map(|r| r[1])
    }
}

/// A call's arrival window `[lo, hi)` in whole seconds, and whether it took a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    lo: i64,
    hi: i64,
    admitted: bool,
}

/// For each call of the trail, the eventTime second of the controller's last call on the
/// same ENI in an earlier second (its completion precedes this call's arrival), if any.
fn chain_bounds(trail: &Trail) -> Vec<Option<i64>> {
    // Per ENI: (latest second seen, the latest second before it).
    let mut seen: HashMap<&str, (i64, Option<i64>)> = HashMap::new();
    let mut out = Vec::with_capacity(trail.calls.len());
    for c in &trail.calls {
        let eni = c.eni.as_deref().filter(|_| c.is_controller());
        let Some(eni) = eni else {
            out.push(None);
            continue;
        };
        let entry = seen.entry(eni).or_insert((c.t_s, None));
        if entry.0 < c.t_s {
            *entry = (c.t_s, Some(entry.0));
        }
        out.push(entry.1);
    }
    out
}

/// The admitted calls' counts the two conditions need, on the points 0..=len (seconds
/// since the earliest arrival).
struct Counts {
    /// `hi_at_most[v]`: admitted windows with hi ≤ v.
    hi_at_most: Vec<f64>,
    /// `lo_below[u]`: admitted windows with lo < u.
    lo_below: Vec<f64>,
}

impl Counts {
    fn new(windows: &[Window], base: i64, len: usize) -> Counts {
        let mut hi = vec![0.0; len + 1];
        let mut lo = vec![0.0; len + 2];
        for w in windows.iter().filter(|w| w.admitted) {
            hi[(w.hi - base) as usize] += 1.0;
            lo[(w.lo - base) as usize + 1] += 1.0;
        }
        for k in 1..hi.len() {
            hi[k] += hi[k - 1];
        }
        for k in 1..lo.len() {
            lo[k] += lo[k - 1];
        }
        lo.truncate(len + 1);
        Counts {
            hi_at_most: hi,
            lo_below: lo,
        }
    }

    fn total(&self) -> f64 {
        *self.hi_at_most.last().unwrap_or(&0.0)
    }

    /// The smallest size that admits every admitted call at refill `r`: the largest
    /// excess, over any span [u, v), of the calls that must have arrived in it over what
    /// refilled meanwhile (counting as inside only windows with lo ≥ u and hi ≤ v, or
    /// fewer: those straddling the span are left out, which only lowers the bound). A
    /// per-second tick may fall at either end of a span: it gains one tick more at most.
    fn min_max(&self, r: f64, mode: RefillMode) -> f64 {
        let len = self.hi_at_most.len() - 1;
        // best_u: max over u < v of (r·u − lo_below[u]).
        let mut best_u = f64::NEG_INFINITY;
        let mut out: f64 = 0.0;
        let tick = match mode {
            RefillMode::Continuous => 0.0,
            RefillMode::PerSecondTick => r,
        };
        for v in 1..=len {
            let u = v - 1;
            best_u = best_u.max(r * u as f64 - self.lo_below[u]);
            out = out.max(self.hi_at_most[v] - r * v as f64 + best_u - tick);
        }
        out
    }

    /// The largest size (exclusive) under which a throttled call with window [lo, hi)
    /// could find the bucket empty, given `prefix[t]` = max over m ≤ t of (calls with
    /// hi ≥ m, plus r·m) — see [`Counts::throttle_prefix`]. Per-second ticks gain one tick
    /// less at least over a span of a second or more, none over an instant.
    fn max_max(&self, w: Window, base: i64, r: f64, mode: RefillMode, prefix: &[f64]) -> f64 {
        let len = self.hi_at_most.len() - 1;
        let total = self.total();
        let mut best = f64::NEG_INFINITY;
        let first = (w.lo - base).max(0) as usize;
        let last = ((w.hi - 1 - base).max(0) as usize).min(len);
        for t in first..=last {
            // Admitted windows with lo > t: they cannot have taken a token by t.
            let after = total - self.lo_below.get(t + 1).copied().unwrap_or(total);
            let at_t = self.calls_reaching(t) - after;
            let candidate = match mode {
                RefillMode::Continuous => prefix[t] - after - r * t as f64,
                RefillMode::PerSecondTick if t > 0 => {
                    (prefix[t - 1] - after - r * (t - 1) as f64).max(at_t)
                }
                RefillMode::PerSecondTick => at_t,
            };
            best = best.max(candidate);
        }
        1.0 + best
    }

    /// Admitted windows with hi ≥ m (they can have arrived at or after m⁻).
    fn calls_reaching(&self, m: usize) -> f64 {
        let below = if m == 0 { 0.0 } else { self.hi_at_most[m - 1] };
        self.total() - below
    }

    /// max over m ≤ t of (calls with hi ≥ m, plus r·m), for every t.
    fn throttle_prefix(&self, r: f64) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.hi_at_most.len());
        let mut best = f64::NEG_INFINITY;
        for m in 0..self.hi_at_most.len() {
            best = best.max(self.calls_reaching(m) + r * m as f64);
            out.push(best);
        }
        out
    }
}

/// The consistent (size, refill) set of every action that has a bucket in `grid`, from all
/// callers' calls of it.
pub fn bucket_sets(
    trail: &Trail,
    grid: &BTreeMap<String, Grid>,
    mode: RefillMode,
) -> Vec<BucketSet> {
    let chain = chain_bounds(trail);
    let mut out = Vec::new();
    for (action, g) in grid {
        let windows: Vec<Window> = trail
            .calls
            .iter()
            .zip(&chain)
            .filter(|(c, _)| &c.action == action)
            .map(|(c, bound)| {
                let latency = if c.admitted() {
                    g.admitted_latency_s
                } else {
                    g.rejected_latency_s
                };
                Window {
                    lo: (c.t_s - latency.max(0)).max(bound.unwrap_or(i64::MIN)),
                    hi: c.t_s + 1,
                    admitted: c.admitted(),
                }
            })
            .collect();
        if windows.is_empty() {
            continue;
        }
        let base = windows.iter().map(|w| w.lo).min().unwrap_or(0);
        let len = (windows.iter().map(|w| w.hi).max().unwrap_or(base) - base) as usize;
        let counts = Counts::new(&windows, base, len);
        let throttled: Vec<Window> = windows.iter().filter(|w| !w.admitted).copied().collect();
        let half = g
            .refills
            .windows(2)
            .map(|w| (w[1] - w[0]) / 2.0)
            .fold(f64::INFINITY, f64::min);
        let half = if half.is_finite() { half } else { 0.0 };
        let mut consistent = Vec::new();
        for &refill in &g.refills {
            // The cell's most generous refill bounds the size from below, its least
            // generous from above (both bounds fall as the refill grows).
            let low = counts.min_max(refill + half, mode);
            let r = (refill - half).max(0.0);
            let prefix = counts.throttle_prefix(r);
            let high = throttled
                .iter()
                .map(|w| counts.max_max(*w, base, r, mode, &prefix))
                .fold(f64::INFINITY, f64::min);
            let ok: Vec<f64> = g
                .maxes
                .iter()
                .copied()
                .filter(|&m| m >= low - 1e-9 && m < high - 1e-9)
                .collect();
            if let (Some(lo), Some(hi)) = (ok.first(), ok.last()) {
                consistent.push([refill, *lo, *hi]);
            }
        }
        out.push(BucketSet {
            action: action.clone(),
            calls: windows.len() as u64,
            throttles: throttled.len() as u64,
            consistent,
            lower_bound_only: throttled.is_empty(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::bucket::TokenBucket;
    use crate::calibrate::observed::Call;
    use crate::engine::rng::stream;
    use crate::engine::time::SECOND;
    use crate::trace::CLASS_CONTROLLER;
    use rand::RngExt;

    fn c(t: i64, throttled: bool) -> Call {
        Call::other(t, "AttachNetworkInterface", throttled)
    }

    fn grid(maxes: Vec<f64>, refills: Vec<f64>, latency_s: i64) -> BTreeMap<String, Grid> {
        BTreeMap::from([(
            "AttachNetworkInterface".to_string(),
            Grid {
                maxes,
                refills,
                admitted_latency_s: latency_s,
                rejected_latency_s: 1,
            },
        )])
    }

    #[test]
    fn a_burst_against_a_known_bucket_bounds_both_ways() {
        // 12 calls in one second into a bucket of 10, refill 1/s: 10 admitted, 2 throttled,
        // then one call per second for 5 s (all admitted); calls take no time.
        let mut calls = Vec::new();
        for k in 0..12 {
            calls.push(c(100, k >= 10));
        }
        for s in 1..=5 {
            calls.push(c(100 + s, false));
        }
        let trail = Trail { calls };
        let g = grid(
            (1..=20).map(f64::from).collect(),
            vec![0.5, 1.0, 2.0, 5.0],
            0,
        );
        let sets = bucket_sets(&trail, &g, RefillMode::Continuous);
        let s = &sets[0];
        assert_eq!(s.throttles, 2);
        assert!(!s.lower_bound_only);
        assert!(s.contains(10.0, 1.0), "{s:?}");
        assert!(
            !s.contains(11.0, 1.0),
            "11 tokens would admit the throttled calls: {s:?}"
        );
        // The refills that hold size 10 span every refill the set holds at that size (the
        // true one among them); a size no refill holds gives none.
        let (lo, hi) = s.refills_holding(10.0).unwrap();
        for r in [0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 8.0] {
            if s.contains(10.0, r) {
                assert!(lo <= r && r <= hi, "{r}: {lo}–{hi}");
            }
        }
        assert!(lo <= 1.0 && 1.0 <= hi);
        assert_eq!(s.refills_holding(11.0), None, "{s:?}");
        assert_eq!(s.refills_holding(1000.0), None);
        // Ten calls spread over the second fit a bucket of 9 that refills one meanwhile.
        assert!(s.contains(9.0, 1.0), "{s:?}");
        assert!(
            !s.contains(8.0, 1.0),
            "8 tokens would throttle admitted calls"
        );
        let no_throttle = Trail {
            calls: trail
                .calls
                .iter()
                .filter(|x| !x.throttled)
                .cloned()
                .collect(),
        };
        let sets = bucket_sets(&no_throttle, &g, RefillMode::Continuous);
        assert!(sets[0].lower_bound_only);
        assert!(sets[0].contains(20.0, 5.0));
        assert!(!sets[0].contains(5.0, 0.5));
    }

    /// Calls through a real bucket of (max, refill): Poisson arrivals at `rate` plus bursts,
    /// each admitted call completing up to `latency_s` later, a throttled one within a
    /// second; the trail keeps each call's completion second.
    fn recorded(
        seed: u64,
        max: f64,
        refill: f64,
        mode: RefillMode,
        latency_s: f64,
    ) -> (Trail, u64) {
        let mut rng = stream(seed, "bucket-set-test");
        let mut b = TokenBucket::new("t", max, refill, mode);
        let mut arrivals: Vec<f64> = Vec::new();
        let mut t = 1000.0;
        while t < 1300.0 {
            t += -(1.0 - rng.random::<f64>()).ln() / (0.6 * refill);
            arrivals.push(t);
        }
        // Three bursts, each twice the bucket, spread over two seconds.
        for start in [1050.0, 1150.0, 1250.0] {
            for _ in 0..(2.0 * max) as usize {
                arrivals.push(start + 2.0 * rng.random::<f64>());
            }
        }
        arrivals.sort_by(f64::total_cmp);
        let mut calls = Vec::new();
        let mut throttles = 0;
        for a in arrivals {
            let admitted = b.try_take((a * SECOND as f64) as u64);
            throttles += u64::from(!admitted);
            let took = if admitted {
                latency_s * rng.random::<f64>()
            } else {
                0.9 * rng.random::<f64>()
            };
            calls.push(c((a + took).floor() as i64, !admitted));
        }
        calls.sort_by_key(|x| x.t_s);
        (Trail { calls }, throttles)
    }

    #[test]
    fn the_true_bucket_is_in_the_set_and_the_set_no_wider_than_the_resolution() {
        let maxes: Vec<f64> = (1..=120).map(f64::from).collect();
        let refills: Vec<f64> = (1..=40).map(|k| 0.5 * f64::from(k)).collect();
        for mode in [RefillMode::Continuous, RefillMode::PerSecondTick] {
            for seed in 0..12u64 {
                let mut rng = stream(seed, "bucket-truth");
                let max = f64::from(rng.random_range(10..60u32));
                // Off the grid: the set's rows stand for cells.
                let refill = 1.0 + 9.0 * rng.random::<f64>();
                let latency = [0.0, 1.5, 3.0][seed as usize % 3];
                let (trail, throttles) = recorded(seed, max, refill, mode, latency);
                assert!(throttles > 0, "seed {seed}: no throttle");
                let g = grid(maxes.clone(), refills.clone(), latency.ceil() as i64);
                let s = &bucket_sets(&trail, &g, mode)[0];
                assert!(
                    s.contains(max, refill),
                    "{mode:?} seed {seed}: ({max}, {refill:.2}) not in {:?}",
                    s.consistent
                );
                // Informative: the row at the true refill reaches no further from the truth
                // than what one second's resolution, the latency allowance and a tick cost
                // in refills ((refill + half a grid step) per second of slack), plus a token.
                let row = s
                    .consistent
                    .iter()
                    .find(|r| (r[0] - refill).abs() <= 0.25 + 1e-9)
                    .unwrap();
                let tick = f64::from(u8::from(mode == RefillMode::PerSecondTick));
                let slack = (refill + 0.25) * (latency.ceil() + 2.0 + tick) + 1.0;
                assert!(
                    row[1] >= max - slack && row[2] <= max + slack,
                    "{mode:?} seed {seed}: {max} at {refill:.2}: row {row:?}, slack {slack:.1}"
                );
            }
        }
    }

    #[test]
    fn a_chain_on_one_eni_narrows_the_arrivals() {
        // The controller's calls on one ENI: each arrives after the previous completed. A
        // 4 s latency allowance alone lets a call be counted four seconds early; the chain
        // bounds it by its predecessor's second.
        let mut calls = Vec::new();
        for k in 0..10 {
            let mut x = c(100 + 2 * k, false);
            x.class = CLASS_CONTROLLER.into();
            x.eni = Some("eni-1".into());
            calls.push(x);
        }
        let trail = Trail { calls };
        let bounds = chain_bounds(&trail);
        assert_eq!(bounds[0], None);
        assert_eq!(bounds[1], Some(100));
        assert_eq!(bounds[9], Some(116));
        // Another caller's calls have no chain.
        let mut other = trail.clone();
        for x in &mut other.calls {
            x.class = "other".into();
        }
        assert!(chain_bounds(&other).iter().all(Option::is_none));
    }
}
