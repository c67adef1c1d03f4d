//! simulate → synthetic CloudTrail → ingest: every EC2 attempt of the model survives, with
//! its action, error and ids, and Detach calls resolve to their ENIs.

mod common;

use common::*;
use enisim::aws::{Action, CallRecord, EniId, SubnetId};
use enisim::controller::ControllerProfile;
use enisim::metrics::record::EniRow;
use enisim::scenario::{simulate, Model, ScenarioSpec, Settings};
use enisim::trace::{
    ingest, synth, synth_calls, synth_calls_with_enis, IngestOptions, SynthOptions,
};
use std::collections::BTreeMap;

#[test]
fn a_simulated_burst_survives_synth_and_ingest() {
    let s = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    );
    let run = simulate(&s, &Model::embedded(), 3).unwrap();
    let calls = synth_calls(&run.calls);
    assert_eq!(calls.len(), run.calls.len());
    let dir = tempfile::tempdir().unwrap();
    let rep = synth(&calls, &SynthOptions::default(), dir.path()).unwrap();
    assert_eq!(rep.records as usize, run.calls.len());
    let got = ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).unwrap();
    assert_eq!(got.report.kept as usize, run.calls.len());
    let df = &got.df;
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for c in &run.calls {
        *want.entry(c.action.name().to_string()).or_default() += 1;
    }
    let mut have: BTreeMap<String, usize> = BTreeMap::new();
    for a in col_strings(df, "action").into_iter().flatten() {
        *have.entry(a).or_default() += 1;
    }
    assert_eq!(have, want);
    // Every caller is this controller: recognised by its Creates' tags (written even without
    // the ENI rows that name their NodeENI and node).
    assert!(col_strings(df, "caller_class")
        .iter()
        .all(|c| c.as_deref() == Some("controller")));
    // Every Detach (the DryRun probes) names an attachment that resolves to an ENI.
    let actions = col_strings(df, "action");
    let enis = col_strings(df, "eni_id");
    for (a, e) in actions.iter().zip(&enis) {
        if a.as_deref() == Some("DetachNetworkInterface") {
            assert!(e.is_some(), "a Detach whose attachment did not resolve");
        }
    }
    // The created ENIs are the ones the model created.
    let created: std::collections::BTreeSet<String> = run
        .calls
        .iter()
        .filter(|c| c.action == enisim::aws::Action::CreateNetworkInterface && c.error.is_none())
        .filter_map(|c| c.eni.map(|e| e.to_string()))
        .collect();
    let seen: std::collections::BTreeSet<String> = actions
        .iter()
        .zip(&enis)
        .filter(|(a, _)| a.as_deref() == Some("CreateNetworkInterface"))
        .filter_map(|(_, e)| e.clone())
        .collect();
    assert_eq!(created, seen);
}

/// A record and an ENI row of a real run, as templates (so that fields added to them later
/// need no change here).
fn templates() -> (CallRecord, EniRow) {
    let s = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    );
    let run = simulate(&s, &Model::embedded(), 3).unwrap();
    (run.calls[0].clone(), run.enis[0].clone())
}

// Every field is set today; the update keeps the helper compiling when fields are added.
#[allow(clippy::needless_update)]
fn create(t: &CallRecord, start: u64, attempt: u8, subnet: u32, eni: Option<u32>) -> CallRecord {
    CallRecord {
        start,
        end: start + 1,
        action: Action::CreateNetworkInterface,
        attempt,
        error: eni
            .is_none()
            .then_some(enisim::aws::ErrorCode::RequestLimitExceeded),
        eni: eni.map(EniId),
        attachment: None,
        instance: None,
        subnet: Some(SubnetId(subnet)),
        device_index: None,
        dry_run: false,
        ..t.clone()
    }
}

fn row(t: &EniRow, eni: u32, nodeeni: &str, node: &str) -> EniRow {
    EniRow {
        eni: EniId(eni).to_string(),
        nodeeni: nodeeni.into(),
        node: node.into(),
        ..t.clone()
    }
}

/// A Create's NodeENI and node come from its ENI's row; a throttled attempt (no ENI) takes
/// its call's next attempt's owner; a call that never succeeds has none.
#[test]
fn create_attempts_get_the_nodeeni_and_node_of_their_call() {
    let (tc, tr) = templates();
    let calls = vec![
        create(&tc, 0, 1, 7, None),    // call A, attempt 1: throttled
        create(&tc, 1, 1, 7, Some(2)), // call B succeeds at once
        create(&tc, 2, 1, 8, None),    // call C (another subnet), attempt 1
        create(&tc, 3, 2, 7, None),    // call A, attempt 2: throttled
        create(&tc, 4, 3, 7, Some(1)), // call A, attempt 3: ENI 1
        create(&tc, 5, 2, 8, Some(3)), // call C, attempt 2: ENI 3
        create(&tc, 6, 1, 9, None),    // call D: never succeeds
    ];
    let enis = vec![
        row(&tr, 1, "ne-a", "n1"),
        row(&tr, 2, "ne-b", "n2"),
        row(&tr, 3, "ne-c", "n3"),
    ];
    let got = synth_calls_with_enis(&calls, &enis);
    let owners: Vec<(Option<&str>, Option<&str>)> = got
        .iter()
        .map(|c| (c.nodeeni.as_deref(), c.node.as_deref()))
        .collect();
    assert_eq!(
        owners,
        vec![
            (Some("ne-a"), Some("n1")),
            (Some("ne-b"), Some("n2")),
            (Some("ne-c"), Some("n3")),
            (Some("ne-a"), Some("n1")),
            (Some("ne-a"), Some("n1")),
            (Some("ne-c"), Some("n3")),
            (None, None),
        ]
    );
}

/// The simulated burst, synthesised with its ENI rows: every Create names the NodeENI and
/// node the model created it for, and ingest gets them back from the tags.
#[test]
fn a_simulated_burst_keeps_its_workload_in_the_create_tags() {
    let s = Settings::new(
        ControllerProfile::embedded(),
        ScenarioSpec::embedded("burst").unwrap(),
    );
    let run = simulate(&s, &Model::embedded(), 3).unwrap();
    let calls = synth_calls_with_enis(&run.calls, &run.enis);
    let dir = tempfile::tempdir().unwrap();
    synth(&calls, &SynthOptions::default(), dir.path()).unwrap();
    let got = ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).unwrap();
    let df = &got.df;
    let (a, eni, ne, node, sub) = (
        col_strings(df, "action"),
        col_strings(df, "eni_id"),
        col_strings(df, "nodeeni"),
        col_strings(df, "node"),
        col_strings(df, "nodeeni_subnet"),
    );
    let by_eni: BTreeMap<&str, &EniRow> = run.enis.iter().map(|r| (r.eni.as_str(), r)).collect();
    let mut n = 0;
    for i in 0..df.height() {
        if a[i].as_deref() != Some("CreateNetworkInterface") {
            assert!(ne[i].is_none() && node[i].is_none() && sub[i].is_none());
            continue;
        }
        if let Some(e) = eni[i].as_deref() {
            let r = by_eni[e];
            assert_eq!(ne[i].as_deref(), Some(r.nodeeni.as_str()));
            assert_eq!(node[i].as_deref(), Some(r.node.as_str()));
            assert_eq!(sub[i].as_deref(), Some(r.subnet.as_str()));
            n += 1;
        }
    }
    assert_eq!(n, run.enis.len());
    assert_eq!(got.report.controller_principals.len(), 1);
}
