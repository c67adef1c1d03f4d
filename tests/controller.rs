//! The controller model against controller-v1.3.8.md: exact call counts, a hand-computed
//! timeline, and the burst's known behaviours.

use enisim::aws::{Action, Ec2Profile};
use enisim::controller::ControllerProfile;
use enisim::engine::{Distribution, Nanos, MILLI, SECOND};
use enisim::scenario::world::World;
use enisim::scenario::{simulate, Model, ScenarioSpec, Settings};
use std::collections::BTreeMap;

fn settings(sets: &[&str]) -> Settings {
    let mut s = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    );
    for kv in sets {
        s.apply_set(kv).unwrap();
    }
    s
}

/// Every EC2 call 100 ms, attach completes 2 s after the call, writes 10 ms, watch 5 ms.
fn fixed_model() -> (Model, Settings) {
    let mut model = Model::embedded();
    let p: &mut Ec2Profile = &mut model.ec2;
    p.latency.default = Distribution::fixed_ms(100.0);
    p.latency.actions.clear();
    p.latency.rejected = Distribution::fixed_ms(20.0);
    p.attachment.attach = Distribution::fixed_ms(2000.0);
    p.attachment.detach = Distribution::fixed_ms(3000.0);
    let mut s = settings(&[
        "enisim.scenario.nodes=1",
        "enisim.scenario.enisPerNode=1",
        "enisim.scenario.layout=one-nodeeni",
        "enisim.whatIf.nodeOrder=sorted",
        "controller.maxConcurrentReconciles=1",
        // The IMDS hop-limit job's DescribeInstances are not the reconciler's calls.
        "imds.autoConfigureHopLimit=false",
    ]);
    s.controller.kubernetes.api_latency = Distribution::fixed_ms(10.0);
    s.controller.kubernetes.watch_delay = Distribution::fixed_ms(5.0);
    (model, s)
}

#[test]
fn one_node_one_eni_timeline_to_the_nanosecond() {
    let (model, s) = fixed_model();
    let w = World::build(&s, &model, 7).unwrap();
    w.create_nodeenis();
    let (converged, _, end) = w.run_to_convergence(60 * SECOND);
    let rec = w.controller.rec.borrow();
    assert_eq!(rec.enis.len(), 1);
    let tl = rec.enis.values().next().unwrap();
    // t = 5 ms: the create event reaches the queue; the first pass adds the finalizer
    // (write done at 15 ms); its event enqueues again at 20 ms.
    // Second pass from 20 ms: verify (no attachments) + status write → 30 ms;
    // GetInstanceENIs → 130 ms; Create → 230 ms; Attach → 330 ms; Modify → 430 ms;
    // DescribeSubnets (cache miss) → 530 ms; status write → 540 ms.
    assert_eq!(tl.created_at, 230 * MILLI);
    assert_eq!(tl.attach_returned_at, Some(330 * MILLI));
    assert_eq!(tl.in_status_at, Some(540 * MILLI));
    let attached = w.server.borrow().attached_at(tl.eni).unwrap();
    assert_eq!(attached, 2_330 * MILLI, "attach call end + 2 s");
    assert_eq!(converged, Some(2_330 * MILLI));
    assert!(end >= converged.unwrap());
    // The first reconciles: finalizer, then create.
    assert_eq!(rec.reconciles[0].start, 5 * MILLI);
    assert_eq!(rec.reconciles[0].end, 15 * MILLI);
    assert_eq!(rec.reconciles[1].start, 20 * MILLI);
    // …then stale check: DescribeInstances + 2 × DescribeENI (→ 840 ms), final write 850 ms.
    assert_eq!(rec.reconciles[1].end, 850 * MILLI);
    let actions: Vec<Action> = w
        .log
        .borrow()
        .iter()
        .filter(|c| c.start >= rec.reconciles[1].start && c.start < rec.reconciles[1].end)
        .map(|c| c.action)
        .collect();
    use Action::*;
    assert_eq!(
        actions,
        vec![
            DescribeNetworkInterfaces,
            CreateNetworkInterface,
            AttachNetworkInterface,
            ModifyNetworkInterfaceAttribute,
            DescribeSubnets,
            DescribeInstances,
            DescribeNetworkInterfaces,
            DescribeNetworkInterfaces,
        ]
    );
    // The status write at 540 ms changed the status: the key was dirty and runs again
    // right after (the self-triggering loop), not 5 minutes later.
    assert_eq!(rec.reconciles[2].start, 850 * MILLI);
}

