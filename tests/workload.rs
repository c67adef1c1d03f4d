//! The recorded workload (`enisim::workload`): reconstructed from a simulated run's trail it
//! is the run's workload; the audit-log path gives the same; it becomes a scenario file
//! `enisim run` reads and that simulates the same attachments; bad input names file, record
//! or line, and key.

use enisim::controller::ControllerProfile;
use enisim::metrics::RunRecord;
use enisim::scenario::{simulate, simulate_replication, Model, ScenarioSpec, Settings};
use enisim::trace::{synth, synth_calls_with_enis, SynthCall, SynthOptions};
use enisim::workload::{
    audit_log_of_run, AuditOptions, Reconstruction, RecordedWorkload, Scope, Trail, WorkloadError,
};
use std::path::Path;

fn settings(scenario: &str, sets: &[&str]) -> Settings {
    let mut s = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded(scenario).unwrap(),
    );
    for kv in sets {
        s.apply_set(kv).unwrap();
    }
    s
}

/// One replication and its synthetic trail, ingested.
fn run_and_trail(s: &Settings, dir: &Path) -> (RunRecord, Trail) {
    let run = simulate_replication(s, &Model::embedded(), 1, 0).unwrap();
    synth(
        &synth_calls_with_enis(&run.calls, &run.enis),
        &SynthOptions::default(),
        dir,
    )
    .unwrap();
    let trail = Trail::load(&[dir.to_path_buf()]).unwrap();
    (run, trail)
}

const SMALL: [&str; 2] = ["enisim.scenario.nodes=3", "enisim.scenario.enisPerNode=2"];

#[test]
fn a_burst_trail_gives_the_runs_workload() {
    let dir = tempfile::tempdir().unwrap();
    let (run, trail) = run_and_trail(&settings("burst", &SMALL), dir.path());
    let w = RecordedWorkload::from_trail(&trail, &Scope::default()).unwrap();
    // subnet-per-nodeeni: one NodeENI per subnet, each on every node, all at t = 0.
    let names: Vec<&str> = w.nodeenis.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["multi-eni-0", "multi-eni-1"]);
    for (i, e) in w.nodeenis.iter().enumerate() {
        // Created at t = 0 (one busy period from the first call), though one NodeENI's
        // first Create waited for the single worker.
        assert_eq!(e.created_s, 0.0, "{e:?}");
        assert_eq!(e.deleted_s, None);
        assert_eq!(e.nodes, ["node-00", "node-01", "node-02"]);
        assert_eq!(e.subnets.len(), 1);
        assert_eq!(e.device_index, i as u32 + 1, "distinct device indices");
    }
    assert_eq!(w.subnets.len(), 2);
    assert_eq!(w.desired_attachments(), 6);
    assert_eq!(w.attachments.len(), 6);
    assert!(w
        .nodes
        .iter()
        .all(|n| n.instance.is_some() && n.removed_s.is_none()));
    // Each attachment's times are the run's, at CloudTrail's one-second resolution.
    for a in &w.attachments {
        let row = run
            .enis
            .iter()
            .find(|r| Some(&r.eni) == a.eni.as_ref())
            .expect("the attached ENI is one of the run's");
        assert_eq!(
            (row.nodeeni.as_str(), row.node.as_str()),
            (a.nodeeni.as_str(), a.node.as_str())
        );
        let created = a.created_s.unwrap();
        assert!(
            created <= row.created_s && row.created_s < created + 1.0,
            "{a:?} {row:?}"
        );
    }
    assert!(w.all_attached_s().is_some());
    assert_eq!(w.chain_durations().len(), 2);
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
}

