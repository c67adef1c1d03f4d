//! simulate → synthetic CloudTrail → ingest: every EC2 attempt of the model survives, with
//! its action, error and ids, and Detach calls resolve to their ENIs.

mod common;

use common::*;
use enisim::controller::ControllerProfile;
use enisim::scenario::{simulate, Model, ScenarioSpec, Settings};
use enisim::trace::{ingest, synth, synth_calls, IngestOptions, SynthOptions};
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
    // Every caller is this controller.
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