/// N nodes, M attachments each, converged: every reconcile makes N(1+5M) EC2 calls and
/// N+1 status writes (controller-v1.3.8.md §2 "Steady state").
#[test]
fn steady_state_reconcile_call_counts() {
    for (n, m) in [(1u64, 1u64), (3, 2), (4, 5)] {
        let (model, mut s) = fixed_model();
        s.apply_set(&format!("enisim.scenario.nodes={n}")).unwrap();
        s.apply_set(&format!("enisim.scenario.enisPerNode={m}"))
            .unwrap();
        s.apply_set("enisim.scenario.instanceType=m5.4xlarge")
            .unwrap();
        let w = World::build(&s, &model, 3).unwrap();
        w.create_nodeenis();
        let (converged, _, _) = w.run_to_convergence(600 * SECOND);
        let converged = converged.expect("converges");
        // Back-to-back passes only when lastUpdated (whole seconds) changes; otherwise the
        // 5-minute period: run long enough for several either way.
        w.sim.run_until(converged + 20 * 60 * SECOND);
        let rec = w.controller.rec.borrow();
        let steady: Vec<_> = rec
            .reconciles
            .iter()
            .filter(|r| r.start > converged + SECOND)
            .collect();
        assert!(steady.len() >= 3, "n={n} m={m}");
        for r in steady {
            assert_eq!(r.ec2_calls, n * (1 + 5 * m), "n={n} m={m}");
            assert_eq!(r.status_writes, n + 1, "n={n} m={m}");
        }
    }
}

#[test]
fn a_new_eni_costs_create_attach_modify_and_lookups_only_on_a_cache_miss() {
    let (model, mut s) = fixed_model();
    s.apply_set("enisim.scenario.nodes=2").unwrap();
    let w = World::build(&s, &model, 3).unwrap();
    w.create_nodeenis();
    w.run_to_convergence(120 * SECOND);
    let log = w.log.borrow();
    let count = |a| log.iter().filter(|c| c.action == a).count();
    assert_eq!(count(Action::CreateNetworkInterface), 2);
    assert_eq!(count(Action::AttachNetworkInterface), 2);
    assert_eq!(count(Action::ModifyNetworkInterfaceAttribute), 2);
    // One subnet, one miss: the second node's ENI finds the CIDR cached.
    assert_eq!(count(Action::DescribeSubnets), 1);
}

#[test]
fn default_burst_attaches_all_100() {
    let s = settings(&[]);
    for seed in 1..=3 {
        let r = simulate(&s, &Model::embedded(), seed).unwrap();
        assert_eq!(r.metrics.attached_at_end, 100, "seed {seed}");
        assert!(r.metrics.converged);
        assert_eq!(r.metrics.churned_enis, 0);
    }
}

#[test]
fn too_small_an_instance_churns_on_every_reconcile() {
    // m5.4xlarge: 8 interfaces, 7 secondary: 30 of 100 attachments can never succeed.
    let mut s = settings(&["enisim.scenario.instanceType=m5.4xlarge"]);
    let mut churn = Vec::new();
    for minutes in [5, 10] {
        s.scenario.run.horizon = enisim::controller::profile::GoDuration(minutes * 60 * SECOND);
        let r = simulate(&s, &Model::embedded(), 4).unwrap();
        assert_eq!(r.metrics.attached_at_end, 70);
        assert!(!r.metrics.converged);
        assert!(
            r.attach_failures
                .get("AttachmentLimitExceeded")
                .copied()
                .unwrap_or(0)
                > 0
        );
        churn.push(r.metrics.churned_enis);
    }
    assert!(churn[0] > 30, "{churn:?}");
    assert!(churn[1] > churn[0], "the churn goes on: {churn:?}");
}

fn mean_creation_p95(sets: &[&str], reps: u64) -> f64 {
    let s = settings(sets);
    (0..reps)
        .map(|seed| {
            simulate(&s, &Model::embedded(), 100 + seed)
                .unwrap()
                .metrics
                .eni_creation_p95_s
        })
        .sum::<f64>()
        / reps as f64
}

