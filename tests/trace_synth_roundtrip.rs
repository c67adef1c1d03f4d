//! synth → ingest keeps every call: counts per action, errors, ids, attachment → ENI.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use common::*;
use enisim::trace::{
    example_workload, ingest, parse_time_ns, stats, synth, IngestOptions, SynthCall, SynthOptions,
};

fn extra_calls() -> Vec<SynthCall> {
    let base = SynthCall {
        start_ns: 5_000_000_000,
        end_ns: 5_400_000_000,
        eni_id: Some("eni-0fff0000000000001".into()),
        instance_id: Some("i-0fff0000000000001".into()),
        caller: String::new(),
        ..SynthCall::default()
    };
    let mut v = Vec::new();
    for (action, code, server) in [
        (
            "AttachNetworkInterface",
            Some("AttachmentLimitExceeded"),
            false,
        ),
        (
            "AttachNetworkInterface",
            Some("InvalidParameterValue"),
            false,
        ),
        (
            "DescribeNetworkInterfaces",
            Some("InvalidNetworkInterfaceID.NotFound"),
            false,
        ),
        ("CreateNetworkInterface", Some("InternalError"), true),
        ("DeleteNetworkInterface", Some("RequestLimitExceeded"), true),
    ] {
        v.push(SynthCall {
            action: action.into(),
            error_code: code.map(str::to_string),
            server_error: server,
            device_index: Some(3),
            ..base.clone()
        });
    }
    v.push(SynthCall {
        action: "DetachNetworkInterface".into(),
        attachment_id: Some("eni-attach-0fff000000000dead".into()),
        dry_run: true,
        force: Some(true),
        ..base.clone()
    });
    v
}

fn write(calls: &[SynthCall], opts: &SynthOptions, dir: &Path) -> Vec<PathBuf> {
    synth(calls, opts, dir).unwrap().files
}

#[test]
fn synth_then_ingest_keeps_every_call() {
    let mut calls = example_workload(3_000, 42);
    calls.extend(extra_calls());
    let opts = SynthOptions {
        seed: 42,
        max_records_per_file: 400,
        ..SynthOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let rep = synth(&calls, &opts, dir.path()).unwrap();
    assert_eq!(rep.records as usize, calls.len());
    assert!(rep.files.len() > 2);
    for f in &rep.files {
        let rel = f
            .strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(
            &parts[..4],
            ["AWSLogs", "111122223333", "CloudTrail", "us-east-1"],
            "{rel}"
        );
        assert_eq!(parts.len(), 8, "{rel}");
        let name = parts[7];
        assert!(
            name.starts_with("111122223333_CloudTrail_us-east-1_2025"),
            "{name}"
        );
        assert!(name.ends_with(".json.gz"), "{name}");
        let stamp_unique = &name["111122223333_CloudTrail_us-east-1_".len()..name.len() - 8];
        let (stamp, unique) = stamp_unique.split_once('_').unwrap();
        assert_eq!(stamp.len(), 14, "{stamp}");
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T',
            "{stamp}"
        );
        assert_eq!(unique.len(), 16);
        assert!(unique.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(&stamp[..4], parts[4]);
        assert_eq!(&stamp[4..6], parts[5]);
        assert_eq!(&stamp[6..8], parts[6]);
    }

    let got = ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).unwrap();
    let r = &got.report;
    assert_eq!(r.kept as usize, calls.len(), "{r}");
    assert_eq!(r.duplicates, 0);
    assert_eq!(r.bad_records, 0);
    let df = &got.df;

    // Counts per action and errors per action.
    let mut want: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in &calls {
        let e = want.entry(c.action.clone()).or_default();
        e.0 += 1;
        if c.error_code.is_some() || c.dry_run {
            e.1 += 1;
        }
    }
    let actions = col_strings(df, "action");
    let errors = col_strings(df, "error_code");
    let mut have: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (a, e) in actions.iter().zip(&errors) {
        let x = have.entry(a.clone().unwrap()).or_default();
        x.0 += 1;
        if e.is_some() {
            x.1 += 1;
        }
    }
    assert_eq!(have, want);

    // Error codes carry CloudTrail's prefixes.
    let codes: HashSet<String> = errors.iter().flatten().cloned().collect();
    for c in [
        "Client.RequestLimitExceeded",
        "Server.InternalError",
        "Client.AttachmentLimitExceeded",
        "Client.InvalidParameterValue",
        "Client.InvalidNetworkInterfaceID.NotFound",
        "Client.DryRunOperation",
    ] {
        assert!(codes.contains(c), "{c} in {codes:?}");
    }
    assert!(!codes.contains("Server.RequestLimitExceeded"));

    // Ids: unique event ids; ENI, instance and attachment ids as the calls had them.
    let eids = col_strings(df, "event_id");
    let uniq: HashSet<_> = eids.iter().collect();
    assert_eq!(uniq.len(), calls.len());
    let want_enis: HashSet<String> = calls
        .iter()
        .filter(|c| c.action != "CreateNetworkInterface" || c.error_code.is_none())
        .filter(|c| c.filtered_by_instance.is_none())
        .filter_map(|c| c.eni_id.clone())
        .collect();
    let have_enis: HashSet<String> = col_strings(df, "eni_id").into_iter().flatten().collect();
    assert_eq!(have_enis, want_enis);
    let want_inst: HashSet<String> = calls
        .iter()
        .filter(|c| c.action == "AttachNetworkInterface")
        .filter_map(|c| c.instance_id.clone())
        .collect();
    let have_inst: HashSet<String> = col_strings(df, "instance_id")
        .into_iter()
        .flatten()
        .collect();
    assert!(want_inst.is_subset(&have_inst));

    // Attachment → ENI for every Detach whose Attach succeeded earlier.
    let mut att_of: HashMap<String, String> = HashMap::new();
    for c in calls
        .iter()
        .filter(|c| c.action == "AttachNetworkInterface" && c.error_code.is_none())
    {
        att_of.insert(c.attachment_id.clone().unwrap(), c.eni_id.clone().unwrap());
    }
    let atts = col_strings(df, "attachment_id");
    let enis = col_strings(df, "eni_id");
    let mut resolved = 0;
    for i in 0..df.height() {
        if actions[i].as_deref() != Some("DetachNetworkInterface") {
            continue;
        }
        let att = atts[i].clone().unwrap();
        match att_of.get(&att) {
            Some(eni) => {
                assert_eq!(enis[i].as_deref(), Some(eni.as_str()), "{att}");
                resolved += 1;
            }
            None => assert_eq!(enis[i], None, "{att} was never attached"),
        }
    }
    assert!(resolved > 200, "{resolved}");

    // eventTime = start + end_ns, at one-second resolution, sorted.
    let start = parse_time_ns(&opts.start_time).unwrap();
    let time = col_i64(df, "time");
    let min_end = calls.iter().map(|c| c.end_ns).min().unwrap() as i64;
    assert_eq!(time[0], (start + min_end) / 1_000_000_000 * 1_000_000_000);
    assert!(time.iter().all(|t| t % 1_000_000_000 == 0));
    assert!(time.windows(2).all(|w| w[0] <= w[1]));

    // Retries of throttled creates (same client token) are chained.
    let attempts = col_strings(df, "attempt");
    let retried = actions
        .iter()
        .zip(&attempts)
        .filter(|(a, n)| {
            a.as_deref() == Some("CreateNetworkInterface") && n.as_deref() == Some("2")
        })
        .count();
    let throttled_creates = calls
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            c.action == "CreateNetworkInterface"
                && c.error_code.as_deref() == Some("RequestLimitExceeded")
                && calls[i + 1..].iter().any(|d| {
                    d.action == c.action
                        && d.client_token == c.client_token
                        && d.error_code.is_none()
                })
        })
        .count();
    assert!(throttled_creates > 0);
    assert_eq!(retried, throttled_creates);

    // Callers.
    let st = stats(df).unwrap();
    let ctl = st.action("CreateNetworkInterface", "controller").unwrap();
    let cni = st.action("CreateNetworkInterface", "vpc-cni").unwrap();
    assert_eq!(
        (ctl.calls + cni.calls) as usize,
        want["CreateNetworkInterface"].0
    );
    assert!(cni.calls > 0);
}