/// The busy gap is an assumption (models/workload/reconstruction.yaml) and it decides when
/// a NodeENI that waited for the worker was created: at 10 s (the default) the burst's
/// NodeENIs all start at 0; at 0 s each starts at its own first Create, one of them later.
#[test]
fn the_busy_gap_assumption_decides_when_a_waiting_nodeeni_was_created() {
    let dir = tempfile::tempdir().unwrap();
    let (_, trail) = run_and_trail(&settings("burst", &SMALL), dir.path());
    let default = RecordedWorkload::from_trail(&trail, &Scope::default()).unwrap();
    let same =
        RecordedWorkload::from_trail_with(&trail, &Scope::default(), &Reconstruction::embedded())
            .unwrap();
    assert_eq!(default, same);
    assert!(default.nodeenis.iter().all(|e| e.created_s == 0.0));
    let file = dir.path().join("reconstruction.yaml");
    std::fs::write(
        &file,
        "busy_gap_s: 0
",
    )
    .unwrap();
    let none = Reconstruction::load(&file).unwrap();
    let w = RecordedWorkload::from_trail_with(&trail, &Scope::default(), &none).unwrap();
    for e in &w.nodeenis {
        let first = w
            .attachments
            .iter()
            .filter(|a| a.nodeeni == e.name)
            .map(|a| a.first_asked_s)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(e.created_s, first, "{e:?}");
    }
    assert!(
        w.nodeenis.iter().any(|e| e.created_s > 0.0),
        "{:?}",
        w.nodeenis
    );
    // Everything else is the same workload.
    assert_eq!(w.attachments, default.attachments);
}

#[test]
fn the_scenario_file_round_trips_and_simulates_the_same_attachments() {
    let dir = tempfile::tempdir().unwrap();
    let (run, trail) = run_and_trail(&settings("burst", &SMALL), dir.path());
    let w = RecordedWorkload::from_trail(&trail, &Scope::default()).unwrap();
    let scenario = w.scenario(&ScenarioSpec::embedded("burst").unwrap());
    let text = w.scenario_yaml(&scenario);
    let back = ScenarioSpec::from_str(Path::new("recorded.yaml"), &text).unwrap();
    assert_eq!(back, scenario);
    let s = Settings::new(ControllerProfile::embedded(), back);
    let replayed = simulate(&s, &Model::embedded(), 7).unwrap();
    assert!(replayed.metrics.converged);
    assert_eq!(replayed.metrics.desired_attachments, 6);
    assert_eq!(replayed.metrics.attached_at_end, 6);
    // The same (NodeENI, node) pairs as the recorded run (subnets are the recorded ids).
    let pairs = |r: &RunRecord| {
        let mut v: Vec<(String, String)> = r
            .enis
            .iter()
            .filter(|e| e.ec2_attached_s.is_some())
            .map(|e| (e.nodeeni.clone(), e.node.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(pairs(&replayed), pairs(&run));
}

#[test]
fn a_scale_down_shows_its_deletions_and_the_audit_log_gives_the_same_workload() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings("scale-down", &SMALL);
    let (run, trail) = run_and_trail(&s, dir.path());
    let w = RecordedWorkload::from_trail(&trail, &Scope::default()).unwrap();
    let delete_at = run
        .reconciles
        .iter()
        .filter(|r| r.deleting)
        .map(|r| r.start_s)
        .fold(f64::INFINITY, f64::min);
    for e in &w.nodeenis {
        let d = e.deleted_s.expect("every NodeENI was deleted");
        assert!(
            d >= delete_at.floor() && d <= delete_at + 3.0,
            "{d} vs {delete_at}"
        );
    }
    assert!(w.nodes.iter().all(|n| n.removed_s.is_none()));
    // The audit log of the same run, beside the trail.
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, audit_log_of_run(&run, trail_start(&trail))).unwrap();
    let a = RecordedWorkload::from_audit_log(&log, Some(&trail), &AuditOptions::default()).unwrap();
    assert_eq!(a.start_ns, w.start_ns);
    assert_same_workload(&a, &w);
    assert_eq!(a.attachments, w.attachments);
    // From the audit log alone: the same NodeENIs, nodes and subnets.
    let alone = RecordedWorkload::from_audit_log(&log, None, &AuditOptions::default()).unwrap();
    assert_same_workload(&alone, &w);
}

fn trail_start(t: &Trail) -> i64 {
    let c = t.df.column("time").unwrap().i64().unwrap().get(0).unwrap();
    // Virtual time 0 of the synthetic trail (SynthOptions::default's start).
    assert_eq!(c / 1_000_000_000, 1_735_689_600);
    1_735_689_600_000_000_000
}

/// Same NodeENIs, nodes, subnets and device indices; times within the trail's resolution
/// (the audit log has the exact times, the trail the controller's first calls).
fn assert_same_workload(a: &RecordedWorkload, b: &RecordedWorkload) {
    let names = |w: &RecordedWorkload| w.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b));
    assert_eq!(a.subnets, b.subnets);
    assert_eq!(a.nodeenis.len(), b.nodeenis.len());
    for (x, y) in a.nodeenis.iter().zip(&b.nodeenis) {
        assert_eq!(
            (&x.name, &x.nodes, &x.subnets),
            (&y.name, &y.nodes, &y.subnets)
        );
        assert!((x.created_s - y.created_s).abs() <= 1.0, "{x:?} {y:?}");
        match (x.deleted_s, y.deleted_s) {
            (Some(p), Some(q)) => assert!((p - q).abs() <= 2.0, "{x:?} {y:?}"),
            (p, q) => assert_eq!(p, q),
        }
    }
    let instances = |w: &RecordedWorkload| {
        w.nodes
            .iter()
            .map(|n| n.instance.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(instances(a), instances(b));
}

fn write_trail(dir: &Path, calls: &[SynthCall], account: &str) -> Trail {
    synth(
        calls,
        &SynthOptions {
            account_id: account.into(),
            ..SynthOptions::default()
        },
        dir,
    )
    .unwrap();
    Trail::load(&[dir.to_path_buf()]).unwrap()
}

fn tenant_call(t_s: u64, action: &str) -> SynthCall {
    SynthCall {
        start_ns: t_s * 1_000_000_000,
        end_ns: t_s * 1_000_000_000 + 200_000_000,
        action: action.into(),
        caller: "aws-sdk-go/1.44.0 (go1.20; linux; amd64) Terraform/1.5".into(),
        principal: "terraform".into(),
        ..SynthCall::default()
    }
}

#[test]
fn a_trail_without_controller_calls_has_no_workload_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let calls: Vec<SynthCall> = (0..20)
        .map(|i| tenant_call(i, "DescribeNetworkInterfaces"))
        .collect();
    let trail = write_trail(dir.path(), &calls, "111122223333");
    let w = RecordedWorkload::from_trail(&trail, &Scope::default()).unwrap();
    assert!(w.is_empty());
    assert_eq!(w.controller_calls, 0);
    assert!(
        w.describe().contains("no controller workload to replay"),
        "{}",
        w.describe()
    );
    assert_eq!(w.span_s, 19.0);
}