#[test]
fn more_workers_help_many_nodeenis_but_not_one() {
    let one_1 = mean_creation_p95(
        &[
            "enisim.scenario.layout=one-nodeeni",
            "controller.maxConcurrentReconciles=1",
        ],
        5,
    );
    let one_15 = mean_creation_p95(
        &[
            "enisim.scenario.layout=one-nodeeni",
            "controller.maxConcurrentReconciles=15",
        ],
        5,
    );
    // One key is never reconciled by two workers.
    assert!(
        one_15 >= one_1 * 0.95,
        "one NodeENI: MCR 1 {one_1:.1} s vs 15 {one_15:.1} s"
    );
    let many_1 = mean_creation_p95(
        &[
            "enisim.scenario.layout=nodeeni-per-node",
            "controller.maxConcurrentReconciles=1",
        ],
        5,
    );
    let many_15 = mean_creation_p95(
        &[
            "enisim.scenario.layout=nodeeni-per-node",
            "controller.maxConcurrentReconciles=15",
        ],
        5,
    );
    assert!(
        many_15 < many_1 * 0.5,
        "ten NodeENIs: MCR 1 {many_1:.1} s vs 15 {many_15:.1} s"
    );
}

#[test]
fn same_seed_same_output_with_one_and_two_threads() {
    let s = settings(&[]);
    let model = Model::embedded();
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                use rayon::prelude::*;
                (0..6u64)
                    .into_par_iter()
                    .map(|r| {
                        let rec = simulate(&s, &model, r).unwrap();
                        format!("{:?}{:?}{:?}", rec.metrics, rec.calls, rec.enis)
                    })
                    .collect::<Vec<_>>()
            })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn event_order_is_reproducible() {
    let (model, s) = fixed_model();
    let calls = |seed| {
        let r = simulate(&s, &model, seed).unwrap();
        r.calls
            .iter()
            .map(|c| (c.start, c.end, c.action))
            .collect::<Vec<(Nanos, Nanos, Action)>>()
    };
    assert_eq!(calls(9), calls(9));
    let _: BTreeMap<u8, u8> = BTreeMap::new();
}

/// Two NodeENIs (one subnet each, both deviceIndex 1) on one node, reconciled at once:
/// both Attach at index 1 at the same instant, the second conflicts.
fn index_race(attach_delay_ms: f64, faults: &[(&str, f64)], until: Nanos) -> World {
    let (mut model, mut s) = fixed_model();
    model.ec2.attachment.attach = Distribution::fixed_ms(attach_delay_ms);
    for (a, p) in faults {
        model.ec2.faults.error_probability.insert(a.to_string(), *p);
    }
    for kv in [
        "enisim.scenario.enisPerNode=2",
        "enisim.scenario.layout=subnet-per-nodeeni",
        "enisim.scenario.deviceIndex=default",
        "controller.maxConcurrentReconciles=2",
    ] {
        s.apply_set(kv).unwrap();
    }
    let w = World::build(&s, &model, 7).unwrap();
    w.create_nodeenis();
    w.sim.run_until(until);
    w
}

fn attaches(w: &World) -> Vec<(Nanos, u32, bool)> {
    w.log
        .borrow()
        .iter()
        .filter(|c| c.action == Action::AttachNetworkInterface)
        .map(|c| (c.start, c.device_index.unwrap(), c.error.is_none()))
        .collect()
}

/// C:2206-2210: AWS lists only `attached` ENIs, so the index the first ENI is still
/// attaching at looks free; `findNextAvailableDeviceIndex` returns the conflicting index
/// itself and `attachENI` returns the error with no second Attach; the ENI is deleted.
#[test]
fn index_conflict_with_the_index_free_in_aws_makes_no_second_attach() {
    let w = index_race(2000.0, &[], 1500 * MILLI);
    let a = attaches(&w);
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[0].1, 1);
    assert_eq!(a[1].1, 1);
    assert_eq!(a.iter().filter(|x| x.2).count(), 1);
    let rec = w.controller.rec.borrow();
    assert_eq!(rec.index_conflicts, 1);
    assert_eq!(rec.index_conflicts_unresolved, 1);
    assert_eq!(rec.index_conflict_retries, 0);
    // The losing ENI: Create, Attach (conflict), GetInstanceENIs, Delete.
    let log = w.log.borrow();
    let count = |a| log.iter().filter(|c| c.action == a).count();
    assert_eq!(count(Action::CreateNetworkInterface), 2);
    assert_eq!(count(Action::DeleteNetworkInterface), 1);
    assert_eq!(count(Action::ModifyNetworkInterfaceAttribute), 1);
}

