//! Other tenants' calls as a recording showed them (`enisim replay`): each call in its
//! recorded second and with its recorded action, drawing on the same bucket as the
//! controller's calls of that action — not a Poisson stream. And what the buckets did with
//! every tenant call, Poisson or recorded, so a run can show them beside the controller's own.

use super::action::Action;
use crate::engine::{rng, Nanos, SECOND};
use rand::RngExt;
use std::fmt;

/// One recorded call of another tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedCall {
    /// The virtual second it reached EC2 in: a trail's eventTime has one-second resolution,
    /// so where in that second is drawn per replication ([`RecordedTenants::arrivals`]).
    pub second: u64,
    pub action: Action,
    /// Filtered (or naming ids) rather than an unfiltered, unpaginated describe.
    pub filtered: bool,
    /// Index into [`RecordedTenants::names`].
    pub tenant: u32,
}

/// Other tenants' recorded calls, in time order (a second's calls in their recorded order),
/// with the tenants' names (caller classes).
#[derive(Clone, PartialEq, Default)]
pub struct RecordedTenants {
    pub names: Vec<String>,
    pub calls: Vec<RecordedCall>,
}

impl fmt::Debug for RecordedTenants {
    // A million calls are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RecordedTenants {{ names: {:?}, calls: {} }}",
            self.names,
            self.calls.len()
        )
    }
}

/// The named random stream of a replication that places recorded calls within their second.
pub const WITHIN_SECOND_STREAM: &str = "replay.tenants.within-second";

impl RecordedTenants {
    /// When each call (in [`RecordedTenants::calls`]' order) reaches EC2 in the replication
    /// seeded `seed`. Only a second's count k is recorded; given k, the arrival times of a
    /// Poisson stream in that second are k independent uniform points (their order
    /// statistics) — the exact conditional distribution — so that is what is drawn, from
    /// the replication's own stream: the same seed places them identically, another
    /// replication elsewhere, and the replications carry the uncertainty. The drawn offsets
    /// are sorted so a second's calls keep their recorded order. (Spreading them evenly
    /// instead throttles too few calls where a bucket is near its limit: BENCHMARKS.md.)
    pub fn arrivals(&self, seed: u64) -> Vec<Nanos> {
        let mut r = rng::stream(seed, WITHIN_SECOND_STREAM);
        let mut out = Vec::with_capacity(self.calls.len());
        for group in self.calls.chunk_by(|a, b| a.second == b.second) {
            let start = out.len();
            let base = group[0].second * SECOND;
            out.extend((0..group.len()).map(|_| base + r.random_range(0..SECOND)));
            out[start..].sort_unstable();
        }
        out
    }
}

/// What EC2 did with one tenant call (Poisson or recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantCall {
    pub at: Nanos,
    pub action: Action,
    /// Index into the run's tenant names.
    pub tenant: u32,
    pub throttled: bool,
    /// Drawn on a filtered bucket (a describe that names a filter), not the unfiltered one.
    pub filtered: bool,
    /// An admitted call that failed with a server error (the profile's error probability).
    pub failed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenants(seconds: &[u64]) -> RecordedTenants {
        RecordedTenants {
            names: vec!["t".into()],
            calls: seconds
                .iter()
                .map(|&second| RecordedCall {
                    second,
                    action: Action::DescribeNetworkInterfaces,
                    filtered: true,
                    tenant: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn each_call_arrives_in_its_second_in_recorded_order() {
        let t = tenants(&[0, 0, 0, 3, 7, 7]);
        let a = t.arrivals(5);
        assert_eq!(a.len(), 6);
        for (c, at) in t.calls.iter().zip(&a) {
            assert_eq!(at / SECOND, c.second);
        }
        assert!(a.windows(2).all(|w| w[0] <= w[1]), "{a:?}");
        assert_eq!(t.arrivals(5), a, "the same seed, the same places");
        assert_ne!(t.arrivals(6), a, "another replication, other places");
    }

    #[test]
    fn a_seconds_calls_are_the_order_statistics_of_uniform_points() {
        // k uniform points in a second: the j-th of them is at j/(k+1) s on average, with
        // variance j(k+1−j)/((k+1)²(k+2)) s².
        let k = 4usize;
        let n = 20_000u64;
        let t = tenants(&vec![0; k]);
        let mut sum = vec![0.0; k];
        for seed in 0..n {
            for (j, at) in t.arrivals(seed).iter().enumerate() {
                sum[j] += *at as f64 / SECOND as f64;
            }
        }
        for (j, s) in sum.iter().enumerate() {
            let j1 = (j + 1) as f64;
            let k1 = (k + 1) as f64;
            let mean = j1 / k1;
            let sd = (j1 * (k1 - j1) / (k1 * k1 * (k1 + 1.0)) / n as f64).sqrt();
            let got = s / n as f64;
            assert!((got - mean).abs() < 4.0 * sd, "point {j}: {got} vs {mean}");
        }
    }
}