#[test]
fn synth_output_is_byte_identical_for_the_same_input() {
    let calls = example_workload(1_500, 7);
    let opts = SynthOptions {
        seed: 7,
        max_records_per_file: 300,
        ..SynthOptions::default()
    };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let fa = write(&calls, &opts, a.path());
    let fb = write(&calls, &opts, b.path());
    assert_eq!(fa.len(), fb.len());
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(
            x.strip_prefix(a.path()).unwrap(),
            y.strip_prefix(b.path()).unwrap()
        );
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{}",
            x.display()
        );
    }
    // Another seed: other ids.
    let c = tempfile::tempdir().unwrap();
    let fc = write(
        &calls,
        &SynthOptions {
            seed: 8,
            ..opts.clone()
        },
        c.path(),
    );
    assert_ne!(
        std::fs::read(&fa[0]).unwrap(),
        std::fs::read(&fc[0]).unwrap()
    );
    // No temporary files left behind.
    let mut stack = vec![a.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert!(p.to_string_lossy().ends_with(".json.gz"), "{}", p.display());
            }
        }
    }
}

#[test]
fn synth_rejects_bad_calls_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let bad_time = SynthCall {
        action: "DeleteNetworkInterface".into(),
        start_ns: 10,
        end_ns: 5,
        ..SynthCall::default()
    };
    let err = synth(&[bad_time], &SynthOptions::default(), dir.path()).unwrap_err();
    assert!(err.to_string().contains("synth call 0"), "{err}");
    let no_eni = SynthCall {
        action: "CreateNetworkInterface".into(),
        ..SynthCall::default()
    };
    let err = synth(&[no_eni], &SynthOptions::default(), dir.path()).unwrap_err();
    assert!(err.to_string().contains("eni_id"), "{err}");
    let opts = SynthOptions {
        start_time: "yesterday".into(),
        ..SynthOptions::default()
    };
    assert!(synth(&[], &opts, dir.path()).is_err());
    let opts = SynthOptions {
        region: "../x".into(),
        ..SynthOptions::default()
    };
    assert!(synth(&[], &opts, dir.path()).is_err());
}