/// C:2213-2215: when AWS already shows the index attached, one retry at the next index
/// AWS shows free, and Modify follows it.
#[test]
fn index_conflict_with_the_index_taken_in_aws_retries_once_at_the_next() {
    let w = index_race(1.0, &[], 1500 * MILLI);
    let a = attaches(&w);
    assert_eq!(a.len(), 3, "{a:?}");
    assert_eq!((a[2].1, a[2].2), (2, true));
    let rec = w.controller.rec.borrow();
    assert_eq!(rec.index_conflict_retries, 1);
    let log = w.log.borrow();
    let count = |a| log.iter().filter(|c| c.action == a).count();
    assert_eq!(count(Action::DeleteNetworkInterface), 0);
    assert_eq!(count(Action::ModifyNetworkInterfaceAttribute), 2);
}

/// C:2199-2202: the AWS look-up fails → the error, no second Attach.
#[test]
fn index_conflict_with_a_failed_look_up_makes_no_second_attach() {
    let w = index_race(2000.0, &[("DescribeNetworkInterfaces", 1.0)], 20 * SECOND);
    let a = attaches(&w);
    assert_eq!(a.len(), 2, "{a:?}");
    let rec = w.controller.rec.borrow();
    assert_eq!(rec.index_conflicts, 1);
    assert_eq!(rec.index_conflicts_unresolved, 0);
    assert_eq!(rec.index_conflict_retries, 0);
}

/// One node, one ENI, converged under `model` (and observed a while); returns the world
/// and the time now.
fn converged_one(model: Model, s: &Settings) -> (World, Nanos) {
    let w = World::build(s, &model, 7).unwrap();
    w.create_nodeenis();
    let (converged, _, _) = w.run_to_convergence(120 * SECOND);
    converged.expect("converges");
    let now = w.sim.now();
    (w, now)
}

fn calls_after(w: &World, t: Nanos, a: Action, dry_run: bool) -> usize {
    w.log
        .borrow()
        .iter()
        .filter(|c| c.start >= t && c.action == a && c.dry_run == dry_run)
        .count()
}

/// C:1221-1236: a cleanup succeeds only if detach, wait and delete all do. A detach that
/// outlasts WaitForENIDetachment's five looks (24.4 s) makes the wait fail (E:874-877);
/// deleteENIIfExists still deletes the ENI after its extra T, but the cleanup reports a
/// failure, so the deletion requeues after T and a second pass finds the ENI gone.
#[test]
fn a_timed_out_wait_fails_the_cleanup_even_when_the_delete_succeeds() {
    let (mut model, s) = fixed_model();
    model.ec2.attachment.detach = Distribution::fixed_ms(30_000.0);
    let (w, t) = converged_one(model, &s);
    w.api.delete_nodeeni(0);
    w.sim.run_until(t + 120 * SECOND);
    let rec = w.controller.rec.borrow();
    assert_eq!(rec.cleanups.len(), 2, "{:?}", rec.cleanups);
    assert!(!rec.cleanups[0].ok);
    assert_eq!(rec.cleanups[0].detach_polls, 5);
    assert!(rec.cleanups[1].ok);
    let passes = rec.reconciles.iter().filter(|r| r.deleting).count();
    assert_eq!(passes, 2);
    assert_eq!(calls_after(&w, t, Action::DeleteNetworkInterface, false), 1);
    assert!(w.cluster.borrow().nodeenis[0].gone);
}

/// C:1086-1088: a DescribeENI error does not stop the cleanup: the force-detach follows.
#[test]
fn a_describe_error_does_not_stop_the_cleanup() {
    let (mut model, s) = fixed_model();
    model
        .ec2
        .faults
        .error_probability
        .insert("DescribeNetworkInterfaces".into(), 1.0);
    let (w, t) = converged_one(model, &s);
    w.api.delete_nodeeni(0);
    w.sim.run_until(t + 60 * SECOND);
    assert!(calls_after(&w, t, Action::DetachNetworkInterface, false) >= 1);
    let rec = w.controller.rec.borrow();
    assert!(
        rec.cleanups.iter().all(|c| !c.ok),
        "describe fails: delete step fails"
    );
}

