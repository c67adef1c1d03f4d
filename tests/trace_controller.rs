//! A real controller's calls: v1.3.8 sets no user agent of its own, so it is recognised by
//! the principal of its marked Creates (description / managed-by tag), and the NodeENI, node
//! and subnet of each Create are kept from its tags. `synth` writes the controller's records
//! as v1.3.8 does, and they round-trip.

mod common;

use std::collections::BTreeMap;
use std::io::Read;

use common::*;
use enisim::trace::{
    example_workload, ingest, synth, CallerField, CallerRules, IngestOptions, SynthCall,
    SynthOptions, DEFAULT_USER_AGENT, LEGACY_USER_AGENT,
};

/// (NodeENI, node, subnet) of a Create.
type Workload = (Option<String>, Option<String>, Option<String>);

const CTRL: &str = "arn:aws:iam::111122223333:role/multi-eni-irsa";

fn classes_by_principal(df: &polars::prelude::DataFrame) -> BTreeMap<String, String> {
    let p = col_strings(df, "principal");
    let c = col_strings(df, "caller_class");
    let mut out = BTreeMap::new();
    for (p, c) in p.into_iter().zip(c) {
        let (p, c) = (p.unwrap_or_default(), c.unwrap_or_default());
        let prev = out.insert(p.clone(), c.clone());
        assert!(prev.is_none_or(|x| x == c), "{p}: two classes");
    }
    out
}

#[test]
fn a_v1_3_8_trail_is_recognised_by_its_creates() {
    let got = ingest_one(&fixture("controller/v1.3.8.json"));
    let r = &got.report;
    assert_eq!(r.kept, 9, "{r}");
    assert_eq!(r.insight_skipped, 1, "{r}");
    assert_eq!(r.bad_records, 0, "{r}");
    let classes = classes_by_principal(&got.df);
    assert_eq!(classes[CTRL], "controller");
    assert_eq!(
        classes["arn:aws:iam::111122223333:role/platform-tool"],
        "other"
    );
    assert_eq!(
        classes["arn:aws:iam::111122223333:role/eks-vpc-cni"],
        "vpc-cni"
    );
    // Which principal, from how many Creates (the throttled attempt is one of them, the
    // other caller's Create is not).
    assert_eq!(r.controller_principals.len(), 1, "{r}");
    assert_eq!(r.controller_principals[0].principal, CTRL);
    assert_eq!(r.controller_principals[0].creates, 4);
    assert_eq!(r.controller_principals[0].class, "controller");
    let text = r.to_string();
    assert!(
        text.contains(&format!(
            "controller: {CTRL} recognised from 4 CreateNetworkInterface call(s)"
        )),
        "{text}"
    );
    // The workload columns: set on the controller's Creates only.
    let action = col_strings(&got.df, "action");
    let nodeeni = col_strings(&got.df, "nodeeni");
    let node = col_strings(&got.df, "node");
    let subnet = col_strings(&got.df, "nodeeni_subnet");
    let want: Vec<(Option<&str>, Option<&str>, Option<&str>)> = vec![
        (
            Some("multi-eni-a"),
            Some("ip-10-0-3-17"),
            Some("subnet-0aaaaaaaa11111111"),
        ),
        (
            Some("multi-eni-b"),
            Some("ip-10-0-3-17"),
            Some("subnet-0bbbbbbbb22222222"),
        ),
        (
            Some("multi-eni-b"),
            Some("ip-10-0-3-17"),
            Some("subnet-0bbbbbbbb22222222"),
        ),
        (None, None, None),
        (None, None, None),
        (
            Some("multi-eni-c"),
            Some("ip-10-0-3-18"),
            Some("subnet-0aaaaaaaa11111111"),
        ),
        (None, None, None),
        (None, None, None),
        (None, None, None),
    ];
    let have: Vec<_> = (0..got.df.height())
        .map(|i| {
            (
                nodeeni[i].as_deref(),
                node[i].as_deref(),
                subnet[i].as_deref(),
            )
        })
        .collect();
    assert_eq!(have, want, "{action:?}");
}

#[test]
fn an_explicit_caller_rule_wins_over_the_recognition() {
    let rules = CallerRules::default().prepend(
        CallerField::Principal,
        "suffix:role/multi-eni-irsa".parse().unwrap(),
        "mine",
    );
    let opts = IngestOptions {
        caller_rules: rules,
        ..IngestOptions::default()
    };
    let got = ingest(&[fixture("controller/v1.3.8.json")], &opts).unwrap();
    let classes = classes_by_principal(&got.df);
    assert_eq!(classes[CTRL], "mine");
    assert_eq!(got.report.controller_principals[0].class, "mine");
}

#[test]
fn old_synthetic_trails_are_still_recognised_by_their_user_agent() {
    // The fixture trail of older enisim versions: its user agent names the controller and
    // its Creates carry no tags.
    let got = ingest_one(&fixture("s3"));
    let ua = col_strings(&got.df, "user_agent");
    let class = col_strings(&got.df, "caller_class");
    let mut n = 0;
    for (u, c) in ua.iter().zip(&class) {
        if u.as_deref() == Some(LEGACY_USER_AGENT) {
            assert_eq!(c.as_deref(), Some("controller"));
            n += 1;
        }
    }
    assert!(n > 5, "{n}");
    assert!(got.report.controller_principals.is_empty());
}

