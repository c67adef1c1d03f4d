//! Token-bucket oracle (queues-and-oracles.md §5.7): over any window T, a bucket of size b
//! refilling at r admits at most b + r·T requests.

use enisim::aws::bucket::{RefillMode, TokenBucket};
use enisim::engine::{Nanos, SECOND};
use proptest::prelude::*;

fn admitted_times(b: f64, r: f64, mode: RefillMode, gaps: &[u64]) -> Vec<Nanos> {
    let mut bucket = TokenBucket::new("x", b, r, mode);
    let mut t = 0;
    let mut out = Vec::new();
    for g in gaps {
        t += g;
        if bucket.try_take(t) {
            out.push(t);
        }
    }
    out
}

/// The largest number of admissions inside any window [s, s+T] starting at an admission.
fn worst_window(times: &[Nanos], window: Nanos) -> Vec<(usize, Nanos)> {
    let mut out = Vec::new();
    let mut j = 0;
    for i in 0..times.len() {
        while j < times.len() && times[j] <= times[i] + window {
            j += 1;
        }
        out.push((j - i, times[j - 1] - times[i]));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn continuous_refill_never_admits_more_than_b_plus_rt(
        b in 1u32..60,
        r_milli in 100u32..20_000,
        gaps in prop::collection::vec(0u64..400_000_000, 50..600),
        window_ms in 1u64..20_000,
    ) {
        let r = r_milli as f64 / 1000.0;
        let times = admitted_times(b as f64, r, RefillMode::Continuous, &gaps);
        for (count, span) in worst_window(&times, window_ms * 1_000_000) {
            // The admissions inside [s, s+span] span `span`; the bound uses that span.
            let bound = b as f64 + r * span as f64 / SECOND as f64;
            prop_assert!(count as f64 <= bound + 1e-9, "{count} > {bound}");
        }
    }

    #[test]
    fn per_second_ticks_admit_at_most_b_plus_r_per_tick_crossed(
        b in 1u32..60,
        r in 1u32..20,
        gaps in prop::collection::vec(0u64..400_000_000, 50..600),
        window_ms in 1u64..20_000,
    ) {
        let times = admitted_times(b as f64, r as f64, RefillMode::PerSecondTick, &gaps);
        let mut j = 0;
        let w = window_ms * 1_000_000;
        for i in 0..times.len() {
            while j < times.len() && times[j] <= times[i] + w { j += 1; }
            let ticks = times[j - 1] / SECOND - times[i] / SECOND;
            prop_assert!((j - i) as u64 <= b as u64 + r as u64 * ticks);
        }
    }
}

#[test]
fn a_saturating_stream_gets_exactly_the_bound() {
    // 1000 requests per second over [0, 10 s] into 50 / 5 per second: 50 + 5·10 admitted.
    let mut gaps = vec![1_000_000u64; 10_001];
    gaps[0] = 0;
    let times = admitted_times(50.0, 5.0, RefillMode::Continuous, &gaps);
    assert_eq!(times.len(), 100);
}
