//! The other tenants of a trail, as recorded calls to replay: every call that is not the
//! controller's, in its recorded second and with its recorded action, optionally thinned or
//! duplicated.

use super::ReplayError;
use crate::aws::tenants::{RecordedCall, RecordedTenants};
use crate::aws::Action;
use crate::engine::SECOND;
use crate::trace::CLASS_CONTROLLER;
use crate::workload::Columns;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the trail's other tenants did, per caller class.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TenantSummary {
    /// Recorded calls per class (every action).
    pub calls: BTreeMap<String, u64>,
    /// Recorded throttled calls per class.
    pub throttled: BTreeMap<String, u64>,
    /// Calls replayed per class (after `--tenants-scale`), on actions the model has.
    pub replayed: BTreeMap<String, u64>,
    /// Recorded calls of actions the model has no bucket for, per action: left out.
    pub left_out: BTreeMap<String, u64>,
    pub scale: f64,
}

/// SplitMix64: a stateless, well-mixed hash of a call's index (the same thinning whatever
/// else the replay does).
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How many copies of recorded call `i` a scale `x` replays: ⌊x⌋, plus one more for a
/// deterministic fraction x − ⌊x⌋ of the calls.
pub fn copies(i: u64, x: f64) -> u32 {
    let whole = x.floor();
    let u = (mix(i) >> 11) as f64 / (1u64 << 53) as f64;
    whole as u32 + u32::from(u < x - whole)
}

/// The scale's check: finite and > 0.
pub fn check_scale(x: f64) -> Result<f64, ReplayError> {
    if x.is_finite() && x > 0.0 && x <= 1000.0 {
        Ok(x)
    } else {
        Err(ReplayError::BadScale(x))
    }
}

/// The recorded tenant calls of `c` (rows of the chosen scope), in their seconds relative
/// to `start_ns`, scaled by `scale`, a second's calls in table order. Where in its second
/// each arrives is drawn per replication ([`RecordedTenants::arrivals`]). Describes are
/// taken as filtered (the table does not keep a call's filter set; assumption).
pub(crate) fn recorded_tenants(
    c: &Columns,
    start_ns: i64,
    scale: f64,
) -> (RecordedTenants, TenantSummary) {
    let scale = check_scale(scale).unwrap_or(1.0);
    let mut names: Vec<String> = Vec::new();
    let mut summary = TenantSummary {
        scale,
        ..TenantSummary::default()
    };
    let mut calls: Vec<RecordedCall> = Vec::new();
    let mut index = 0u64;
    for &i in &c.rows {
        let class = Columns::str(&c.class, i).unwrap_or("other");
        if class == CLASS_CONTROLLER {
            continue;
        }
        *summary.calls.entry(class.to_string()).or_default() += 1;
        if c.throttled[i] {
            *summary.throttled.entry(class.to_string()).or_default() += 1;
        }
        let name = Columns::str(&c.action, i).unwrap_or("");
        let Some(action) = Action::from_name(name) else {
            *summary.left_out.entry(name.to_string()).or_default() += 1;
            continue;
        };
        let tenant = match names.iter().position(|n| n == class) {
            Some(k) => k as u32,
            None => {
                names.push(class.to_string());
                (names.len() - 1) as u32
            }
        };
        let n = copies(index, scale);
        index += 1;
        *summary.replayed.entry(class.to_string()).or_default() += u64::from(n);
        let second = (c.time[i] - start_ns).div_euclid(SECOND as i64).max(0) as u64;
        for _ in 0..n {
            calls.push(RecordedCall {
                second,
                action,
                filtered: true,
                tenant,
            });
        }
    }
    // Stable: a second's calls keep the table's order.
    calls.sort_by_key(|c| c.second);
    (RecordedTenants { names, calls }, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_thins_and_duplicates_deterministically() {
        let total = |x: f64| {
            (0..100_000u64)
                .map(|i| u64::from(copies(i, x)))
                .sum::<u64>()
        };
        assert_eq!(total(1.0), 100_000);
        assert_eq!(total(2.0), 200_000);
        assert_eq!(total(3.0), 300_000);
        let half = total(0.5);
        assert!((half as i64 - 50_000).abs() < 1_000, "{half}");
        let more = total(1.25);
        assert!((more as i64 - 125_000).abs() < 1_000, "{more}");
        assert_eq!(total(0.5), half, "the same calls every time");
        // Thinning keeps a subset of what a larger fraction keeps.
        assert!((0..10_000).all(|i| copies(i, 0.3) <= copies(i, 0.6)));
    }

    #[test]
    fn a_scale_must_be_positive() {
        for x in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(check_scale(x).is_err(), "{x}");
        }
        assert_eq!(check_scale(0.25).unwrap(), 0.25);
    }
}
