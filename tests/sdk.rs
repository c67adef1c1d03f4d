//! The SDK client against aws-ec2.md §4: attempts, back-off bounds, the retry quota and
//! the error text the controller's wrappers read.

use enisim::aws::profile::{BucketSpec, Window};
use enisim::aws::sdk::SdkErrorKind;
use enisim::aws::server::{EniQuery, Request};
use enisim::aws::{CallRecord, Ec2Client, Ec2Profile, Ec2Server, InstanceTypes, RetryMode};
use enisim::engine::{Sim, SECOND};
use std::cell::RefCell;
use std::rc::Rc;

struct Rig {
    sim: Sim,
    client: Ec2Client,
    log: Rc<RefCell<Vec<CallRecord>>>,
    instance: enisim::aws::InstanceId,
}

/// DescribeInstances has one token and no refill: every attempt after the first is
/// throttled.
fn rig(mode: RetryMode, profile: impl FnOnce(&mut Ec2Profile)) -> Rig {
    let mut p = Ec2Profile::embedded();
    p.throttling.actions.insert(
        "DescribeInstances".into(),
        BucketSpec {
            max: 1.0,
            refill_per_s: 0.0,
        },
    );
    profile(&mut p);
    let sim = Sim::new();
    let mut server = Ec2Server::new(&p, 11);
    let subnet = server.add_subnet("s");
    let instance = server.add_instance(
        InstanceTypes::embedded().get("m5.large").unwrap(),
        subnet,
        0,
    );
    let server = Rc::new(RefCell::new(server));
    let log = Rc::new(RefCell::new(Vec::new()));
    let client = Ec2Client::new(&sim.handle(), server, mode, None, 5).with_log(log.clone());
    Rig {
        sim,
        client,
        log,
        instance,
    }
}

fn describe(rig: &Rig) -> Request {
    Request::DescribeInstances {
        ids: vec![rig.instance],
    }
}

/// Runs `n` calls one after another; returns their results.
fn run_calls(rig: &Rig, n: usize, req: Request) -> Vec<Result<(), SdkErrorKind>> {
    let out = Rc::new(RefCell::new(Vec::new()));
    let (c, o) = (rig.client.clone(), out.clone());
    rig.sim.spawn(async move {
        for _ in 0..n {
            let r = c.call(req.clone()).await;
            o.borrow_mut().push(r.map(|_| ()).map_err(|e| e.kind));
        }
    });
    rig.sim.run();
    let v = out.borrow().clone();
    v
}

