//! A simulated run's EC2 attempts as CloudTrail calls (for `synth`): every attempt the
//! model made becomes one record, with the controller's user agent.

use std::collections::HashMap;

use super::synth::SynthCall;
use crate::aws::{Action, CallRecord};
use crate::metrics::record::EniRow;

/// (NodeENI, node) a Create is for.
type Owner = (String, String);

/// The calls of one replication, in the order they were made (no NodeENI or node names: see
/// [`synth_calls_with_enis`]).
pub fn synth_calls(calls: &[CallRecord]) -> Vec<SynthCall> {
    synth_calls_with_enis(calls, &[])
}

/// The calls of one replication, with each `CreateNetworkInterface` attempt's NodeENI and
/// node (its tags and description in CloudTrail) taken from the run's ENI rows.
///
/// A successful Create names its ENI, whose row gives both. A failed attempt names none: it
/// takes the owner of its logical call (`call_id`: the SDK retries one call attempt after
/// attempt), whose successful attempt names the ENI. Attempts of a call that never succeeded
/// keep no owner (their records carry only the tags that do not depend on it).
pub fn synth_calls_with_enis(calls: &[CallRecord], enis: &[EniRow]) -> Vec<SynthCall> {
    let owner_of: HashMap<String, (&str, &str)> = enis
        .iter()
        .map(|r| (r.eni.clone(), (r.nodeeni.as_str(), r.node.as_str())))
        .collect();
    let owner_of_call: HashMap<u64, Owner> = calls
        .iter()
        .filter(|c| c.action == Action::CreateNetworkInterface)
        .filter_map(|c| {
            let (n, d) = owner_of.get(&c.eni?.to_string())?;
            Some((c.call_id, (n.to_string(), d.to_string())))
        })
        .collect();
    let owners = calls.iter().map(|c| {
        (c.action == Action::CreateNetworkInterface)
            .then(|| owner_of_call.get(&c.call_id).cloned())
            .flatten()
    });
    calls
        .iter()
        .zip(owners)
        .map(|(c, own)| {
            let (nodeeni, node) = own.map_or((None, None), |(n, d)| (Some(n), Some(d)));
            SynthCall {
                start_ns: c.start,
                end_ns: c.end,
                action: c.action.name().to_string(),
                error_code: c
                    .error
                    .filter(|e| !(c.dry_run && *e == crate::aws::ErrorCode::DryRunOperation))
                    .map(|e| e.as_str().to_string()),
                server_error: c.error.is_some_and(|e| e.is_server_error()),
                eni_id: c.eni.map(|x| x.to_string()),
                attachment_id: c.attachment.map(|x| x.to_string()),
                instance_id: c
                    .instance
                    .filter(|_| c.action != Action::DescribeNetworkInterfaces)
                    .map(|x| x.to_string()),
                subnet_id: c.subnet.map(|x| x.to_string()),
                device_index: c.device_index,
                dry_run: c.dry_run,
                force: (c.action == Action::DetachNetworkInterface).then_some(!c.dry_run),
                filtered_by_instance: c
                    .instance
                    .filter(|_| c.action == Action::DescribeNetworkInterfaces)
                    .map(|x| x.to_string()),
                client_token: None,
                caller: String::new(),
                principal: String::new(),
                nodeeni,
                node,
            }
        })
        .collect()
}

/// The user agent of other tenants' calls in a synthetic trail: the VPC CNI's, for a tenant
/// whose name says `cni`; else a generic SDK agent.
fn tenant_agent(name: &str) -> &'static str {
    if name.to_ascii_lowercase().contains("cni") {
        "aws-sdk-go/1.55.5 (go1.22.5; linux; amd64) amazon-vpc-cni-k8s"
    } else {
        "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 api/ec2#1.173.0"
    }
}

/// Other tenants' calls in replication seed `seed` before `until_ns`: the arrivals the
/// buckets consumed (the same stream), each as one admitted call of its own principal (the
/// tenant's name as a role) and user agent, failing with `InternalError` at the profile's
/// server-error probability for the action (stream `tenant-errors.<name>.<Action>`; the
/// buckets do not fail a tenant's calls, a trail of EC2 would). The model does not time a
/// tenant's calls, so each takes no time (`start_ns = end_ns`).
pub fn tenant_calls(
    profile: &crate::aws::Ec2Profile,
    seed: u64,
    until_ns: crate::engine::Nanos,
) -> Vec<SynthCall> {
    use rand::RngExt;
    let mut out = Vec::new();
    for t in &profile.background {
        let filtered = t.filtered;
        let p = profile
            .faults
            .error_probability
            .get(&t.action)
            .or_else(|| profile.faults.error_probability.get("*"))
            .copied()
            .unwrap_or(0.0);
        let mut errors =
            crate::engine::rng::stream(seed, &format!("tenant-errors.{}.{}", t.name, t.action));
        let arrivals = crate::aws::server::tenant_source(t, seed).arrivals_before(until_ns);
        for at in arrivals {
            // Ids of the tenant's own ENIs, so mutating calls have what EC2 would log.
            let eni = format!("eni-0f{:015x}", out.len());
            let names_eni =
                t.action.contains("NetworkInterface") && t.action != "DescribeNetworkInterfaces";
            let failed = p > 0.0 && errors.random::<f64>() < p;
            out.push(SynthCall {
                error_code: failed.then(|| "InternalError".to_string()),
                server_error: failed,
                eni_id: names_eni.then(|| eni.clone()),
                attachment_id: matches!(
                    t.action.as_str(),
                    "AttachNetworkInterface" | "DetachNetworkInterface"
                )
                .then(|| eni.replacen("eni-", "eni-attach-", 1)),
                start_ns: at,
                end_ns: at,
                action: t.action.clone(),
                filtered_by_instance: (t.action == "DescribeNetworkInterfaces" && filtered)
                    .then(|| "i-0tenant".to_string()),
                caller: tenant_agent(&t.name).to_string(),
                principal: format!("tenant-{}", t.name),
                ..SynthCall::default()
            });
        }
    }
    out.sort_by_key(|c| c.end_ns);
    out
}