#[test]
fn controller_creates_without_tags_are_an_error_naming_record_and_key() {
    let dir = tempfile::tempdir().unwrap();
    // The controller's Creates (default caller) with no NodeENI/Node on them: only the
    // managed-by tag is written, which recognises the caller but ties nothing.
    let calls: Vec<SynthCall> = (0..3)
        .map(|i| SynthCall {
            start_ns: i * 1_000_000_000,
            end_ns: i * 1_000_000_000 + 300_000_000,
            action: "CreateNetworkInterface".into(),
            eni_id: Some(format!("eni-{i:017x}")),
            subnet_id: Some("subnet-0aaaaaaaaaaaaaaaa".into()),
            ..SynthCall::default()
        })
        .collect();
    let trail = write_trail(dir.path(), &calls, "111122223333");
    let e = RecordedWorkload::from_trail(&trail, &Scope::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, WorkloadError::Untied { .. }), "{msg}");
    assert!(msg.contains("record 0"), "{msg}");
    assert!(msg.contains("tagSpecificationSet"), "{msg}");
    assert!(msg.contains(".json.gz"), "names the file: {msg}");
}

#[test]
fn several_accounts_need_a_choice() {
    let root = tempfile::tempdir().unwrap();
    let a = root.path().join("a");
    let b = root.path().join("b");
    write_trail(&a, &[tenant_call(0, "DescribeSubnets")], "111122223333");
    write_trail(&b, &[tenant_call(5, "DescribeSubnets")], "444455556666");
    let trail = Trail::load(&[a, b]).unwrap();
    let e = RecordedWorkload::from_trail(&trail, &Scope::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("2 accounts"), "{msg}");
    assert!(msg.contains("recipientAccountId"), "{msg}");
    assert!(msg.contains("--account"), "{msg}");
    assert!(
        msg.contains("444455556666") && msg.contains("record 0"),
        "{msg}"
    );
    let one = Scope {
        account: Some("444455556666".into()),
        region: None,
    };
    let w = RecordedWorkload::from_trail(&trail, &one).unwrap();
    assert_eq!(w.account.as_deref(), Some("444455556666"));
    let none = Scope {
        account: Some("999999999999".into()),
        region: None,
    };
    let e = RecordedWorkload::from_trail(&trail, &none).unwrap_err();
    assert!(e.to_string().contains("--account 999999999999"), "{e}");
}