/// C:1882-1893 with C:1852: a DescribeInstances error means "the instance exists", and
/// the DescribeENI step follows; the unmatched node's attachment is then stale and
/// cleaned up.
#[test]
fn a_describe_instances_error_means_the_instance_exists() {
    let (mut model, s) = fixed_model();
    model
        .ec2
        .faults
        .error_probability
        .insert("DescribeInstances".into(), 1.0);
    let (w, t) = converged_one(model, &s);
    w.api.change_node("node-00", |n| {
        n.labels.remove("ng");
    });
    w.sim.run_until(t + 60 * SECOND);
    assert!(calls_after(&w, t, Action::DetachNetworkInterface, false) >= 1);
    assert!(w.cluster.borrow().nodeenis[0].attachments.is_empty());
}

/// C:1835-1841: a terminated instance is stale at once; no DescribeENI follows.
#[test]
fn a_terminated_instance_costs_one_describe_instances_and_no_describe_eni() {
    let (model, s) = fixed_model();
    let (w, _) = converged_one(model, &s);
    let inst = w.cluster.borrow().nodes[0].instance.unwrap();
    w.api.change_node("node-00", |n| n.deleted = true);
    let t1 = w.sim.now();
    w.server.borrow_mut().terminate_instance(inst, t1);
    w.sim.run_until(t1 + 2 * SECOND);
    let rec = w.controller.rec.borrow();
    let pass = rec
        .reconciles
        .iter()
        .find(|r| r.start >= t1)
        .expect("the node event enqueues the NodeENI");
    let actions: Vec<Action> = w
        .log
        .borrow()
        .iter()
        .filter(|c| c.start >= pass.start && c.start < pass.end)
        .map(|c| c.action)
        .collect();
    // DescribeInstances (terminated → stale), then handleStaleAttachment's DescribeENI,
    // which finds the ENI gone with its instance (DeleteOnTermination).
    assert_eq!(
        actions,
        vec![Action::DescribeInstances, Action::DescribeNetworkInterfaces],
        "{actions:?}"
    );
}

/// The kubelet's Node status posts are Node update events (C:138-150, no predicate) that
/// enqueue every NodeENI matching the node (C:154-186), through the watch delay.
#[test]
fn kubelet_status_posts_enqueue_the_matching_nodeenis() {
    let (model, mut s) = fixed_model();
    for kv in [
        "enisim.scenario.nodes=2",
        "enisim.scenario.layout=nodeeni-per-node",
        "controller.maxConcurrentReconciles=2",
    ] {
        s.apply_set(kv).unwrap();
    }
    s.controller.kubernetes.kubelet = Some(enisim::controller::profile::KubeletSpec {
        node_status_update_frequency: enisim::controller::profile::GoDuration(10 * SECOND),
        node_status_report_frequency: enisim::controller::profile::GoDuration(60 * SECOND),
        update_jitter: 0.0,
    });
    let w = World::build(&s, &model, 7).unwrap();
    w.create_nodeenis();
    w.sim.run_until(20 * 60 * SECOND);
    let posts = w.api.stats.borrow().node_status_posts.clone();
    // Two nodes, one post a minute each, from a phase in the first minute.
    assert!((39..=40).contains(&posts.len()), "{}", posts.len());
    for node in ["node-00", "node-01"] {
        let t: Vec<Nanos> = posts.iter().filter(|p| p.1 == node).map(|p| p.0).collect();
        assert!(t[0] < 60 * SECOND);
        assert!(t.windows(2).all(|w| w[1] - w[0] == 60 * SECOND), "{t:?}");
    }
    let rec = w.controller.rec.borrow();
    let names: Vec<String> = w
        .cluster
        .borrow()
        .nodeenis
        .iter()
        .map(|n| n.name.clone())
        .collect();
    // Once converged, every post is followed 5 ms later (the watch delay) by a pass of
    // that node's NodeENI, and of no other NodeENI.
    for (t, node) in posts.iter().filter(|p| p.0 > 60 * SECOND) {
        let started: Vec<&str> = rec
            .reconciles
            .iter()
            .filter(|r| r.start == t + 5 * MILLI)
            .map(|r| names[r.key as usize].as_str())
            .collect();
        assert_eq!(started, vec![format!("multi-eni-{node}")], "post at {t}");
    }
}

/// The default profile: 10 s ticks with 4 % jitter, a post at the first tick ≥ 5 min
/// after the last (kubelet defaults).
#[test]
fn default_kubelet_posts_every_five_minutes_and_a_bit() {
    let (model, mut s) = fixed_model();
    s.controller.kubernetes.kubelet = ControllerProfile::embedded().kubernetes.kubelet;
    assert!(s.controller.kubernetes.kubelet.is_some());
    let w = World::build(&s, &model, 7).unwrap();
    w.create_nodeenis();
    w.sim.run_until(60 * 60 * SECOND);
    let posts: Vec<Nanos> = w
        .api
        .stats
        .borrow()
        .node_status_posts
        .iter()
        .map(|p| p.0)
        .collect();
    assert!(posts.len() >= 11, "{}", posts.len());
    assert!(posts[0] < 300 * SECOND);
    for g in posts.windows(2).map(|w| w[1] - w[0]) {
        assert!((300 * SECOND..=312 * SECOND).contains(&g), "{g}");
    }
}