#[test]
fn standard_mode_makes_three_attempts_with_jittered_backoff() {
    let r = rig(RetryMode::V2Standard, |_| {});
    let results = run_calls(&r, 21, describe(&r));
    assert!(results[0].is_ok());
    for res in &results[1..] {
        assert!(matches!(
            res,
            Err(SdkErrorKind::MaxAttempts { attempts: 3, .. })
        ));
    }
    let log = r.log.borrow();
    assert_eq!(log.len(), 1 + 20 * 3);
    let (mut max1, mut max2) = (0, 0);
    for call in log[1..].chunks(3) {
        assert_eq!(
            call.iter().map(|c| c.attempt).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        let d1 = call[1].start - call[0].end;
        let d2 = call[2].start - call[1].end;
        assert!(d1 < 2 * SECOND, "retry 1 waits U[0,2) s, got {d1}");
        assert!(d2 < 4 * SECOND, "retry 2 waits U[0,4) s, got {d2}");
        max1 = max1.max(d1);
        max2 = max2.max(d2);
    }
    // The jitter spans its range (20 draws each).
    assert!(max1 > SECOND && max2 > 2 * SECOND, "{max1} {max2}");
}

#[test]
fn quota_is_exhausted_after_100_failed_retries_and_drops_the_throttle_code() {
    let r = rig(RetryMode::V2Standard, |_| {});
    let results = run_calls(&r, 52, describe(&r));
    // Call 0 succeeds (+1, capped at 500). Calls 1..=50 spend 2 retries × 5 tokens each.
    assert_eq!(r.client.quota(), 0);
    assert!(matches!(results[50], Err(SdkErrorKind::MaxAttempts { .. })));
    match &results[51] {
        Err(
            k @ SdkErrorKind::QuotaExceeded {
                available,
                requested,
            },
        ) => {
            assert_eq!((*available, *requested), (0, 5));
            let text = enisim::aws::SdkError {
                action: enisim::aws::Action::DescribeInstances,
                kind: k.clone(),
            }
            .text();
            assert!(text.contains("retry quota exceeded, 0 available, 5 requested"));
            assert!(!text.contains("RequestLimitExceeded"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.client.stats().retries, 100);
    // The last max-attempts error still names the throttle, so a wrapper retries it.
    let e = enisim::aws::SdkError {
        action: enisim::aws::Action::DescribeInstances,
        kind: results[50].clone().unwrap_err(),
    };
    assert!(e.text().contains("RequestLimitExceeded"), "{}", e.text());
}

#[test]
fn a_successful_retry_refunds_its_cost_plus_one() {
    // Outage for the first 100 ms: calls fail, then succeed after a retry.
    let r = rig(RetryMode::V2Standard, |p| {
        p.faults.outages.push(Window {
            start_s: 0.0,
            end_s: 0.1,
        });
    });
    let req = Request::DescribeNetworkInterfaces(EniQuery::AttachedToInstance(r.instance));
    let results = run_calls(&r, 30, req);
    // Recompute the quota from the attempts, by the rules of aws-ec2.md §4.
    let mut quota: i64 = 500;
    let log = r.log.borrow();
    let mut i = 0;
    for res in &results {
        let mut attempts = vec![&log[i]];
        i += 1;
        while i < log.len() && log[i].attempt > 1 {
            attempts.push(&log[i]);
            i += 1;
        }
        let retries = attempts.len() as i64 - 1;
        quota -= 5 * retries;
        if res.is_ok() {
            quota += if retries > 0 { 5 } else { 0 } + 1;
        }
        quota = quota.min(500);
    }
    assert_eq!(i, log.len());
    assert!(
        log.iter().any(|c| c.attempt > 1),
        "the outage forces retries"
    );
    assert!(results.iter().any(|r| r.is_ok()));
    assert_eq!(r.client.quota() as i64, quota);
}

#[test]
fn v1_retries_three_times_without_a_quota() {
    let r = rig(RetryMode::V1, |_| {});
    let results = run_calls(&r, 200, describe(&r));
    assert!(results[1..]
        .iter()
        .all(|x| matches!(x, Err(SdkErrorKind::MaxAttempts { attempts: 4, .. }))));
    let log = r.log.borrow();
    for call in log[1..].chunks(4) {
        // Throttle delays: 2^k · U[500 ms, 1 s).
        for k in 0..3usize {
            let d = call[k + 1].start - call[k].end;
            let lo = (1u64 << k) * 500_000_000;
            assert!(d >= lo && d < 2 * lo, "retry {k}: {d}");
        }
    }
}

#[test]
fn v2_2026_throttle_retries_start_at_one_second() {
    let r = rig(RetryMode::V2Retries2026, |_| {});
    run_calls(&r, 40, describe(&r));
    let log = r.log.borrow();
    for call in log[1..].chunks(3) {
        assert!(call[1].start - call[0].end < SECOND);
        assert!(call[2].start - call[1].end < 2 * SECOND);
    }
    // 39 calls × 2 throttle retries × 5 = 390 tokens spent, no success after the first.
    assert_eq!(r.client.quota(), 500 - 390);
}

#[test]
fn adaptive_mode_slows_the_sender_after_a_throttle() {
    let mut base = rig(RetryMode::V2Standard, |_| {});
    let mut adaptive = rig(RetryMode::V2Adaptive, |_| {});
    for r in [&mut base, &mut adaptive] {
        run_calls(r, 30, describe(r));
    }
    assert_eq!(base.client.stats().adaptive_wait, 0);
    assert!(adaptive.client.stats().adaptive_wait > 0);
    let span = |r: &Rig| r.log.borrow().last().unwrap().end;
    assert!(span(&adaptive) > span(&base));
}

/// aws/retry/adaptive.go: the attempt token is `handleResponse` (send-rate update only,
/// `GetAttemptToken`) and the initial token `nopRelease`, so a successful attempt adds
/// nothing to the retry quota, where Standard adds NoRetryIncrement (1) per success.
#[test]
fn adaptive_mode_adds_no_quota_per_successful_attempt() {
    for (mode, expected) in [(RetryMode::V2Standard, 495), (RetryMode::V2Adaptive, 490)] {
        let r = rig(mode, |_| {});
        // DescribeInstances: the first call takes the only token; the second is throttled
        // three times (2 retries × 5, never refunded): 490 left.
        let results = run_calls(&r, 2, describe(&r));
        assert!(results[1].is_err());
        assert_eq!(r.client.quota(), 490);
        // Five successful DescribeNetworkInterfaces calls.
        let ok = run_calls(
            &r,
            5,
            Request::DescribeNetworkInterfaces(EniQuery::AttachedToInstance(r.instance)),
        );
        assert!(ok.iter().all(|x| x.is_ok()));
        assert_eq!(r.client.quota(), expected, "{mode:?}");
    }
}

/// `SdkJitter::Max`: every back-off draw at its maximum — standard mode waits exactly
/// 2 s then 4 s (u·2^n with u = 1) between the three attempts of a throttled call.
#[test]
fn max_jitter_makes_every_backoff_its_maximum() {
    let mut r = rig(RetryMode::V2Standard, |p| {
        p.latency.rejected = enisim::engine::Distribution::fixed_ms(0.0);
        p.latency.default = enisim::engine::Distribution::fixed_ms(0.0);
    });
    r.client = {
        let log = Rc::new(RefCell::new(Vec::new()));
        r.log = log.clone();
        Ec2Client::new(
            &r.sim.handle(),
            r.client.server().clone(),
            RetryMode::V2Standard,
            None,
            5,
        )
        .with_log(log)
        .with_jitter(enisim::aws::SdkJitter::Max)
    };
    run_calls(&r, 2, describe(&r));
    let log = r.log.borrow();
    // The second call's attempts: the waits between one's end and the next's start.
    let waits: Vec<u64> = log[1..].windows(2).map(|w| w[1].start - w[0].end).collect();
    assert_eq!(waits, vec![2 * SECOND, 4 * SECOND]);
}

/// `latency.rejected_actions`: a throttled attempt of a listed action takes its own
/// latency; other actions keep `latency.rejected`.
#[test]
fn throttled_attempts_take_the_per_action_rejected_latency() {
    let r = rig(RetryMode::V2Standard, |p| {
        p.latency.rejected = enisim::engine::Distribution::fixed_ms(20.0);
        p.latency.rejected_actions.insert(
            "DescribeInstances".into(),
            enisim::engine::Distribution::fixed_ms(70.0),
        );
    });
    run_calls(&r, 2, describe(&r));
    let log = r.log.borrow();
    let throttled: Vec<u64> = log
        .iter()
        .filter(|c| c.error.is_some())
        .map(|c| c.end - c.start)
        .collect();
    assert_eq!(throttled.len(), 3);
    assert!(
        throttled.iter().all(|d| *d == 70 * enisim::engine::MILLI),
        "{throttled:?}"
    );
}