#[test]
fn a_bad_audit_line_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"nodeenis","name":"a"},"stageTimestamp":"2025-01-01T00:00:00.000000Z","requestObject":{"spec":{"subnetID":"subnet-1","nodeSelector":{}}}}"#;
    for (second, key) in [
        (
            r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","objectRef":{"resource":"nodeenis","name":"b"},"stageTimestamp":"yesterday"}"#,
            "stageTimestamp",
        ),
        (
            r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","objectRef":{}, "stageTimestamp":"2025-01-01T00:00:00Z"}"#,
            "verb",
        ),
        (
            r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"update","objectRef":{"resource":"nodeenis","name":"a","subresource":"status"},"stageTimestamp":"2025-01-01T00:00:01Z","requestObject":{"status":{"attachments":[{"nodeID":7}]}}}"#,
            "requestObject.status.attachments[0].nodeID",
        ),
        ("not json", "(line)"),
        (
            r#"{"kind":"Event","apiVersion":"v1","verb":"get"}"#,
            "apiVersion",
        ),
    ] {
        let p = dir.path().join("audit.jsonl");
        std::fs::write(&p, format!("{good}\n\n{second}\n")).unwrap();
        let e = RecordedWorkload::from_audit_log(&p, None, &AuditOptions::default()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("audit.jsonl:3:"), "{msg}");
        assert!(msg.contains(&format!("key {key}")), "{key}: {msg}");
    }
}

#[test]
fn an_audit_log_of_nodeenis_the_trail_never_touches_is_an_error_or_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (run, trail) = run_and_trail(&settings("burst", &SMALL), dir.path());
    let start = trail_start(&trail);
    let log = audit_log_of_run(&run, start);
    // Every NodeENI renamed: none is the trail's.
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, log.replace("multi-eni-", "elsewhere-")).unwrap();
    let e = RecordedWorkload::from_audit_log(&other, Some(&trail), &AuditOptions::default())
        .unwrap_err();
    assert!(matches!(e, WorkloadError::AuditMismatch { .. }), "{e}");
    assert!(e.to_string().contains("elsewhere-0"), "{e}");
    // One NodeENI renamed: replayed from the audit log alone, with a warning; the trail's
    // NodeENI without events is left out, with a warning.
    let some = dir.path().join("some.jsonl");
    std::fs::write(&some, log.replace("multi-eni-1", "extra-1")).unwrap();
    let w =
        RecordedWorkload::from_audit_log(&some, Some(&trail), &AuditOptions::default()).unwrap();
    let names: Vec<&str> = w.nodeenis.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["extra-1", "multi-eni-0"], "by name");
    let all = w.warnings.join("\n");
    assert!(
        all.contains("NodeENI extra-1 has no call in the trail"),
        "{all}"
    );
    assert!(
        all.contains("NodeENI multi-eni-1 has calls in the trail but no event"),
        "{all}"
    );
}