/// v1.3.8 parses CIRCUIT_BREAKER_ENABLED and builds the breaker, but no AWS call goes
/// through it (C:99-114, C:446): setting it changes nothing, and the library says so.
#[test]
fn circuit_breaker_enabled_changes_nothing_and_is_named_as_inert() {
    let on = settings(&["enisim.env.CIRCUIT_BREAKER_ENABLED=true"]);
    let off = settings(&["enisim.env.CIRCUIT_BREAKER_ENABLED=false"]);
    let a = simulate(&on, &Model::embedded(), 3).unwrap();
    let b = simulate(&off, &Model::embedded(), 3).unwrap();
    assert_eq!(a.calls, b.calls);
    assert_eq!(a.metrics, b.metrics);
    let w = off.controller.warnings([
        "enisim.env.CIRCUIT_BREAKER_ENABLED",
        "controller.maxConcurrentReconciles",
    ]);
    assert_eq!(
        w,
        vec![enisim::controller::profile::CIRCUIT_BREAKER_ENABLED_WARNING.to_string()]
    );
    assert!(w[0].contains("has no effect in v1.3.8"));
    // Under the what-if the flag decides whether the wired breaker exists (C:100).
    let wired = settings(&[
        "enisim.whatIf.circuitBreaker=v1.3.8",
        "enisim.env.CIRCUIT_BREAKER_ENABLED=false",
    ]);
    assert!(wired
        .controller
        .warnings(["enisim.env.CIRCUIT_BREAKER_ENABLED"])
        .is_empty());
    let w = World::build(&wired, &Model::embedded(), 1).unwrap();
    assert!(w.ops.breaker().is_none());
}

/// Reviewer outputs: every attempt carries its caller, worker and SDK call id; each
/// reconcile's EC2 calls and status writes are its own, also with several workers.
#[test]
fn reconciles_status_writes_and_call_ids_add_up() {
    let s = settings(&[]);
    let r = simulate(&s, &Model::embedded(), 2).unwrap();
    // Calls start in [start, end) of their reconcile; writes complete in (start, end].
    // Attempts of one call id: one action, one caller and worker, attempts 1, 2, …
    let mut by_id: BTreeMap<u64, Vec<&enisim::aws::CallRecord>> = BTreeMap::new();
    for c in &r.calls {
        by_id.entry(c.call_id).or_default().push(c);
    }
    for (id, v) in &by_id {
        for (i, c) in v.iter().enumerate() {
            assert_eq!(c.attempt as usize, i + 1, "call {id}");
            assert_eq!(
                (c.action, c.caller, c.worker),
                (v[0].action, v[0].caller, v[0].worker)
            );
        }
    }
    assert!(r
        .calls
        .iter()
        .any(|c| c.caller == enisim::aws::Caller::ImdsJob && c.worker.is_none()));
    assert!(!r.reconciles.is_empty());
    for rec in &r.reconciles {
        let calls = by_id
            .values()
            .filter(|v| {
                v[0].caller == enisim::aws::Caller::Controller
                    && v[0].worker == Some(rec.worker)
                    && enisim::engine::time::to_secs(v[0].start) >= rec.start_s
                    && enisim::engine::time::to_secs(v[0].start) < rec.end_s
            })
            .count() as u64;
        assert_eq!(calls, rec.ec2_calls, "{rec:?}");
        let writes = r
            .status_writes
            .iter()
            .filter(|w| {
                w.worker == Some(rec.worker) && w.time_s > rec.start_s && w.time_s <= rec.end_s
            })
            .count() as u64;
        assert_eq!(writes, rec.status_writes, "{rec:?}");
    }
    let kinds = |k: &str| r.status_writes.iter().filter(|w| w.kind == k).count();
    assert_eq!(
        kinds("new-attachment") as u64,
        r.metrics.enis_created - r.metrics.churned_enis
    );
    assert!(kinds("verify") > 0 && kinds("final") > 0);
}
