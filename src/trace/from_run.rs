//! A simulated run's EC2 attempts as CloudTrail calls (for `synth`): every attempt the
//! model made becomes one record, with the controller's user agent.

use std::collections::HashMap;

use super::synth::SynthCall;
use crate::aws::tenants::TenantCall;
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

/// The VPC CNI's user agent (as `amazon-vpc-cni-k8s` logs it), for tenants named after it.
pub const VPC_CNI_USER_AGENT: &str =
    "aws-sdk-go/1.55.5 (go1.22.5; linux; amd64) amazon-vpc-cni-k8s";

/// The account's other tenants' calls in a run (background load, storms, recorded
/// tenants), as CloudTrail calls: each tenant its own role (`tenant-<name>`), the VPC CNI's
/// user agent for a tenant whose name says `cni` (so ingest classes it `vpc-cni`), else
/// `enisim-tenant/<name>`; a throttled call `RequestLimitExceeded`, one that failed on the
/// server `InternalError`; a mutating ENI call names an ENI of the tenant's own (and an
/// attachment), a filtered describe an instance, as EC2 would log them. The model does not
/// time a tenant's calls: each takes no time (`start_ns = end_ns`). Time order.
pub fn synth_tenant_calls(calls: &[TenantCall], names: &[String]) -> Vec<SynthCall> {
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = names
                .get(c.tenant as usize)
                .map_or("tenant", String::as_str);
            let caller = if name.to_ascii_lowercase().contains("cni") {
                VPC_CNI_USER_AGENT.to_string()
            } else {
                format!("enisim-tenant/{name}")
            };
            let action = c.action.name();
            let eni = format!("eni-0f{i:015x}");
            let names_eni =
                action.contains("NetworkInterface") && action != "DescribeNetworkInterfaces";
            SynthCall {
                start_ns: c.at,
                end_ns: c.at,
                action: action.to_string(),
                error_code: if c.throttled {
                    Some("RequestLimitExceeded".to_string())
                } else if c.failed {
                    Some("InternalError".to_string())
                } else {
                    None
                },
                server_error: c.failed,
                eni_id: names_eni.then(|| eni.clone()),
                attachment_id: matches!(
                    action,
                    "AttachNetworkInterface" | "DetachNetworkInterface"
                )
                .then(|| eni.replacen("eni-", "eni-attach-", 1)),
                filtered_by_instance: (action == "DescribeNetworkInterfaces" && c.filtered)
                    .then(|| "i-0tenant".to_string()),
                caller,
                principal: format!("tenant-{name}"),
                ..SynthCall::default()
            }
        })
        .collect()
}

/// A run's whole trail: the controller's attempts (with their NodeENIs and nodes) and the
/// other tenants' calls, merged in completion order.
pub fn synth_run(run: &crate::metrics::RunRecord) -> Vec<SynthCall> {
    let mut all = synth_calls_with_enis(&run.calls, &run.enis);
    if !run.tenant_calls.is_empty() {
        all.extend(synth_tenant_calls(&run.tenant_calls, &run.tenant_names));
        // Stable: the controller's calls first among equal times.
        all.sort_by_key(|c| c.end_ns);
    }
    all
}