fn read_records(files: &[std::path::PathBuf]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for f in files {
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(f).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        out.extend(v["Records"].as_array().unwrap().iter().cloned());
    }
    out
}

#[test]
fn synth_writes_the_controllers_records_as_v1_3_8_does() {
    let calls = example_workload(600, 3);
    let dir = tempfile::tempdir().unwrap();
    let rep = synth(&calls, &SynthOptions::default(), dir.path()).unwrap();
    let recs = read_records(&rep.files);
    let creates: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| {
            r["eventName"] == "CreateNetworkInterface" && r["userAgent"] == DEFAULT_USER_AGENT
        })
        .collect();
    assert!(creates.len() > 20);
    assert!(!DEFAULT_USER_AGENT.contains("multi-eni"));
    assert!(DEFAULT_USER_AGENT.starts_with("aws-sdk-go-v2/1.21.0 os/linux lang/go#"));
    let mut orders = std::collections::BTreeSet::new();
    for c in &creates {
        let p = &c["requestParameters"];
        let tags = p["tagSpecificationSet"]["items"][0]["tags"]
            .as_array()
            .unwrap();
        let kv: BTreeMap<String, String> = tags
            .iter()
            .map(|t| {
                (
                    t["key"].as_str().unwrap().to_string(),
                    t["value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        orders.insert(tags[0]["key"].as_str().unwrap().to_string());
        assert_eq!(kv.len(), 6, "{kv:?}");
        assert_eq!(kv["kubernetes.io/cluster/managed-by"], "nodeeni-controller");
        assert_eq!(kv["node.k8s.amazonaws.com/no_manage"], "true");
        let subnet = p["subnetId"].as_str().unwrap();
        assert_eq!(kv["SubnetID"], subnet);
        assert_eq!(
            kv["Name"],
            format!(
                "nodeeni-{}-{}-{}",
                kv["NodeENI"],
                kv["Node"],
                &subnet[subnet.len() - 8..]
            )
        );
        assert_eq!(
            p["description"],
            format!("ENI created by nodeeni-controller for node {}", kv["Node"])
        );
        // An IRSA-like assumed-role session.
        let id = &c["userIdentity"];
        assert_eq!(id["type"], "AssumedRole");
        let fed = id["sessionContext"]["webIdFederationData"]["federatedProvider"]
            .as_str()
            .unwrap();
        assert!(fed.contains(":oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/"));
    }
    assert!(orders.len() > 1, "the tag order varies: {orders:?}");
    // The VPC CNI's Creates carry none of it.
    for r in recs.iter().filter(|r| {
        r["eventName"] == "CreateNetworkInterface" && r["userAgent"] != DEFAULT_USER_AGENT
    }) {
        assert!(r["requestParameters"].get("tagSpecificationSet").is_none());
        assert!(r["requestParameters"].get("description").is_none());
    }
}

#[test]
fn synth_then_ingest_classifies_the_controller_and_fills_the_workload_columns() {
    let calls = example_workload(1500, 9);
    let dir = tempfile::tempdir().unwrap();
    synth(&calls, &SynthOptions::default(), dir.path()).unwrap();
    let got = ingest(&[dir.path().to_path_buf()], &IngestOptions::default()).unwrap();
    let r = &got.report;
    assert_eq!(r.kept as usize, calls.len());
    let ctrl_creates = calls
        .iter()
        .filter(|c| c.action == "CreateNetworkInterface" && c.caller == DEFAULT_USER_AGENT)
        .count();
    assert_eq!(r.controller_principals.len(), 1, "{r}");
    assert_eq!(
        r.controller_principals[0].principal,
        SynthOptions::default().principal_arn
    );
    assert_eq!(r.controller_principals[0].creates as usize, ctrl_creates);
    // Every call of the controller is `controller`, every VPC CNI call `vpc-cni`.
    let ua = col_strings(&got.df, "user_agent");
    let class = col_strings(&got.df, "caller_class");
    for (u, c) in ua.iter().zip(&class) {
        let want = if u.as_deref() == Some(DEFAULT_USER_AGENT) {
            "controller"
        } else {
            "vpc-cni"
        };
        assert_eq!(c.as_deref(), Some(want), "{u:?}");
    }
    // NodeENI/node/subnet of each controller Create, as the calls name them.
    let want: BTreeMap<Workload, usize> = calls
        .iter()
        .filter(|c| c.action == "CreateNetworkInterface" && c.caller == DEFAULT_USER_AGENT)
        .fold(BTreeMap::new(), |mut m, c: &SynthCall| {
            *m.entry((c.nodeeni.clone(), c.node.clone(), c.subnet_id.clone()))
                .or_default() += 1;
            m
        });
    let (a, e, n, s) = (
        col_strings(&got.df, "action"),
        col_strings(&got.df, "nodeeni"),
        col_strings(&got.df, "node"),
        col_strings(&got.df, "nodeeni_subnet"),
    );
    let mut have: BTreeMap<Workload, usize> = BTreeMap::new();
    for i in 0..got.df.height() {
        if e[i].is_some() || n[i].is_some() || s[i].is_some() {
            assert_eq!(a[i].as_deref(), Some("CreateNetworkInterface"));
            *have
                .entry((e[i].clone(), n[i].clone(), s[i].clone()))
                .or_default() += 1;
        }
    }
    assert_eq!(have, want);
    assert!(want.keys().all(|k| k.0.is_some() && k.1.is_some()));
}
