//! A recorded throttle no token bucket can make (the trail's very first call, with every
//! bucket full) leaves the consistent set empty: the assumption is kept, reported not
//! identified with its plausible range as the interval, and a warning says so.

mod calibrate_common;

use calibrate_common::{opts, settings};
use enisim::calibrate::{calibrate, simulate::simulated_trail};
use enisim::scenario::Model;

#[test]
fn an_impossible_throttle_keeps_the_assumed_bucket() {
    let s = settings();
    let model = Model::embedded();
    let mut trail = simulated_trail(&s, &model, 3, 0).unwrap();
    let first = trail
        .calls
        .iter_mut()
        .find(|c| c.action == "DescribeNetworkInterfaces")
        .unwrap();
    first.throttled = true;
    first.error = Some("RequestLimitExceeded".into());
    let cal = calibrate(&trail, "impossible", &model, &s, &opts(3), &|_, _, _| {}).unwrap();
    let set = cal
        .buckets
        .iter()
        .find(|b| b.action == "DescribeNetworkInterfaces")
        .unwrap();
    assert!(
        set.consistent.is_empty() && !set.lower_bound_only,
        "{set:?}"
    );
    for key in ["max", "refill_per_s"] {
        let name = format!("ec2.bucket.DescribeNetworkInterfaces.{key}");
        let p = cal.parameters.iter().find(|p| p.name == name).unwrap();
        assert!(!p.identified, "{p:?}");
        assert_eq!([p.low, p.high], p.prior_range, "{p:?}");
        assert!(p.low.is_finite() && p.high.is_finite(), "{p:?}");
    }
    assert!(
        cal.warnings
            .iter()
            .any(|w| w.contains("no bucket in the plausible grid reproduces")),
        "{:?}",
        cal.warnings
    );
}
